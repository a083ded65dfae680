package syslog

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/go-kale/kale/alerters"
	"github.com/go-kale/kale/alerters/internal/alerttest"
)

// sent is the send time of every test line.
var sent = time.Date(2023, 11, 14, 22, 13, 21, 123456000, time.UTC)

// newAlerter returns an alerter for c with a fixed clock, closed at the
// end of the test.
func newAlerter(t testing.TB, c Config) *Alerter {
	t.Helper()
	a, err := New("syslog", c, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.now = func() time.Time { return sent }
	a.pid = 4242
	t.Cleanup(func() { a.Close() })
	return a
}

// config returns a config for network and addr with a fixed hostname.
func config(network, addr string) Config {
	c := DefaultConfig()
	c.Network, c.Addr, c.Hostname = network, addr, "web1"
	return c
}

// readPacket reads one datagram from pc.
func readPacket(t *testing.T, pc net.PacketConn) string {
	t.Helper()
	buf := make([]byte, 65536)
	if err := pc.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no datagram: %v", err)
	}
	return string(buf[:n])
}

const wantTrigger = `<28>1 2023-11-14T22:13:21.123456Z web1 kale 4242 trigger - kind=trigger metric="web.api.latency" value=812.5 score=0.875 timestamp=1700000000 time=2023-11-14T22:13:20Z rule="web.*" profile="default" detectors="grubbs,ks_test" link="https://kale.example/?metric=web.api.latency" dedup_key="rule1/pd/web.api.latency"`

func TestUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	a := newAlerter(t, config("", pc.LocalAddr().String())) // "" with an addr is udp
	if err := a.Send(context.Background(), alerttest.Alert()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if diff := cmp.Diff(wantTrigger, readPacket(t, pc)); diff != "" {
		t.Errorf("trigger line (-want +got):\n%s", diff)
	}
	al := alerttest.Alert()
	al.Kind = alerters.Resolve
	if err := a.Send(context.Background(), al); err != nil {
		t.Fatalf("Send: %v", err)
	}
	want := strings.NewReplacer("<28>", "<29>", "kind=trigger", "kind=resolve", " trigger - ", " resolve - ").Replace(wantTrigger)
	if diff := cmp.Diff(want, readPacket(t, pc)); diff != "" {
		t.Errorf("resolve line (-want +got):\n%s", diff)
	}
}

func TestUnixgram(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.sock")
	pc, err := net.ListenPacket("unixgram", path)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	c := config("unixgram", path)
	c.Facility, c.Format, c.Tag = "local3", FormatRFC3164, "kale-test"
	a := newAlerter(t, c)
	if err := a.Send(context.Background(), alerttest.Alert()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	// local3 = 19; 19*8 + 4 = 156. RFC 3164 time is local time.
	want := "<156>" + sent.Local().Format(time.Stamp) + " web1 kale-test[4242]: " + wantTrigger[strings.Index(wantTrigger, "kind="):]
	if diff := cmp.Diff(want, readPacket(t, pc)); diff != "" {
		t.Errorf("line (-want +got):\n%s", diff)
	}
}

func TestTCPFraming(t *testing.T) {
	for _, framing := range []string{FramingOctetCounting, FramingNonTransparent} {
		t.Run(framing, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			c := config("tcp", l.Addr().String())
			c.Framing = framing
			a := newAlerter(t, c)
			lines := make(chan string, 10)
			go func() {
				conn, err := l.Accept()
				if err != nil {
					return
				}
				defer conn.Close()
				r := bufio.NewReader(conn)
				for {
					var line string
					if framing == FramingOctetCounting {
						n, err := r.ReadString(' ')
						if err != nil {
							return
						}
						size, err := strconv.Atoi(strings.TrimSuffix(n, " "))
						if err != nil {
							lines <- "bad length " + n
							return
						}
						buf := make([]byte, size)
						if _, err := io.ReadFull(r, buf); err != nil {
							return
						}
						line = string(buf)
					} else {
						s, err := r.ReadString('\n')
						if err != nil {
							return
						}
						line = strings.TrimSuffix(s, "\n")
					}
					lines <- line
				}
			}()
			for range 2 {
				if err := a.Send(context.Background(), alerttest.Alert()); err != nil {
					t.Fatalf("Send: %v", err)
				}
			}
			for range 2 {
				select {
				case got := <-lines:
					if diff := cmp.Diff(wantTrigger, got); diff != "" {
						t.Errorf("line (-want +got):\n%s", diff)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("no line received")
				}
			}
		})
	}
}

func TestReconnect(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	a := newAlerter(t, config("tcp", l.Addr().String()))
	got := make(chan string, 10)
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			b, _ := io.ReadAll(conn)
			conn.Close()
			got <- string(b)
		}
	}()
	if err := a.Send(context.Background(), alerttest.Alert()); err != nil {
		t.Fatalf("first Send: %v", err)
	}
	// Break the kept connection: the next write fails on it, and Send
	// must retry once on a new connection.
	a.mu.Lock()
	a.conn.Close()
	a.mu.Unlock()
	<-got
	if err := a.Send(context.Background(), alerttest.Alert()); err != nil {
		t.Fatalf("Send on a broken connection = %v, want a retry on a new one", err)
	}
	a.Close()
	select {
	case s := <-got:
		if !strings.Contains(s, "kind=trigger") {
			t.Errorf("after reconnecting the server got %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("nothing arrived on a new connection")
	}
	if err := a.Send(context.Background(), alerttest.Alert()); err == nil || alerters.Retryable(err) {
		t.Errorf("Send after Close = %v, want a permanent error", err)
	}
}

func TestErrors(t *testing.T) {
	// Nothing listens on the socket path.
	a := newAlerter(t, config("unixgram", filepath.Join(t.TempDir(), "none.sock")))
	err := a.Send(context.Background(), alerttest.Alert())
	if err == nil || !alerters.Retryable(err) {
		t.Errorf("Send to a missing socket = %v, want a retryable error", err)
	}
	// TCP: connection refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	a = newAlerter(t, config("tcp", addr))
	if err := a.Send(context.Background(), alerttest.Alert()); err == nil || !alerters.Retryable(err) {
		t.Errorf("Send to a closed port = %v, want a retryable error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.Send(ctx, alerttest.Alert()); !errors.Is(err, context.Canceled) {
		t.Errorf("Send with a cancelled context = %v, want context.Canceled", err)
	}
	if err := a.Send(context.Background(), alerters.Alert{Kind: 9}); !errors.Is(err, alerters.ErrBadKind) || alerters.Retryable(err) {
		t.Errorf("Send(Kind 9) = %v, want permanent ErrBadKind", err)
	}
}

func TestLocalDaemon(t *testing.T) {
	dir := t.TempDir()
	dgram, stream := filepath.Join(dir, "dgram.sock"), filepath.Join(dir, "stream.sock")
	saved := localPaths
	t.Cleanup(func() { localPaths = saved })

	// Nothing listens: a retryable error naming the local daemon.
	localPaths = []string{filepath.Join(dir, "none.sock")}
	a := newAlerter(t, DefaultConfig())
	err := a.Send(context.Background(), alerttest.Alert())
	if err == nil || !strings.Contains(err.Error(), "cannot connect to the local syslog daemon") || !alerters.Retryable(err) {
		t.Errorf("Send without a local daemon = %v, want a retryable connect error", err)
	}

	// A datagram socket, after a missing path: RFC 3164 without hostname.
	pc, err := net.ListenPacket("unixgram", dgram)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	localPaths = []string{filepath.Join(dir, "none.sock"), dgram}
	a = newAlerter(t, DefaultConfig())
	if err := a.Send(context.Background(), alerttest.Alert()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msg := wantTrigger[strings.Index(wantTrigger, "kind="):]
	want := "<28>" + sent.Local().Format(time.Stamp) + " kale[4242]: " + msg
	if diff := cmp.Diff(want, readPacket(t, pc)); diff != "" {
		t.Errorf("datagram line (-want +got):\n%s", diff)
	}

	// A stream socket: octet-counting framing.
	l, err := net.Listen("unix", stream)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	localPaths = []string{stream}
	a = newAlerter(t, DefaultConfig())
	got := make(chan string, 1)
	go func() {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		b, _ := io.ReadAll(conn)
		conn.Close()
		got <- string(b)
	}()
	if err := a.Send(context.Background(), alerttest.Alert()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	a.Close()
	select {
	case s := <-got:
		if diff := cmp.Diff(strconv.Itoa(len(want))+" "+want, s); diff != "" {
			t.Errorf("stream bytes (-want +got):\n%s", diff)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("nothing arrived on the stream socket")
	}
}

// msgRE splits an RFC 5424 line of this package.
var msgRE = regexp.MustCompile(`^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\d+) (trigger|resolve) - (.*)$`)

// pairRE matches one key=value pair of MSG: a bare value or a Go quoted
// ASCII string.
var pairRE = regexp.MustCompile(`^ ?([a-z_]+)=("(?:[^"\\]|\\.)*"|[^ "]*)`)

// parseMsg splits MSG into its keys and unquoted values; it fails on
// anything else.
func parseMsg(t *testing.T, msg string) ([]string, map[string]string) {
	t.Helper()
	var keys []string
	vals := map[string]string{}
	for msg != "" {
		m := pairRE.FindStringSubmatch(msg)
		if m == nil {
			t.Fatalf("cannot parse MSG at %q", msg)
		}
		v := m[2]
		if strings.HasPrefix(v, `"`) {
			u, err := strconv.Unquote(v)
			if err != nil {
				t.Fatalf("bad quoted value %s: %v", v, err)
			}
			v = u
		}
		keys = append(keys, m[1])
		vals[m[1]] = v
		msg = msg[len(m[0]):]
	}
	return keys, vals
}

var wantKeys = []string{"kind", "metric", "value", "score", "timestamp", "time", "rule", "profile", "detectors", "link", "dedup_key"}

func TestHostileAlerts(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	a := newAlerter(t, config("udp", pc.LocalAddr().String()))
	for name, al := range alerttest.Hostile() {
		t.Run(name, func(t *testing.T) {
			if err := a.Send(context.Background(), al); err != nil {
				t.Fatalf("Send: %v", err)
			}
			line := readPacket(t, pc)
			checkLine(t, line, al)
		})
	}
}

// checkLine checks that line is one ASCII RFC 5424 line whose MSG holds
// al's metric (cut to 512 bytes).
func checkLine(t *testing.T, line string, al alerters.Alert) {
	t.Helper()
	for i := 0; i < len(line); i++ {
		if line[i] < 0x20 || line[i] > 0x7e {
			t.Fatalf("byte %d of the line is %#x: %q", i, line[i], line)
		}
	}
	m := msgRE.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("not an RFC 5424 line: %q", line)
	}
	keys, vals := parseMsg(t, m[7])
	if diff := cmp.Diff(wantKeys, keys); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	metric := strings.ToValidUTF8(al.Metric, "\uFFFD")
	if len(metric) > maxMetric {
		if !strings.HasSuffix(vals["metric"], "…") || !strings.HasPrefix(metric, strings.TrimSuffix(vals["metric"], "…")) {
			t.Errorf("cut metric = %q", vals["metric"])
		}
	} else if vals["metric"] != metric {
		t.Errorf("metric = %q, want %q", vals["metric"], metric)
	}
	if vals["kind"] != al.Kind.String() {
		t.Errorf("kind = %q", vals["kind"])
	}
}

func TestValidate(t *testing.T) {
	alerttest.Invalid(t, DefaultConfig, func(c Config) error { _, err := New("x", c, nil); return err }, []alerttest.InvalidCase[Config]{
		{"bad network", func(c *Config) { c.Network = "sctp" }, `network: must be udp, tcp, unixgram or unix, got "sctp"`},
		{"udp without addr", func(c *Config) { c.Network = "udp" }, `addr: is required with network "udp"`},
		{"tcp bad addr", func(c *Config) { c.Network, c.Addr = "tcp", "localhost" }, `addr: must be host:port`},
		{"unixgram without path", func(c *Config) { c.Network = "unixgram" }, `addr: is required with network "unixgram"`},
		{"implicit udp bad addr", func(c *Config) { c.Addr = "/dev/log" }, `addr: must be host:port (network udp)`},
		{"bad facility", func(c *Config) { c.Facility = "local9" }, `facility: unknown facility "local9"`},
		{"empty tag", func(c *Config) { c.Tag = "" }, "tag: "},
		{"tag with space", func(c *Config) { c.Tag = "ka le" }, "tag: "},
		{"long tag", func(c *Config) { c.Tag = strings.Repeat("k", 49) }, "tag: "},
		{"bad hostname", func(c *Config) { c.Hostname = "a b" }, "hostname: "},
		{"bad format", func(c *Config) { c.Format = "json" }, `format: must be "rfc5424" or "rfc3164"`},
		{"bad framing", func(c *Config) { c.Framing = "" }, `framing: must be "octet-counting" or "non-transparent"`},
		{"bad timeout", func(c *Config) { c.Timeout = 0 }, "timeout: must be positive"},
	}, nil)
}

func BenchmarkLine(b *testing.B) {
	a := newAlerter(b, config("udp", "127.0.0.1:514"))
	al := alerttest.Alert()
	b.SetBytes(int64(len(a.Line(al, sent))))
	b.ReportAllocs()
	for b.Loop() {
		_ = a.Line(al, sent)
	}
}

func BenchmarkSendUDP(b *testing.B) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 65536)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	a := newAlerter(b, config("udp", pc.LocalAddr().String()))
	al := alerttest.Alert()
	b.SetBytes(int64(len(a.Line(al, sent))))
	b.ReportAllocs()
	for b.Loop() {
		if err := a.Send(context.Background(), al); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzLine(f *testing.F) {
	for _, al := range alerttest.Hostile() {
		f.Add(al.Metric, al.Rule, al.Link, al.Value)
	}
	a, err := New("syslog", config("udp", "127.0.0.1:514"), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, metric, rule, link string, value float64) {
		al := alerttest.Alert()
		al.Metric, al.Rule, al.Link, al.Value = metric, rule, link, value
		checkLine(t, string(a.Line(al, sent)), al)
	})
}
