// Package email sends alerts as e-mail over SMTP (net/smtp), with
// STARTTLS or implicit TLS and AUTH PLAIN, LOGIN or CRAM-MD5.
//
// # Message format
//
// One message per alert to every address of to, MIME multipart/alternative
// with a text/plain and a text/html part (both UTF-8, quoted-printable),
// each giving the metric, value, time (UTC RFC 3339 and UNIX seconds),
// score, detectors, profile, rule and link:
//
//	Date: Tue, 14 Nov 2023 22:13:21 +0000
//	From: Kale <kale@example.com>
//	To: ops@example.com,
//	 oncall@example.com
//	Subject: [kale] anomaly: web.api.latency
//	Message-ID: <2f1c…@example.com>
//	MIME-Version: 1.0
//	Auto-Submitted: auto-generated
//	Content-Type: multipart/alternative; boundary="…"
//
//	--…
//	Content-Type: text/plain; charset=utf-8
//	Content-Transfer-Encoding: quoted-printable
//
//	Kale: anomaly
//
//	Metric:    web.api.latency
//	Value:     812.5
//	Time:      2023-11-14T22:13:20Z (1700000000)
//	Score:     0.875
//	Detectors: grubbs, ks_test
//	Profile:   default
//	Rule:      web.*
//	Link:      https://kale.example/?metric=web.api.latency
//	--…
//	Content-Type: text/html; charset=utf-8
//	(the same as an HTML table)
//
// A Resolve says "Kale: anomaly resolved" and its Time is when the metric
// was judged normal again.
//
// The Subject comes from the subject (Trigger) or resolve_subject
// (Resolve) text/template, executed on the Alert ({{.Metric}},
// {{.Value}}, {{.Score}}, {{.Rule}}, {{.Profile}}, {{.Kind}}, ...). Its
// result is put on one line (control characters, CR and LF included,
// become spaces, so no metric can add a header), cut to 250 bytes,
// trimmed of spaces at both ends, and
// RFC 2047 encoded (UTF-8, "B", folded) unless it is printable ASCII
// without "=?". In the bodies a control character of a metric or rule
// name is shown as a Go escape (\n, \x00); the HTML part is built with
// html/template, so every string is HTML-escaped and a link that is not
// http(s) is neutralised.
//
// # Transport
//
// tls: true connects with TLS (SMTPS, usually port 465). Otherwise
// starttls decides: "auto" (default) upgrades with STARTTLS when the
// server offers it, "always" refuses to send (permanent error) when it
// does not, "never" does not upgrade. Certificates are verified against
// tls_ca_file (PEM) or the system roots, unless tls_insecure_skip_verify.
// With a username, AUTH is required: PLAIN, else LOGIN, else CRAM-MD5, as
// offered; PLAIN and LOGIN are refused (permanent error) on an unencrypted
// connection to anything but localhost.
//
// # Outcome
//
// SMTP 5xx replies, certificate errors, a missing STARTTLS with "always",
// missing AUTH support and bad credentials are permanent; 4xx replies and
// network errors are retryable. Once the server has accepted the message
// (250 after DATA), Send returns nil even if QUIT fails, so a retry never
// sends it twice. The password never appears in an error or log line.
package email

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"log/slog"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode/utf8"

	"github.com/go-kale/kale/alerters"
	"github.com/go-kale/kale/alerters/internal/text"
)

// StartTLS modes.
const (
	StartTLSAuto   = "auto"
	StartTLSAlways = "always"
	StartTLSNever  = "never"
)

// Default subject templates.
const (
	DefaultSubject        = "[kale] anomaly: {{.Metric}}"
	DefaultResolveSubject = "[kale] resolved: {{.Metric}}"
)

// maxSubject is the most bytes of a rendered subject kept (before RFC 2047
// encoding).
const maxSubject = 250

// Config configures an e-mail alerter. The YAML keys are the snake_case
// tags.
type Config struct {
	// Addr is the SMTP server, host:port.
	Addr string `yaml:"addr"`
	// From is the sender, "addr@host" or "Name <addr@host>".
	From string `yaml:"from"`
	// To are the recipients (at least one), each like From.
	To []string `yaml:"to"`
	// Username for AUTH; empty means no AUTH.
	Username string `yaml:"username"`
	// Password for AUTH; it may be "env:NAME".
	Password alerters.Secret `yaml:"password"`
	// StartTLS is "auto" (default), "always" or "never"; ignored with TLS.
	StartTLS string `yaml:"starttls"`
	// TLS connects with implicit TLS (SMTPS).
	TLS bool `yaml:"tls"`
	// TLSInsecureSkipVerify accepts any server certificate.
	TLSInsecureSkipVerify bool `yaml:"tls_insecure_skip_verify"`
	// TLSCAFile is a PEM file of CA certificates to verify the server
	// with, instead of the system roots.
	TLSCAFile string `yaml:"tls_ca_file"`
	// HELO is the name sent in EHLO (default: the hostname, or "localhost").
	HELO string `yaml:"helo"`
	// Subject is the text/template of a Trigger's subject.
	Subject string `yaml:"subject"`
	// ResolveSubject is the text/template of a Resolve's subject.
	ResolveSubject string `yaml:"resolve_subject"`
	// Timeout bounds one delivery, connection to QUIT (default 30s).
	Timeout time.Duration `yaml:"timeout"`
}

// DefaultConfig returns the defaults: starttls "auto", the default subject
// templates, timeout 30s; no server, sender or recipients.
func DefaultConfig() Config {
	return Config{
		StartTLS:       StartTLSAuto,
		Subject:        DefaultSubject,
		ResolveSubject: DefaultResolveSubject,
		Timeout:        30 * time.Second,
	}
}

// sampleAlert is what Validate executes the subject templates on.
var sampleAlert = alerters.Alert{
	Kind: alerters.Trigger, Metric: "sample.metric", Timestamp: 1700000000, Value: 1, Score: 1,
	Detectors: []string{"sample"}, Profile: "default", Rule: "sample", Link: "http://localhost/", DedupKey: "k",
}

// Validate checks c and returns every problem, each naming its key. The
// subject templates are parsed and executed on a sample alert, so a
// template that names an unknown field fails here, not at send time.
func (c Config) Validate() error {
	var errs []error
	if c.Addr == "" {
		errs = append(errs, errors.New("addr: is required (host:port)"))
	} else if h, p, err := net.SplitHostPort(c.Addr); err != nil || h == "" || p == "" {
		errs = append(errs, fmt.Errorf("addr: must be host:port, got %q", c.Addr))
	}
	if c.From == "" {
		errs = append(errs, errors.New("from: is required"))
	} else if _, err := mail.ParseAddress(c.From); err != nil {
		errs = append(errs, fmt.Errorf("from: %q: %w", c.From, err))
	}
	if len(c.To) == 0 {
		errs = append(errs, errors.New("to: needs at least one address"))
	}
	for i, t := range c.To {
		if _, err := mail.ParseAddress(t); err != nil {
			errs = append(errs, fmt.Errorf("to[%d]: %q: %w", i, t, err))
		}
	}
	if c.Username != "" && c.Password == "" {
		errs = append(errs, errors.New("password: is required with username"))
	}
	if c.Username == "" && c.Password != "" {
		errs = append(errs, errors.New("username: is required with password"))
	}
	if c.Password.Reveal() == "env:" {
		errs = append(errs, errors.New(`password: "env:" names no environment variable`))
	}
	if strings.ContainsAny(c.Username, "\r\n\x00") {
		errs = append(errs, errors.New("username: holds a control character"))
	}
	switch c.StartTLS {
	case StartTLSAuto, StartTLSAlways, StartTLSNever:
	default:
		errs = append(errs, fmt.Errorf("starttls: must be auto, always or never, got %q", c.StartTLS))
	}
	if c.HELO != "" && !validHELO(c.HELO) {
		errs = append(errs, fmt.Errorf("helo: must be a host name or address literal, got %q", c.HELO))
	}
	for _, t := range []struct{ key, tmpl string }{{"subject", c.Subject}, {"resolve_subject", c.ResolveSubject}} {
		if t.tmpl == "" {
			errs = append(errs, fmt.Errorf("%s: is required", t.key))
			continue
		}
		if _, err := parseSubject(t.key, t.tmpl); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t.key, err))
		}
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout: must be positive, got %v", c.Timeout))
	}
	return errors.Join(errs...)
}

// parseSubject parses a subject template and checks that it executes on
// sampleAlert.
func parseSubject(name, s string) (*texttemplate.Template, error) {
	t, err := texttemplate.New(name).Option("missingkey=error").Parse(s)
	if err != nil {
		return nil, err
	}
	if err := t.Execute(&bytes.Buffer{}, sampleAlert); err != nil {
		return nil, err
	}
	return t, nil
}

// validHELO reports whether s can follow EHLO: letters, digits, '-', '.',
// or an address literal in brackets.
func validHELO(s string) bool {
	if len(s) > 255 {
		return false
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		return net.ParseIP(strings.TrimPrefix(s[1:len(s)-1], "IPv6:")) != nil
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return s != ""
}

// Alerter sends alerts by e-mail. It is safe for concurrent use; each
// Send is one SMTP session.
type Alerter struct {
	name      string
	addr      string
	host      string // of addr: the TLS server name and net/smtp's auth host
	from      *mail.Address
	to        []*mail.Address
	username  string
	password  alerters.Secret // resolved
	startTLS  string
	implicit  bool
	tlsConfig *tls.Config
	helo      string
	domain    string // for Message-ID
	subject   [2]*texttemplate.Template
	timeout   time.Duration
	logger    *slog.Logger
	now       func() time.Time
}

// New validates c, resolves the password, reads tls_ca_file and returns
// the alerter named name. logger nil discards logs. It makes no network
// connection.
func New(name string, c Config, logger *slog.Logger) (*Alerter, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("cannot create email alerter %q: %w", name, err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	pw, err := c.Password.Resolve()
	if err != nil {
		return nil, fmt.Errorf("cannot create email alerter %q: password: %w", name, err)
	}
	host, _, _ := net.SplitHostPort(c.Addr)
	from, _ := mail.ParseAddress(c.From)
	to := make([]*mail.Address, len(c.To))
	for i, t := range c.To {
		to[i], _ = mail.ParseAddress(t)
	}
	tc := &tls.Config{ServerName: host, InsecureSkipVerify: c.TLSInsecureSkipVerify, MinVersion: tls.VersionTLS12} //nolint:gosec // an explicit operator choice
	if c.TLSCAFile != "" {
		pem, err := os.ReadFile(c.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("cannot create email alerter %q: tls_ca_file: %w", name, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("cannot create email alerter %q: tls_ca_file: %s holds no PEM certificate", name, c.TLSCAFile)
		}
		tc.RootCAs = pool
	}
	helo := c.HELO
	if helo == "" {
		if h, err := os.Hostname(); err == nil && validHELO(h) {
			helo = h
		} else {
			helo = "localhost"
		}
	}
	domain := "kale.localhost"
	if i := strings.LastIndexByte(from.Address, '@'); i >= 0 && validHELO(from.Address[i+1:]) {
		domain = from.Address[i+1:]
	}
	trig, _ := parseSubject("subject", c.Subject)
	res, _ := parseSubject("resolve_subject", c.ResolveSubject)
	return &Alerter{
		name:      name,
		addr:      c.Addr,
		host:      host,
		from:      from,
		to:        to,
		username:  c.Username,
		password:  pw,
		startTLS:  c.StartTLS,
		implicit:  c.TLS,
		tlsConfig: tc,
		helo:      helo,
		domain:    domain,
		subject:   [2]*texttemplate.Template{trig, res},
		timeout:   c.Timeout,
		logger:    logger,
		now:       time.Now,
	}, nil
}

// Name returns the alerter's configured name.
func (e *Alerter) Name() string { return e.name }

// String returns "email(<name>)"; no field is printed.
func (e Alerter) String() string { return "email(" + e.name + ")" }

// Format prints e.String() for every verb, so printing the alerter never
// shows the password.
func (e Alerter) Format(f fmt.State, _ rune) { fmt.Fprint(f, e.String()) }

// Send mails al to every recipient in one SMTP session (see the package
// comment for the format, transport and which errors are permanent).
func (e *Alerter) Send(ctx context.Context, al alerters.Alert) error {
	msg, err := e.Message(al, e.now())
	if err != nil {
		return alerters.Permanent(err)
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	return e.deliver(ctx, msg)
}

// deliver runs one SMTP session that sends msg.
func (e *Alerter) deliver(ctx context.Context, msg []byte) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", e.addr)
	if err != nil {
		return fmt.Errorf("cannot connect to SMTP server: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	// wrap adds the step and ctx's error (when it ended) to a failure.
	wrap := func(step string, err error) error {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		} else if errors.Is(err, os.ErrDeadlineExceeded) {
			// The connection deadline is ctx's: it fired first.
			err = fmt.Errorf("%w (%w)", context.DeadlineExceeded, err)
		}
		return classify(fmt.Errorf("cannot %s: %w", step, err))
	}

	var c net.Conn = conn
	if e.implicit {
		tc := tls.Client(conn, e.tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return wrap("start TLS", err)
		}
		c = tc
	}
	client, err := smtp.NewClient(c, e.host)
	if err != nil {
		return wrap("read the SMTP greeting", err)
	}
	defer client.Close()
	if err := client.Hello(e.helo); err != nil {
		return wrap("say EHLO", err)
	}
	if !e.implicit && e.startTLS != StartTLSNever {
		if ok, _ := client.Extension("STARTTLS"); ok {
			if err := client.StartTLS(e.tlsConfig); err != nil {
				return wrap("start TLS", err)
			}
		} else if e.startTLS == StartTLSAlways {
			return alerters.Permanent(errors.New(`cannot start TLS: the server does not offer STARTTLS and starttls is "always"`))
		}
	}
	if e.username != "" {
		ok, mechs := client.Extension("AUTH")
		if !ok {
			return alerters.Permanent(errors.New("cannot authenticate: the server does not offer AUTH"))
		}
		auth := e.pickAuth(mechs)
		if auth == nil {
			return alerters.Permanent(fmt.Errorf("cannot authenticate: the server offers none of PLAIN, LOGIN, CRAM-MD5 (it offers %q)", mechs))
		}
		if err := client.Auth(auth); err != nil {
			return alerters.Permanent(e.scrub(fmt.Errorf("cannot authenticate as %q: %w", e.username, err)))
		}
	}
	if err := client.Mail(e.from.Address); err != nil {
		return wrap("send MAIL FROM", err)
	}
	for _, t := range e.to {
		if err := client.Rcpt(t.Address); err != nil {
			return wrap(fmt.Sprintf("send RCPT TO <%s>", t.Address), err)
		}
	}
	w, err := client.Data()
	if err != nil {
		return wrap("send DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return wrap("send the message", err)
	}
	if err := w.Close(); err != nil {
		return wrap("send the message", err)
	}
	// Accepted: a failing QUIT must not make the dispatcher send it again.
	if err := client.Quit(); err != nil {
		e.logger.Debug("SMTP QUIT failed after the message was accepted", "alerter", e.name, "err", err)
	}
	return nil
}

// scrub removes the password from err's message (a server could echo it).
func (e *Alerter) scrub(err error) error {
	pw := e.password.Reveal()
	if pw == "" || !strings.Contains(err.Error(), pw) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), pw, alerters.Redacted))
}

// classify marks err permanent when retrying cannot help: an SMTP 5xx
// reply, a certificate that fails verification, or a peer that does not
// speak TLS.
func classify(err error) error {
	var tpe *textproto.Error
	if errors.As(err, &tpe) && tpe.Code >= 500 {
		return alerters.Permanent(err)
	}
	var cv *tls.CertificateVerificationError
	var rh tls.RecordHeaderError
	if errors.As(err, &cv) || errors.As(err, &rh) {
		return alerters.Permanent(err)
	}
	return err
}

// pickAuth returns the AUTH mechanism to use from the server's list:
// PLAIN, else LOGIN, else CRAM-MD5; nil when none is offered.
func (e *Alerter) pickAuth(offered string) smtp.Auth {
	has := map[string]bool{}
	for _, m := range strings.Fields(strings.ToUpper(offered)) {
		has[m] = true
	}
	switch {
	case has["PLAIN"]:
		return smtp.PlainAuth("", e.username, e.password.Reveal(), e.host)
	case has["LOGIN"]:
		return &loginAuth{user: e.username, pass: e.password.Reveal(), host: e.host}
	case has["CRAM-MD5"]:
		return smtp.CRAMMD5Auth(e.username, e.password.Reveal())
	}
	return nil
}

// loginAuth is the LOGIN mechanism (draft-murchison-sasl-login), which
// net/smtp lacks and some servers (Office 365) still require.
type loginAuth struct{ user, pass, host string }

// Start refuses an unencrypted connection except to localhost, like
// smtp.PlainAuth.
func (a *loginAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS && !isLocalhost(server.Name) {
		return "", nil, errors.New("unencrypted connection")
	}
	if server.Name != a.host {
		return "", nil, errors.New("wrong host name")
	}
	return "LOGIN", nil, nil
}

// Next answers the "Username:" and "Password:" challenges.
func (a *loginAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	switch c := strings.ToLower(strings.TrimSpace(string(fromServer))); {
	case strings.HasPrefix(c, "user"):
		return []byte(a.user), nil
	case strings.HasPrefix(c, "pass"):
		return []byte(a.pass), nil
	default:
		return nil, fmt.Errorf("unexpected LOGIN challenge %q", text.Truncate(text.OneLine(c), 64))
	}
}

func isLocalhost(name string) bool {
	return name == "localhost" || name == "127.0.0.1" || name == "::1"
}

// view is what the body templates show, every string ready to print.
type view struct {
	Title, Metric, Value, Time, Timestamp, Score, Detectors, Profile, Rule, Link string
}

// newView prepares al for the body templates: control characters of the
// untrusted strings become Go escapes.
func newView(al alerters.Alert) view {
	title := "Kale: anomaly"
	if al.Kind == alerters.Resolve {
		title = "Kale: anomaly resolved"
	}
	return view{
		Title:     title,
		Metric:    text.Escape(al.Metric),
		Value:     strconv.FormatFloat(al.Value, 'g', -1, 64),
		Time:      al.Time().Format(time.RFC3339),
		Timestamp: strconv.FormatInt(al.Timestamp, 10),
		Score:     strconv.FormatFloat(al.Score, 'g', -1, 64),
		Detectors: text.Escape(strings.Join(al.Detectors, ", ")),
		Profile:   text.Escape(al.Profile),
		Rule:      text.Escape(al.Rule),
		Link:      text.Escape(al.Link),
	}
}

var textBody = texttemplate.Must(texttemplate.New("text").Parse(`{{.Title}}

Metric:    {{.Metric}}
Value:     {{.Value}}
Time:      {{.Time}} ({{.Timestamp}})
Score:     {{.Score}}
Detectors: {{.Detectors}}
Profile:   {{.Profile}}
Rule:      {{.Rule}}
Link:      {{.Link}}
`))

var htmlBody = htmltemplate.Must(htmltemplate.New("html").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body>
<h2>{{.Title}}</h2>
<table>
<tr><th align="left">Metric</th><td>{{.Metric}}</td></tr>
<tr><th align="left">Value</th><td>{{.Value}}</td></tr>
<tr><th align="left">Time</th><td>{{.Time}} ({{.Timestamp}})</td></tr>
<tr><th align="left">Score</th><td>{{.Score}}</td></tr>
<tr><th align="left">Detectors</th><td>{{.Detectors}}</td></tr>
<tr><th align="left">Profile</th><td>{{.Profile}}</td></tr>
<tr><th align="left">Rule</th><td>{{.Rule}}</td></tr>
<tr><th align="left">Link</th><td>{{if .Link}}<a href="{{.Link}}">{{.Link}}</a>{{end}}</td></tr>
</table>
</body></html>
`))

// Message returns the RFC 5322 message (CRLF line ends) for al sent at
// now: the headers and multipart/alternative body of the package comment.
// It fails for an invalid Kind or when a subject template fails.
func (e *Alerter) Message(al alerters.Alert, now time.Time) ([]byte, error) {
	if err := al.Validate(); err != nil {
		return nil, fmt.Errorf("cannot build message: %w", err)
	}
	tmpl := e.subject[0]
	if al.Kind == alerters.Resolve {
		tmpl = e.subject[1]
	}
	var sb strings.Builder
	if err := tmpl.Execute(&sb, al); err != nil {
		return nil, fmt.Errorf("cannot build message: %s: %w", tmpl.Name(), err)
	}
	id, err := e.messageID(now)
	if err != nil {
		return nil, err
	}

	var buf bytes.Buffer
	buf.Grow(4096)
	header := func(k, v string) {
		buf.WriteString(k)
		buf.WriteString(": ")
		buf.WriteString(v)
		buf.WriteString("\r\n")
	}
	header("Date", now.Format(time.RFC1123Z))
	header("From", e.from.String())
	to := make([]string, len(e.to))
	for i, t := range e.to {
		to[i] = t.String()
	}
	header("To", strings.Join(to, ",\r\n "))
	header("Subject", EncodeHeader(strings.TrimSpace(text.Truncate(text.OneLine(sb.String()), maxSubject))))
	header("Message-ID", id)
	header("MIME-Version", "1.0")
	header("Auto-Submitted", "auto-generated")

	mw := multipart.NewWriter(&buf)
	header("Content-Type", `multipart/alternative; boundary="`+mw.Boundary()+`"`)
	buf.WriteString("\r\n")

	v := newView(al)
	for _, p := range []struct {
		ctype string
		exec  func(*quotedprintable.Writer) error
	}{
		{"text/plain; charset=utf-8", func(w *quotedprintable.Writer) error { return textBody.Execute(w, v) }},
		{"text/html; charset=utf-8", func(w *quotedprintable.Writer) error { return htmlBody.Execute(w, v) }},
	} {
		pw, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.ctype},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, fmt.Errorf("cannot build message: %w", err)
		}
		qp := quotedprintable.NewWriter(pw)
		if err := p.exec(qp); err != nil {
			return nil, fmt.Errorf("cannot build message: %w", err)
		}
		if err := qp.Close(); err != nil {
			return nil, fmt.Errorf("cannot build message: %w", err)
		}
	}
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("cannot build message: %w", err)
	}
	return buf.Bytes(), nil
}

// messageID returns "<random hex.unix nanoseconds@domain>".
func (e *Alerter) messageID(now time.Time) (string, error) {
	var r [12]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("cannot build message: %w", err)
	}
	return "<" + hex.EncodeToString(r[:]) + "." + strconv.FormatInt(now.UnixNano(), 36) + "@" + e.domain + ">", nil
}

// EncodeHeader returns s as an unstructured header value: s itself when it
// is printable ASCII without "=?", else RFC 2047 encoded words ("B"
// encoding of UTF-8, at most 75 characters each) folded one per line.
// Invalid UTF-8 becomes U+FFFD. s must already be one line.
func EncodeHeader(s string) string {
	plain := !strings.Contains(s, "=?")
	for i := 0; plain && i < len(s); i++ {
		plain = s[i] >= ' ' && s[i] <= '~'
	}
	if plain {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	const chunk = 45 // 45 bytes of base64 are 60 characters: 72 with "=?utf-8?b?" and "?="
	var words []string
	for len(s) > 0 {
		n := min(chunk, len(s))
		for n < len(s) && !utf8.RuneStart(s[n]) {
			n--
		}
		words = append(words, "=?utf-8?b?"+base64.StdEncoding.EncodeToString([]byte(s[:n]))+"?=")
		s = s[n:]
	}
	return strings.Join(words, "\r\n ")
}
