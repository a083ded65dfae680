package webapp

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/go-kale/kale/internal/anomalies"
	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/store"
	"github.com/go-kale/kale/internal/store/embedded"
)

// hostile names come from the network: they must round-trip through JSON
// and URLs untouched and unexecuted.
var hostile = []string{`<script>alert(1)</script>`, `quote"s.and'apos`, `ünïcødé.指標.π`, `amp&lt;.x`}

// openStore opens an embedded store in a temporary folder, closed when
// the test ends.
func openStore(t *testing.T) *embedded.Store {
	t.Helper()
	cfg := embedded.DefaultConfig()
	cfg.Dir = t.TempDir()
	st, err := embedded.Open(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// openAnomalies opens an embedded anomaly store (30 days of history) in a
// temporary folder, closed when the test ends.
func openAnomalies(tb testing.TB) *anomalies.Embedded {
	tb.Helper()
	as, err := anomalies.OpenEmbedded(tb.TempDir(), 30*24*time.Hour, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { as.Close() })
	return as
}

func newServer(t *testing.T) (*httptest.Server, store.Store) {
	t.Helper()
	st := openStore(t)
	var samples []series.Sample
	for _, n := range append([]string{"web.a", "web.b", "db.c"}, hostile...) {
		for i := range 5 {
			samples = append(samples, series.Sample{Name: n, Point: series.Point{Timestamp: 1000 + int64(i)*60, Value: float64(i) + 0.5}})
		}
	}
	if err := st.Append(context.Background(), samples); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "kale_test_total", Help: "t"}))
	srv := httptest.NewServer(New(DefaultConfig(), st, reg, nil))
	t.Cleanup(srv.Close)
	return srv, st
}

func get(t *testing.T, srv *httptest.Server, path string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t)
	f := func(path string, wantStatus int, wantBody string) {
		t.Helper()
		status, ctype, body := get(t, srv, path)
		if status != wantStatus {
			t.Errorf("GET %s: status %d, want %d (%s)", path, status, wantStatus, body)
		}
		if strings.HasPrefix(path, "/api") && ctype != "application/json" {
			t.Errorf("GET %s: Content-Type %q", path, ctype)
		}
		if strings.HasPrefix(wantBody, "{") {
			if diff := cmp.Diff(jsonValue(t, wantBody), jsonValue(t, body)); diff != "" {
				t.Errorf("GET %s (-want +got):\n%s", path, diff)
			}
		} else if !strings.Contains(body, wantBody) {
			t.Errorf("GET %s = %q, want it to contain %q", path, body, wantBody)
		}
	}
	f("/healthz", 200, "ok")
	f("/metrics", 200, "kale_test_total 0")
	f("/", 200, `<table id="anomalies">`)
	f("/api/metrics?prefix=web.", 200, `{"metrics": ["web.a", "web.b"]}`)
	f("/api/metrics?prefix=nothing", 200, `{"metrics": []}`)
	f("/api/metrics?contains=.B", 200, `{"metrics": ["web.b"]}`)
	f("/api/metrics?prefix=web.&limit=1", 200, `{"metrics": ["web.a"], "truncated": true}`)
	f("/api/metrics?contains=.&limit=0", 400, `{"error": "limit: want 1 to 100000"}`)
	f("/api/metrics?contains="+url.QueryEscape("指標"), 200, `{"metrics": ["ünïcødé.指標.π"]}`)
	f("/api/series?metric=db.c", 200, `{"metric": "db.c", "points": [[1000,0.5],[1060,1.5],[1120,2.5],[1180,3.5],[1240,4.5]]}`)
	f("/api/series?metric=db.c&from=1060&until=1120", 200, `{"metric": "db.c", "points": [[1060,1.5],[1120,2.5]]}`)
	f("/api/series?metric=db.c&from=5000", 200, `{"metric": "db.c", "points": []}`)
	f("/api/series?metric=nope", 404, `{"error": "no metric by that name: nope"}`)
	f("/api/series", 400, `{"error": "missing parameter: metric"}`)
	f("/api/series?metric=db.c&from=yesterday", 400, `{"error": "from: want UNIX seconds"}`)
	f("/api/series?metric=db.c&from=2&until=1", 400, `{"error": "from is after until"}`)
	f("/api?metric=metrics.db.c", 200, `{"results": [[1000,0.5],[1060,1.5],[1120,2.5],[1180,3.5],[1240,4.5]]}`)
	f("/api?metric=metrics.nope", 404, `{"error": "No metric by that name: metrics.nope", "results": "Error: No metric by that name"}`)
}

func TestNothingChangesOnWrongMethod(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t)
	resp, err := http.Post(srv.URL+"/api/series?metric=db.c", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /api/series: %d, want 405", resp.StatusCode)
	}
}

// Hostile names are served back exactly, as JSON strings (never raw HTML).
func TestHostileNames(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t)
	_, _, body := get(t, srv, "/api/metrics")
	if strings.Contains(body, "<script>") {
		t.Errorf("a raw <script> tag in JSON output: %s", body)
	}
	var list struct{ Metrics []string }
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	for _, n := range hostile {
		if !contains(list.Metrics, n) {
			t.Errorf("%q missing from /api/metrics: %v", n, list.Metrics)
		}
		status, _, body := get(t, srv, "/api/series?metric="+url.QueryEscape(n))
		var s struct {
			Metric string
			Points [][2]float64
		}
		if err := json.Unmarshal([]byte(body), &s); err != nil || status != 200 || s.Metric != n || len(s.Points) != 5 {
			t.Errorf("series %q: status %d, %+v, %v", n, status, s, err)
		}
	}
}

// A store that fails makes /healthz say so with 503.
func TestHealthzFailing(t *testing.T) {
	t.Parallel()
	cfg := embedded.DefaultConfig()
	cfg.Dir = t.TempDir()
	st, err := embedded.Open(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	st.Close() // a closed store answers ErrClosed
	srv := httptest.NewServer(New(DefaultConfig(), st, nil, nil))
	defer srv.Close()
	status, _, body := get(t, srv, "/healthz")
	if status != http.StatusServiceUnavailable || !strings.Contains(body, store.ErrClosed.Error()) {
		t.Fatalf("healthz on a closed store: %d %q", status, body)
	}
	status, _, body = get(t, srv, "/api/metrics")
	if status != 500 || !strings.Contains(body, `"error"`) {
		t.Fatalf("api on a closed store: %d %q", status, body)
	}
	if !errors.Is(st.Ping(context.Background()), store.ErrClosed) {
		t.Fatal("Ping after Close is not ErrClosed")
	}
}

func jsonValue(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad JSON %q: %v", s, err)
	}
	return v
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// GET /api/anomalies serves the analyzer's records, newest first, hostile
// names intact; without an anomaly store it says why.
func TestAPIAnomalies(t *testing.T) {
	t.Parallel()
	srv, st := newServer(t)
	if code, _, body := get(t, srv, "/api/anomalies"); code != http.StatusServiceUnavailable || !strings.Contains(body, `"error"`) {
		t.Errorf("without records: %d %s", code, body)
	}
	as := openAnomalies(t)
	now := time.Now().Unix()
	recs := []anomalies.Record{
		{Metric: "web.a", Timestamp: now - 100, Value: 5, Score: 0.7, Detectors: []string{"grubbs"}, Profile: "default"},
		{Metric: "web.a", Timestamp: now - 2*86400, Value: 6, Score: 0.6, Detectors: []string{"cusum"}, Profile: "default"},
	}
	for i, n := range hostile {
		recs = append(recs, anomalies.Record{Metric: n, Timestamp: now - 10 - int64(i), Value: 1, Score: 0.5, Profile: "classic"})
	}
	if err := as.Add(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	h := New(DefaultConfig(), st, nil, nil).WithAnomalies(as)
	srv2 := httptest.NewServer(h)
	t.Cleanup(srv2.Close)

	type anomaly struct {
		Metric    string   `json:"metric"`
		Timestamp int64    `json:"timestamp"`
		Value     float64  `json:"value"`
		Score     float64  `json:"score"`
		Detectors []string `json:"detectors"`
		Profile   string   `json:"profile"`
	}
	list := func(path string) []anomaly {
		t.Helper()
		code, ctype, body := get(t, srv2, path)
		if code != 200 || ctype != "application/json" {
			t.Fatalf("%s: %d %s %s", path, code, ctype, body)
		}
		var out struct{ Anomalies []anomaly }
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return out.Anomalies
	}
	got := list("/api/anomalies") // the last 24 h by default
	if len(got) != len(hostile)+1 {
		t.Fatalf("default window: %d anomalies, want %d: %+v", len(got), len(hostile)+1, got)
	}
	for i, n := range hostile {
		if got[i].Metric != n || got[i].Detectors == nil {
			t.Errorf("anomaly %d = %+v, want metric %q (newest first) and detectors []", i, got[i], n)
		}
	}
	if diff := cmp.Diff(anomaly{"web.a", now - 100, 5, 0.7, []string{"grubbs"}, "default"}, got[len(got)-1]); diff != "" {
		t.Errorf("web.a (-want +got):\n%s", diff)
	}
	if got := list("/api/anomalies?since=0"); len(got) != len(hostile)+2 {
		t.Errorf("since=0: %d anomalies, want all %d", len(got), len(hostile)+2)
	}
	if got := list("/api/anomalies?since=0&limit=2"); len(got) != 2 {
		t.Errorf("limit=2: %d anomalies", len(got))
	}
	if got := list("/api/anomalies?since=0&metric=web.a"); len(got) != 2 || got[0].Timestamp != now-100 {
		t.Errorf("metric=web.a: %+v", got)
	}
	if got := list("/api/anomalies?metric=" + url.QueryEscape(hostile[0])); len(got) != 1 || got[0].Metric != hostile[0] {
		t.Errorf("hostile metric: %+v", got)
	}
	for _, q := range []string{"since=yesterday", "limit=0", "limit=x", "limit=1000000"} {
		if code, _, body := get(t, srv2, "/api/anomalies?"+q); code != http.StatusBadRequest || !strings.Contains(body, `"error"`) {
			t.Errorf("%s: %d %s, want 400 with an error", q, code, body)
		}
	}
}
