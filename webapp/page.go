package webapp

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The page's files, embedded in the binary: nothing to install or build,
// and nothing loaded from elsewhere (on-call networks are often closed).
//
//go:embed ui/templates/*.html ui/static/*
var uiFiles embed.FS

var (
	pageTemplates = template.Must(template.ParseFS(uiFiles, "ui/templates/*.html"))
	staticFiles   = mustSub(uiFiles, "ui/static")
	// staticVersion changes with the static files, so that a new Kale's
	// page never runs an old cached script.
	staticVersion = hashFS(staticFiles)
)

func mustSub(f fs.FS, dir string) fs.FS {
	s, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return s
}

func hashFS(f fs.FS) string {
	h := sha256.New()
	fs.WalkDir(f, ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := fs.ReadFile(f, path)
			h.Write([]byte(path))
			h.Write(b)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// pageWindows are the anomaly windows the anomaly page offers.
var pageWindows = []rangeOption{{900, "15 minutes", false}, {3600, "hour", false}, {6 * 3600, "6 hours", false},
	{86400, "day", false}, {7 * 86400, "week", false}}

// metricRanges are the graph ranges a metric's page offers.
var metricRanges = []rangeOption{{3600, "hour", false}, {6 * 3600, "6 hours", false}, {86400, "day", false},
	{7 * 86400, "week", false}, {30 * 86400, "30 days", false}}

// rangeOption is an option of a page's window or range menu.
type rangeOption struct {
	Seconds  int
	Label    string
	Selected bool
}

// pickRange marks the option of s seconds selected, or def when s is not
// one of them, and returns the options and the seconds picked.
func pickRange(opts []rangeOption, s string, def int) ([]rangeOption, int) {
	want, err := strconv.Atoi(s)
	if err != nil || !slices.ContainsFunc(opts, func(o rangeOption) bool { return o.Seconds == want }) {
		want = def
	}
	out := slices.Clone(opts)
	for i := range out {
		out[i].Selected = out[i].Seconds == want
	}
	return out, want
}

// securityHeaders are set on every page and static file: the page runs
// only its own script and style, and is never framed.
func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
}

// pageData is what the page templates see. The strings come from the
// query string or the path, so from anyone: html/template escapes them
// for the context they land in.
type pageData struct {
	Version  string // of the static files, for their URLs
	Page     string // anomalies, search, collections, collection, metric
	Script   string // the page's own script in /static/, without .js
	Title    string
	ReadOnly bool // hide what changes state

	Metric  string // the anomaly page's preselected metric; the metric page's metric
	Filter  string // the anomaly page's filter
	Query   string // the search page's name query
	ID      string // the collection page's collection
	Window  int    // the anomaly page's window, seconds
	Windows []rangeOption
	Ranges  []rangeOption // the metric page's graph ranges
}

// render writes the page template name with d.
func (h *Handler) render(w http.ResponseWriter, status int, name string, d pageData) {
	d.Version = staticVersion
	d.ReadOnly = h.readOnly()
	var b bytes.Buffer
	if err := pageTemplates.ExecuteTemplate(&b, name, d); err != nil {
		h.logger.Error("cannot render a page", "page", name, "err", err)
		http.Error(w, "cannot render the page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	securityHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// page is GET /: the anomaly page. The list and the graphs are filled by
// the page's script from /api/anomalies and /graph.svg; the query string
// preselects a metric (metric=), a filter (filter=) and a window
// (window=, seconds).
func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	opts, win := pickRange(pageWindows, q.Get("window"), 3600)
	h.render(w, http.StatusOK, "index.html", pageData{Page: "anomalies", Script: "app", Title: "anomalies",
		Metric: q.Get("metric"), Filter: q.Get("filter"), Window: win, Windows: opts})
}

// searchPage is GET /search[?q=TEXT]: search by name (with completion
// from /api/metrics) and by a drawn curve (POST /api/search).
func (h *Handler) searchPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, http.StatusOK, "search.html", pageData{Page: "search", Script: "search", Title: "search",
		Query: r.URL.Query().Get("q")})
}

// collectionsPage is GET /collections: the list, and a form to create one.
func (h *Handler) collectionsPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, http.StatusOK, "collections.html", pageData{Page: "collections", Script: "collections", Title: "collections"})
}

// collectionPage is GET /collections/{id}: one collection's members as
// graphs, its description, and (unless read-only) edit and delete.
func (h *Handler) collectionPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, http.StatusOK, "collection.html", pageData{Page: "collection", Script: "collection", Title: "collection",
		ID: r.PathValue("id")})
}

// metricPage is GET /metric?name=NAME[&range=SECONDS]: one metric's graph
// and its past anomalies. Without a name it sends to the search page.
func (h *Handler) metricPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name := q.Get("name")
	if name == "" {
		http.Redirect(w, r, "/search", http.StatusSeeOther)
		return
	}
	opts, _ := pickRange(metricRanges, q.Get("range"), 86400)
	h.render(w, http.StatusOK, "metric.html", pageData{Page: "metric", Script: "metric", Title: name, Metric: name, Ranges: opts})
}

// static serves the embedded files under /static/. The page asks for them
// with ?v=<hash of the files>, so they may be cached for long.
func (h *Handler) static() http.Handler {
	files := http.StripPrefix("/static/", http.FileServerFS(staticFiles))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w)
		// Files only: no listing of the folder, and no long caching of a
		// 404.
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		if st, err := fs.Stat(staticFiles, name); err != nil || st.IsDir() || name == "" {
			writeError(w, http.StatusNotFound, "no such file: "+r.URL.Path)
			return
		}
		if r.URL.Query().Get("v") == staticVersion {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	})
}

// Limits of /graph.svg.
const (
	maxTimestamp      = 1 << 53 // from and until: what a float64 holds exactly, as anomaly records
	defaultGraphRange = 3600
	maxGraphRange     = 90 * 86400
)

// graphSVG is GET /graph.svg?metric=NAME[&range=SECONDS | &from=TS&until=TS][&size=small][&width=PX]:
// the metric's points over the window (default: the last hour) drawn as
// SVG, its recorded anomalies in the window marked. Small graphs are
// shorter, with fewer value ticks and no title (the page names them).
// width (240 to 2400, default 800) is the graph's width in SVG units: the
// page asks for its box's width in CSS pixels, so labels keep their size.
// Errors are JSON, as on the API.
func (h *Handler) graphSVG(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name := q.Get("metric")
	if name == "" {
		writeError(w, http.StatusBadRequest, "missing parameter: metric")
		return
	}
	now := time.Now().Unix()
	from, until := now-defaultGraphRange, now
	title := "last hour"
	switch {
	case q.Get("from") != "" || q.Get("until") != "":
		f, u, err := timeRange(q.Get("from"), q.Get("until"))
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		if q.Get("until") == "" {
			u = now
		}
		if q.Get("from") == "" {
			f = u - defaultGraphRange
		}
		if u < f || uint64(u)-uint64(f) > maxGraphRange { // no overflow
			writeError(w, http.StatusBadRequest, "from/until: at most 90 days, from before until")
			return
		}
		if f < -maxTimestamp || u > maxTimestamp {
			writeError(w, http.StatusBadRequest, "from/until: UNIX seconds within ±2^53")
			return
		}
		from, until = f, u
		title = time.Unix(f, 0).UTC().Format("2006-01-02 15:04") + " to " + time.Unix(u, 0).UTC().Format("2006-01-02 15:04 UTC")
	case q.Get("range") != "":
		secs, err := strconv.ParseInt(q.Get("range"), 10, 64)
		if err != nil || secs < 60 || secs > maxGraphRange {
			writeError(w, http.StatusBadRequest, "range: want seconds, 60 to "+strconv.Itoa(maxGraphRange))
			return
		}
		from = now - secs
		title = "last " + rangeLabel(secs)
	}
	var size graphSize
	switch q.Get("size") {
	case "", "full":
	case "small":
		size = smallGraph
	default:
		writeError(w, http.StatusBadRequest, "size: want full or small")
		return
	}
	width := 0
	if s := q.Get("width"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < minGraphWidth || v > maxGraphWidth {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("width: want %d to %d", minGraphWidth, maxGraphWidth))
			return
		}
		width = v
	}
	pts, err := h.store.Fetch(r.Context(), name, from, until)
	if err != nil {
		h.fetchFailed(w, name, err)
		return
	}
	var marks []int64
	if h.anomalies != nil {
		recs, err := h.anomalies.Metric(r.Context(), name, from, 10000)
		if err != nil {
			h.logger.Warn("cannot read a metric's anomalies for its graph", "metric", name, "err", err)
		}
		for _, rec := range recs {
			marks = append(marks, rec.Timestamp)
		}
	}
	svg := renderGraph(graph{Metric: name, Title: title, From: from, Until: until, Points: pts, Anomalies: marks, Size: size, Width: width})
	securityHeaders(w)
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(svg)
}

// rangeLabel names a window length: "hour", "day", "6 hours", "90 minutes".
func rangeLabel(secs int64) string {
	switch {
	case secs == 3600:
		return "hour"
	case secs == 86400:
		return "day"
	case secs == 7*86400:
		return "week"
	case secs%86400 == 0:
		return strconv.FormatInt(secs/86400, 10) + " days"
	case secs%3600 == 0:
		return strconv.FormatInt(secs/3600, 10) + " hours"
	}
	return strconv.FormatInt(int64(math.Round(float64(secs)/60)), 10) + " minutes"
}
