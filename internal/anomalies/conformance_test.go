package anomalies_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/go-kale/kale/internal/anomalies"
	"github.com/go-kale/kale/internal/anomalies/anomaliestest"
	"github.com/go-kale/kale/internal/testserver"
)

// fakeClock is the embedded store's claim clock in tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Unix(anomaliestest.Base, 0)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestConformanceEmbedded(t *testing.T) {
	anomaliestest.Run(t, func(t *testing.T, retention time.Duration) anomaliestest.Backend {
		clock := newFakeClock()
		s, err := anomalies.OpenEmbeddedOptions(t.TempDir(), retention, nil, anomalies.Options{Now: clock.Now})
		if err != nil {
			t.Fatalf("OpenEmbedded: %v", err)
		}
		return anomaliestest.Backend{Store: s, Advance: clock.Advance}
	})
}

// TestConformanceEmbeddedCompacting runs the suite with a log compacted
// whenever it is more than twice the live state.
func TestConformanceEmbeddedCompacting(t *testing.T) {
	anomaliestest.Run(t, func(t *testing.T, retention time.Duration) anomaliestest.Backend {
		clock := newFakeClock()
		s, err := anomalies.OpenEmbeddedOptions(t.TempDir(), retention, nil, anomalies.Options{Now: clock.Now, CompactMin: 1})
		if err != nil {
			t.Fatalf("OpenEmbedded: %v", err)
		}
		return anomaliestest.Backend{Store: s, Advance: clock.Advance}
	})
}

// redisClient returns a client of the standalone server at addr, closed in
// t.Cleanup.
func redisClient(t testing.TB, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DisableIdentity: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// clusterClient returns a client of the cluster, closed in t.Cleanup.
func clusterClient(t testing.TB, addrs []string) *redis.ClusterClient {
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, MaxRetries: -1, DisableIdentity: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestConformanceRedis(t *testing.T) {
	srv := testserver.StartRedis(t)
	anomaliestest.Run(t, func(t *testing.T, retention time.Duration) anomaliestest.Backend {
		srv.FlushAll(t)
		return anomaliestest.Backend{Store: anomalies.NewRedis(redisClient(t, srv.Addr), "", retention)}
	})
}

func TestConformanceRedisCluster(t *testing.T) {
	cl := testserver.StartRedisCluster(t, 3)
	anomaliestest.Run(t, func(t *testing.T, retention time.Duration) anomaliestest.Backend {
		cl.FlushAll(t)
		return anomaliestest.Backend{Store: anomalies.NewRedis(clusterClient(t, cl.Addrs), "", retention)}
	})
}

var ctx = context.Background()

// TestRedisKeys checks the key layout Skyline's tools and operators see.
func TestRedisKeys(t *testing.T) {
	srv := testserver.StartRedis(t)
	c := redisClient(t, srv.Addr)
	s := anomalies.NewRedis(c, "", time.Hour)
	defer s.Close()
	ts := anomaliestest.Base
	anomaliestest.Add(t, s, anomaliestest.Rec("a.b", ts))
	if ok, err := s.Claim(ctx, "smtp", "a.b", ts, 90*time.Second); err != nil || !ok {
		t.Fatalf("Claim = %v, %v", ok, err)
	}
	if err := s.PutIncident(ctx, anomalies.Incident{Key: "pagerduty.a.b", Metric: "a.b", Opened: ts}); err != nil {
		t.Fatal(err)
	}

	z, err := c.ZRangeWithScores(ctx, "kale.anomalies", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	if want := []redis.Z{{Score: float64(ts), Member: "1700000000:a.b"}}; anomaliestest.Diff(want, z) != "" {
		t.Errorf("kale.anomalies = %+v, want %+v", z, want)
	}
	js, err := c.HGet(ctx, "kale.anomalies.records{kale.anomalies}", "1700000000:a.b").Result()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(js, `"metric":"a.b"`) || !strings.Contains(js, `"detectors":["grubbs","ks_test"]`) {
		t.Errorf("record JSON = %s", js)
	}
	if n, err := c.ZCard(ctx, "kale.anomalies.metric{kale.anomalies}a.b").Result(); err != nil || n != 1 {
		t.Errorf("per-metric index: %d members, %v", n, err)
	}
	val, err := c.Get(ctx, "last_alert.smtp.a.b").Bytes()
	if err != nil {
		t.Fatal(err)
	}
	// Python: msgpack.packb(1700000000) == b'\xce\x65\x53\xf1\x00'
	if want := []byte{0xce, 0x65, 0x53, 0xf1, 0x00}; !bytes.Equal(val, want) {
		t.Errorf("claim value = % x, want % x", val, want)
	}
	ttl, err := c.TTL(ctx, "last_alert.smtp.a.b").Result()
	if err != nil || ttl <= 0 || ttl > 90*time.Second {
		t.Errorf("claim TTL = %v, %v; want in (0, 90s]", ttl, err)
	}
	if in, err := c.HGet(ctx, "kale.incidents", "pagerduty.a.b").Result(); err != nil || !strings.Contains(in, `"opened":1700000000`) {
		t.Errorf("incident = %s, %v", in, err)
	}
	// A Skyline that set the key first (SETEX) blocks Kale's claim.
	if err := c.SetEx(ctx, "last_alert.smtp.b", "x", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Claim(ctx, "smtp", "b", ts, time.Minute); err != nil || ok {
		t.Errorf("Claim over Skyline's key = %v, %v; want false", ok, err)
	}
	// Sub-second expirations are sent as PX.
	if ok, err := s.Claim(ctx, "smtp", "ms", ts, 1500*time.Millisecond); err != nil || !ok {
		t.Fatalf("Claim(1.5s) = %v, %v", ok, err)
	}
	if pttl, err := c.PTTL(ctx, "last_alert.smtp.ms").Result(); err != nil || pttl <= time.Second || pttl > 1500*time.Millisecond {
		t.Errorf("PTTL after a 1.5s claim = %v, %v", pttl, err)
	}
}

// TestRedisClusterOneSlot checks that every record key of a namespace is
// in the slot of "<ns>anomalies", whatever the metric name.
func TestRedisClusterOneSlot(t *testing.T) {
	cl := testserver.StartRedisCluster(t, 3)
	c := clusterClient(t, cl.Addrs)
	want, err := c.ClusterKeySlot(ctx, "kale.anomalies").Result()
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"kale.anomalies.records{kale.anomalies}"}
	for _, name := range anomaliestest.HostileNames {
		keys = append(keys, "kale.anomalies.metric{kale.anomalies}"+name)
	}
	for _, k := range keys {
		if got, err := c.ClusterKeySlot(ctx, k).Result(); err != nil || got != want {
			t.Errorf("CLUSTER KEYSLOT %q = %d, %v; want %d", k, got, err, want)
		}
	}
}

func TestRedisNamespaces(t *testing.T) {
	srv := testserver.StartRedis(t)
	c := redisClient(t, srv.Addr)
	a := anomalies.NewRedis(c, "", time.Hour)
	b := anomalies.NewRedis(c, "other.", time.Hour)
	anomaliestest.Add(t, a, anomaliestest.Rec("m", anomaliestest.Base))
	anomaliestest.Add(t, b, anomaliestest.Rec("m", anomaliestest.Base+1), anomaliestest.Rec("n", anomaliestest.Base))
	for _, tc := range []struct {
		s    anomalies.Store
		want int
	}{{a, 1}, {b, 2}} {
		got, err := tc.s.Since(ctx, math.MinInt64, 0)
		if err != nil || len(got) != tc.want {
			t.Errorf("Since = %d records, %v; want %d", len(got), err, tc.want)
		}
	}
	if n, err := c.Exists(ctx, "kale.anomalies", "other.anomalies").Result(); err != nil || n != 2 {
		t.Errorf("EXISTS kale.anomalies other.anomalies = %d, %v", n, err)
	}
}

func TestRedisInvalidSetup(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	defer c.Close()
	for _, s := range []*anomalies.Redis{
		anomalies.NewRedis(c, "a{b}.", time.Hour),
		anomalies.NewRedis(c, "a}.", time.Hour),
		anomalies.NewRedis(c, "kale.", 0),
		anomalies.NewRedis(nil, "kale.", time.Hour),
	} {
		if _, err := s.Since(ctx, 0, 0); !errors.Is(err, anomalies.ErrInvalid) {
			t.Errorf("Since = %v, want ErrInvalid", err)
		}
		if err := s.Add(ctx, nil); !errors.Is(err, anomalies.ErrInvalid) {
			t.Errorf("Add = %v, want ErrInvalid", err)
		}
	}
}

// TestRedisCorruptValue checks that a value another tool broke is
// reported, not silently dropped, and does not hide the other records.
func TestRedisCorruptValue(t *testing.T) {
	srv := testserver.StartRedis(t)
	c := redisClient(t, srv.Addr)
	s := anomalies.NewRedis(c, "", time.Hour)
	good := anomaliestest.Rec("good", anomaliestest.Base)
	anomaliestest.Add(t, s, good, anomaliestest.Rec("bad", anomaliestest.Base+1))
	if err := c.HSet(ctx, "kale.anomalies.records{kale.anomalies}", "1700000001:bad", "not json").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.ZAdd(ctx, "kale.anomalies", redis.Z{Score: float64(anomaliestest.Base + 2), Member: "1700000002:gone"}).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := s.Since(ctx, math.MinInt64, 0)
	if !errors.Is(err, anomalies.ErrCorrupt) || !strings.Contains(err.Error(), "2 records skipped") {
		t.Errorf("Since error = %v, want ErrCorrupt with 2 records skipped", err)
	}
	if diff := anomaliestest.Diff([]anomalies.Record{good}, got); diff != "" {
		t.Errorf("Since (-want +got):\n%s", diff)
	}
	if err := c.HSet(ctx, "kale.incidents", "k", "{").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Incidents(ctx); !errors.Is(err, anomalies.ErrCorrupt) {
		t.Errorf("Incidents error = %v, want ErrCorrupt", err)
	}
}

// TestRedisDown checks the error of a store whose server is unreachable.
func TestRedisDown(t *testing.T) {
	port := testserver.FreePort(t) // nothing listens there
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	s := anomalies.NewRedis(c, "", time.Hour)
	err := s.Add(ctx, []anomalies.Record{anomaliestest.Rec("m", anomaliestest.Base)})
	if err == nil || !strings.HasPrefix(err.Error(), "cannot add anomalies on redis: ") {
		t.Errorf("Add with redis down = %v", err)
	}
	if _, err := s.Claim(ctx, "smtp", "m", 0, time.Minute); err == nil {
		t.Error("Claim with redis down succeeded")
	}
}
