package horizon

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/go-kale/kale/internal/graphite"
	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/store"
	"github.com/go-kale/kale/internal/store/redisstore"
	"github.com/go-kale/kale/internal/testserver"
)

// BenchmarkIngest measures the whole path: carbon-relay-shaped pickle
// frames (500 points, protocol 2) over 4 loopback TCP connections, decoded,
// filtered, queued and written to the store. One op is one point; the
// points/s figure is what the Foundation issue's targets refer to (also
// `kale bench ingest`).
//
//	go test -run '^$' -bench BenchmarkIngest -benchtime 2000000x ./horizon
func BenchmarkIngest(b *testing.B) {
	b.Run("embedded", func(b *testing.B) {
		benchIngest(b, openStore(b))
	})
	b.Run("redis", func(b *testing.B) {
		r := testserver.StartRedis(b)
		cfg := redisstore.DefaultConfig()
		cfg.URL = r.URL
		st, err := redisstore.New(cfg, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		benchIngest(b, st)
	})
}

func benchIngest(b *testing.B, st store.Store) {
	const conns, metrics, frame = 4, 100000, 500 // as kale bench ingest: batches of distinct metrics
	names := make([]string, metrics)
	for i := range names {
		names[i] = fmt.Sprintf("bench.host%03d.service%02d.metric%05d", i%1000, i%37, i)
	}
	t0 := time.Now().Unix() - int64(b.N/metrics+1)*60
	var frames [][]byte
	batch := make([]series.Sample, 0, frame)
	for i := 0; i < b.N; i++ {
		batch = append(batch, series.Sample{Name: names[i%metrics],
			Point: series.Point{Timestamp: t0 + int64(i/metrics)*60, Value: float64(i%977) / 10}})
		if len(batch) == frame || i == b.N-1 {
			frames = append(frames, graphite.AppendPickleFrame(nil, batch))
			batch = batch[:0]
		}
	}
	cfg := DefaultConfig()
	cfg.Pickle.Addr = "127.0.0.1:0"
	cfg.Msgpack.Addr, cfg.Plaintext.Addr = "", ""
	cfg.Filters.MaxAge = 0
	s, err := New(cfg, st, nil, prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()

	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for c := range conns {
		wg.Go(func() {
			conn, err := net.Dial("tcp", s.PickleAddr().String())
			if err != nil {
				b.Error(err)
				return
			}
			defer conn.Close()
			for i := c; i < len(frames); i += conns {
				if _, err := conn.Write(frames[i]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	for s.Written() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "points/s")
}
