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
	// Files only: no folder listing, and a missing file is not cached for long.
	for _, path := range []string{"/static/nope.js", "/static/", "/static/nope.js?v=" + staticVersion, "/static/..%2fpage.go"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		if resp.StatusCode != 404 || strings.Contains(resp.Header.Get("Cache-Control"), "immutable") || strings.Contains(body, "app.js") {
			t.Errorf("GET %s: %d %q %q", path, resp.StatusCode, resp.Header.Get("Cache-Control"), body)
		}
	}
}

// Every page escapes what its query string or path puts into it, sends
// the security headers, loads the shared and its own script, and marks
// its link in the navigation; the read-only mode leaves out the forms
// that change state.
func TestPages(t *testing.T) {
	t.Parallel()
	for _, readOnly := range []bool{false, true} {
		cfg := DefaultConfig()
		cfg.ReadOnly = readOnly
		srv := httptest.NewServer(New(cfg, openStore(t), nil, nil))
		t.Cleanup(srv.Close)
		for _, name := range hostile {
			for _, c := range []struct {
				path, script, nav string
				want, notReadOnly []string // in the page; in the page unless read-only
			}{
				{"/search?q=" + url.QueryEscape(name), "search", "/search", []string{`id="draw"`, `list="name-suggestions"`}, nil},
				{"/collections", "collections", "/collections", []string{`<table id="collections">`}, []string{`id="create-form"`}},
				{"/collections/" + url.PathEscape(name), "collection", "/collections", []string{`id="members"`}, []string{`id="delete"`, `id="edit-form"`}},
				{"/metric?range=604800&name=" + url.QueryEscape(name), "metric", "", []string{`<option value="604800" selected>`, `<table id="past">`}, nil},
				{"/?metric=" + url.QueryEscape(name), "app", "/", []string{`<table id="anomalies">`}, nil},
			} {
				resp, err := http.Get(srv.URL + c.path)
				if err != nil {
					t.Fatal(err)
				}
				body := readAll(t, resp)
				if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
					t.Fatalf("GET %s: %d %s", c.path, resp.StatusCode, resp.Header.Get("Content-Type"))
				}
				if strings.Contains(body, "<script>alert") || strings.Contains(body, `quote"s`) || strings.Contains(body, "amp&lt;") {
					t.Errorf("GET %s put the name into the page unescaped:\n%s", c.path, body)
				}
				if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
					t.Errorf("GET %s: no Content-Security-Policy", c.path)
				}
				for _, want := range []string{`src="/static/common.js?v=` + staticVersion, `src="/static/` + c.script + `.js?v=` + staticVersion} {
					if !strings.Contains(body, want) {
						t.Errorf("GET %s does not load %s", c.path, want)
					}
				}
				if c.nav != "" && !strings.Contains(body, `<a href="`+c.nav+`" aria-current="page">`) {
					t.Errorf("GET %s does not mark its navigation link %s", c.path, c.nav)
				}
				for _, want := range c.want {
					if !strings.Contains(body, want) {
						t.Errorf("GET %s lacks %s", c.path, want)
					}
				}
				for _, want := range c.notReadOnly {
					if strings.Contains(body, want) == readOnly {
						t.Errorf("GET %s, read-only %v: has %s %v", c.path, readOnly, want, !readOnly)
					}
				}
				if strings.Contains(body, `data-readonly="true"`) != readOnly {
					t.Errorf("GET %s, read-only %v: data-readonly wrong", c.path, readOnly)
				}
			}
		}
		// Every script the pages load is served.
		for _, js := range []string{"common", "app", "search", "collections", "collection", "metric"} {
			if code, ctype, body := get(t, srv, "/static/"+js+".js?v="+staticVersion); code != 200 || ctype != "text/javascript; charset=utf-8" || len(body) < 500 {
				t.Errorf("GET /static/%s.js: %d %s, %d bytes", js, code, ctype, len(body))
			}
		}
	}
	// A metric's page without a name sends to the search page.
	srv, _ := newServer(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(srv.URL + "/metric")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/search" {
		t.Errorf("GET /metric: %d to %q, want 303 to /search", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// /graph.svg draws a metric's window as well-formed SVG whatever its
// name, marks its recorded anomalies, and answers bad requests in JSON.
func TestGraphSVG(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	as := openAnomalies(t)
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
		}{{"", 1}, {"&range=86400", 2}, {"&from=" + itoa(now-1200) + "&until=" + itoa(now), 1},
			{"&from=" + itoa(now-1200) + "&until=" + itoa(now) + "&size=small", 1}, {"&width=480", 1}} {
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
			// A small graph is shorter and leaves its name to the page.
			small := strings.Contains(c.query, "size=small")
			if titled := len(elements(es, "text", "title")) == 1; titled == small {
				t.Errorf("graph of %q%s: drawn title %v", name, c.query, titled)
			}
			if narrow := strings.Contains(c.query, "width=480"); narrow != strings.Contains(body, `viewBox="0 0 480 220"`) {
				t.Errorf("graph of %q%s: viewBox not as wide as asked", name, c.query)
			}
			if tall := strings.Contains(body, ` 220"`); tall == small {
				t.Errorf("graph of %q%s: full height %v", name, c.query, tall)
			}
		}
	}
	for _, c := range []struct {
		query  string
		status int
	}{
		{"", 400}, {"?metric=nope", 404}, {"?metric=web&range=10", 400}, {"?metric=web&range=x", 400},
		{"?metric=web&from=5&until=1", 400}, {"?metric=web&from=0&until=99999999", 400}, {"?metric=web&size=huge", 400},
		{"?metric=web&from=9223372036854775000&until=9223372036854775807", 400}, {"?metric=web&until=9223372036854775807", 400},
		{"?metric=web&from=-9223372036854775808&until=9223372036854775807", 400},
		{"?metric=web&width=100", 400}, {"?metric=web&width=x", 400}, {"?metric=web&width=5000", 400},
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
