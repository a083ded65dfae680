package redisstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/redis/go-redis/v9"

	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/store"
	"github.com/go-kale/kale/internal/store/storetest"
	"github.com/go-kale/kale/internal/testserver"
)

// server is a Redis (standalone or cluster) a test writes to.
type server struct {
	url   string
	flush func(t testing.TB)
	raw   redis.UniversalClient // a plain client for checking keys directly
}

func standalone(t testing.TB) server {
	r := testserver.StartRedis(t)
	raw := redis.NewClient(&redis.Options{Addr: r.Addr})
	t.Cleanup(func() { raw.Close() })
	return server{url: r.URL, flush: r.FlushAll, raw: raw}
}

func cluster(t testing.TB) server {
	c := testserver.StartRedisCluster(t, 3)
	raw := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	t.Cleanup(func() { raw.Close() })
	return server{url: strings.Join(c.Addrs, ","), flush: c.FlushAll, raw: raw}
}

// open returns an empty store on srv with cfg's settings (URL and
// Retention are filled in), closed in t.Cleanup.
func open(t testing.TB, srv server, cfg Config, ret store.Retention) *Store {
	t.Helper()
	srv.flush(t)
	cfg.URL = srv.url
	cfg.Retention = ret
	s, err := New(cfg, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestStandalone runs the conformance suite and the format and
// concurrency tests against one standalone redis-server.
func TestStandalone(t *testing.T) {
	srv := standalone(t)
	t.Run("Conformance", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T, ret store.Retention) store.Store {
			return open(t, srv, DefaultConfig(), ret)
		})
	})
	t.Run("ConformanceMiniSmallBatches", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Mini.Enabled = true
		cfg.PipelineBatch = 7
		cfg.TrimBatch = 3
		cfg.FetchBatch = 7
		storetest.Run(t, func(t *testing.T, ret store.Retention) store.Store {
			return open(t, srv, cfg, ret)
		})
	})
	t.Run("SkylineFormat", func(t *testing.T) { testSkylineFormat(t, srv) })
	t.Run("TrimWhileAppending", func(t *testing.T) { testTrimWhileAppending(t, srv) })
}

// TestCluster runs the same against one Redis Cluster of 3 masters.
func TestCluster(t *testing.T) {
	srv := cluster(t)
	t.Run("Conformance", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T, ret store.Retention) store.Store {
			return open(t, srv, DefaultConfig(), ret)
		})
	})
	t.Run("SkylineFormat", func(t *testing.T) { testSkylineFormat(t, srv) })
	t.Run("TrimWhileAppending", func(t *testing.T) { testTrimWhileAppending(t, srv) })
}

func TestNewConfig(t *testing.T) {
	f := func(url string, wantCluster bool, wantWhere string) {
		t.Helper()
		cfg := DefaultConfig()
		cfg.URL = url
		s, err := New(cfg, nil, nil)
		if err != nil {
			t.Fatalf("New(%q): %v", url, err)
		}
		defer s.Close()
		_, isCluster := s.client.(*redis.ClusterClient)
		if isCluster != wantCluster || s.where != wantWhere {
			t.Errorf("New(%q): cluster %v, where %q; want %v, %q", url, isCluster, s.where, wantCluster, wantWhere)
		}
	}
	f("redis://127.0.0.1:6379/0", false, "127.0.0.1:6379")
	f("redis://:secret@10.0.0.1:6380/3", false, "10.0.0.1:6380")
	f("rediss://redis.example:6379", false, "redis.example:6379")
	f("unix:///tmp/redis.sock?db=2", false, "/tmp/redis.sock")
	f("127.0.0.1:6379", false, "127.0.0.1:6379")
	f("127.0.0.1:7001,127.0.0.1:7002", true, "127.0.0.1:7001,127.0.0.1:7002")
	f(" 10.0.0.1:7001 , 10.0.0.2:7001 ", true, "10.0.0.1:7001,10.0.0.2:7001")
	f("redis://u:p@10.0.0.1:7001,10.0.0.2:7001", true, "10.0.0.1:7001,10.0.0.2:7001")
	f("redis+cluster://10.0.0.1:7001", true, "10.0.0.1:7001")
	f("redis+cluster://[::1]:7001,[::1]:7002", true, "[::1]:7001,[::1]:7002")

	bad := func(mutate func(*Config), want string) {
		t.Helper()
		cfg := DefaultConfig()
		cfg.URL = "redis://127.0.0.1:6379/0"
		mutate(&cfg)
		_, err := New(cfg, nil, nil)
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), want) {
			t.Errorf("New: err = %v, want ErrConfig containing %q", err, want)
		}
	}
	bad(func(c *Config) { c.URL = "" }, "url is empty")
	bad(func(c *Config) { c.URL = "localhost" }, `"localhost" is not host:port`)
	bad(func(c *Config) { c.URL = "h:1,h2" }, `"h2" is not host:port`)
	bad(func(c *Config) { c.URL = "h:1,h:99999" }, "bad port")
	bad(func(c *Config) { c.URL = "redis://h:1/notadb" }, "url")
	bad(func(c *Config) { c.URL = "http://h:1" }, "url")
	bad(func(c *Config) { c.URL = "redis://:hunter2@h:1/notadb" }, "xxxxx")
	bad(func(c *Config) { c.Namespace = "" }, "namespace is empty")
	bad(func(c *Config) { c.Mini.Enabled = true; c.Mini.Namespace = "metrics." }, "must be set and differ")
	bad(func(c *Config) { c.Mini.Enabled = true; c.Mini.Duration = 0 }, "mini.duration")
	bad(func(c *Config) { c.Retention.FullDuration = 0 }, "full duration must be at least 1s")
	bad(func(c *Config) { c.PipelineBatch = 0 }, "pipeline_batch")
	bad(func(c *Config) { c.TrimBatch = 0 }, "trim_batch")
	bad(func(c *Config) { c.FetchBatch = 0 }, "fetch_batch")
	bad(func(c *Config) { c.PoolSize = -1 }, "pool_size")
	bad(func(c *Config) { c.ReadTimeout = -1 }, "timeouts")

	// The password never shows in an error.
	cfg := DefaultConfig()
	cfg.URL = "redis://:hunter2@h:1/notadb"
	if _, err := New(cfg, nil, nil); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("New: err = %v, want an error without the password", err)
	}
}

func TestPingUnreachable(t *testing.T) {
	port := testserver.FreePort(t) // nothing listens there
	cfg := DefaultConfig()
	cfg.URL = fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	cfg.DialTimeout = time.Second
	s, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatalf("New must not connect: %v", err)
	}
	defer s.Close()
	err = s.Ping(context.Background())
	want := fmt.Sprintf("cannot reach redis at 127.0.0.1:%d: ", port)
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), "start redis-server or fix --redis") {
		t.Errorf("Ping: err = %v, want %q...\"start redis-server or fix --redis\"", err, want)
	}
	err = s.Append(context.Background(), []series.Sample{{Name: "a", Point: series.Point{Timestamp: 1, Value: 1}}})
	if err == nil || !strings.Contains(err.Error(), "cannot append on redis at 127.0.0.1:") {
		t.Errorf("Append: err = %v, want a cannot-append error naming the address", err)
	}
}

// testSkylineFormat reads back what Append wrote with a plain client and
// checks Skyline's exact bytes and set members.
func testSkylineFormat(t *testing.T, srv server) {
	cfg := DefaultConfig()
	cfg.Mini.Enabled = true
	s := open(t, srv, cfg, store.DefaultRetention())
	ctx := context.Background()
	samples := []series.Sample{
		{Name: "carbon.agents.a.cpu", Point: series.Point{Timestamp: 1700000000, Value: 1.5}},
		{Name: "stats.x", Point: series.Point{Timestamp: 1700000060, Value: math.Copysign(0, -1)}},
		{Name: "carbon.agents.a.cpu", Point: series.Point{Timestamp: 1699999940, Value: 2}},
		{Name: "carbon.agents.a.cpu", Point: series.Point{Timestamp: 1700000000, Value: 3}},
	}
	if err := s.Append(ctx, samples); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, samples[1:2]); err != nil {
		t.Fatal(err)
	}
	wantCPU := "92ce6553f100cb3ff8000000000000" + "92ce6553f0c4cb4000000000000000" + "92ce6553f100cb4008000000000000"
	wantX := "92ce6553f13ccb8000000000000000" + "92ce6553f13ccb8000000000000000"
	for key, want := range map[string]string{
		"metrics.carbon.agents.a.cpu": wantCPU, "mini.carbon.agents.a.cpu": wantCPU,
		"metrics.stats.x": wantX, "mini.stats.x": wantX,
	} {
		got, err := srv.raw.Get(ctx, key).Bytes()
		if err != nil {
			t.Fatalf("GET %s: %v", key, err)
		}
		if fmt.Sprintf("%x", got) != want {
			t.Errorf("GET %s = %x, want %s", key, got, want)
		}
	}
	for set, want := range map[string][]string{
		"metrics.unique_metrics": {"metrics.carbon.agents.a.cpu", "metrics.stats.x"},
		"mini.unique_metrics":    {"mini.carbon.agents.a.cpu", "mini.stats.x"},
	} {
		got, err := srv.raw.SMembers(ctx, set).Result()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
			t.Errorf("SMEMBERS %s mismatch (-want +got):\n%s", set, diff)
		}
	}
	// Trim rewrites a key sorted and de-duplicated, still Skyline's format.
	if _, err := s.Trim(ctx, 1700000000); err != nil {
		t.Fatal(err)
	}
	got, _ := srv.raw.Get(ctx, "metrics.carbon.agents.a.cpu").Bytes()
	if want := "92ce6553f0c4cb4000000000000000" + "92ce6553f100cb4008000000000000"; fmt.Sprintf("%x", got) != want {
		t.Errorf("after Trim GET = %x, want %s", got, want)
	}
}

// TestPythonMsgpack stores a value written by Python's msgpack as Skyline
// writes it (float timestamps, every int width, float32, extra items) and
// reads it back through the store, before and after Trim rewrites it.
func TestPythonMsgpack(t *testing.T) {
	srv := standalone(t)
	s := open(t, srv, DefaultConfig(), store.Retention{FullDuration: 200 * 365 * 24 * time.Hour})
	ctx := context.Background()
	val, want := pythonValue(t)
	if err := srv.raw.Set(ctx, "metrics.skyline.py", val, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := srv.raw.SAdd(ctx, "metrics.unique_metrics", "metrics.skyline.py").Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Names(ctx, ""); err != nil || !cmp.Equal(got, []string{"skyline.py"}) {
		t.Errorf("Names = %q, %v; want [skyline.py]", got, err)
	}
	check := func(when string) {
		got, err := s.Fetch(ctx, "skyline.py", math.MinInt64, math.MaxInt64)
		if err != nil {
			t.Fatalf("Fetch %s: %v", when, err)
		}
		if diff := cmp.Diff(want, got, bitExact); diff != "" {
			t.Errorf("Fetch %s mismatch (-want +got):\n%s", when, diff)
		}
	}
	check("before Trim")
	// Every point is kept (a 200-year retention) but the value is unsorted,
	// so Trim rewrites it in Kale's encoding.
	st, err := s.Trim(ctx, 1700003200)
	if err != nil {
		t.Fatal(err)
	}
	if st.Metrics != 1 || st.Deleted != 0 {
		t.Errorf("TrimStats = %+v", st)
	}
	check("after Trim")
	var re []byte
	for _, p := range want {
		re = series.AppendPoint(re, p)
	}
	if got, _ := srv.raw.Get(ctx, "metrics.skyline.py").Bytes(); string(got) != string(re) {
		t.Errorf("after Trim the value is %x, want %x", got, re)
	}
}

// TestMalformedValue: Fetch reports a value that does not decode with the
// points before the bad bytes; Trim keeps those points and drops the rest,
// deletes a key with nothing decodable, and skips a key of another type.
func TestMalformedValue(t *testing.T) {
	srv := standalone(t)
	s := open(t, srv, DefaultConfig(), store.Retention{FullDuration: time.Hour})
	ctx := context.Background()
	good := []series.Point{{Timestamp: 1000, Value: 1}, {Timestamp: 1060, Value: 2}}
	var val []byte
	for _, p := range good {
		val = series.AppendPoint(val, p)
	}
	val = append(val, 0xc1, 0x92, 0x01)
	srv.raw.Set(ctx, "metrics.bad.tail", val, 0)
	srv.raw.Set(ctx, "metrics.bad.all", "not msgpack", 0)
	srv.raw.RPush(ctx, "metrics.bad.list", "a list is not a series")
	srv.raw.SAdd(ctx, "metrics.unique_metrics", "metrics.bad.tail", "metrics.bad.all", "metrics.bad.list")

	got, err := s.Fetch(ctx, "bad.tail", math.MinInt64, math.MaxInt64)
	var de *series.DecodeError
	if !errors.Is(err, series.ErrMalformed) || !errors.Is(err, store.ErrCorrupt) || !errors.As(err, &de) || de.Offset != 26 {
		t.Errorf("Fetch: err = %v, want ErrCorrupt and a DecodeError at offset 26", err)
	}
	if diff := cmp.Diff(good, got); diff != "" {
		t.Errorf("Fetch before the bad bytes mismatch (-want +got):\n%s", diff)
	}

	// FetchBatch: Fetch's points for the undecodable values, the list
	// skipped, the good metric after them read, and one error at the end
	// that counts the three and describes the first.
	srv.raw.Set(ctx, "metrics.good", val[:26], 0)
	var calls []batchCall
	err = s.FetchBatch(ctx, []string{"bad.tail", "bad.list", "bad.all", "missing", "good"}, math.MinInt64, math.MaxInt64,
		func(i int, pts []series.Point) error {
			calls = append(calls, batchCall{I: i, Pts: slices.Clone(pts)})
			return nil
		})
	if !errors.Is(err, store.ErrCorrupt) || !errors.Is(err, series.ErrMalformed) || !errors.As(err, &de) || de.Offset != 26 ||
		!strings.Contains(err.Error(), "cannot read 3 of 5 metrics") || !strings.Contains(err.Error(), "metrics.bad.tail") {
		t.Errorf("FetchBatch: err = %v, want ErrCorrupt counting 3 of 5 and describing metrics.bad.tail", err)
	}
	if diff := cmp.Diff([]batchCall{{0, good}, {2, nil}, {4, good}}, calls, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("FetchBatch calls mismatch (-want +got):\n%s", diff)
	}
	if got := testutil.ToFloat64(s.met.corrupt); got != 4 {
		t.Errorf("malformed values counted = %v, want 4 (Fetch 1, FetchBatch 3)", got)
	}
	srv.raw.Del(ctx, "metrics.good")
	st, err := s.Trim(ctx, 1100)
	if err != nil {
		t.Fatal(err)
	}
	// The list is skipped (logged), not a reason to stop trimming.
	if diff := cmp.Diff(store.TrimStats{Metrics: 3, Deleted: 1}, st); diff != "" {
		t.Errorf("TrimStats mismatch (-want +got):\n%s", diff)
	}
	got, err = s.Fetch(ctx, "bad.tail", math.MinInt64, math.MaxInt64)
	if err != nil || !cmp.Equal(good, got) {
		t.Errorf("Fetch after Trim = %v, %v; want %v, nil", got, err, good)
	}
	if _, err := s.Fetch(ctx, "bad.all", math.MinInt64, math.MaxInt64); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Fetch of a deleted undecodable key: err = %v, want ErrNotFound", err)
	}
	if names, _ := s.Names(ctx, ""); !cmp.Equal(names, []string{"bad.list", "bad.tail"}) {
		t.Errorf("Names = %q, want [bad.list bad.tail]", names)
	}
	if _, err := s.Fetch(ctx, "bad.list", math.MinInt64, math.MaxInt64); err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Errorf("Fetch of a list: err = %v, want WRONGTYPE", err)
	}
}

// TestRewriteScript checks the compare-and-set Trim uses, case by case.
func TestRewriteScript(t *testing.T) {
	srv := standalone(t)
	ctx := context.Background()
	f := func(stored, read, newVal, appended string, want int64, wantVal string) {
		t.Helper()
		srv.raw.Del(ctx, "k")
		if stored != "" {
			srv.raw.Set(ctx, "k", stored, 0)
		}
		if appended != "" {
			srv.raw.Append(ctx, "k", appended)
		}
		n := min(checkBytes, len(read))
		got, err := rewriteScript.Run(ctx, srv.raw, []string{"k"}, len(read), newVal, read[:n], read[len(read)-n:]).Int64()
		if err != nil {
			t.Fatal(err)
		}
		val, err := srv.raw.Get(ctx, "k").Result()
		if errors.Is(err, redis.Nil) {
			val = "<none>"
		}
		if got != want || val != wantVal {
			t.Errorf("stored %q read %q new %q appended %q: got %d %q, want %d %q", stored, read, newVal, appended, got, val, want, wantVal)
		}
	}
	long := strings.Repeat("x", 100)
	f("abcdef", "abcdef", "ef", "", 2, "ef")
	f("abcdef", "abcdef", "ef", "GH", 4, "efGH")
	f("abcdef", "abcdef", "", "", 0, "<none>")
	f("abcdef", "abcdef", "", "GH", 2, "GH")
	f("abc", "abcdef", "ef", "", -1, "abc")                    // shorter than read
	f("", "abcdef", "ef", "", -1, "<none>")                    // deleted meanwhile
	f("zbcdef", "abcdef", "ef", "", -1, "zbcdef")              // another Roomba rewrote it
	f("abcdeZ", "abcdef", "ef", "GH", -1, "abcdeZGH")          // end of what was read changed
	f("a"+long+"b", "a"+long+"b", "N", "T", 2, "NT")           // longer than checkBytes
	f("a"+long+"b", "a"+long+"c", "N", "T", -1, "a"+long+"bT") // its last byte differs
}

// testTrimWhileAppending runs Trim over and over while writers append:
// every point newer than the cutoff survives, and at the end each series
// holds exactly those points.
func testTrimWhileAppending(t *testing.T, srv server) {
	ret := store.Retention{FullDuration: time.Hour}
	cfg := DefaultConfig()
	cfg.TrimBatch = 7
	s := open(t, srv, cfg, ret)
	ctx := context.Background()
	const writers, rounds, metrics = 4, 250, 30
	const base = 1_700_000_000
	last := int64(base + writers*rounds - 1)
	// The cutoff falls in the middle of the timestamps written,
	// so Trim has old points to remove while writers append.
	now := int64(base+writers*rounds/2) + int64(ret.FullDuration/time.Second)
	cutoff := ret.Cutoff(now)

	var wg sync.WaitGroup
	errs := make(chan error, writers+1)
	for w := range writers {
		wg.Go(func() {
			for r := range rounds {
				ts := int64(base + r*writers + w)
				var samples []series.Sample
				for m := range metrics {
					samples = append(samples, series.Sample{Name: fmt.Sprintf("tw.m%02d", m), Point: series.Point{Timestamp: ts, Value: float64(ts) + float64(m)/100}})
				}
				if err := s.Append(ctx, samples); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	stop := make(chan struct{})
	var trims, removed int
	var trimmer sync.WaitGroup
	trimmer.Go(func() {
		for {
			st, err := s.Trim(ctx, now)
			if err != nil {
				errs <- err
				return
			}
			trims++
			removed += st.PointsRemoved
			select {
			case <-stop:
				return
			default:
			}
		}
	})
	wg.Wait()
	close(stop)
	trimmer.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st, err := s.Trim(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	removed += st.PointsRemoved
	t.Logf("%d Trim passes during the writes", trims)
	for m := range metrics {
		var want []series.Point
		for ts := cutoff + 1; ts <= last; ts++ {
			want = append(want, series.Point{Timestamp: ts, Value: float64(ts) + float64(m)/100})
		}
		got, err := s.Fetch(ctx, fmt.Sprintf("tw.m%02d", m), math.MinInt64, math.MaxInt64)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("tw.m%02d mismatch (-want +got):\n%s", m, diff)
		}
	}
	// Each old point was removed exactly once.
	if want := metrics * int(cutoff-base+1); removed != want {
		t.Errorf("Trim passes removed %d points in all, want %d", removed, want)
	}
}

// TestNameSetRepair: when SADD fails (here the set key has the wrong type)
// Append reports it, and a later Append or Trim adds the name, so no key is
// left out of the set.
func TestNameSetRepair(t *testing.T) {
	srv := standalone(t)
	s := open(t, srv, DefaultConfig(), store.DefaultRetention())
	ctx := context.Background()
	srv.raw.Set(ctx, "metrics.unique_metrics", "not a set", 0)
	err := s.Append(ctx, []series.Sample{{Name: "a", Point: series.Point{Timestamp: 1, Value: 1}}})
	if err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Fatalf("Append with a broken set: err = %v, want WRONGTYPE", err)
	}
	srv.raw.Del(ctx, "metrics.unique_metrics")
	if err := s.Append(ctx, []series.Sample{{Name: "b", Point: series.Point{Timestamp: 1, Value: 1}}}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Names(ctx, ""); err != nil || !cmp.Equal(got, []string{"a", "b"}) {
		t.Errorf("Names = %q, %v; want [a b]", got, err)
	}
	// The same through Trim.
	srv.raw.Set(ctx, "metrics.unique_metrics", "not a set", 0)
	if err := s.Append(ctx, []series.Sample{{Name: "c", Point: series.Point{Timestamp: 1, Value: 1}}}); err == nil {
		t.Fatal("Append with a broken set succeeded")
	}
	srv.raw.Del(ctx, "metrics.unique_metrics")
	if _, err := s.Trim(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Names(ctx, ""); err != nil || !cmp.Equal(got, []string{"c"}) {
		t.Errorf("Names after Trim = %q, %v; want [c] (a and b were never re-added: their SADD had succeeded)", got, err)
	}
}

// TestMetrics checks the self-metrics count what happened and pass
// promlint.
func TestMetrics(t *testing.T) {
	srv := standalone(t)
	srv.flush(t)
	cfg := DefaultConfig()
	cfg.URL = srv.url
	reg := prometheus.NewRegistry()
	s, err := New(cfg, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	samples := []series.Sample{
		{Name: "a", Point: series.Point{Timestamp: 1700000000, Value: 1}},
		{Name: "b", Point: series.Point{Timestamp: 1700000000, Value: 1}},
		{Name: "a", Point: series.Point{Timestamp: 1700000010, Value: 1}},
	}
	if err := s.Append(ctx, samples); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Trim(ctx, 1800000000); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{
		"kale_store_redis_appended_points_total": 3,
		"kale_store_redis_appended_bytes_total":  45,
		"kale_store_redis_created_keys_total":    2,
		"kale_store_redis_trimmed_points_total":  3,
		"kale_store_redis_deleted_keys_total":    2,
	} {
		if got := counterValue(t, reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	// A second store on the same registry is refused, not a panic.
	if _, err := New(cfg, nil, reg); err == nil {
		t.Error("New with an already used registry succeeded")
	}
}

// bitExact compares float64 values by their bits.
var bitExact = cmp.Comparer(func(a, b float64) bool {
	return math.Float64bits(a) == math.Float64bits(b)
})

// pythonValue returns the Skyline value written by Python's msgpack
// (internal/series/testdata, made by gen_skyline_msgpack.py) and the points
// a store must return for it: sorted, the last written of equal timestamps.
func pythonValue(t *testing.T) ([]byte, []series.Point) {
	t.Helper()
	val, err := os.ReadFile("../../series/testdata/skyline_msgpack.bin")
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile("../../series/testdata/skyline_msgpack.want")
	if err != nil {
		t.Fatal(err)
	}
	last := map[int64]float64{}
	for _, line := range strings.Split(string(text), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		var ts int64
		var bits uint64
		if _, err := fmt.Sscanf(line, "%d %x", &ts, &bits); err != nil {
			t.Fatalf("bad line %q: %v", line, err)
		}
		last[ts] = math.Float64frombits(bits)
	}
	var want []series.Point
	for _, ts := range slices.Sorted(maps.Keys(last)) {
		want = append(want, series.Point{Timestamp: ts, Value: last[ts]})
	}
	return val, want
}

// counterValue returns the value of the one series of counter name.
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			if len(mf.GetMetric()) != 1 {
				t.Fatalf("%s has %d series, want 1", name, len(mf.GetMetric()))
			}
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestMiniTrim: the mini namespace keeps Mini.Duration + grace, the full
// one its retention, each with its own set.
func TestMiniTrim(t *testing.T) {
	srv := standalone(t)
	cfg := DefaultConfig()
	cfg.Mini.Enabled = true
	cfg.Mini.Duration = time.Hour
	s := open(t, srv, cfg, store.Retention{FullDuration: 24 * time.Hour, Grace: 10 * time.Minute})
	ctx := context.Background()
	const now = 1_700_000_000
	old := series.Point{Timestamp: now - 2*3600, Value: 1} // beyond mini's 1h10m
	recent := series.Point{Timestamp: now - 600, Value: 2} // within both
	samples := []series.Sample{{Name: "both", Point: old}, {Name: "both", Point: recent}, {Name: "oldonly", Point: old}}
	if err := s.Append(ctx, samples); err != nil {
		t.Fatal(err)
	}
	st, err := s.Trim(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(store.TrimStats{Metrics: 2}, st); diff != "" {
		t.Errorf("TrimStats (full namespace only) mismatch (-want +got):\n%s", diff)
	}
	for key, want := range map[string][]series.Point{
		"metrics.both": {old, recent}, "metrics.oldonly": {old},
		"mini.both": {recent}, "mini.oldonly": nil,
	} {
		val, err := srv.raw.Get(ctx, key).Bytes()
		if want == nil {
			if !errors.Is(err, redis.Nil) {
				t.Errorf("GET %s = %x, %v; want no key", key, val, err)
			}
			continue
		}
		got, err := series.DecodePoints(nil, val)
		if err != nil || !cmp.Equal(want, got) {
			t.Errorf("%s = %v, %v; want %v", key, got, err, want)
		}
	}
	if got, _ := srv.raw.SMembers(ctx, "mini.unique_metrics").Result(); !cmp.Equal(got, []string{"mini.both"}) {
		t.Errorf("SMEMBERS mini.unique_metrics = %q, want [mini.both]", got)
	}
	if got, _ := srv.raw.SCard(ctx, "metrics.unique_metrics").Result(); got != 2 {
		t.Errorf("SCARD metrics.unique_metrics = %d, want 2", got)
	}
}
