package pagerduty

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

const routingKey = "R0UT1NGKEY-very-secret-0123456789"

// events is a fake Events API endpoint: it records every request body
// (decoded as JSON) and answers with the queued status codes (202 when
// the queue is empty).
type events struct {
	mu       sync.Mutex
	bodies   []any
	ctypes   []string
	statuses []int
	header   http.Header // extra answer headers
}

func (e *events) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		v = "invalid JSON: " + string(body)
	}
	e.mu.Lock()
	e.bodies = append(e.bodies, v)
	e.ctypes = append(e.ctypes, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type"))
	code := http.StatusAccepted
	if len(e.statuses) > 0 {
		code, e.statuses = e.statuses[0], e.statuses[1:]
	}
	for k, vs := range e.header {
		w.Header()[k] = vs
	}
	e.mu.Unlock()
	w.WriteHeader(code)
	if code == http.StatusAccepted {
		fmt.Fprint(w, `{"status":"success","message":"Event processed","dedup_key":"x"}`)
	} else {
		fmt.Fprintf(w, `{"status":"invalid event","message":"Event object is invalid %s","errors":["x"]}`, routingKey)
	}
}

// start serves e and returns an alerter posting to it.
func start(t *testing.T, e *events) *Alerter {
	t.Helper()
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	c := DefaultConfig()
	c.RoutingKey = routingKey
	c.URL = srv.URL + "/v2/enqueue"
	c.Source = "kale-host"
	a, err := New("pd", c, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestTriggerAndResolve(t *testing.T) {
	e := &events{}
	a := start(t, e)
	al := alerttest.Alert()
	if err := a.Send(context.Background(), al); err != nil {
		t.Fatalf("Send trigger: %v", err)
	}
	al.Kind = alerters.Resolve
	if err := a.Send(context.Background(), al); err != nil {
		t.Fatalf("Send resolve: %v", err)
	}
	want := []any{
		alerttest.JSON(t, `{
		  "routing_key": "`+routingKey+`",
		  "event_action": "trigger",
		  "dedup_key": "rule1/pd/web.api.latency",
		  "payload": {
		    "summary": "[kale] anomaly: web.api.latency value=812.5 score=0.875 rule=web.*",
		    "source": "kale-host",
		    "severity": "error",
		    "timestamp": "2023-11-14T22:13:20Z",
		    "component": "web.api.latency",
		    "custom_details": {
		      "value": 812.5,
		      "score": 0.875,
		      "detectors": ["grubbs", "ks_test"],
		      "profile": "default",
		      "rule": "web.*"
		    }
		  },
		  "links": [{"href": "https://kale.example/?metric=web.api.latency", "text": "View in Kale"}]
		}`),
		alerttest.JSON(t, `{
		  "routing_key": "`+routingKey+`",
		  "event_action": "resolve",
		  "dedup_key": "rule1/pd/web.api.latency"
		}`),
	}
	if diff := cmp.Diff(want, e.bodies); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"POST /v2/enqueue application/json", "POST /v2/enqueue application/json"}, e.ctypes); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func TestEventEdgeCases(t *testing.T) {
	e := &events{}
	a := start(t, e)
	al := alerttest.Alert()
	al.Link, al.DedupKey = "", ""
	al.Value = alerttest.NaN
	al.Detectors = nil
	if err := a.Send(context.Background(), al); err != nil {
		t.Fatalf("Send: %v", err)
	}
	want := alerttest.JSON(t, `{
	  "routing_key": "`+routingKey+`",
	  "event_action": "trigger",
	  "payload": {
	    "summary": "[kale] anomaly: web.api.latency value=NaN score=0.875 rule=web.*",
	    "source": "kale-host",
	    "severity": "error",
	    "timestamp": "2023-11-14T22:13:20Z",
	    "component": "web.api.latency",
	    "custom_details": {"value": null, "score": 0.875, "detectors": [], "profile": "default", "rule": "web.*"}
	  }
	}`)
	if diff := cmp.Diff(want, e.bodies[0]); diff != "" {
		t.Errorf("event (-want +got):\n%s", diff)
	}

	al.Kind = alerters.Resolve
	err := a.Send(context.Background(), al)
	if err == nil || alerters.Retryable(err) || !strings.Contains(err.Error(), "a resolve needs a dedup key") {
		t.Errorf("resolve without dedup key: err = %v, want a permanent error", err)
	}
	if len(e.bodies) != 1 {
		t.Errorf("a resolve without dedup key was posted")
	}
}

func TestLongFields(t *testing.T) {
	a := start(t, &events{})
	al := alerttest.Alert()
	al.Metric = strings.Repeat("é", 2000)
	al.DedupKey = strings.Repeat("k", 300)
	al.Detectors = make([]string, 250)
	body, err := a.Event(al)
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		DedupKey string `json:"dedup_key"`
		Payload  struct {
			Summary       string `json:"summary"`
			Component     string `json:"component"`
			CustomDetails struct {
				Detectors []string `json:"detectors"`
			} `json:"custom_details"`
		} `json:"payload"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.Payload.Summary) > 1024 || !strings.HasSuffix(ev.Payload.Summary, "…") {
		t.Errorf("summary has %d bytes (ends %q), want at most 1024 ending in …", len(ev.Payload.Summary), ev.Payload.Summary[len(ev.Payload.Summary)-8:])
	}
	if len(ev.Payload.Component) > 1024 {
		t.Errorf("component has %d bytes", len(ev.Payload.Component))
	}
	if want := DedupKey(al.DedupKey); ev.DedupKey != want || len(want) != 69 || !strings.HasPrefix(want, "kale-") {
		t.Errorf("dedup_key = %q, want %q (69 bytes)", ev.DedupKey, want)
	}
	if n := len(ev.Payload.CustomDetails.Detectors); n != 101 || ev.Payload.CustomDetails.Detectors[100] != "… (150 more)" {
		t.Errorf("detectors: %d, last %q", n, ev.Payload.CustomDetails.Detectors[n-1])
	}
}

func TestStatusCodes(t *testing.T) {
	tests := []struct {
		status        int
		wantErr       bool
		wantRetryable bool
	}{
		{http.StatusAccepted, false, false},
		{http.StatusOK, true, false}, // only 202 means the event was taken
		{http.StatusBadRequest, true, false},
		{http.StatusUnauthorized, true, false},
		{http.StatusForbidden, true, false},
		{http.StatusNotFound, true, false},
		{http.StatusFound, true, false},
		{http.StatusRequestTimeout, true, true},
		{http.StatusTooManyRequests, true, true},
		{http.StatusInternalServerError, true, true},
		{http.StatusBadGateway, true, true},
		{http.StatusServiceUnavailable, true, true},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			e := &events{statuses: []int{tt.status}, header: http.Header{"Location": {"http://127.0.0.1:1/elsewhere"}}}
			a := start(t, e)
			err := a.Send(context.Background(), alerttest.Alert())
			if (err != nil) != tt.wantErr {
				t.Fatalf("Send = %v, want error %v", err, tt.wantErr)
			}
			if err == nil {
				return
			}
			if got := alerters.Retryable(err); got != tt.wantRetryable {
				t.Errorf("Retryable(%v) = %v, want %v", err, got, tt.wantRetryable)
			}
			var se *alerters.StatusError
			if !errors.As(err, &se) || se.Code != tt.status {
				t.Errorf("error %v is not a StatusError with code %d", err, tt.status)
			}
			if strings.Contains(err.Error(), routingKey) {
				t.Errorf("the routing key leaked into the error: %v", err)
			}
			if len(e.bodies) != 1 {
				t.Errorf("server got %d requests, want 1 (no redirect followed)", len(e.bodies))
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	e := &events{statuses: []int{http.StatusTooManyRequests}, header: http.Header{"Retry-After": {"7"}}}
	err := start(t, e).Send(context.Background(), alerttest.Alert())
	var se *alerters.StatusError
	if !errors.As(err, &se) || se.RetryAfter != 7*time.Second {
		t.Errorf("Send = %v, want a StatusError with RetryAfter 7s", err)
	}
}

func TestNetworkErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c := DefaultConfig()
	c.RoutingKey, c.URL = routingKey, url
	a, err := New("pd", c, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = a.Send(context.Background(), alerttest.Alert())
	if err == nil || !alerters.Retryable(err) || strings.Contains(err.Error(), routingKey) {
		t.Errorf("Send to a closed server = %v, want a retryable error without the key", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.Send(ctx, alerttest.Alert()); !errors.Is(err, context.Canceled) {
		t.Errorf("Send with a cancelled context = %v, want context.Canceled", err)
	}
}

func TestHostileAlerts(t *testing.T) {
	e := &events{}
	a := start(t, e)
	for name, al := range alerttest.Hostile() {
		t.Run(name, func(t *testing.T) {
			n := len(e.bodies)
			err := a.Send(context.Background(), al)
			if al.Kind == alerters.Resolve && al.DedupKey == "" {
				if err == nil || alerters.Retryable(err) {
					t.Errorf("resolve without dedup key: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if len(e.bodies) != n+1 {
				t.Fatalf("server got %d events, want %d", len(e.bodies), n+1)
			}
			if s, ok := e.bodies[n].(string); ok {
				t.Fatalf("server got %s", s)
			}
			if al.Kind == alerters.Trigger {
				p := e.bodies[n].(map[string]any)["payload"].(map[string]any)
				if s := p["summary"].(string); len(s) > 1024 || strings.ContainsAny(s, "\r\n") {
					t.Errorf("summary %q", s)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	valid := func() Config {
		c := DefaultConfig()
		c.RoutingKey = "k"
		return c
	}
	alerttest.Invalid(t, valid, func(c Config) error { _, err := New("x", c, nil); return err }, []alerttest.InvalidCase[Config]{
		{"no routing key", func(c *Config) { c.RoutingKey = "" }, "routing_key: is required"},
		{"empty env", func(c *Config) { c.RoutingKey = "env:" }, `routing_key: "env:" names no environment variable`},
		{"bad url", func(c *Config) { c.URL = "ftp://x" }, "url: must be an http or https URL"},
		{"no url", func(c *Config) { c.URL = "" }, "url: "},
		{"bad severity", func(c *Config) { c.Severity = "high" }, `severity: must be critical, error, warning or info, got "high"`},
		{"bad timeout", func(c *Config) { c.Timeout = -time.Second }, "timeout: must be positive"},
		{"long source", func(c *Config) { c.Source = strings.Repeat("s", 2000) }, "source: longer than 1024 bytes"},
	}, nil)
}

func TestRoutingKeyFromEnv(t *testing.T) {
	e := &events{}
	srv := httptest.NewServer(e)
	defer srv.Close()
	c := DefaultConfig()
	c.URL = srv.URL
	c.RoutingKey = "env:KALE_TEST_PD_KEY"
	t.Setenv("KALE_TEST_PD_KEY", "")
	if _, err := New("pd", c, nil); err == nil || !strings.Contains(err.Error(), "environment variable KALE_TEST_PD_KEY is empty or unset") {
		t.Fatalf("New with the variable unset: %v", err)
	}
	t.Setenv("KALE_TEST_PD_KEY", "key-from-env")
	a, err := New("pd", c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Send(context.Background(), alerttest.Alert()); err != nil {
		t.Fatal(err)
	}
	if got := e.bodies[0].(map[string]any)["routing_key"]; got != "key-from-env" {
		t.Errorf("routing_key = %v", got)
	}
}

func TestNoSecretInPrints(t *testing.T) {
	e := &events{statuses: []int{400, 500}}
	a := start(t, e)
	c := DefaultConfig()
	c.RoutingKey = routingKey
	var logs bytes.Buffer
	lg := slog.New(slog.NewJSONHandler(&logs, nil))
	lg.Info("config", "config", c, "alerter", a)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "config", c, "alerter", a)
	err1 := a.Send(context.Background(), alerttest.Alert())
	err2 := a.Send(context.Background(), alerttest.Alert())
	lg.Warn("failed", "err", err1, "err2", err2)
	alerttest.NoSecret(t, routingKey,
		fmt.Sprintf("%v %+v %#v", c, c, c),
		fmt.Sprintf("%v %+v %#v %s %d", a, a, a, a, a),
		fmt.Sprintf("%v %+v %#v", *a, *a, *a),
		fmt.Sprintf("%v %+v %#v", err1, err2, err1),
		logs.String())
}

func BenchmarkEvent(b *testing.B) {
	c := DefaultConfig()
	c.RoutingKey = routingKey
	a, err := New("pd", c, nil)
	if err != nil {
		b.Fatal(err)
	}
	al := alerttest.Alert()
	body, _ := a.Event(al)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Event(al); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzEvent(f *testing.F) {
	for _, al := range alerttest.Hostile() {
		f.Add(al.Metric, al.Rule, al.DedupKey, al.Value)
	}
	c := DefaultConfig()
	c.RoutingKey = routingKey
	a, err := New("pd", c, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, metric, rule, dedup string, value float64) {
		al := alerttest.Alert()
		al.Metric, al.Rule, al.DedupKey, al.Value = metric, rule, dedup, value
		body, err := a.Event(al)
		if err != nil {
			t.Fatal(err)
		}
		var ev event
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Fatalf("invalid JSON %s: %v", body, err)
		}
		if len(ev.Payload.Summary) > maxSummary || len(ev.DedupKey) > maxDedupKey || strings.ContainsAny(ev.Payload.Summary, "\r\n") {
			t.Errorf("limits broken: summary %d bytes, dedup_key %d", len(ev.Payload.Summary), len(ev.DedupKey))
		}
	})
}
