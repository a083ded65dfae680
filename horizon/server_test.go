package horizon

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/go-kale/kale/internal/graphite"
	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/store"
	"github.com/go-kale/kale/internal/store/embedded"
)

// openStore opens a real embedded store in a temporary directory.
func openStore(t testing.TB) store.Store {
	t.Helper()
	cfg := embedded.DefaultConfig()
	cfg.Dir = t.TempDir()
	cfg.Retention = store.DefaultRetention()
	s, err := embedded.Open(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

type testServer struct {
	*Server
	reg *prometheus.Registry
}

// startServer runs a Horizon on loopback ports chosen by the kernel, with
// the age filters off, writing to st. It stops when the test ends.
func startServer(t *testing.T, st store.Store, mutate func(*Config)) *testServer {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Pickle.Addr = "127.0.0.1:0"
	cfg.Msgpack.Addr = "127.0.0.1:0"
	cfg.Plaintext.Addr = "127.0.0.1:0"
	cfg.Filters.MaxAge, cfg.Filters.MaxFuture = 0, 0
	cfg.Queue.FlushInterval = 20 * time.Millisecond
	if mutate != nil {
		mutate(&cfg)
	}
	reg := prometheus.NewRegistry()
	s, err := New(cfg, st, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return &testServer{Server: s, reg: reg}
}

// waitWritten polls until the server has written n points, or fails.
func waitWritten(t *testing.T, s *Server, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.Written() < n {
		if time.Now().After(deadline) {
			t.Fatalf("written %d points, want %d", s.Written(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func fetchAll(t *testing.T, st store.Store, name string) []series.Point {
	t.Helper()
	pts, err := st.Fetch(context.Background(), name, math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatalf("Fetch(%q): %v", name, err)
	}
	return pts
}

// corpus returns metrics x rounds samples with distinct timestamps per
// metric and values that exercise float64 exactly.
func corpus(prefix string, metrics, rounds int) []series.Sample {
	var out []series.Sample
	for r := range rounds {
		for m := range metrics {
			out = append(out, series.Sample{
				Name:  fmt.Sprintf("%s.m%03d", prefix, m),
				Point: series.Point{Timestamp: 1_700_000_000 + int64(r)*60, Value: float64(m)*1e-3 + float64(r)/7},
			})
		}
	}
	return out
}

func checkStored(t *testing.T, st store.Store, samples []series.Sample) {
	t.Helper()
	want := map[string][]series.Point{}
	for _, s := range samples {
		want[s.Name] = append(want[s.Name], s.Point)
	}
	for name, pts := range want {
		if diff := cmp.Diff(pts, fetchAll(t, st, name)); diff != "" {
			t.Fatalf("%s: stored points differ (-sent +stored):\n%s", name, diff)
		}
	}
}

func dial(t *testing.T, a net.Addr) net.Conn {
	t.Helper()
	c, err := net.Dial(a.Network(), a.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func counter(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	return testutil.ToFloat64(c)
}

func TestPickleManyConnections(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	s := startServer(t, st, nil)
	const conns = 8
	all := corpus("pickle", 50, 40) // 2000 points
	var wg sync.WaitGroup
	for c := range conns {
		wg.Go(func() {
			conn := dial(t, s.PickleAddr())
			var part []series.Sample
			for i := c; i < len(all); i += conns {
				part = append(part, all[i])
			}
			for len(part) > 0 {
				n := min(len(part), 97)
				if _, err := conn.Write(graphite.AppendPickleFrame(nil, part[:n])); err != nil {
					t.Error(err)
					return
				}
				part = part[n:]
			}
		})
	}
	wg.Wait()
	waitWritten(t, s.Server, int64(len(all)))
	checkStored(t, st, all)
	if got := counter(t, s.metrics.received.WithLabelValues(listenerPickle)); got != float64(len(all)) {
		t.Errorf("received counter = %v, want %d", got, len(all))
	}
}

// A bad frame closes its own connection, is counted, and harms no other.
func TestPickleBadFrameClosesOnlyItsConnection(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	s := startServer(t, st, nil)
	good := dial(t, s.PickleAddr())
	bad := dial(t, s.PickleAddr())

	first := corpus("good", 3, 2)
	if _, err := good.Write(graphite.AppendPickleFrame(nil, first)); err != nil {
		t.Fatal(err)
	}
	// cos\nsystem\n(S'echo pwned'\ntR. : the classic REDUCE exploit.
	evil := []byte("cos\nsystem\n(S'echo pwned'\ntR.")
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(evil)))
	if _, err := bad.Write(append(frame, evil...)); err != nil {
		t.Fatal(err)
	}
	bad.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := bad.Read(make([]byte, 1)); err == nil {
		t.Fatal("the connection that sent a malicious frame is still open")
	}
	second := corpus("good2", 3, 2)
	if _, err := good.Write(graphite.AppendPickleFrame(nil, second)); err != nil {
		t.Fatal(err)
	}
	waitWritten(t, s.Server, int64(len(first)+len(second)))
	checkStored(t, st, append(first, second...))
	if got := counter(t, s.metrics.badFrames.WithLabelValues(listenerPickle)); got != 1 {
		t.Errorf("bad frames = %v, want 1", got)
	}
}

func TestPickleOversizedFrame(t *testing.T) {
	t.Parallel()
	s := startServer(t, openStore(t), func(c *Config) { c.Pickle.MaxFrameBytes = 1024 })
	c := dial(t, s.PickleAddr())
	c.Write(binary.BigEndian.AppendUint32(nil, 1025))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("a frame over max_frame_bytes did not close the connection")
	}
}

// Bad elements inside a good frame are rejected and counted by reason; the
// rest of the frame is stored.
func TestPickleRejectsByReason(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	s := startServer(t, st, func(c *Config) { c.Filters.SkipList = []string{"skipme"} })
	samples := []series.Sample{
		{Name: "ok.one", Point: series.Point{Timestamp: 100, Value: 1}},
		{Name: "bad.nan", Point: series.Point{Timestamp: 100, Value: math.NaN()}},
		{Name: "bad.inf", Point: series.Point{Timestamp: 100, Value: math.Inf(1)}},
		{Name: "", Point: series.Point{Timestamp: 100, Value: 1}},
		{Name: "x.skipme.y", Point: series.Point{Timestamp: 100, Value: 1}},
		{Name: "ok.two", Point: series.Point{Timestamp: 100, Value: 2}},
	}
	dial(t, s.PickleAddr()).Write(graphite.AppendPickleFrame(nil, samples))
	waitWritten(t, s.Server, 2)
	checkStored(t, st, []series.Sample{samples[0], samples[5]})
	for reason, want := range map[Reason]float64{ReasonNaN: 1, ReasonInf: 1, ReasonEmptyName: 1, ReasonSkipped: 1} {
		if got := counter(t, s.metrics.rejected.WithLabelValues(listenerPickle, string(reason))); got != want {
			t.Errorf("rejected{%s} = %v, want %v", reason, got, want)
		}
	}
}

func TestPlaintextTCP(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	s := startServer(t, st, func(c *Config) { c.Plaintext.MaxLineLength = 128 })
	c := dial(t, s.PlaintextAddr())
	want := corpus("plain", 5, 20)
	var buf []byte
	for _, smp := range want {
		buf = graphite.AppendPlaintext(buf, smp)
	}
	// Bad lines among good ones: counted and skipped.
	buf = append(buf, "only.two 1\n"...)
	buf = append(buf, "not.a.number abc 100\n"...)
	buf = append(buf, make([]byte, 300)...) // an over-long line...
	buf = append(buf, '\n')
	c.Write(buf)
	// A slow sender: one line, then silence. It must not wait for more.
	c.Write([]byte("plain.slow 7 1700000000\n"))
	want = append(want, series.Sample{Name: "plain.slow", Point: series.Point{Timestamp: 1_700_000_000, Value: 7}})
	waitWritten(t, s.Server, int64(len(want)))
	checkStored(t, st, want)
	rej := func(r Reason) float64 {
		return counter(t, s.metrics.rejected.WithLabelValues(listenerPlaintextTCP, string(r)))
	}
	if rej(ReasonMalformed) != 2 || rej(ReasonNonNumeric) != 1 {
		t.Errorf("rejected malformed=%v non_numeric=%v, want 2 and 1", rej(ReasonMalformed), rej(ReasonNonNumeric))
	}
}

func TestUDP(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	s := startServer(t, st, nil)
	mp := dial(t, s.MsgpackAddr())
	pl := dial(t, s.PlaintextUDPAddr())
	want := corpus("udp", 4, 10)
	for i, smp := range want {
		if i%2 == 0 {
			mp.Write(graphite.AppendMsgpack(nil, smp))
		} else {
			pl.Write(graphite.AppendPlaintext(nil, smp))
		}
		if i == 5 {
			mp.Write([]byte{0xc1, 0x00, 0xff}) // not msgpack: counted, listener lives on
		}
	}
	waitWritten(t, s.Server, int64(len(want)))
	checkStored(t, st, want)
	if got := counter(t, s.metrics.badFrames.WithLabelValues(listenerMsgpack)); got != 1 {
		t.Errorf("bad msgpack datagrams = %v, want 1", got)
	}
}

// gatedStore blocks Append until open is closed: the store is slower than
// the senders. It wraps a real store.
type gatedStore struct {
	store.Store
	open chan struct{}
}

func (g *gatedStore) Append(ctx context.Context, s []series.Sample) error {
	<-g.open
	return g.Store.Append(ctx, s)
}

// TCP never drops: while the store is stuck, senders are held back by TCP
// flow control; once it moves, every point arrives.
func TestTCPBackpressureLosesNothing(t *testing.T) {
	t.Parallel()
	real := openStore(t)
	g := &gatedStore{Store: real, open: make(chan struct{})}
	s := startServer(t, g, func(c *Config) {
		c.Queue.Size = 2
		c.Queue.BatchSize = 100
		c.Queue.Writers = 1
	})
	all := corpus("bp", 200, 100) // 20,000 points, ~0.9 MB of frames
	sent := make(chan error, 1)
	go func() {
		c := dial(t, s.PickleAddr())
		for i := 0; i < len(all); i += 100 {
			if _, err := c.Write(graphite.AppendPickleFrame(nil, all[i:i+100])); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	// The queue fills; the reader stops reading; nothing is written or dropped.
	deadline := time.Now().Add(5 * time.Second)
	for s.Pending() < 200 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if s.Written() != 0 {
		t.Fatalf("written %d points while the store was stuck", s.Written())
	}
	close(g.open)
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	waitWritten(t, s.Server, int64(len(all)))
	checkStored(t, real, all)
	if got := testutil.CollectAndCount(s.metrics.dropped); got != 0 {
		t.Errorf("%d drop series recorded on TCP", got)
	}
}

// UDP drops only when the queue is full, and counts every dropped point:
// received = written + dropped.
func TestUDPDropsAreCounted(t *testing.T) {
	t.Parallel()
	real := openStore(t)
	g := &gatedStore{Store: real, open: make(chan struct{})}
	s := startServer(t, g, func(c *Config) {
		c.Queue.Size = 1
		c.Queue.BatchSize = 1
		c.Queue.Writers = 1
	})
	c := dial(t, s.MsgpackAddr())
	all := corpus("drop", 10, 300) // 3000 datagrams: more than a writer and a queue slot hold
	for _, smp := range all {
		c.Write(graphite.AppendMsgpack(nil, smp))
	}
	received := s.metrics.received.WithLabelValues(listenerMsgpack)
	deadline := time.Now().Add(10 * time.Second)
	for counter(t, received) < float64(len(all)) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // the kernel may drop some itself; see below
	}
	time.Sleep(100 * time.Millisecond)
	close(g.open)
	dropped := s.metrics.dropped.WithLabelValues(listenerMsgpack, string(ReasonQueueFull))
	got := counter(t, received)
	deadline = time.Now().Add(10 * time.Second)
	for float64(s.Written())+counter(t, dropped) < got && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if counter(t, dropped) == 0 {
		t.Fatal("no drops counted although the queue was full")
	}
	if w, d := float64(s.Written()), counter(t, dropped); w+d != got {
		t.Fatalf("received %v != written %v + dropped %v", got, w, d)
	}
}
