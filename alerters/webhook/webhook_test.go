package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/go-kale/kale/alerters"
	"github.com/go-kale/kale/alerters/internal/alerttest"
)

const (
	token      = "T0KEN-in-the-path-0123456789"
	authHeader = "Bearer s3cret-bearer-value"
)

// receiver records requests and answers with queued status codes (200
// when the queue is empty).
type receiver struct {
	mu       sync.Mutex
	bodies   []string
	headers  []http.Header
	paths    []string
	statuses []int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.bodies = append(r.bodies, string(body))
	r.headers = append(r.headers, req.Header.Clone())
	r.paths = append(r.paths, req.Method+" "+req.URL.RequestURI())
	code := http.StatusOK
	if len(r.statuses) > 0 {
		code, r.statuses = r.statuses[0], r.statuses[1:]
	}
	r.mu.Unlock()
	if code == http.StatusFound {
		w.Header().Set("Location", "/elsewhere")
	}
	w.WriteHeader(code)
	fmt.Fprintf(w, "echo %s %s", req.URL.Path, req.Header.Get("Authorization"))
}

// start serves r and returns a config posting to it (URL with the token
// in its path, an Authorization header).
func start(t *testing.T, r *receiver) Config {
	t.Helper()
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	c := DefaultConfig()
	c.URL = alerters.Secret(srv.URL + "/hooks/" + token)
	c.Headers = map[string]alerters.Secret{"Authorization": authHeader, "X-Kale-Test": "yes"}
	return c
}

func newAlerter(t testing.TB, c Config) *Alerter {
	t.Helper()
	a, err := New("hook", c, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestKaleFormat(t *testing.T) {
	r := &receiver{}
	a := newAlerter(t, start(t, r))
	al := alerttest.Alert()
	if err := a.Send(context.Background(), al); err != nil {
		t.Fatalf("Send: %v", err)
	}
	al.Kind, al.Value, al.Detectors, al.Link = alerters.Resolve, alerttest.NaN, nil, ""
	if err := a.Send(context.Background(), al); err != nil {
		t.Fatalf("Send: %v", err)
	}
	want := []any{
		alerttest.JSON(t, `{"kind": "trigger", "metric": "web.api.latency", "timestamp": 1700000000, "value": 812.5,
		  "score": 0.875, "detectors": ["grubbs", "ks_test"], "profile": "default", "rule": "web.*",
		  "link": "https://kale.example/?metric=web.api.latency", "dedup_key": "rule1/pd/web.api.latency"}`),
		alerttest.JSON(t, `{"kind": "resolve", "metric": "web.api.latency", "timestamp": 1700000000, "value": null,
		  "score": 0.875, "detectors": [], "profile": "default", "rule": "web.*",
		  "link": "", "dedup_key": "rule1/pd/web.api.latency"}`),
	}
	got := []any{alerttest.JSON(t, r.bodies[0]), alerttest.JSON(t, r.bodies[1])}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("bodies (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"POST /hooks/" + token, "POST /hooks/" + token}, r.paths); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	h := r.headers[0]
	for k, want := range map[string]string{"Content-Type": "application/json", "Authorization": authHeader, "X-Kale-Test": "yes", "User-Agent": "kale-alerter"} {
		if got := h.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
}

func TestSlackFormat(t *testing.T) {
	r := &receiver{}
	c := start(t, r)
	c.Format = FormatSlack
	a := newAlerter(t, c)
	al := alerttest.Alert()
	al.Metric = "web.<api>&co"
	if err := a.Send(context.Background(), al); err != nil {
		t.Fatalf("Send: %v", err)
	}
	want := alerttest.JSON(t, `{
	  "text": "[kale] anomaly: web.&lt;api&gt;&amp;co value=812.5 score=0.875",
	  "blocks": [
	    {"type": "section", "text": {"type": "mrkdwn",
	      "text": ":rotating_light: *[kale] anomaly:* web.&lt;api&gt;&amp;co\n<https://kale.example/?metric=web.api.latency|View in Kale>"}},
	    {"type": "section", "fields": [
	      {"type": "mrkdwn", "text": "*Value*\n812.5"},
	      {"type": "mrkdwn", "text": "*Score*\n0.875"},
	      {"type": "mrkdwn", "text": "*Time*\n2023-11-14T22:13:20Z (1700000000)"},
	      {"type": "mrkdwn", "text": "*Detectors*\ngrubbs, ks_test"},
	      {"type": "mrkdwn", "text": "*Profile*\ndefault"},
	      {"type": "mrkdwn", "text": "*Rule*\nweb.*"}
	    ]}
	  ]
	}`)
	if diff := cmp.Diff(want, alerttest.JSON(t, r.bodies[0])); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
}

// slackLimits are Slack's limits on a section text and a field text.
const (
	slackSectionLimit = 3000
	slackFieldLimit   = 2000
)

func TestHostileAlerts(t *testing.T) {
	for _, format := range []string{FormatKale, FormatSlack} {
		r := &receiver{}
		c := start(t, r)
		c.Format = format
		a := newAlerter(t, c)
		for name, al := range alerttest.Hostile() {
			t.Run(format+"/"+name, func(t *testing.T) {
				n := len(r.bodies)
				if err := a.Send(context.Background(), al); err != nil {
					t.Fatalf("Send: %v", err)
				}
				body := r.bodies[n]
				if format == FormatKale {
					var p payload
					if err := json.Unmarshal([]byte(body), &p); err != nil {
						t.Fatalf("invalid JSON: %v", err)
					}
					if want := string([]rune(al.Metric)); p.Metric != want {
						t.Errorf("metric = %q, want %q", p.Metric, want)
					}
					return
				}
				var m slackMessage
				if err := json.Unmarshal([]byte(body), &m); err != nil {
					t.Fatalf("invalid JSON: %v", err)
				}
				texts := []string{m.Text, m.Blocks[0].Text.Text}
				if len([]rune(m.Blocks[0].Text.Text)) > slackSectionLimit {
					t.Errorf("section text has %d characters", len([]rune(m.Blocks[0].Text.Text)))
				}
				for _, f := range m.Blocks[1].Fields {
					texts = append(texts, f.Text)
					if len([]rune(f.Text)) > slackFieldLimit {
						t.Errorf("field text has %d characters", len([]rune(f.Text)))
					}
				}
				for _, s := range texts {
					// Only our own <url|text> link may hold < or >.
					s = strings.Replace(s, "<"+slackURL(al.Link)+"|View in Kale>", "", 1)
					if strings.ContainsAny(s, "<>") {
						t.Errorf("unescaped < or > in %q", s)
					}
				}
			})
		}
	}
}

func TestStatusCodes(t *testing.T) {
	tests := []struct {
		status        int
		wantErr       bool
		wantRetryable bool
	}{
		{200, false, false},
		{201, false, false},
		{204, false, false},
		{302, true, false},
		{400, true, false},
		{401, true, false},
		{403, true, false},
		{404, true, false},
		{408, true, true},
		{410, true, false},
		{429, true, true},
		{500, true, true},
		{503, true, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			r := &receiver{statuses: []int{tt.status}}
			var logs bytes.Buffer
			c := start(t, r)
			a, err := New("hook", c, slog.New(slog.NewJSONHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			err = a.Send(context.Background(), alerttest.Alert())
			if (err != nil) != tt.wantErr {
				t.Fatalf("Send = %v, want error %v", err, tt.wantErr)
			}
			if len(r.bodies) != 1 {
				t.Errorf("%d requests, want 1", len(r.bodies))
			}
			if err == nil {
				return
			}
			if got := alerters.Retryable(err); got != tt.wantRetryable {
				t.Errorf("Retryable(%v) = %v, want %v", err, got, tt.wantRetryable)
			}
			var se *alerters.StatusError
			if !errors.As(err, &se) || se.Code != tt.status {
				t.Errorf("%v is not a StatusError %d", err, tt.status)
			}
			// The receiver echoes the path and the Authorization header.
			alerttest.NoSecret(t, token, err.Error(), fmt.Sprintf("%+v %#v", err, err))
			alerttest.NoSecret(t, "s3cret-bearer-value", err.Error(), fmt.Sprintf("%+v %#v", err, err))
		})
	}
}

func TestNetworkErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	c := DefaultConfig()
	c.URL = alerters.Secret(srv.URL + "/hooks/" + token)
	srv.Close()
	a := newAlerter(t, c)
	err := a.Send(context.Background(), alerttest.Alert())
	if err == nil || !alerters.Retryable(err) {
		t.Errorf("Send to a closed server = %v, want a retryable error", err)
	}
	alerttest.NoSecret(t, token, fmt.Sprint(err))

	// A receiver slower than the timeout.
	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer slow.Close()
	defer close(block)
	c.URL = alerters.Secret(slow.URL + "/hooks/" + token)
	c.Timeout = 50 * time.Millisecond
	a = newAlerter(t, c)
	err = a.Send(context.Background(), alerttest.Alert())
	if err == nil || !alerters.Retryable(err) {
		t.Errorf("Send to a slow receiver = %v, want a retryable timeout", err)
	}
	alerttest.NoSecret(t, token, fmt.Sprint(err))
}

func TestValidate(t *testing.T) {
	valid := func() Config {
		c := DefaultConfig()
		c.URL = "https://hooks.example.com/x"
		return c
	}
	alerttest.Invalid(t, valid, func(c Config) error { _, err := New("x", c, nil); return err }, []alerttest.InvalidCase[Config]{
		{"no url", func(c *Config) { c.URL = "" }, "url: is required"},
		{"bad scheme", func(c *Config) { c.URL = "ftp://hooks.example.com/" + token }, `url: scheme must be "http" or "https"`},
		{"no host", func(c *Config) { c.URL = "https:///" + token }, "url: has no host"},
		{"empty env", func(c *Config) { c.URL = "env:" }, `url: "env:" names no environment variable`},
		{"bad format", func(c *Config) { c.Format = "teams" }, `format: must be "kale" or "slack", got "teams"`},
		{"bad timeout", func(c *Config) { c.Timeout = 0 }, "timeout: must be positive"},
		{"bad header name", func(c *Config) { c.Headers = map[string]alerters.Secret{"Bad Name": "x"} }, `headers: "Bad Name": is not a valid header name`},
		{"host header", func(c *Config) { c.Headers = map[string]alerters.Secret{"host": "x"} }, `headers: "host": is set by the HTTP client`},
		{"header injection", func(c *Config) { c.Headers = map[string]alerters.Secret{"X-A": "a\r\nX-B: b"} }, `headers: "X-A": value holds a control character`},
	}, func(t *testing.T, err error) { alerttest.NoSecret(t, token, err.Error()) })
}

func TestSecretsFromEnv(t *testing.T) {
	r := &receiver{}
	c := start(t, r)
	t.Setenv("KALE_TEST_HOOK_URL", c.URL.Reveal())
	t.Setenv("KALE_TEST_HOOK_AUTH", "Bearer from-env")
	c.URL = "env:KALE_TEST_HOOK_URL"
	c.Headers = map[string]alerters.Secret{"Authorization": "env:KALE_TEST_HOOK_AUTH"}
	a := newAlerter(t, c)
	if err := a.Send(context.Background(), alerttest.Alert()); err != nil {
		t.Fatal(err)
	}
	if got := r.headers[0].Get("Authorization"); got != "Bearer from-env" {
		t.Errorf("Authorization = %q", got)
	}
	t.Setenv("KALE_TEST_HOOK_AUTH", "")
	if _, err := New("hook", c, nil); err == nil || !strings.Contains(err.Error(), "environment variable KALE_TEST_HOOK_AUTH is empty or unset") {
		t.Errorf("New with an unset variable: %v", err)
	}
}

func TestNoSecretInPrints(t *testing.T) {
	r := &receiver{statuses: []int{400}}
	c := start(t, r)
	a := newAlerter(t, c)
	var logs bytes.Buffer
	lg := slog.New(slog.NewJSONHandler(&logs, nil))
	lg.Info("config", "config", c, "alerter", a)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "config", c, "alerter", a)
	err := a.Send(context.Background(), alerttest.Alert())
	lg.Warn("failed", "err", err)
	for _, secret := range []string{token, "s3cret-bearer-value"} {
		alerttest.NoSecret(t, secret,
			fmt.Sprintf("%v %+v %#v", c, c, c),
			fmt.Sprintf("%v %+v %#v %s %d", a, a, a, a, a),
			fmt.Sprintf("%v %+v %#v", *a, *a, *a),
			fmt.Sprintf("%v %+v %#v", err, err, err),
			logs.String())
	}
}

func BenchmarkKalePayload(b *testing.B) {
	al := alerttest.Alert()
	body, _ := KalePayload(al)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := KalePayload(al); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSlackPayload(b *testing.B) {
	al := alerttest.Alert()
	body, _ := SlackPayload(al)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SlackPayload(al); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }))
	defer srv.Close()
	c := DefaultConfig()
	c.URL = alerters.Secret(srv.URL)
	a := newAlerter(b, c)
	al := alerttest.Alert()
	b.ReportAllocs()
	for b.Loop() {
		if err := a.Send(context.Background(), al); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzSlackPayload(f *testing.F) {
	for _, al := range alerttest.Hostile() {
		f.Add(al.Metric, al.Rule, al.Link)
	}
	f.Fuzz(func(t *testing.T, metric, rule, link string) {
		al := alerttest.Alert()
		al.Metric, al.Rule, al.Link = metric, rule, link
		body, err := SlackPayload(al)
		if err != nil {
			t.Fatal(err)
		}
		var m slackMessage
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("invalid JSON: %v", err)
		}
		s := strings.Replace(m.Blocks[0].Text.Text, "<"+slackURL(link)+"|View in Kale>", "", 1)
		if strings.ContainsAny(s, "<>") || strings.ContainsAny(m.Blocks[1].Fields[5].Text, "<>") {
			t.Errorf("unescaped markup: %q / %q", s, m.Blocks[1].Fields[5].Text)
		}
		if len([]rune(m.Blocks[0].Text.Text)) > slackSectionLimit {
			t.Errorf("section text has %d characters", len([]rune(m.Blocks[0].Text.Text)))
		}
		kale, err := KalePayload(al)
		if err != nil {
			t.Fatal(err)
		}
		var p payload
		if err := json.Unmarshal(kale, &p); err != nil || p.Metric != string([]rune(metric)) {
			t.Errorf("kale payload metric = %q, %v; want %q", p.Metric, err, metric)
		}
	})
}
