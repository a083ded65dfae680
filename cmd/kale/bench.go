package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/go-kale/kale/internal/app"
	"github.com/go-kale/kale/internal/config"
	"github.com/go-kale/kale/internal/graphite"
	"github.com/go-kale/kale/internal/progress"
	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/store/embedded"
	"github.com/go-kale/kale/internal/testserver"
)

func benchCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, "usage: kale bench ingest|gen|analyze|nab|oculus [flags]\n")
		return exitUsage
	}
	switch args[0] {
	case "ingest":
		return benchIngest(args[1:], stdout, stderr)
	case "gen":
		return benchGen(args[1:], stdout, stderr)
	case "analyze":
		return benchAnalyze(args[1:], stdout, stderr)
	case "nab":
		return benchNAB(args[1:], stdout, stderr)
	case "oculus":
		return benchOculus(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "kale bench: unknown benchmark %q (want ingest, gen, analyze, nab or oculus)\n", args[0])
	return exitUsage
}

// benchIngest measures Graphite pickle ingest over loopback into the
// embedded store or Redis: sender goroutines replay pre-encoded
// carbon-relay frames (protocol 2, 500 points each) over TCP to a Horizon
// in this process, and the clock stops when the store has every point.
func benchIngest(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kale bench ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	backend := fs.String("store", "embedded", "embedded or redis")
	redisURL := fs.String("redis", "", "Redis to write to (redis://host:port/db, or host:port,... for a cluster); empty with --store redis: start a local redis-server")
	points := fs.Int("points", 5_000_000, "points to send")
	metrics := fs.Int("metrics", 100_000, "distinct metric names (each gets points/metrics points, one minute apart)")
	conns := fs.Int("conns", 4, "concurrent sender connections (carbon-relay destinations)")
	frame := fs.Int("frame", 500, "points per pickle frame (carbon's MAX_DATAPOINTS_PER_MESSAGE)")
	dataDir := fs.String("data-dir", "", "directory for the embedded store (default: a temporary directory, removed after)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return exitUsage
	}
	if *points <= 0 || *metrics <= 0 || *conns <= 0 || *frame <= 0 {
		fmt.Fprintln(stderr, "kale bench ingest: --points, --metrics, --conns and --frame must be > 0")
		return exitUsage
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "kale bench ingest: %v\n", err)
		return 1
	}

	cfg := config.Default()
	cfg.LogLevel = "warn"
	cfg.HTTP.Addr = ""
	cfg.Horizon.Pickle.Addr = "127.0.0.1:0"
	cfg.Horizon.Plaintext.Addr = ""
	cfg.Horizon.Msgpack.Addr = ""
	cfg.Horizon.Filters.MaxAge = 0 // the corpus is a backfill of the last hours
	cfg.Store.RoombaInterval = time.Hour
	switch *backend {
	case "embedded":
		dir := *dataDir
		if dir == "" {
			d, err := os.MkdirTemp("", "kale-bench-ingest-")
			if err != nil {
				return fail(err)
			}
			defer os.RemoveAll(d)
			dir = d
		}
		cfg.DataDir = dir
	case "redis":
		cfg.Store.Backend = "redis"
		cfg.Store.Redis.URL = *redisURL
		if *redisURL == "" {
			url, stop, err := localRedis()
			if err != nil {
				return fail(err)
			}
			defer stop()
			cfg.Store.Redis.URL = url
		}
	default:
		fmt.Fprintf(stderr, "kale bench ingest: --store %q: want embedded or redis\n", *backend)
		return exitUsage
	}
	logger := newLogger(cfg.LogLevel, stderr)

	// The corpus: rounds of one point per metric, one minute apart, ending now.
	rounds := (*points + *metrics - 1) / *metrics
	step := int64(60)
	t0 := time.Now().Unix() - int64(rounds)*step
	names := make([]string, *metrics)
	for i := range names {
		names[i] = fmt.Sprintf("bench.host%03d.service%02d.metric%05d", i%1000, i%37, i)
	}
	progress.Printf(stderr, "encoding %d points over %d metrics as %d-point pickle frames...\n", *points, *metrics, *frame)
	rng := rand.New(rand.NewPCG(1, 2))
	frames := make([][]byte, 0, *points / *frame + 1)
	batch := make([]series.Sample, 0, *frame)
	var buf []byte
	for i := 0; i < *points; i++ {
		m, r := i%*metrics, i / *metrics
		v := math.Round(rng.NormFloat64()*1000) / 10
		batch = append(batch, series.Sample{Name: names[m], Point: series.Point{Timestamp: t0 + int64(r)*step, Value: v}})
		if len(batch) == *frame || i == *points-1 {
			buf = graphite.AppendPickleFrame(buf[:0], batch)
			frames = append(frames, append([]byte(nil), buf...))
			batch = batch[:0]
		}
	}

	a, err := app.Open(cfg, app.Components{Horizon: true}, logger)
	if err != nil {
		return fail(err)
	}
	var redisMemBefore int64
	if *backend == "redis" {
		redisMemBefore = redisUsedMemory(cfg.Store.Redis.URL)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- a.Run(ctx) }()
	addr := a.Horizon.PickleAddr().String()
	// failRunning stops Horizon and waits for it before the deferred
	// clean-ups (temporary data dir, local redis-server) run.
	failRunning := func(err error) int {
		cancel()
		<-runErr
		return fail(err)
	}

	progress.Printf(stderr, "sending to %s over %d connections into the %s store...\n", addr, *conns, *backend)
	start := time.Now()
	var wg sync.WaitGroup
	sendErr := make(chan error, *conns)
	for c := range *conns {
		wg.Go(func() {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				sendErr <- err
				return
			}
			defer conn.Close()
			for i := c; i < len(frames); i += *conns {
				if _, err := conn.Write(frames[i]); err != nil {
					sendErr <- err
					return
				}
			}
		})
	}
	prog := progress.New(stderr, "stored", int64(*points))
	for a.Horizon.Written() < int64(*points) {
		select {
		case err := <-sendErr:
			return failRunning(fmt.Errorf("sender: %w", err))
		case err := <-runErr:
			cancel()
			return fail(fmt.Errorf("horizon stopped: %v", err))
		case <-time.After(5 * time.Millisecond):
		}
		prog.Update(a.Horizon.Written())
		if time.Since(start) > 10*time.Minute {
			return failRunning(fmt.Errorf("only %d of %d points stored after 10 minutes", a.Horizon.Written(), *points))
		}
	}
	elapsed := time.Since(start)
	prog.Done(a.Horizon.Written())
	wg.Wait()

	// Count what the store holds, point by point.
	var stored int64
	for _, n := range names {
		pts, err := a.Store.Fetch(context.Background(), n, math.MinInt64, math.MaxInt64)
		if err != nil {
			return failRunning(fmt.Errorf("cannot fetch %s: %w", n, err))
		}
		stored += int64(len(pts))
	}
	bytesPerPoint := 0.0
	extra := ""
	switch s := a.Store.(type) {
	case *embedded.Store:
		st := s.Stats()
		bytesPerPoint = float64(st.MemoryBytes) / float64(stored)
	default:
		if after := redisUsedMemory(cfg.Store.Redis.URL); after > 0 && redisMemBefore > 0 {
			bytesPerPoint = float64(after-redisMemBefore) / float64(stored)
			extra = " bytes_per_point_source=redis_used_memory"
		}
		// Points of one metric that meet in a write batch share one APPEND:
		// say how much, so the rate is not mistaken for Redis's command rate.
		if n := counterValue(a.Registry, "kale_store_redis_commands_total", "op", "append"); n > 0 {
			extra += fmt.Sprintf(" redis_appends=%.0f points_per_append=%.2f", n, float64(*points)/n)
		}
	}
	cancel()
	if err := <-runErr; err != nil {
		return fail(err)
	}
	rate := float64(*points) / elapsed.Seconds()
	progress.Printf(stderr, "%d points in %.2fs: %.0f points/s; %d stored; %.2f bytes/point\n",
		*points, elapsed.Seconds(), rate, stored, bytesPerPoint)
	fmt.Fprintf(stdout, "RESULT store=%s points_per_sec=%.0f points_sent=%d points_stored=%d bytes_per_point=%.2f seconds=%.3f metrics=%d conns=%d%s\n",
		*backend, rate, *points, stored, bytesPerPoint, elapsed.Seconds(), *metrics, *conns, extra)
	if stored != int64(*points) {
		fmt.Fprintf(stderr, "kale bench ingest: %d points sent but %d stored\n", *points, stored)
		return 1
	}
	return 0
}

// counterValue returns the value of the counter name{label=value} in g, or 0.
func counterValue(g prometheus.Gatherer, name, label, value string) float64 {
	mfs, err := g.Gather()
	if err != nil {
		return 0
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// redisUsedMemory returns INFO memory's used_memory of the (first) Redis
// in url, or 0 when it cannot be read.
func redisUsedMemory(url string) int64 {
	addr := strings.Split(url, ",")[0]
	var opt *redis.Options
	if strings.Contains(addr, "://") {
		o, err := redis.ParseURL(addr)
		if err != nil {
			return 0
		}
		opt = o
	} else {
		opt = &redis.Options{Addr: addr}
	}
	c := redis.NewClient(opt)
	defer c.Close()
	info, err := c.InfoMap(context.Background(), "memory").Result()
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(info["Memory"]["used_memory"], 10, 64)
	return n
}

// localRedis starts a redis-server for a benchmark in a temporary directory
// and returns its URL and how to stop it (and remove the directory).
func localRedis() (url string, stop func(), err error) {
	d, err := os.MkdirTemp("", "kale-bench-redis-")
	if err != nil {
		return "", nil, err
	}
	addr, stopServer, err := testserver.StartRedisForBench(d)
	if err != nil {
		os.RemoveAll(d)
		return "", nil, fmt.Errorf("cannot start a local redis-server (install it with: apt-get install -y redis-server, or pass --redis URL): %w", err)
	}
	return "redis://" + addr + "/0", func() { stopServer(); os.RemoveAll(d) }, nil
}
