// Package webapp serves Kale's HTTP interface: the pages, the JSON API
// and the self-monitoring endpoints (/metrics, /healthz).
//
// The pages are html/template with their scripts and style embedded in
// the binary (ui/), Kale's own code, nothing loaded from elsewhere: the
// anomaly page (GET /: the current anomalies, the selected metric's hour
// and day, the metrics that moved with it), search by name and by a
// drawn curve (GET /search), collections (GET /collections[/ID]) and a
// metric's history (GET /metric?name=). The server draws every graph as
// SVG (GET /graph.svg, graph.go); the scripts only fetch and place them.
//
// Routes and answers are the contract of docs/interfaces.md: errors are
// {"error": "..."} with a 4xx/5xx status, an unknown metric is a 404.
// auth.go checks every request first: optional basic or bearer
// authentication, the read-only mode, cross-site writes and JSON bodies.
package webapp

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/go-kale/kale/alerters"
	"github.com/go-kale/kale/internal/anomalies"
	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/store"
	"github.com/go-kale/kale/oculus"
)

// Config is the web server's section of the YAML config.
type Config struct {
	Addr string `yaml:"addr"` // web page, JSON API, /metrics and /healthz; "" turns it off
	// Namespace is the prefix Skyline's /api?metric= route expects on
	// metric names (Skyline's FULL_NAMESPACE).
	Namespace string `yaml:"namespace"`
	// ReadOnly refuses with 403 every request of a method other than GET,
	// HEAD and OPTIONS (saving and deleting collections), except the
	// routes that only read (POST /api/search; readOnlyRoutes in
	// auth.go); the page hides its controls for them.
	ReadOnly bool `yaml:"read_only"`
	// Auth, when it has a username or a token, asks every request except
	// GET /healthz for HTTP basic credentials or a bearer token (401
	// otherwise). Whatever Auth says, requests that change state are
	// refused when a browser sends them from another site, and their
	// bodies must be sent as application/json (auth.go).
	Auth AuthConfig `yaml:"auth"`
}

// AuthConfig is the optional authentication of the web server: basic
// (Username and Password, what a browser asks for) and/or a bearer token
// (what scripts and Prometheus send). Either one that matches is enough.
// Username and Password go together; Config.Validate says what is wrong,
// AuthConfig.Resolve reads the "env:NAME" secrets.
type AuthConfig struct {
	Username string          `yaml:"username"`
	Password alerters.Secret `yaml:"password"` // or "env:NAME"
	Token    alerters.Secret `yaml:"token"`    // or "env:NAME"
}

// DefaultConfig returns Skyline's webapp port and namespace.
func DefaultConfig() Config { return Config{Addr: ":1500", Namespace: "metrics."} }

// Handler serves Kale's HTTP routes.
type Handler struct {
	cfg       Config
	store     store.Store
	anomalies AnomalySource
	oculus    *oculus.Searcher
	logger    *slog.Logger
	mux       *http.ServeMux
	guard     *guard       // authentication, read-only mode, cross-site checks (auth.go)
	opsIndex  oculus.Index // NewOps: the index /healthz pings
}

// AnomalySource is where /api/anomalies reads the analyzer's records
// (internal/anomalies.Store satisfies it).
type AnomalySource interface {
	Since(ctx context.Context, since int64, limit int) ([]anomalies.Record, error)
	Metric(ctx context.Context, metric string, since int64, limit int) ([]anomalies.Record, error)
}

// WithAnomalies makes /api/anomalies serve src; without it the route
// answers 503 saying the analyzer's records are not available here.
func (h *Handler) WithAnomalies(src AnomalySource) *Handler {
	h.anomalies = src
	return h
}

// New returns the handler. gatherer is what /metrics exposes (nil: none).
// It resolves cfg.Auth's "env:NAME" secrets once; when cfg does not
// validate or a secret cannot be resolved, it logs why and the handler
// refuses every request with 503 (fail closed). Call cfg.Validate and
// cfg.Auth.Resolve first to report such a problem at startup.
func New(cfg Config, st store.Store, gatherer prometheus.Gatherer, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{cfg: cfg, store: st, logger: logger, mux: http.NewServeMux(), guard: newGuard(cfg, logger)}
	h.mux.HandleFunc("GET /{$}", h.page)
	h.mux.HandleFunc("GET /search", h.searchPage)
	h.mux.HandleFunc("GET /collections", h.collectionsPage)
	h.mux.HandleFunc("GET /collections/{id}", h.collectionPage)
	h.mux.HandleFunc("GET /metric", h.metricPage)
	h.mux.HandleFunc("GET /graph.svg", h.graphSVG)
	h.mux.Handle("GET /static/", h.static())
	h.mux.HandleFunc("GET /healthz", h.healthz)
	if gatherer != nil {
		h.mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	}
	h.mux.HandleFunc("GET /api/metrics", h.apiMetrics)
	h.mux.HandleFunc("GET /api/series", h.apiSeries)
	h.mux.HandleFunc("GET /api", h.apiSkyline)
	h.mux.HandleFunc("GET /api/anomalies", h.apiAnomalies)
	h.registerOculus()
	return h
}

// ServeHTTP checks the request (authentication, cross-site requests,
// read-only mode, JSON bodies: auth.go) and then serves its route.
// NewOps returns the handler of a process that runs no web page (kale
// horizon, analyzer or oculus alone): GET /metrics and GET /healthz only,
// behind the same authentication. healthz pings st and, when idx is not
// nil, the Oculus index.
func NewOps(cfg Config, st store.Store, idx oculus.Index, gatherer prometheus.Gatherer, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{cfg: cfg, store: st, logger: logger, mux: http.NewServeMux(), guard: newGuard(cfg, logger), opsIndex: idx}
	h.mux.HandleFunc("GET /healthz", h.healthz)
	if gatherer != nil {
		h.mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	}
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.guard.admit(w, r, h.mux) {
		h.mux.ServeHTTP(w, r)
	}
}

func (h *Handler) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := h.store.Ping(ctx); err != nil {
		http.Error(w, "store: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	idx := h.opsIndex
	if h.oculus != nil {
		idx = h.oculus.Index()
	}
	if idx != nil {
		if err := idx.Ping(ctx); err != nil {
			http.Error(w, "oculus index: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// Limits of /api/metrics.
const maxMetricsLimit = 100000

// apiMetrics is GET /api/metrics[?prefix=P][&contains=S][&limit=N]: the
// names that start with P and hold S (case-insensitive), sorted; at most
// N of them (default: all), and then "truncated": true. The page's name
// search and its completion use contains and limit.
func (h *Handler) apiMetrics(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 0
	if s := q.Get("limit"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > maxMetricsLimit {
			writeError(w, http.StatusBadRequest, "limit: want 1 to "+strconv.Itoa(maxMetricsLimit))
			return
		}
		limit = v
	}
	names, err := h.store.Names(r.Context(), q.Get("prefix"))
	if err != nil {
		h.fail(w, http.StatusInternalServerError, err)
		return
	}
	if s := strings.ToLower(q.Get("contains")); s != "" {
		names = slices.DeleteFunc(names, func(n string) bool { return !strings.Contains(strings.ToLower(n), s) })
	}
	slices.Sort(names)
	out := map[string]any{}
	if limit > 0 && len(names) > limit {
		names = names[:limit]
		out["truncated"] = true
	}
	if names == nil {
		names = []string{}
	}
	out["metrics"] = names
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) apiSeries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name := q.Get("metric")
	if name == "" {
		writeError(w, http.StatusBadRequest, "missing parameter: metric")
		return
	}
	from, until, err := timeRange(q.Get("from"), q.Get("until"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	pts, err := h.store.Fetch(r.Context(), name, from, until)
	if err != nil {
		h.fetchFailed(w, name, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"metric": name, "points": pointsJSON(pts)})
}

// apiSkyline is Skyline's /api?metric=<full redis key>: {"results": [[ts, value], ...]}.
func (h *Handler) apiSkyline(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Query().Get("metric")
	if key == "" {
		writeError(w, http.StatusBadRequest, "missing parameter: metric (a full key such as "+h.cfg.Namespace+"NAME)")
		return
	}
	name := strings.TrimPrefix(key, h.cfg.Namespace)
	pts, err := h.store.Fetch(r.Context(), name, math.MinInt64, math.MaxInt64)
	if err != nil {
		// Kale's {"error"} plus Skyline's own {"results": "Error: ..."},
		// which Skyline's clients test for.
		status, msg := http.StatusInternalServerError, err.Error()
		if errors.Is(err, store.ErrNotFound) {
			status, msg = http.StatusNotFound, "No metric by that name"
		} else {
			h.logger.Warn("api request failed", "err", err)
		}
		writeJSON(w, status, map[string]string{"error": msg + ": " + key, "results": "Error: " + msg})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": pointsJSON(pts)})
}

// Limits of /api/anomalies.
const (
	defaultAnomalyLimit = 1000
	maxAnomalyLimit     = 100000
	defaultAnomalySince = 24 * time.Hour
)

// apiAnomalies is GET /api/anomalies[?since=TS][&metric=NAME][&limit=N]:
// the recorded anomalies with timestamp >= since (default: the last 24 h),
// newest first, at most limit (default 1000, at most 100000), of one
// metric when metric is given.
func (h *Handler) apiAnomalies(w http.ResponseWriter, r *http.Request) {
	if h.anomalies == nil {
		writeError(w, http.StatusServiceUnavailable, "anomaly records are not available in this process: run kale run or kale analyzer (with --redis, kale webapp reads them from Redis)")
		return
	}
	q := r.URL.Query()
	since := time.Now().Add(-defaultAnomalySince).Unix()
	if s := q.Get("since"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "since: want UNIX seconds")
			return
		}
		since = v
	}
	limit := defaultAnomalyLimit
	if s := q.Get("limit"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > maxAnomalyLimit {
			writeError(w, http.StatusBadRequest, "limit: want 1 to "+strconv.Itoa(maxAnomalyLimit))
			return
		}
		limit = v
	}
	var recs []anomalies.Record
	var err error
	if m := q.Get("metric"); m != "" {
		recs, err = h.anomalies.Metric(r.Context(), m, since, limit)
	} else {
		recs, err = h.anomalies.Since(r.Context(), since, limit)
	}
	switch {
	case errors.Is(err, anomalies.ErrCorrupt):
		h.logger.Warn("some anomaly records could not be read; serving the others", "err", err)
	case err != nil:
		h.fail(w, http.StatusInternalServerError, err)
		return
	}
	out := make([]anomalyJSON, len(recs))
	for i, rec := range recs {
		out[i] = anomalyJSON{Metric: rec.Metric, Timestamp: rec.Timestamp, Value: rec.Value, Score: rec.Score,
			Detectors: rec.Detectors, Profile: rec.Profile}
		if out[i].Detectors == nil {
			out[i].Detectors = []string{}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"anomalies": out})
}

// anomalyJSON is one element of /api/anomalies.
type anomalyJSON struct {
	Metric    string   `json:"metric"`
	Timestamp int64    `json:"timestamp"`
	Value     float64  `json:"value"`
	Score     float64  `json:"score"`
	Detectors []string `json:"detectors"`
	Profile   string   `json:"profile"`
}

func (h *Handler) fetchFailed(w http.ResponseWriter, name string, err error) {
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no metric by that name: "+name)
		return
	}
	h.fail(w, http.StatusInternalServerError, err)
}

func (h *Handler) fail(w http.ResponseWriter, status int, err error) {
	h.logger.Warn("api request failed", "err", err)
	writeError(w, status, err.Error())
}

// timeRange parses optional from/until UNIX-second parameters.
func timeRange(from, until string) (int64, int64, error) {
	f, u := int64(math.MinInt64), int64(math.MaxInt64)
	var err error
	if from != "" {
		if f, err = strconv.ParseInt(from, 10, 64); err != nil {
			return 0, 0, errors.New("from: want UNIX seconds")
		}
	}
	if until != "" {
		if u, err = strconv.ParseInt(until, 10, 64); err != nil {
			return 0, 0, errors.New("until: want UNIX seconds")
		}
	}
	if f > u {
		return 0, 0, errors.New("from is after until")
	}
	return f, u, nil
}

// pointJSON marshals as [ts, value].
type pointJSON series.Point

func (p pointJSON) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 32)
	b = append(b, '[')
	b = strconv.AppendInt(b, p.Timestamp, 10)
	b = append(b, ',')
	b = strconv.AppendFloat(b, p.Value, 'g', -1, 64)
	return append(b, ']'), nil
}

func pointsJSON(pts []series.Point) []pointJSON {
	out := make([]pointJSON, len(pts))
	for i, p := range pts {
		out[i] = pointJSON(p)
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff") // answers echo names from the network
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
