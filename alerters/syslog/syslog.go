// Package syslog sends alerts to a syslog server or the local syslog
// daemon, one line per alert.
//
// # Format
//
// RFC 5424 (the default for a network address):
//
//	<PRI>1 TIMESTAMP HOSTNAME TAG PID MSGID - MSG
//	<28>1 2023-11-14T22:13:21.123456Z web1 kale 4242 trigger - kind=trigger metric="web.api.latency" value=812.5 score=0.875 timestamp=1700000000 time=2023-11-14T22:13:20Z rule="web.*" profile="default" detectors="grubbs,ks_test" link="https://kale.example/?m=web.api.latency" dedup_key="k1"
//
// RFC 3164 (the default for the local socket, which is what local
// daemons parse; for a network address the hostname follows TIMESTAMP):
//
//	<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG
//	<28>Nov 14 22:13:21 kale[4242]: kind=trigger metric="web.api.latency" ...
//
// PRI is facility*8 + severity, with severity warning (4) for a Trigger and
// notice (5) for a Resolve. TIMESTAMP is when the line is sent (RFC 5424:
// UTC with microseconds; RFC 3164: local time, as that format has no zone);
// the alert's own time is in MSG. MSGID is the kind.
//
// MSG is key=value pairs separated by single spaces, in the order above.
// Numbers are bare (value and score as Go's shortest 'g' form, so NaN,
// +Inf, -Inf); every string is a Go double-quoted ASCII string
// (strconv.QuoteToASCII): ", \ and control characters are
// backslash-escaped and non-ASCII is \uXXXX, so a line is pure ASCII
// (RFC 5424 MSG-ANY, no BOM) and a metric name can neither break the line
// nor forge a field. Long strings are cut first (metric and link 512
// bytes, rule and dedup_key 256, the comma-joined detectors 256; cut ones
// end in "…").
//
// # Transport
//
// network "udp" (one line per datagram), "tcp" or "unix" (stream: framed
// by octet counting, "LEN SP LINE" per RFC 6587, or with framing
// "non-transparent" each line ends in LF), or "unixgram" (one line per
// datagram). An empty addr means the local daemon: /dev/log,
// /var/run/syslog or /var/run/log, as a datagram socket or else a stream
// socket. One connection is kept and re-made after a write error; a write
// that fails on a reused connection is tried once on a new one.
package syslog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-kale/kale/alerters"
	"github.com/go-kale/kale/alerters/internal/text"
)

// Formats and framings.
const (
	FormatRFC5424 = "rfc5424"
	FormatRFC3164 = "rfc3164"

	FramingOctetCounting  = "octet-counting"
	FramingNonTransparent = "non-transparent"
)

// Severities of the two kinds (RFC 5424 section 6.2.1).
const (
	severityWarning = 4
	severityNotice  = 5
)

// facilities are the facility codes by name (RFC 5424 table 1).
var facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
	"uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// localPaths are where local syslog daemons listen, in the order tried.
var localPaths = []string{"/dev/log", "/var/run/syslog", "/var/run/log"}

// Config configures a syslog alerter. The YAML keys are the snake_case
// tags.
type Config struct {
	// Network is "udp", "tcp", "unixgram" or "unix"; "" means "udp" when
	// Addr is set and the local daemon when it is not.
	Network string `yaml:"network"`
	// Addr is host:port (udp, tcp) or a socket path (unixgram, unix); ""
	// is the local daemon.
	Addr string `yaml:"addr"`
	// Facility name: kern, user, mail, daemon (default), auth, syslog,
	// lpr, news, uucp, cron, authpriv, ftp, local0 ... local7.
	Facility string `yaml:"facility"`
	// Tag is the APP-NAME (default "kale"): printable ASCII, at most 48.
	Tag string `yaml:"tag"`
	// Hostname in the line (default: os.Hostname).
	Hostname string `yaml:"hostname"`
	// Format is "rfc5424" or "rfc3164"; "" picks rfc3164 for the local
	// daemon and rfc5424 otherwise.
	Format string `yaml:"format"`
	// Framing on stream networks (tcp, unix): "octet-counting" (default)
	// or "non-transparent".
	Framing string `yaml:"framing"`
	// Timeout bounds connecting and writing one line (default 5s).
	Timeout time.Duration `yaml:"timeout"`
}

// DefaultConfig returns the defaults: the local daemon, facility daemon,
// tag "kale", format by address, octet-counting, timeout 5s.
func DefaultConfig() Config {
	return Config{Facility: "daemon", Tag: "kale", Framing: FramingOctetCounting, Timeout: 5 * time.Second}
}

// Validate checks c and returns every problem, each naming its key.
func (c Config) Validate() error {
	var errs []error
	switch c.Network {
	case "":
	case "udp", "udp4", "udp6", "tcp", "tcp4", "tcp6":
		if c.Addr == "" {
			errs = append(errs, fmt.Errorf("addr: is required with network %q", c.Network))
		} else if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			errs = append(errs, fmt.Errorf("addr: must be host:port with network %q, got %q", c.Network, c.Addr))
		}
	case "unixgram", "unix":
		if c.Addr == "" {
			errs = append(errs, fmt.Errorf("addr: is required with network %q (a socket path)", c.Network))
		}
	default:
		errs = append(errs, fmt.Errorf("network: must be udp, tcp, unixgram or unix, got %q", c.Network))
	}
	if c.Network == "" && c.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			errs = append(errs, fmt.Errorf("addr: must be host:port (network udp), got %q", c.Addr))
		}
	}
	if _, ok := facilities[c.Facility]; !ok {
		errs = append(errs, fmt.Errorf("facility: unknown facility %q", c.Facility))
	}
	if c.Tag == "" || len(c.Tag) > 48 || !printASCII(c.Tag) {
		errs = append(errs, fmt.Errorf("tag: must be 1 to 48 printable ASCII characters without spaces, got %q", c.Tag))
	}
	if c.Hostname != "" && (len(c.Hostname) > 255 || !printASCII(c.Hostname)) {
		errs = append(errs, fmt.Errorf("hostname: must be at most 255 printable ASCII characters without spaces, got %q", c.Hostname))
	}
	switch c.Format {
	case "", FormatRFC5424, FormatRFC3164:
	default:
		errs = append(errs, fmt.Errorf("format: must be %q or %q, got %q", FormatRFC5424, FormatRFC3164, c.Format))
	}
	switch c.Framing {
	case FramingOctetCounting, FramingNonTransparent:
	default:
		errs = append(errs, fmt.Errorf("framing: must be %q or %q, got %q", FramingOctetCounting, FramingNonTransparent, c.Framing))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout: must be positive, got %v", c.Timeout))
	}
	return errors.Join(errs...)
}

// printASCII reports whether s is printable ASCII without spaces (RFC 5424
// PRINTUSASCII).
func printASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 {
			return false
		}
	}
	return true
}

// Alerter writes alerts to one syslog destination. It is safe for
// concurrent use; Close closes its connection.
type Alerter struct {
	name     string
	network  string // "" = local
	addr     string
	facility int
	tag      string
	hostname string
	format   string
	octets   bool // octet-counting framing on streams
	timeout  time.Duration
	pid      int
	logger   *slog.Logger
	now      func() time.Time

	mu     sync.Mutex
	conn   net.Conn
	stream bool // conn is a stream socket
	closed bool
}

// New validates c and returns the alerter named name. logger nil discards
// logs. It does no network I/O: the first Send connects.
func New(name string, c Config, logger *slog.Logger) (*Alerter, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("cannot create syslog alerter %q: %w", name, err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	network := c.Network
	if network == "" && c.Addr != "" {
		network = "udp"
	}
	host := c.Hostname
	if host == "" {
		if h, err := os.Hostname(); err == nil && printASCII(h) && len(h) <= 255 {
			host = h
		}
	}
	if host == "" {
		host = "-"
	}
	format := c.Format
	if format == "" {
		format = FormatRFC5424
		if network == "" {
			format = FormatRFC3164
		}
	}
	return &Alerter{
		name:     name,
		network:  network,
		addr:     c.Addr,
		facility: facilities[c.Facility],
		tag:      c.Tag,
		hostname: host,
		format:   format,
		octets:   c.Framing == FramingOctetCounting,
		timeout:  c.Timeout,
		pid:      os.Getpid(),
		logger:   logger,
		now:      time.Now,
	}, nil
}

// Name returns the alerter's configured name.
func (a *Alerter) Name() string { return a.name }

// String returns "syslog(<name>)".
func (a *Alerter) String() string { return "syslog(" + a.name + ")" }

// Send writes al as one syslog line (see the package comment).
func (a *Alerter) Send(ctx context.Context, al alerters.Alert) error {
	if err := al.Validate(); err != nil {
		return alerters.Permanent(fmt.Errorf("cannot send alert: %w", err))
	}
	line := a.Line(al, a.now())
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()

	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return alerters.Permanent(errors.New("cannot send alert: syslog alerter closed"))
	}
	reused := a.conn != nil
	if err := a.write(ctx, line); err != nil {
		if !reused || ctx.Err() != nil {
			return err
		}
		// The server may have closed an idle connection: try a new one.
		return a.write(ctx, line)
	}
	return nil
}

// write sends line on the connection, connecting first if needed. On
// failure the connection is closed and forgotten.
func (a *Alerter) write(ctx context.Context, line []byte) error {
	if a.conn == nil {
		if err := a.dial(ctx); err != nil {
			return err
		}
	}
	msg := line
	if a.stream {
		if a.octets {
			msg = append(strconv.AppendInt(nil, int64(len(line)), 10), ' ')
			msg = append(msg, line...)
		} else {
			msg = append(line[:len(line):len(line)], '\n')
		}
	}
	if d, ok := ctx.Deadline(); ok {
		_ = a.conn.SetWriteDeadline(d)
	}
	conn := a.conn
	stop := context.AfterFunc(ctx, func() { _ = conn.SetWriteDeadline(time.Unix(1, 0)) })
	_, err := conn.Write(msg)
	stop()
	if err != nil {
		a.conn.Close()
		a.conn = nil
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		} else if errors.Is(err, os.ErrDeadlineExceeded) {
			err = fmt.Errorf("%w (%w)", context.DeadlineExceeded, err)
		}
		return fmt.Errorf("cannot write to syslog: %w", err)
	}
	return nil
}

// dial connects to the configured destination.
func (a *Alerter) dial(ctx context.Context) error {
	var d net.Dialer
	if a.network != "" {
		c, err := d.DialContext(ctx, a.network, a.addr)
		if err != nil {
			return fmt.Errorf("cannot connect to syslog: %w", err)
		}
		a.conn, a.stream = c, a.network == "tcp" || a.network == "tcp4" || a.network == "tcp6" || a.network == "unix"
		return nil
	}
	var errs []error
	for _, p := range localPaths {
		for _, n := range []string{"unixgram", "unix"} {
			c, err := d.DialContext(ctx, n, p)
			if err == nil {
				a.conn, a.stream = c, n == "unix"
				return nil
			}
			errs = append(errs, err)
		}
	}
	return fmt.Errorf("cannot connect to the local syslog daemon: %w", errors.Join(errs...))
}

// Close closes the connection; later Sends fail permanently.
func (a *Alerter) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	if a.conn == nil {
		return nil
	}
	err := a.conn.Close()
	a.conn = nil
	return err
}

// Line returns the syslog line for al sent at now, without framing (see
// the package comment).
func (a *Alerter) Line(al alerters.Alert, now time.Time) []byte {
	sev := severityWarning
	if al.Kind == alerters.Resolve {
		sev = severityNotice
	}
	b := make([]byte, 0, 256)
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(a.facility*8+sev), 10)
	b = append(b, '>')
	if a.format == FormatRFC3164 {
		b = now.AppendFormat(b, time.Stamp)
		b = append(b, ' ')
		if a.network != "" {
			b = append(b, a.hostname...)
			b = append(b, ' ')
		}
		b = append(b, a.tag...)
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(a.pid), 10)
		b = append(b, "]: "...)
	} else {
		b = append(b, "1 "...)
		b = now.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
		b = append(b, ' ')
		b = append(b, a.hostname...)
		b = append(b, ' ')
		b = append(b, a.tag...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(a.pid), 10)
		b = append(b, ' ')
		b = append(b, al.Kind.String()...)
		b = append(b, " - "...)
	}
	return AppendMessage(b, al)
}

// Field length limits in MSG, in bytes before quoting.
const (
	maxMetric = 512
	maxLink   = 512
	maxShort  = 256
)

// AppendMessage appends the MSG part for al (key=value pairs, see the
// package comment) to b.
func AppendMessage(b []byte, al alerters.Alert) []byte {
	str := func(key, v string, max int) {
		b = append(b, ' ')
		b = append(b, key...)
		b = append(b, '=')
		b = strconv.AppendQuoteToASCII(b, text.Truncate(strings.ToValidUTF8(v, "\uFFFD"), max))
	}
	b = append(b, "kind="...)
	b = append(b, al.Kind.String()...)
	str("metric", al.Metric, maxMetric)
	b = append(b, " value="...)
	b = strconv.AppendFloat(b, al.Value, 'g', -1, 64)
	b = append(b, " score="...)
	b = strconv.AppendFloat(b, al.Score, 'g', -1, 64)
	b = append(b, " timestamp="...)
	b = strconv.AppendInt(b, al.Timestamp, 10)
	b = append(b, " time="...)
	b = al.Time().AppendFormat(b, time.RFC3339)
	str("rule", al.Rule, maxShort)
	str("profile", al.Profile, maxShort)
	str("detectors", text.List(al.Detectors, ",", 64), maxShort)
	str("link", al.Link, maxLink)
	str("dedup_key", al.DedupKey, maxShort)
	return b
}
