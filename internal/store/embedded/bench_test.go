package embedded

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/store"
)

// benchNames returns n metric names shaped like Graphite paths.
func benchNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("stats.gauges.host-%03d.service-%02d.requests.p%02d", i/100, (i/10)%10, i%10)
	}
	return names
}

// walker yields per-series random walks rounded to 2 decimals, as most
// Graphite gauges are.
type walker struct {
	v     []float64
	steps []float64
	k     int
}

func newWalker(series int) *walker {
	rng := rand.New(rand.NewPCG(9, 9))
	w := &walker{v: make([]float64, series), steps: make([]float64, 4096)}
	for i := range w.v {
		w.v[i] = float64(rng.IntN(100000)) / 100
	}
	for i := range w.steps {
		w.steps[i] = math.Round(rng.NormFloat64()*100) / 100
	}
	return w
}

func (w *walker) next(i int) float64 {
	w.k = (w.k + 1) & 4095
	w.v[i] = math.Round((w.v[i]+w.steps[w.k])*100) / 100
	return w.v[i]
}

func benchStore(b *testing.B, disk bool) *Store {
	cfg := DefaultConfig()
	if disk {
		cfg.Dir = b.TempDir()
	}
	s, err := Open(cfg, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkAppend appends batches of 1000 samples (or single samples)
// across 10,000 series, one point per series per minute, with the default
// configuration; points/s is the ingest rate of one goroutine (or of all,
// for parallel).
func BenchmarkAppend(b *testing.B) {
	const nSeries = 10000
	names := benchNames(nSeries)
	for _, disk := range []bool{true, false} {
		where := "memory"
		if disk {
			where = "disk"
		}
		for _, size := range []int{1000, 1} {
			b.Run(fmt.Sprintf("%s/batch=%d", where, size), func(b *testing.B) {
				s := benchStore(b, disk)
				w := newWalker(nSeries)
				batch := make([]series.Sample, size)
				ctx := context.Background()
				pos := 0
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					for j := range batch {
						i := pos % nSeries
						batch[j] = series.Sample{Name: names[i], Point: series.Point{Timestamp: t0 + int64(pos/nSeries)*60, Value: w.next(i)}}
						pos++
					}
					if err := s.Append(ctx, batch); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(pos)/b.Elapsed().Seconds(), "points/s")
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(pos), "ns/point")
			})
		}
		b.Run(where+"/parallel/batch=1000", func(b *testing.B) {
			s := benchStore(b, disk)
			var goroutines, total atomic.Int64
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				// Each goroutine owns a slice of the series, as listener
				// connections roughly do.
				g := int(goroutines.Add(1))
				w := newWalker(nSeries)
				batch := make([]series.Sample, 1000)
				pos := 0
				for pb.Next() {
					for j := range batch {
						i := (pos + g*1000) % nSeries
						batch[j] = series.Sample{Name: names[i], Point: series.Point{Timestamp: t0 + int64(pos/nSeries)*60 + int64(g), Value: w.next(i)}}
						pos++
					}
					if err := s.Append(ctx, batch); err != nil {
						b.Fatal(err)
					}
				}
				total.Add(int64(pos))
			})
			b.ReportMetric(float64(total.Load())/b.Elapsed().Seconds(), "points/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(total.Load()), "ns/point")
		})
	}
}

// BenchmarkFetch fetches a whole series of 1440 (one day at 60 s) and 8640
// (one day at 10 s) points of a 2-decimal random walk.
func BenchmarkFetch(b *testing.B) {
	for _, n := range []int{1440, 8640} {
		b.Run(fmt.Sprintf("points=%d", n), func(b *testing.B) {
			s := benchStore(b, false)
			w := newWalker(1)
			batch := make([]series.Sample, n)
			for i := range batch {
				batch[i] = series.Sample{Name: "fetch.me", Point: series.Point{Timestamp: t0 + int64(i)*60, Value: w.next(0)}}
			}
			ctx := context.Background()
			if err := s.Append(ctx, batch); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(n) * pointBytes)
			b.ReportAllocs()
			for b.Loop() {
				pts, err := s.Fetch(ctx, "fetch.me", math.MinInt64, math.MaxInt64)
				if err != nil || len(pts) != n {
					b.Fatalf("Fetch: %d points, %v", len(pts), err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/point")
		})
	}
}

// BenchmarkBytesPerPoint fills a memory-only store with 10,000 series of
// 1440 points (one day at 60 s), appended one minute at a time as Horizon
// would, and reports Stats().MemoryBytes per point (B/point) and the Go
// heap growth per point measured after a GC (heapB/point). Run it with
// -benchtime=1x.
func BenchmarkBytesPerPoint(b *testing.B) {
	const nSeries, nPoints = 10000, 1440
	names := benchNames(nSeries)
	kinds := []struct {
		name  string
		value func(rng *rand.Rand, prev float64, t int) float64
	}{
		{"random-walk-full-precision", func(rng *rand.Rand, prev float64, _ int) float64 { return prev + rng.NormFloat64() }},
		{"random-walk-2-decimals", func(rng *rand.Rand, prev float64, _ int) float64 {
			return math.Round((prev+rng.NormFloat64())*100) / 100
		}},
		{"integer-counter", func(rng *rand.Rand, prev float64, _ int) float64 { return math.Round(prev) + float64(rng.IntN(1000)) }},
	}
	for _, k := range kinds {
		b.Run(k.name, func(b *testing.B) {
			for b.Loop() {
				rng := rand.New(rand.NewPCG(10, 10))
				prev := make([]float64, nSeries)
				for i := range prev {
					prev[i] = float64(rng.IntN(1000000)) / 100
				}
				var before runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				cfg := DefaultConfig()
				s, err := Open(cfg, nil, nil)
				if err != nil {
					b.Fatal(err)
				}
				batch := make([]series.Sample, nSeries)
				for t := range nPoints {
					for i := range batch {
						prev[i] = k.value(rng, prev[i], t)
						batch[i] = series.Sample{Name: names[i], Point: series.Point{Timestamp: t0 + int64(t)*60, Value: prev[i]}}
					}
					if err := s.Append(context.Background(), batch); err != nil {
						b.Fatal(err)
					}
				}
				batch = nil
				var after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&after)
				st := s.Stats()
				if st.Points != nSeries*nPoints {
					b.Fatalf("store holds %d points, want %d", st.Points, nSeries*nPoints)
				}
				b.ReportMetric(float64(st.MemoryBytes)/float64(st.Points), "B/point")
				b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(st.Points), "heapB/point")
				runtime.KeepAlive(prev)
				s.Close()
			}
		})
	}
}

// BenchmarkChunk measures the codec on 120 points of a 2-decimal random
// walk and of a full-precision one; SetBytes counts 16 bytes per point.
func BenchmarkChunk(b *testing.B) {
	rng := rand.New(rand.NewPCG(11, 11))
	walk, full := 500.0, 500.0
	sets := map[string][]series.Point{
		"2-decimals": regularPoints(120, t0, 60, func(int) float64 { walk = math.Round((walk+rng.NormFloat64())*100) / 100; return walk }),
		"full":       regularPoints(120, t0, 60, func(int) float64 { full += rng.NormFloat64(); return full }),
	}
	for _, name := range []string{"2-decimals", "full"} {
		pts := sets[name]
		b.Run("encode/"+name, func(b *testing.B) {
			var enc encoder
			b.SetBytes(int64(len(pts)) * pointBytes)
			b.ReportAllocs()
			for b.Loop() {
				enc.encode(pts)
			}
		})
		b.Run("decode/"+name, func(b *testing.B) {
			var enc encoder
			data := enc.encode(pts)
			dst := make([]series.Point, 0, len(pts))
			b.SetBytes(int64(len(pts)) * pointBytes)
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if dst, err = decodeChunk(dst[:0], data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

var _ store.Store = (*Store)(nil)

// BenchmarkFetchBatch reads a whole memory-only store of 10,000 series of
// 1440 points (one day at 60 s of a 2-decimal random walk, appended a
// minute at a time as Horizon would), as the analyzer does every cycle:
// with one FetchBatch call over every name (batch), and with one Fetch per
// name (fetch) for comparison. One op reads every series; ns/metric and
// points/s are per series and point read, B/s counts 16 bytes a point.
func BenchmarkFetchBatch(b *testing.B) {
	const nSeries, nPoints = 10000, 1440
	s := benchStore(b, false)
	names := benchNames(nSeries)
	w := newWalker(nSeries)
	batch := make([]series.Sample, nSeries)
	ctx := context.Background()
	for m := range nPoints {
		for i := range batch {
			batch[i] = series.Sample{Name: names[i], Point: series.Point{Timestamp: t0 + int64(m)*60, Value: w.next(i)}}
		}
		if err := s.Append(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	report := func(b *testing.B, read int) {
		if read != b.N*nSeries*nPoints {
			b.Fatalf("read %d points, want %d", read, b.N*nSeries*nPoints)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*nSeries), "ns/metric")
		b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "points/s")
	}
	b.Run("batch", func(b *testing.B) {
		read := 0
		fn := func(_ int, pts []series.Point) error {
			read += len(pts)
			return nil
		}
		b.SetBytes(nSeries * nPoints * pointBytes)
		b.ReportAllocs()
		for b.Loop() {
			if err := s.FetchBatch(ctx, names, math.MinInt64, math.MaxInt64, fn); err != nil {
				b.Fatal(err)
			}
		}
		report(b, read)
	})
	b.Run("fetch", func(b *testing.B) {
		read := 0
		b.SetBytes(nSeries * nPoints * pointBytes)
		b.ReportAllocs()
		for b.Loop() {
			for _, name := range names {
				pts, err := s.Fetch(ctx, name, math.MinInt64, math.MaxInt64)
				if err != nil {
					b.Fatal(err)
				}
				read += len(pts)
			}
		}
		report(b, read)
	})
}
