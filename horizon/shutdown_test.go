package horizon

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/go-kale/kale/internal/graphite"
	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/store"
)

// These tests come from an independent review that found points lost or
// shutdown hanging on these paths; each asserts the fixed behaviour.

// runFor starts a Horizon like startServer but hands back its cancel and
// the channel Run returns on, so a test can time shutdown.
func runFor(t *testing.T, st store.Store, mutate func(*Config)) (*Server, context.CancelFunc, chan error) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Pickle.Addr, cfg.Msgpack.Addr, cfg.Plaintext.Addr = "127.0.0.1:0", "127.0.0.1:0", ""
	cfg.Filters.MaxAge, cfg.Filters.MaxFuture = 0, 0
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg, st, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	s.drainTimeout = 300 * time.Millisecond
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(cancel)
	return s, cancel, done
}

func waitRun(t *testing.T, done chan error, within time.Duration) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(within):
		t.Fatalf("Run did not return within %v of cancel", within)
	}
}

// Frames a connection has read when shutdown begins are still written:
// TCP never drops, shutdown included.
func TestShutdownKeepsQueuedFrames(t *testing.T) {
	t.Parallel()
	real := openStore(t)
	g := &gatedStore{Store: real, open: make(chan struct{})}
	s, cancel, done := runFor(t, g, func(c *Config) { c.Queue.Size, c.Queue.BatchSize, c.Queue.Writers = 1, 100, 1 })
	s.drainTimeout = 30 * time.Second // the store is slow, not failing
	c := dial(t, s.PickleAddr())
	all := corpus("queued", 100, 3)
	for i := 0; i < len(all); i += 100 {
		c.Write(graphite.AppendPickleFrame(nil, all[i:i+100]))
	}
	for s.Pending() < int64(len(all)) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	time.Sleep(100 * time.Millisecond)
	close(g.open)
	waitRun(t, done, 10*time.Second)
	if s.Written() != int64(len(all)) {
		t.Fatalf("written %d of %d points read before shutdown", s.Written(), len(all))
	}
	checkStored(t, real, all)
}

// Shutdown while a large frame is being decoded neither panics nor loses it.
func TestShutdownWhileDecoding(t *testing.T) {
	t.Parallel()
	samples := make([]series.Sample, 100_000)
	for i := range samples {
		samples[i] = series.Sample{Name: fmt.Sprintf("dec.m%06d", i), Point: series.Point{Timestamp: 1_700_000_000, Value: 1}}
	}
	frame := graphite.AppendPickleFrame(nil, samples)
	s, cancel, done := runFor(t, openStore(t), func(c *Config) { c.Filters.SkipList = []string{"nomatch.zz"} })
	s.drainTimeout = 30 * time.Second
	c := dial(t, s.PickleAddr())
	if _, err := c.Write(frame); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond) // read, and being decoded
	cancel()
	waitRun(t, done, 30*time.Second)
	if got := counter(t, s.metrics.received.WithLabelValues(listenerPickle)); float64(s.Written()) != got {
		t.Fatalf("received %v, written %d", got, s.Written())
	}
}

type downStore struct{ store.Store }

func (downStore) Append(ctx context.Context, _ []series.Sample) error {
	select { // a slow failure, as a Redis timeout
	case <-time.After(200 * time.Millisecond):
	case <-ctx.Done():
	}
	return errors.New("store down")
}

// A store that keeps failing delays shutdown by the drain timeout only, and
// every point Horizon held is counted: received = written + dropped.
func TestShutdownGivesUpOnFailingStore(t *testing.T) {
	t.Parallel()
	s, cancel, done := runFor(t, downStore{openStore(t)}, func(c *Config) {
		c.Queue.Size, c.Queue.BatchSize, c.Queue.Writers = 40, 1, 1
		c.Queue.FlushInterval = 5 * time.Millisecond
	})
	c := dial(t, s.MsgpackAddr())
	for _, smp := range corpus("gu", 1, 100) {
		c.Write(graphite.AppendMsgpack(nil, smp))
		time.Sleep(2 * time.Millisecond)
	}
	received := s.metrics.received.WithLabelValues(listenerMsgpack)
	deadline := time.Now().Add(5 * time.Second)
	for counter(t, received) < 100 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	cancel()
	waitRun(t, done, 5*time.Second)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("shutdown took %v with a 300ms drain timeout", d)
	}
	var dropped float64
	for _, l := range []string{listenerMsgpack, listenerWriter} {
		for _, r := range []Reason{ReasonQueueFull, ReasonStoreUnavailable} {
			dropped += counter(t, s.metrics.dropped.WithLabelValues(l, string(r)))
		}
	}
	if got := counter(t, received); float64(s.Written())+dropped != got || s.Pending() != 0 {
		t.Fatalf("received %v != written %d + dropped %v (pending %d)", got, s.Written(), dropped, s.Pending())
	}
}

// With Kafka on and the store failing, shutdown still ends, and nothing is
// committed (the messages are read again next time).
func TestShutdownKafkaFailingStore(t *testing.T) {
	t.Parallel()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	brokers := cluster.ListenAddrs()
	s, cancel, done := runFor(t, downStore{openStore(t)}, func(c *Config) {
		c.Pickle.Addr, c.Msgpack.Addr = "", ""
		c.Kafka.Brokers, c.Kafka.Topic, c.Kafka.Group = brokers, "g", "grp"
	})
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: "g", AllowAutoTopicCreation: true}
	defer w.Close()
	msg := graphite.AppendPlaintext(nil, series.Sample{Name: "k.a", Point: series.Point{Timestamp: 1_700_000_000, Value: 1}})
	for i := 0; ; i++ {
		if err := w.WriteMessages(context.Background(), kafka.Message{Value: msg}); err == nil {
			break
		} else if i > 100 {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	deadline := time.Now().Add(30 * time.Second)
	for counter(t, s.metrics.storeErrors) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the message never reached the store")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	waitRun(t, done, 15*time.Second)
	if s.Written() != 0 || s.Pending() != 0 {
		t.Fatalf("written %d pending %d; want 0 and 0", s.Written(), s.Pending())
	}
}
