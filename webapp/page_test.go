package webapp

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-kale/kale/internal/anomalies"
	"github.com/go-kale/kale/internal/series"
)

// The page escapes what the query string puts into it, sends its
// security headers, and links only its own files, embedded in the binary.
func TestPage(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t)
	for _, name := range hostile {
		q := url.Values{"metric": {name}, "filter": {name}, "window": {"86400"}}
		resp, err := http.Get(srv.URL + "/?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("GET / %q: %d %s", name, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if strings.Contains(body, "<script>alert") || strings.Contains(body, `quote"s`) {
			t.Errorf("GET /?metric=%q put the name into the page unescaped:\n%s", name, body)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("Content-Security-Policy %q", csp)
		}
		if !strings.Contains(body, `<option value="86400" selected>`) {
			t.Errorf("window=86400 is not the selected option")
		}
		for _, ref := range []string{`src="/static/app.js?v=` + staticVersion, `href="/static/kale.css?v=` + staticVersion} {
			if !strings.Contains(body, ref) {
				t.Errorf("the page does not reference %s", ref)
			}
		}
		if strings.Contains(body, "http://") || strings.Contains(body, "https://") {
			t.Errorf("the page loads something from elsewhere")
		}
	}
	for _, f := range []struct{ path, ctype, cache string }{
		{"/static/app.js?v=" + staticVersion, "text/javascript", "immutable"},
		{"/static/kale.css?v=" + staticVersion, "text/css", "immutable"},
		{"/static/app.js", "text/javascript", "no-cache"},
	} {
		resp, err := http.Get(srv.URL + f.path)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), f.ctype) ||
			!strings.Contains(resp.Header.Get("Cache-Control"), f.cache) || len(body) < 100 {
			t.Errorf("GET %s: %d %q %q, %d bytes", f.path, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"), len(body))
		}
	}
	if code, _, _ := get(t, srv, "/static/nope.js"); code != 404 {
		t.Errorf("GET /static/nope.js: %d", code)
	}
}

// /graph.svg draws a metric's window as well-formed SVG whatever its
// name, marks its recorded anomalies, and answers bad requests in JSON.
func TestGraphSVG(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	as, err := anomalies.OpenEmbedded(t.TempDir(), 30*24*time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { as.Close() })
	now := time.Now().Unix() / 60 * 60
	var samples []series.Sample
	var recs []anomalies.Record
	for _, n := range hostile {
		for ts := now - 7200; ts <= now; ts += 60 {
			samples = append(samples, series.Sample{Name: n, Point: series.Point{Timestamp: ts, Value: float64(ts % 7)}})
		}
		recs = append(recs, anomalies.Record{Metric: n, Timestamp: now - 600, Value: float64((now - 600) % 7), Score: 1},
			anomalies.Record{Metric: n, Timestamp: now - 5400, Value: float64((now - 5400) % 7), Score: 1})
	}
	if err := st.Append(context.Background(), samples); err != nil {
		t.Fatal(err)
	}
	if err := as.Add(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(DefaultConfig(), st, nil, nil).WithAnomalies(as))
	t.Cleanup(srv.Close)

	for _, name := range hostile {
		for _, c := range []struct {
			query   string
			anomaly int // anomalies marked
		}{{"", 1}, {"&range=86400", 2}, {"&from=" + itoa(now-1200) + "&until=" + itoa(now), 1}} {
			resp, err := http.Get(srv.URL + "/graph.svg?metric=" + url.QueryEscape(name) + c.query)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, resp)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" {
				t.Fatalf("graph of %q%s: %d %s %s", name, c.query, resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			if err := xml.Unmarshal([]byte(body), new(struct{})); err != nil {
				t.Errorf("graph of %q%s is not well-formed: %v", name, c.query, err)
			}
			if strings.Contains(body, "<script") {
				t.Errorf("graph of %q holds a script element", name)
			}
			es := parseSVG(t, []byte(body))
			if got := len(elements(es, "circle", "anomaly")); got != c.anomaly {
				t.Errorf("graph of %q%s marks %d anomalies, want %d", name, c.query, got, c.anomaly)
			}
			if len(elements(es, "path", "series")) != 1 {
				t.Errorf("graph of %q%s has no series path", name, c.query)
			}
			if title := elements(es, "title", ""); len(title) == 0 || !strings.HasPrefix(title[0].Text, name) {
				t.Errorf("graph of %q: title %+v", name, title)
			}
		}
	}
	for _, c := range []struct {
		query  string
		status int
	}{
		{"", 400}, {"?metric=nope", 404}, {"?metric=web&range=10", 400}, {"?metric=web&range=x", 400},
		{"?metric=web&from=5&until=1", 400}, {"?metric=web&from=0&until=99999999", 400},
	} {
		code, ctype, body := get(t, srv, "/graph.svg"+c.query)
		if code != c.status || ctype != "application/json" || !strings.Contains(body, `"error"`) {
			t.Errorf("GET /graph.svg%s: %d %s %s; want %d with a JSON error", c.query, code, ctype, body, c.status)
		}
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
