package redisstore

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/store"
)

// batchCall is one call of a FetchBatch callback, its points copied.
type batchCall struct {
	I   int
	Pts []series.Point
}

// pipelineCounter is a go-redis hook that counts pipelines (round trips)
// and the commands in them, and single commands.
type pipelineCounter struct {
	mu        sync.Mutex
	pipelines []int // commands per pipeline
	singles   int
}

func (h *pipelineCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *pipelineCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.mu.Lock()
		h.singles++
		h.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (h *pipelineCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.mu.Lock()
		h.pipelines = append(h.pipelines, len(cmds))
		h.mu.Unlock()
		return next(ctx, cmds)
	}
}

// TestFetchBatchRoundTrips: FetchBatch sends one pipeline of at most
// fetch_batch GETs per round trip, and no single command.
func TestFetchBatchRoundTrips(t *testing.T) {
	srv := standalone(t)
	f := func(fetchBatch, names int, want []int) {
		t.Helper()
		cfg := DefaultConfig()
		cfg.FetchBatch = fetchBatch
		s := open(t, srv, cfg, store.DefaultRetention())
		ctx := context.Background()
		var samples []series.Sample
		list := make([]string, names)
		for i := range list {
			list[i] = fmt.Sprintf("rt.m%04d", i)
			if i%2 == 0 { // every other name is missing
				samples = append(samples, series.Sample{Name: list[i], Point: series.Point{Timestamp: 1_700_000_000, Value: float64(i)}})
			}
		}
		if err := s.Append(ctx, samples); err != nil {
			t.Fatal(err)
		}
		h := &pipelineCounter{}
		s.client.AddHook(h)
		calls := 0
		err := s.FetchBatch(ctx, list, math.MinInt64, math.MaxInt64, func(i int, pts []series.Point) error {
			calls++
			if len(pts) != 1 || pts[0].Value != float64(i) {
				return fmt.Errorf("name %d: points %v", i, pts)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("FetchBatch: %v", err)
		}
		if calls != (names+1)/2 {
			t.Errorf("fetch_batch %d, %d names: %d calls, want %d", fetchBatch, names, calls, (names+1)/2)
		}
		if !slices.Equal(h.pipelines, want) || h.singles != 0 {
			t.Errorf("fetch_batch %d, %d names: pipelines of %v commands and %d single commands; want %v and none",
				fetchBatch, names, h.pipelines, h.singles, want)
		}
	}
	f(500, 1200, []int{500, 500, 200})
	f(500, 500, []int{500})
	f(7, 15, []int{7, 7, 1})
	f(1, 3, []int{1, 1, 1})
	f(500, 0, nil)
}

// TestFetchBatchClusterSlots: on a cluster the keys of one round are on
// every master, and FetchBatch still reads each of them.
func TestFetchBatchClusterSlots(t *testing.T) {
	srv := cluster(t)
	cfg := DefaultConfig()
	cfg.FetchBatch = 50
	s := open(t, srv, cfg, store.DefaultRetention())
	ctx := context.Background()
	var samples []series.Sample
	want := map[int][]series.Point{}
	names := make([]string, 300)
	for i := range names {
		names[i] = fmt.Sprintf("slot.m%03d", i)
		pts := []series.Point{{Timestamp: 1_700_000_060, Value: float64(i)}, {Timestamp: 1_700_000_000, Value: -float64(i)}}
		for _, p := range pts {
			samples = append(samples, series.Sample{Name: names[i], Point: p})
		}
		want[i] = []series.Point{pts[1], pts[0]}
	}
	if err := s.Append(ctx, samples); err != nil {
		t.Fatal(err)
	}
	// Each master holds some of the keys.
	c := s.client.(*redis.ClusterClient)
	var mu sync.Mutex
	var sizes []int64
	err := c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		k, err := n.DBSize(ctx).Result()
		mu.Lock()
		sizes = append(sizes, k)
		mu.Unlock()
		return err
	})
	if err != nil || len(sizes) != 3 || slices.Contains(sizes, 0) {
		t.Fatalf("keys per master = %v, %v; want 3 masters holding keys", sizes, err)
	}
	got := map[int][]series.Point{}
	err = s.FetchBatch(ctx, names, math.MinInt64, math.MaxInt64, func(i int, pts []series.Point) error {
		got[i] = slices.Clone(pts)
		return nil
	})
	if err != nil {
		t.Fatalf("FetchBatch: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("FetchBatch on a cluster mismatch (-want +got):\n%s", diff)
	}
}

// fillDay writes n metrics of a day of 60-s points (1440) of a 2-decimal
// random walk through Append, 50 metrics per call.
func fillDay(b *testing.B, s *Store, names []string) {
	rng := rand.New(rand.NewPCG(12, 12))
	ctx := context.Background()
	const perCall = 50
	samples := make([]series.Sample, 0, perCall*1440)
	for first := 0; first < len(names); first += perCall {
		samples = samples[:0]
		for _, name := range names[first:min(first+perCall, len(names))] {
			v := float64(rng.IntN(100000)) / 100
			for p := range 1440 {
				v = math.Round((v+rng.NormFloat64())*100) / 100
				samples = append(samples, series.Sample{Name: name, Point: series.Point{Timestamp: 1_700_000_000 + int64(p)*60, Value: v}})
			}
		}
		if err := s.Append(ctx, samples); err != nil {
			b.Fatal(err)
		}
	}
}

// benchmarkFetchBatch reads every one of 10,000 metrics of a day of 60-s
// points with one FetchBatch call per op. ns/metric and points/s are per
// metric and point read; B/s counts the 15 bytes a point takes in Redis.
func benchmarkFetchBatch(b *testing.B, srv server, fetchBatch int) {
	const nSeries, nPoints = 10000, 1440
	cfg := DefaultConfig()
	cfg.FetchBatch = fetchBatch
	s := open(b, srv, cfg, store.DefaultRetention())
	names := benchNames[:nSeries]
	fillDay(b, s, names)
	ctx := context.Background()
	read := 0
	fn := func(_ int, pts []series.Point) error {
		read += len(pts)
		return nil
	}
	b.SetBytes(nSeries * nPoints * 15)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := s.FetchBatch(ctx, names, math.MinInt64, math.MaxInt64, fn); err != nil {
			b.Fatal(err)
		}
	}
	if read != b.N*nSeries*nPoints {
		b.Fatalf("read %d points, want %d", read, b.N*nSeries*nPoints)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*nSeries), "ns/metric")
	b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "points/s")
}

func BenchmarkFetchBatch(b *testing.B) {
	srv := standalone(b)
	for _, fb := range []int{100, 500, 2000} {
		b.Run(fmt.Sprintf("standalone/fetch_batch=%d", fb), func(b *testing.B) {
			benchmarkFetchBatch(b, srv, fb)
		})
	}
}

func BenchmarkFetchBatchCluster(b *testing.B) {
	srv := cluster(b)
	b.Run("cluster/fetch_batch=500", func(b *testing.B) {
		benchmarkFetchBatch(b, srv, 500)
	})
}
