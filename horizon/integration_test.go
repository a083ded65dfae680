package horizon

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/go-kale/kale/internal/graphite"
	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/testserver"
)

// Debian's carbon-relay receives plaintext and forwards pickle (protocol 2,
// up to 500 points a frame) to Horizon: every point arrives, exact.
func TestCarbonRelayToHorizon(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	s := startServer(t, st, nil)
	relay := testserver.StartCarbonRelay(t, s.PickleAddr().String())

	// Values with full float64 precision: Python's float() of the shortest
	// repr gives back the same double, and pickle's BINFLOAT carries it.
	want := corpus("relay", 100, 30) // 3,000 points -> several 500-point frames
	want = append(want, series.Sample{Name: "relay.tiny", Point: series.Point{Timestamp: 1_700_000_000, Value: 5e-324}})
	want = append(want, series.Sample{Name: "relay.neg", Point: series.Point{Timestamp: 1_700_000_000, Value: -123456.789012345}})
	c, err := net.Dial("tcp", relay.LineAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var buf []byte
	for _, smp := range want {
		buf = graphite.AppendPlaintext(buf, smp)
	}
	if _, err := c.Write(buf); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second) // the relay connects and reconnects in seconds
	for s.Written() < int64(len(want)) {
		if time.Now().After(deadline) {
			t.Fatalf("carbon-relay delivered %d of %d points", s.Written(), len(want))
		}
		time.Sleep(20 * time.Millisecond)
	}
	checkStored(t, st, want)
	if got := counter(t, s.metrics.received.WithLabelValues(listenerPickle)); got != float64(len(want)) {
		t.Errorf("received %v points, want %d (nothing extra, nothing rejected)", got, len(want))
	}
}

// Skyline's own UDP sender, as Python writes it: msgpack.packb([name, [ts, value]]).
func TestPythonMsgpackSender(t *testing.T) {
	t.Parallel()
	py := testserver.LookPath(t, "/usr/bin/python3", "python3-msgpack")
	if err := exec.Command(py, "-c", "import msgpack").Run(); err != nil {
		if testserver.RequireServers() {
			t.Fatal("python3-msgpack missing: install with: apt-get install -y python3-msgpack")
		}
		t.Skip("python3-msgpack missing: install with: apt-get install -y python3-msgpack")
	}
	st := openStore(t)
	s := startServer(t, st, nil)
	port := s.MsgpackAddr().(*net.UDPAddr).Port
	script := fmt.Sprintf(`
import msgpack, socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(200):
    # int timestamps arrive as uint32, floats as float64; ints as values too
    v = i if i %% 2 else i + 0.25
    ts = 1700000000 + i if i %% 3 else 1700000000.0 + i
    s.sendto(msgpack.packb(['py.metric.%%d' %% (i %% 7), [ts, v]]), ('127.0.0.1', %d))
    if i %% 20 == 19:
        time.sleep(0.01)  # UDP has no flow control: pace, as a real sender spreads its points
`, port)
	if out, err := exec.Command(py, "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("python sender: %v\n%s", err, out)
	}
	var want []series.Sample
	for i := range 200 {
		v := float64(i)
		if i%2 == 0 {
			v += 0.25
		}
		want = append(want, series.Sample{Name: fmt.Sprintf("py.metric.%d", i%7), Point: series.Point{Timestamp: 1_700_000_000 + int64(i), Value: v}})
	}
	waitWritten(t, s.Server, int64(len(want)))
	checkStored(t, st, want)
}

// The Kafka listener consumes plaintext and msgpack messages as a member of
// a consumer group, against a real Kafka-protocol broker (franz-go kfake).
func TestKafka(t *testing.T) {
	t.Parallel()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(4))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	brokers := cluster.ListenAddrs()
	const topic = "graphite"

	st := openStore(t)
	s := startServer(t, st, func(c *Config) {
		c.Kafka.Brokers = brokers
		c.Kafka.Topic = topic
		c.Kafka.Group = "kale-test"
	})
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, AllowAutoTopicCreation: true, Balancer: &kafka.Hash{}}
	defer w.Close()
	want := corpus("kafka", 20, 10)
	var msgs []kafka.Message
	for i, smp := range want {
		var v []byte
		if i%2 == 0 {
			v = graphite.AppendMsgpack(nil, smp)
		} else {
			v = graphite.AppendPlaintext(nil, smp)
		}
		msgs = append(msgs, kafka.Message{Key: []byte(smp.Name), Value: v})
	}
	// One message holding several lines, and one bad message.
	multi := series.Sample{Name: "kafka.multi", Point: series.Point{Timestamp: 1_700_000_000, Value: 1}}
	multi2 := series.Sample{Name: "kafka.multi", Point: series.Point{Timestamp: 1_700_000_060, Value: 2}}
	msgs = append(msgs, kafka.Message{Value: append(graphite.AppendPlaintext(nil, multi), graphite.AppendPlaintext(nil, multi2)...)})
	msgs = append(msgs, kafka.Message{Value: []byte("this is not a metric line")})
	want = append(want, multi, multi2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		err := w.WriteMessages(ctx, msgs...)
		if err == nil {
			break
		}
		if ctx.Err() != nil || !strings.Contains(err.Error(), "Leader Not Available") && !strings.Contains(err.Error(), "Unknown Topic") {
			t.Fatalf("cannot produce: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	deadline := time.Now().Add(30 * time.Second) // group join and rebalance take a moment
	for s.Written() < int64(len(want)) {
		if time.Now().After(deadline) {
			t.Fatalf("kafka delivered %d of %d points", s.Written(), len(want))
		}
		time.Sleep(20 * time.Millisecond)
	}
	checkStored(t, st, want)
	if got := counter(t, s.metrics.rejected.WithLabelValues(listenerKafka, string(ReasonMalformed))); got != 1 {
		t.Errorf("rejected malformed kafka lines = %v, want 1", got)
	}
}
