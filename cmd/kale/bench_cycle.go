package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/go-kale/kale/analyzer"
	"github.com/go-kale/kale/internal/app"
	"github.com/go-kale/kale/internal/config"
	"github.com/go-kale/kale/internal/progress"
	"github.com/go-kale/kale/internal/series"
)

// benchCycle is `kale bench analyze --metrics M --points N`: it fills a
// store (embedded, or Redis) with M synthetic metrics of N points each,
// ending now, and times full analyzer cycles over it: list, batched reads,
// the ensemble on every metric, on all cores.
func benchCycle(b cycleBench, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "kale bench analyze: %v\n", err)
		return 1
	}
	metrics, points, cycles, profile, workers := b.metrics, b.points, b.cycles, b.profile, b.workers
	backend, redisURL := b.backend, b.redisURL
	step := int64(60)
	if metrics <= 0 || points <= 0 || cycles <= 0 {
		fmt.Fprintln(stderr, "kale bench analyze: --metrics, --points and --cycles must be > 0")
		return exitUsage
	}

	cfg := config.Default()
	cfg.LogLevel = "warn"
	// The store keeps exactly the bench's points: its history is their span.
	cfg.Store.Retention.FullDuration = time.Duration(int64(points)*step) * time.Second
	switch backend {
	case "embedded":
		d, err := os.MkdirTemp("", "kale-bench-analyze-")
		if err != nil {
			return fail(err)
		}
		defer os.RemoveAll(d)
		cfg.DataDir = d
		cfg.Store.Embedded.SyncInterval = time.Minute // a bench, not a crash test
	case "redis":
		cfg.Store.Backend = "redis"
		cfg.Store.Redis.URL = redisURL
		if redisURL == "" {
			url, stop, err := localRedis()
			if err != nil {
				return fail(err)
			}
			defer stop()
			cfg.Store.Redis.URL = url
		}
	default:
		fmt.Fprintf(stderr, "kale bench analyze: --store %q: want embedded or redis\n", backend)
		return exitUsage
	}
	logger := newLogger(cfg.LogLevel, stderr)
	st, err := app.OpenStore(cfg, logger, prometheus.NewRegistry())
	if err != nil {
		return fail(err)
	}
	defer st.Close()

	ctx := context.Background()
	now := time.Now().Unix()
	t0 := now - int64(points-1)*step
	progress.Printf(stderr, "writing %d metrics x %d points (%d s step, ending now) into the %s store...\n", metrics, points, step, backend)
	prog := progress.New(stderr, "points", int64(metrics)*int64(points))
	var written atomic.Int64
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	per := (metrics + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0)
	fillDone := make(chan struct{})
	for lo := 0; lo < metrics; lo += per {
		hi := min(lo+per, metrics)
		wg.Go(func() {
			batch := make([]series.Sample, 0, 50_000)
			flush := func() bool {
				if err := st.Append(ctx, batch); err != nil {
					errOnce.Do(func() { firstErr = err })
					return false
				}
				written.Add(int64(len(batch)))
				batch = batch[:0]
				return true
			}
			for m := lo; m < hi; m++ {
				name := benchMetricName(m)
				rng := rand.New(rand.NewPCG(uint64(m), 7))
				level, amp := 100+rng.Float64()*900, 10+rng.Float64()*90
				walk := 0.0
				for p := range points {
					ts := t0 + int64(p)*step
					walk += rng.NormFloat64()
					day := math.Sin(2 * math.Pi * float64(ts%86400) / 86400)
					v := math.Round((level+amp*day+walk+rng.NormFloat64()*amp/10)*100) / 100
					batch = append(batch, series.Sample{Name: name, Point: series.Point{Timestamp: ts, Value: v}})
					if len(batch) == cap(batch) && !flush() {
						return
					}
				}
			}
			flush()
		})
	}
	go func() { wg.Wait(); close(fillDone) }()
	prog.Follow(fillDone, 200*time.Millisecond, written.Load)
	if firstErr != nil {
		return fail(fmt.Errorf("cannot fill the store: %w", firstErr))
	}

	acfg := analyzer.DefaultConfig()
	acfg.Profile = profile
	acfg.Workers = workers
	a, err := analyzer.New(acfg, cfg.Retention().FullDuration, st, nil, analyzer.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "kale bench analyze: %v\n", err)
		return exitUsage
	}
	var took []float64
	var last *analyzer.Report
	for c := range cycles {
		r, err := a.Cycle(ctx)
		if err != nil {
			return fail(err)
		}
		took = append(took, r.Duration.Seconds())
		last = r
		progress.Printf(stderr, "cycle %d/%d: %.2f s, %d metrics, %d analysed, %d anomalies, exceptions %v\n",
			c+1, cycles, r.Duration.Seconds(), r.Metrics, r.Analysed, len(r.Anomalies), r.Exceptions)
	}
	sort.Float64s(took)
	median := took[len(took)/2]
	cores := min(workers, runtime.NumCPU())
	if workers == 0 {
		cores = runtime.GOMAXPROCS(0)
	}
	fmt.Fprintf(stdout, "RESULT cycle_seconds=%.3f metrics=%d ms_per_metric_core=%.4f points=%d store=%s profile=%s workers=%d analysed=%d anomalies=%d cycles=%d\n",
		median, last.Metrics, median*1000*float64(cores)/float64(max(1, last.Metrics)), points, backend, profile, cores,
		last.Analysed, len(last.Anomalies), cycles)
	return 0
}

// cycleBench is what kale bench analyze --metrics was asked to do.
type cycleBench struct {
	metrics, points, cycles, workers int
	profile, backend, redisURL       string
}

// benchMetricName is the name of the bench's metric m.
func benchMetricName(m int) string {
	return fmt.Sprintf("bench.host%03d.service%02d.metric%06d", m%1000, m%37, m)
}
