package anomalies_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/go-kale/kale/internal/anomalies"
	"github.com/go-kale/kale/internal/anomalies/anomaliestest"
	"github.com/go-kale/kale/internal/testserver"
)

// benchBackends opens a fresh store of each kind for a benchmark. The
// Redis kinds skip without redis-server.
var benchBackends = []struct {
	name string
	open func(b *testing.B) anomalies.Store
}{
	{"embedded", func(b *testing.B) anomalies.Store {
		s, err := anomalies.OpenEmbedded(b.TempDir(), 365*24*time.Hour, nil)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}},
	{"redis", func(b *testing.B) anomalies.Store {
		srv := testserver.StartRedis(b)
		return anomalies.NewRedis(redisClient(b, srv.Addr), "", 365*24*time.Hour)
	}},
}

// batch returns n records of distinct metrics at ts.
func batch(n int, ts int64) []anomalies.Record {
	recs := make([]anomalies.Record, n)
	for i := range recs {
		recs[i] = anomaliestest.Rec(fmt.Sprintf("carbon.agents.host%d.cpu.usage", i), ts)
	}
	return recs
}

// jsonSize is the JSON size of recs: the bytes a backend stores.
func jsonSize(b *testing.B, recs []anomalies.Record) int64 {
	n := 0
	for _, r := range recs {
		js, err := json.Marshal(r)
		if err != nil {
			b.Fatal(err)
		}
		n += len(js)
	}
	return int64(n)
}

// BenchmarkAdd100 adds 100 new records per op (an anomalous cycle); the
// embedded store fsyncs once per op.
func BenchmarkAdd100(b *testing.B) {
	for _, be := range benchBackends {
		b.Run(be.name, func(b *testing.B) {
			s := be.open(b)
			defer s.Close()
			recs := batch(100, anomaliestest.Base)
			b.SetBytes(jsonSize(b, recs))
			b.ReportAllocs()
			ts := anomaliestest.Base
			for b.Loop() {
				ts++
				for i := range recs {
					recs[i].Timestamp = ts
				}
				if err := s.Add(ctx, recs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSince1000Of100k reads the newest 1000 of 100k records (1000
// metrics x 100 cycles): the webapp's anomaly list.
func BenchmarkSince1000Of100k(b *testing.B) {
	for _, be := range benchBackends {
		b.Run(be.name, func(b *testing.B) {
			s := be.open(b)
			defer s.Close()
			fill100k(b, s)
			got, err := s.Since(ctx, 0, 1000)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(jsonSize(b, got))
			b.ReportAllocs()
			for b.Loop() {
				got, err := s.Since(ctx, 0, 1000)
				if err != nil || len(got) != 1000 {
					b.Fatalf("Since = %d records, %v", len(got), err)
				}
			}
		})
	}
}

// BenchmarkMetric100Of100k reads one metric's 100 records among 100k:
// the per-metric page.
func BenchmarkMetric100Of100k(b *testing.B) {
	for _, be := range benchBackends {
		b.Run(be.name, func(b *testing.B) {
			s := be.open(b)
			defer s.Close()
			fill100k(b, s)
			b.ReportAllocs()
			for b.Loop() {
				got, err := s.Metric(ctx, "carbon.agents.host500.cpu.usage", 0, 0)
				if err != nil || len(got) != 100 {
					b.Fatalf("Metric = %d records, %v", len(got), err)
				}
			}
		})
	}
}

// fill100k adds 100 cycles of 1000 anomalous metrics.
func fill100k(b *testing.B, s anomalies.Store) {
	b.Helper()
	for c := range 100 {
		if err := s.Add(ctx, batch(1000, anomaliestest.Base+int64(c)*60)); err != nil {
			b.Fatal(err)
		}
	}
}
