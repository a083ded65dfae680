package redisstore

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/store"
)

// benchNames are realistic Graphite paths, as many as a mid-size Skyline.
var benchNames = func() []string {
	names := make([]string, 100_000)
	for i := range names {
		names[i] = fmt.Sprintf("carbon.agents.host-%04d.cache.metric-%03d.value", i/100, i%100)
	}
	return names
}()

// benchmarkAppend measures Append of pickle-sized batches (batch samples
// of distinct metrics, as carbon-relay flushes them), with 2 concurrent
// Appends per CPU, and reports points/s.
func benchmarkAppend(b *testing.B, srv server, cfg Config, batch int) {
	s := open(b, srv, cfg, store.DefaultRetention())
	ctx := context.Background()
	// Create the keys first, so that the measure is steady-state APPENDs.
	for i := 0; i < len(benchNames); i += batch {
		if err := s.Append(ctx, benchBatch(i, batch, 0)); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	b.SetBytes(int64(batch) * 15)
	b.ReportAllocs()
	b.SetParallelism(2)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := int(next.Add(1))
			if err := s.Append(ctx, benchBatch(n*batch, batch, int64(n))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "points/s")
}

// benchBatch returns n samples of consecutive names from the first-th.
func benchBatch(first, n int, round int64) []series.Sample {
	out := make([]series.Sample, n)
	for i := range out {
		out[i] = series.Sample{
			Name:  benchNames[(first+i)%len(benchNames)],
			Point: series.Point{Timestamp: 1_700_000_000 + round*10, Value: float64(i) * 0.25},
		}
	}
	return out
}

func BenchmarkAppend(b *testing.B) {
	srv := standalone(b)
	for _, pipeline := range []int{100, 1000, 5000} {
		b.Run(fmt.Sprintf("standalone/pipeline=%d", pipeline), func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.PipelineBatch = pipeline
			benchmarkAppend(b, srv, cfg, 5000)
		})
	}
	b.Run("standalone/mini", func(b *testing.B) {
		cfg := DefaultConfig()
		cfg.Mini.Enabled = true
		benchmarkAppend(b, srv, cfg, 5000)
	})
}

func BenchmarkAppendCluster(b *testing.B) {
	srv := cluster(b)
	b.Run("cluster/pipeline=1000", func(b *testing.B) {
		benchmarkAppend(b, srv, DefaultConfig(), 5000)
	})
}

// BenchmarkFetch measures Fetch of a day of 10-s points (8640).
func BenchmarkFetch(b *testing.B) {
	srv := standalone(b)
	s := open(b, srv, DefaultConfig(), store.DefaultRetention())
	ctx := context.Background()
	samples := make([]series.Sample, 8640)
	for i := range samples {
		samples[i] = series.Sample{Name: "day", Point: series.Point{Timestamp: 1_700_000_000 + int64(i)*10, Value: float64(i)}}
	}
	if err := s.Append(ctx, samples); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(8640 * 15)
	b.ReportAllocs()
	for b.Loop() {
		pts, err := s.Fetch(ctx, "day", 0, 1<<62)
		if err != nil || len(pts) != 8640 {
			b.Fatalf("Fetch: %d points, %v", len(pts), err)
		}
	}
}
