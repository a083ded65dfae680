package email

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/google/go-cmp/cmp"

	"github.com/go-kale/kale/alerters"
	"github.com/go-kale/kale/alerters/internal/alerttest"
	"github.com/go-kale/kale/internal/testserver"
)

// now is the send time of every test message.
var now = time.Date(2023, 11, 14, 22, 13, 21, 0, time.UTC)

// testAlert is an ordinary trigger.
var testAlert = alerters.Alert{
	Kind:      alerters.Trigger,
	Metric:    "web.api.latency",
	Timestamp: 1700000000,
	Value:     812.5,
	Score:     0.875,
	Detectors: []string{"grubbs", "ks_test"},
	Profile:   "default",
	Rule:      "web.*",
	Link:      "https://kale.example/?metric=web.api.latency",
	DedupKey:  "k1",
}

// config returns a valid config for srv.
func config(srv *testserver.SMTP) Config {
	c := DefaultConfig()
	c.Addr = srv.Addr()
	c.From = "Kale <kale@example.com>"
	c.To = []string{"ops@example.com", "Öncall Team <oncall@example.com>"}
	c.HELO = "kale.test"
	c.Timeout = 10 * time.Second
	return c
}

// newAlerter returns an alerter for c whose clock says now.
func newAlerter(t testing.TB, c Config) *Alerter {
	t.Helper()
	e, err := New("mail", c, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.now = func() time.Time { return now }
	return e
}

// parsed is a received message taken apart.
type parsed struct {
	header     mail.Header
	subject    string // decoded
	text, html string // decoded part bodies
	partTypes  []string
}

// parse reads raw as the tests' mail client would: net/mail, then
// mime/multipart (which undoes quoted-printable).
func parse(t testing.TB, raw []byte) parsed {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("cannot parse message: %v\n%s", err, raw)
	}
	var p parsed
	p.header = m.Header
	p.subject, err = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("cannot decode Subject %q: %v", m.Header.Get("Subject"), err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type = %q (%v), want multipart/alternative", m.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("cannot read part: %v", err)
		}
		body, err := io.ReadAll(part)
		if err != nil {
			t.Fatalf("cannot read part body: %v", err)
		}
		ct := part.Header.Get("Content-Type")
		p.partTypes = append(p.partTypes, ct)
		switch ct {
		case "text/plain; charset=utf-8":
			p.text = string(body)
		case "text/html; charset=utf-8":
			p.html = string(body)
		}
	}
	return p
}

// headerKeys returns the sorted header names of h.
func headerKeys(h mail.Header) []string {
	var ks []string
	for k := range h {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

var wantHeaderKeys = []string{"Auto-Submitted", "Content-Type", "Date", "From", "Message-Id", "Mime-Version", "Subject", "To"}

func TestSendTrigger(t *testing.T) {
	srv := testserver.StartSMTP(t)
	e := newAlerter(t, config(srv))
	if err := e.Send(context.Background(), testAlert); err != nil {
		t.Fatalf("Send: %v\nserver log: %s", err, srv.Log())
	}
	got := srv.WaitMessages(t, 1)
	if len(got) != 1 {
		t.Fatalf("server stored %d messages, want 1", len(got))
	}
	env := got[0]
	if diff := cmp.Diff(testserver.ReceivedMail{
		MailFrom: "kale@example.com", RcptTo: []string{"ops@example.com", "oncall@example.com"}, HELO: "kale.test",
	}, env, cmpIgnoreData); diff != "" {
		t.Errorf("envelope (-want +got):\n%s", diff)
	}
	p := parse(t, env.Data)
	if diff := cmp.Diff(wantHeaderKeys, headerKeys(p.header)); diff != "" {
		t.Errorf("header names (-want +got):\n%s", diff)
	}
	wantHeaders := map[string]string{
		"From":           `"Kale" <kale@example.com>`,
		"To":             `<ops@example.com>, =?utf-8?q?=C3=96ncall_Team?= <oncall@example.com>`,
		"Subject":        "[kale] anomaly: web.api.latency",
		"Mime-Version":   "1.0",
		"Auto-Submitted": "auto-generated",
		"Date":           "Tue, 14 Nov 2023 22:13:21 +0000",
	}
	for k, want := range wantHeaders {
		if got := p.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if d, err := p.header.Date(); err != nil || !d.Equal(now) {
		t.Errorf("Date() = %v, %v; want %v", d, err, now)
	}
	if id := p.header.Get("Message-Id"); !regexp.MustCompile(`^<[0-9a-f]{24}\.[0-9a-z]+@example\.com>$`).MatchString(id) {
		t.Errorf("Message-Id = %q", id)
	}
	to, err := p.header.AddressList("To")
	if err != nil || len(to) != 2 || to[1].Name != "Öncall Team" || to[1].Address != "oncall@example.com" {
		t.Errorf("To addresses = %v, %v", to, err)
	}
	if diff := cmp.Diff([]string{"text/plain; charset=utf-8", "text/html; charset=utf-8"}, p.partTypes); diff != "" {
		t.Errorf("parts (-want +got):\n%s", diff)
	}
	wantText := `Kale: anomaly

Metric:    web.api.latency
Value:     812.5
Time:      2023-11-14T22:13:20Z (1700000000)
Score:     0.875
Detectors: grubbs, ks_test
Profile:   default
Rule:      web.*
Link:      https://kale.example/?metric=web.api.latency
`
	if diff := cmp.Diff(strings.ReplaceAll(wantText, "\n", "\r\n"), p.text); diff != "" {
		t.Errorf("text part (-want +got):\n%s", diff)
	}
	for _, want := range []string{
		"<title>Kale: anomaly</title>",
		"<tr><th align=\"left\">Metric</th><td>web.api.latency</td></tr>",
		"<tr><th align=\"left\">Value</th><td>812.5</td></tr>",
		"<tr><th align=\"left\">Time</th><td>2023-11-14T22:13:20Z (1700000000)</td></tr>",
		"<tr><th align=\"left\">Score</th><td>0.875</td></tr>",
		"<tr><th align=\"left\">Detectors</th><td>grubbs, ks_test</td></tr>",
		"<tr><th align=\"left\">Profile</th><td>default</td></tr>",
		"<tr><th align=\"left\">Rule</th><td>web.*</td></tr>",
		`<a href="https://kale.example/?metric=web.api.latency">https://kale.example/?metric=web.api.latency</a>`,
	} {
		if !strings.Contains(p.html, want) {
			t.Errorf("html part lacks %q:\n%s", want, p.html)
		}
	}
}

// cmpIgnoreData compares envelopes without the message.
var cmpIgnoreData = cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "Data" }, cmp.Ignore())

func TestSendResolve(t *testing.T) {
	srv := testserver.StartSMTP(t)
	c := config(srv)
	c.ResolveSubject = "OK {{.Metric}} ({{.Rule}}, {{.Kind}})"
	e := newAlerter(t, c)
	a := testAlert
	a.Kind = alerters.Resolve
	a.Link = ""
	if err := e.Send(context.Background(), a); err != nil {
		t.Fatalf("Send: %v", err)
	}
	p := parse(t, srv.Messages(t)[0])
	if p.subject != "OK web.api.latency (web.*, resolve)" {
		t.Errorf("Subject = %q", p.subject)
	}
	if !strings.HasPrefix(p.text, "Kale: anomaly resolved\r\n") || !strings.Contains(p.text, "Link:      \r\n") {
		t.Errorf("text part:\n%s", p.text)
	}
	if strings.Contains(p.html, "<a ") {
		t.Errorf("html part links to nothing: %s", p.html)
	}
}

func TestSendHostileAlerts(t *testing.T) {
	srv := testserver.StartSMTP(t)
	e := newAlerter(t, config(srv))
	n := 0
	for name, a := range alerttest.Hostile() {
		t.Run(name, func(t *testing.T) {
			if err := e.Send(context.Background(), a); err != nil {
				t.Fatalf("Send: %v", err)
			}
			n++
			got := srv.WaitMessages(t, n)
			p := parse(t, got[len(got)-1].Data)
			if diff := cmp.Diff(wantHeaderKeys, headerKeys(p.header)); diff != "" {
				t.Errorf("header names (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"ops@example.com", "oncall@example.com"}, got[len(got)-1].RcptTo); diff != "" {
				t.Errorf("recipients (-want +got):\n%s", diff)
			}
			prefix := "[kale] anomaly: "
			if a.Kind == alerters.Resolve {
				prefix = "[kale] resolved: "
			}
			want := prefix + strings.Map(func(r rune) rune {
				if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
					return ' '
				}
				return r
			}, strings.ToValidUTF8(a.Metric, "\uFFFD"))
			if len(want) > maxSubject {
				want = want[:maxSubject-len("…")] + "…"
			}
			want = strings.TrimSpace(want)
			if p.subject != want {
				t.Errorf("Subject = %q, want %q", p.subject, want)
			}
			if strings.ContainsAny(p.subject, "\r\n") {
				t.Errorf("Subject holds a line break: %q", p.subject)
			}
			for _, bad := range []string{"<script", "<img", `href="javascript`} {
				if strings.Contains(p.html, bad) {
					t.Errorf("html part holds %q unescaped:\n%.2000s", bad, p.html)
				}
			}
			if !strings.Contains(p.text, "Metric:    "+escaped(a.Metric)+"\r\n") {
				t.Errorf("text part lacks the escaped metric %q:\n%.2000s", escaped(a.Metric), p.text)
			}
		})
	}
}

func TestSendTLS(t *testing.T) {
	tests := []struct {
		name          string
		server        testserver.SMTPTLS
		mutate        func(c *Config, srv *testserver.SMTP)
		wantTLS       bool
		wantErr       string // "" = delivered
		wantRetryable bool
	}{
		{name: "auto upgrades when offered", server: testserver.SMTPStartTLS, wantTLS: true,
			mutate: func(c *Config, s *testserver.SMTP) { c.TLSCAFile = s.CAFile }},
		{name: "auto stays plain when not offered", server: testserver.SMTPNoTLS},
		{name: "always upgrades", server: testserver.SMTPStartTLS, wantTLS: true,
			mutate: func(c *Config, s *testserver.SMTP) { c.StartTLS, c.TLSCAFile = StartTLSAlways, s.CAFile }},
		{name: "always refuses a server without STARTTLS", server: testserver.SMTPNoTLS,
			mutate:  func(c *Config, _ *testserver.SMTP) { c.StartTLS = StartTLSAlways },
			wantErr: `the server does not offer STARTTLS and starttls is "always"`},
		{name: "never stays plain when offered", server: testserver.SMTPStartTLS,
			mutate: func(c *Config, _ *testserver.SMTP) { c.StartTLS = StartTLSNever }},
		{name: "never against a server requiring it", server: testserver.SMTPRequireStartTLS,
			mutate:  func(c *Config, _ *testserver.SMTP) { c.StartTLS = StartTLSNever },
			wantErr: "530"},
		{name: "untrusted certificate", server: testserver.SMTPStartTLS,
			wantErr: "certificate"},
		{name: "insecure skip verify", server: testserver.SMTPStartTLS, wantTLS: true,
			mutate: func(c *Config, _ *testserver.SMTP) { c.TLSInsecureSkipVerify = true }},
		{name: "implicit TLS", server: testserver.SMTPImplicitTLS, wantTLS: true,
			mutate: func(c *Config, s *testserver.SMTP) { c.TLS, c.TLSCAFile = true, s.CAFile }},
		{name: "implicit TLS against a plain server", server: testserver.SMTPNoTLS,
			mutate:  func(c *Config, _ *testserver.SMTP) { c.TLS = true },
			wantErr: "start TLS"},
	}
	servers := map[testserver.SMTPTLS]*testserver.SMTP{} // one per mode, shared by the cases
	for _, tt := range tests {
		if servers[tt.server] == nil {
			servers[tt.server] = testserver.StartSMTPWith(t, testserver.SMTPOptions{TLS: tt.server})
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := servers[tt.server]
			before := srv.Count(t)
			c := config(srv)
			if tt.mutate != nil {
				tt.mutate(&c, srv)
			}
			e := newAlerter(t, c)
			err := e.Send(context.Background(), testAlert)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Send error = %v, want one containing %q", err, tt.wantErr)
				}
				if alerters.Retryable(err) != tt.wantRetryable {
					t.Errorf("Retryable(%v) = %v, want %v", err, !tt.wantRetryable, tt.wantRetryable)
				}
				if n := srv.Count(t); n != before {
					t.Errorf("server stored %d messages after a failed send", n-before)
				}
				return
			}
			if err != nil {
				t.Fatalf("Send: %v\nserver log: %s", err, srv.Log())
			}
			if got := srv.WaitMessages(t, before+1)[before].TLS; got != tt.wantTLS {
				t.Errorf("session TLS = %v, want %v", got, tt.wantTLS)
			}
		})
	}
}

func TestSendAuth(t *testing.T) {
	const user, pass = "alerts", "s3cret-Pa55"
	tests := []struct {
		name    string
		opts    testserver.SMTPOptions
		user    string
		pass    string
		startTL string
		wantErr string // "" = delivered as user
	}{
		{name: "plain over starttls", opts: testserver.SMTPOptions{TLS: testserver.SMTPStartTLS}, user: user, pass: pass},
		{name: "login over starttls", opts: testserver.SMTPOptions{TLS: testserver.SMTPStartTLS, ExcludeAuth: []string{"PLAIN"}}, user: user, pass: pass},
		{name: "plain over implicit TLS", opts: testserver.SMTPOptions{TLS: testserver.SMTPImplicitTLS}, user: user, pass: pass},
		{name: "plain to localhost without TLS", opts: testserver.SMTPOptions{AuthWithoutTLS: true}, user: user, pass: pass},
		{name: "wrong password", opts: testserver.SMTPOptions{TLS: testserver.SMTPStartTLS}, user: user, pass: "wrong-" + pass,
			wantErr: "535"},
		{name: "wrong password with login", opts: testserver.SMTPOptions{TLS: testserver.SMTPStartTLS, ExcludeAuth: []string{"PLAIN"}},
			user: user, pass: "wrong-" + pass, wantErr: "535"},
		{name: "no credentials where auth is required", opts: testserver.SMTPOptions{TLS: testserver.SMTPStartTLS},
			wantErr: "530"},
		{name: "auth not offered without TLS", opts: testserver.SMTPOptions{}, user: user, pass: pass,
			wantErr: "the server does not offer AUTH"},
		{name: "no supported mechanism", opts: testserver.SMTPOptions{TLS: testserver.SMTPStartTLS, ExcludeAuth: []string{"PLAIN", "LOGIN"}},
			user: user, pass: pass, wantErr: "offers none of PLAIN, LOGIN, CRAM-MD5"},
	}
	// serverOpts are the options of tt's server; one server per distinct
	// options is shared by the cases.
	serverOpts := func(name string, o testserver.SMTPOptions) testserver.SMTPOptions {
		o.Username, o.Password = user, pass
		if name == "auth not offered without TLS" {
			o.Username = "" // a server without AUTH at all
		}
		return o
	}
	servers := map[string]*testserver.SMTP{}
	for _, tt := range tests {
		o := serverOpts(tt.name, tt.opts)
		if key := fmt.Sprintf("%+v", o); servers[key] == nil {
			servers[key] = testserver.StartSMTPWith(t, o)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := serverOpts(tt.name, tt.opts)
			srv := servers[fmt.Sprintf("%+v", opts)]
			before := srv.Count(t)
			c := config(srv)
			c.Username, c.Password = tt.user, alerters.Secret(tt.pass)
			c.TLSCAFile = srv.CAFile
			c.TLS = opts.TLS == testserver.SMTPImplicitTLS
			var logs bytes.Buffer
			e, err := New("mail", c, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
			if err != nil {
				t.Fatal(err)
			}
			err = e.Send(context.Background(), testAlert)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Send: %v\nserver log: %s", err, srv.Log())
				}
				if got := srv.WaitMessages(t, before+1)[before].AuthUser; got != user {
					t.Errorf("AUTH user = %q, want %q", got, user)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Send error = %v, want one containing %q", err, tt.wantErr)
			}
			if alerters.Retryable(err) {
				t.Errorf("Retryable(%v) = true, want false", err)
			}
			for _, s := range []string{err.Error(), fmt.Sprintf("%+v %#v", err, err), logs.String()} {
				if strings.Contains(s, pass) {
					t.Errorf("the password leaked: %s", s)
				}
			}
			if n := srv.Count(t); n != before {
				t.Errorf("server stored %d messages after a failed send", n-before)
			}
		})
	}
}

func TestSendNetworkErrorsAreRetryable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	c := DefaultConfig()
	c.Addr, c.From, c.To = addr, "kale@example.com", []string{"ops@example.com"}
	e := newAlerter(t, c)
	err = e.Send(context.Background(), testAlert)
	if err == nil || !alerters.Retryable(err) {
		t.Errorf("Send to a closed port: err = %v, Retryable = %v; want a retryable error", err, alerters.Retryable(err))
	}

	// A server that accepts and never greets: the context ends the send.
	l, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	c.Addr = l.Addr().String()
	e = newAlerter(t, c)
	ctx, cancel := context.WithCancel(context.Background())
	go cancel()
	if err := e.Send(ctx, testAlert); !errors.Is(err, context.Canceled) {
		t.Errorf("Send with a cancelled context: err = %v, want context.Canceled", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := e.Send(ctx, testAlert); !errors.Is(err, context.DeadlineExceeded) || !alerters.Retryable(err) {
		t.Errorf("Send past its deadline: err = %v, want a retryable context.DeadlineExceeded", err)
	}
}

func TestSendBadKind(t *testing.T) {
	c := DefaultConfig()
	c.Addr, c.From, c.To = "127.0.0.1:1", "kale@example.com", []string{"ops@example.com"}
	e := newAlerter(t, c)
	err := e.Send(context.Background(), alerters.Alert{Kind: 7})
	if !errors.Is(err, alerters.ErrBadKind) || alerters.Retryable(err) {
		t.Errorf("Send(Kind 7) = %v, want permanent ErrBadKind", err)
	}
}

func TestValidate(t *testing.T) {
	valid := func() Config {
		c := DefaultConfig()
		c.Addr, c.From, c.To = "smtp.example.com:587", "kale@example.com", []string{"ops@example.com"}
		return c
	}
	alerttest.Invalid(t, valid, func(c Config) error { _, err := New("x", c, nil); return err }, []alerttest.InvalidCase[Config]{
		{"no addr", func(c *Config) { c.Addr = "" }, "addr: is required"},
		{"addr without port", func(c *Config) { c.Addr = "smtp.example.com" }, "addr: must be host:port"},
		{"no from", func(c *Config) { c.From = "" }, "from: is required"},
		{"bad from", func(c *Config) { c.From = "not an address" }, "from: "},
		{"no to", func(c *Config) { c.To = nil }, "to: needs at least one address"},
		{"bad to", func(c *Config) { c.To = []string{"ok@example.com", "bad\r\nBcc: x@y"} }, "to[1]: "},
		{"user without password", func(c *Config) { c.Username = "u" }, "password: is required with username"},
		{"password without user", func(c *Config) { c.Password = "p" }, "username: is required with password"},
		{"empty env name", func(c *Config) { c.Username, c.Password = "u", "env:" }, `password: "env:" names no environment variable`},
		{"bad starttls", func(c *Config) { c.StartTLS = "yes" }, `starttls: must be auto, always or never, got "yes"`},
		{"bad helo", func(c *Config) { c.HELO = "a b" }, "helo: "},
		{"bad subject syntax", func(c *Config) { c.Subject = "{{.Metric" }, "subject: "},
		{"unknown subject field", func(c *Config) { c.Subject = "{{.Nope}}" }, "subject: "},
		{"empty resolve subject", func(c *Config) { c.ResolveSubject = "" }, "resolve_subject: is required"},
		{"bad timeout", func(c *Config) { c.Timeout = 0 }, "timeout: must be positive"},
	}, nil)
}

func TestNewResolvesPassword(t *testing.T) {
	c := DefaultConfig()
	c.Addr, c.From, c.To = "127.0.0.1:25", "kale@example.com", []string{"ops@example.com"}
	c.Username, c.Password = "u", "env:KALE_TEST_SMTP_PASSWORD"
	t.Setenv("KALE_TEST_SMTP_PASSWORD", "")
	if _, err := New("m", c, nil); err == nil || !strings.Contains(err.Error(), "environment variable KALE_TEST_SMTP_PASSWORD is empty or unset") {
		t.Errorf("New with an unset variable: %v", err)
	}
	t.Setenv("KALE_TEST_SMTP_PASSWORD", "from-env")
	e, err := New("m", c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e.password.Reveal() != "from-env" {
		t.Errorf("password = %q, want the variable's value", e.password.Reveal())
	}
	c.TLSCAFile = "/nonexistent/ca.pem"
	if _, err := New("m", c, nil); err == nil || !strings.Contains(err.Error(), "tls_ca_file") {
		t.Errorf("New with a missing CA file: %v", err)
	}
}

func TestNoSecretInPrints(t *testing.T) {
	const pass = "hunter2-very-secret"
	c := DefaultConfig()
	c.Addr, c.From, c.To = "127.0.0.1:25", "kale@example.com", []string{"ops@example.com"}
	c.Username, c.Password = "u", pass
	e, err := New("m", c, nil)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "config", c, "alerter", e)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "config", c, "alerter", e)
	for _, s := range []string{
		fmt.Sprintf("%v %+v %#v", c, c, c),
		fmt.Sprintf("%v %+v %#v %s %q %x %d", e, e, e, e, e, e, e),
		fmt.Sprintf("%v %+v %#v", *e, *e, *e),
		logs.String(),
	} {
		if strings.Contains(s, pass) || strings.Contains(s, fmt.Sprintf("%x", pass)) {
			t.Errorf("the password leaked: %s", s)
		}
	}
	if !strings.Contains(fmt.Sprintf("%+v", c), "Password:[redacted]") {
		t.Errorf("%%+v of the config = %+v, want Password:[redacted]", c)
	}
}

func TestEncodeHeader(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain subject", "plain subject"},
		{"", ""},
		{"=?x?", "=?utf-8?b?PT94Pw==?="},
		{"é", "=?utf-8?b?w6k=?="},
		{strings.Repeat("é", 30), "=?utf-8?b?" + "w6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOp" + "w6k=?=\r\n =?utf-8?b?w6nDqcOpw6nDqcOpw6k=?="},
	}
	for _, tt := range tests {
		got := EncodeHeader(tt.in)
		if strings.HasPrefix(tt.want, "=?") {
			dec, err := new(mime.WordDecoder).DecodeHeader(strings.ReplaceAll(got, "\r\n", ""))
			if err != nil || dec != tt.in {
				t.Errorf("EncodeHeader(%q) = %q, decodes to %q, %v", tt.in, got, dec, err)
			}
			for _, line := range strings.Split(got, "\r\n") {
				if len(strings.TrimSpace(line)) > 75 {
					t.Errorf("EncodeHeader(%q) has an encoded word longer than 75: %q", tt.in, line)
				}
			}
			continue
		}
		if got != tt.want {
			t.Errorf("EncodeHeader(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzMessage checks that no metric or rule breaks the message: it parses,
// has exactly the expected headers, a one-line subject and both parts.
func FuzzMessage(f *testing.F) {
	for _, a := range alerttest.Hostile() {
		f.Add(a.Metric, a.Rule, a.Link)
	}
	f.Add("web.api.latency", "web.*", "https://kale.example/")
	c := DefaultConfig()
	c.Addr, c.From, c.To = "127.0.0.1:25", "kale@example.com", []string{"ops@example.com"}
	e := newAlerter(f, c)
	f.Fuzz(func(t *testing.T, metric, rule, link string) {
		a := testAlert
		a.Metric, a.Rule, a.Link = metric, rule, link
		msg, err := e.Message(a, now)
		if err != nil {
			t.Fatalf("Message: %v", err)
		}
		p := parse(t, msg)
		if diff := cmp.Diff(wantHeaderKeys, headerKeys(p.header)); diff != "" {
			t.Errorf("header names (-want +got):\n%s", diff)
		}
		if strings.ContainsAny(p.subject, "\r\n") || len(p.partTypes) != 2 {
			t.Errorf("subject %q, parts %v", p.subject, p.partTypes)
		}
		if !strings.Contains(p.text, "Rule:      "+escaped(rule)+"\r\n") {
			t.Errorf("text part lacks the rule %q:\n%s", rule, p.text)
		}
	})
}

// escaped is how the text part shows an untrusted string: control
// characters and line separators as Go escapes.
func escaped(s string) string {
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r >= 0x7f && r < 0xa0:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r == '\u2028' || r == '\u2029':
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func BenchmarkMessage(b *testing.B) {
	c := DefaultConfig()
	c.Addr, c.From, c.To = "127.0.0.1:25", "kale@example.com", []string{"ops@example.com"}
	e := newAlerter(b, c)
	msg, _ := e.Message(testAlert, now)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Message(testAlert, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSend(b *testing.B) {
	srv := testserver.StartSMTP(b)
	c := DefaultConfig()
	c.Addr, c.From, c.To = srv.Addr(), "kale@example.com", []string{"ops@example.com"}
	e := newAlerter(b, c)
	b.ReportAllocs()
	for b.Loop() {
		if err := e.Send(context.Background(), testAlert); err != nil {
			b.Fatal(err)
		}
	}
}
