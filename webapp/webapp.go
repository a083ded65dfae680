// Package webapp serves Kale's HTTP interface: the JSON API, the
// self-monitoring endpoints (/metrics, /healthz) and, in a later step, the
// anomaly page. Routes and answers are the contract of
// docs/interfaces.md: errors are {"error": "..."} with a 4xx/5xx status,
// an unknown metric is a 404.
package webapp

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/store"
)

// Config is the web server's section of the YAML config.
type Config struct {
	Addr string `yaml:"addr"` // web page, JSON API, /metrics and /healthz; "" turns it off
	// Namespace is the prefix Skyline's /api?metric= route expects on
	// metric names (Skyline's FULL_NAMESPACE).
	Namespace string `yaml:"namespace"`
}

// DefaultConfig returns Skyline's webapp port and namespace.
func DefaultConfig() Config { return Config{Addr: ":1500", Namespace: "metrics."} }

// Handler serves Kale's HTTP routes.
type Handler struct {
	cfg    Config
	store  store.Store
	logger *slog.Logger
	mux    *http.ServeMux
}

// New returns the handler. gatherer is what /metrics exposes (nil: none).
func New(cfg Config, st store.Store, gatherer prometheus.Gatherer, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{cfg: cfg, store: st, logger: logger, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /{$}", h.index)
	h.mux.HandleFunc("GET /healthz", h.healthz)
	if gatherer != nil {
		h.mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	}
	h.mux.HandleFunc("GET /api/metrics", h.apiMetrics)
	h.mux.HandleFunc("GET /api/series", h.apiSeries)
	h.mux.HandleFunc("GET /api", h.apiSkyline)
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) index(w http.ResponseWriter, r *http.Request) {
	// The anomaly page is not built yet (it needs the analyzer); say so
	// plainly and point at what works.
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("Kale is running.\n\nThe anomaly page is not built yet. What works now:\n" +
		"  GET /api/metrics?prefix=P        metric names\n" +
		"  GET /api/series?metric=NAME      a metric's points\n" +
		"  GET /api?metric=metrics.NAME     Skyline-compatible series\n" +
		"  GET /metrics                     Kale's own Prometheus metrics\n" +
		"  GET /healthz                     ok when the store answers\n"))
}

func (h *Handler) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := h.store.Ping(ctx); err != nil {
		http.Error(w, "store: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

func (h *Handler) apiMetrics(w http.ResponseWriter, r *http.Request) {
	names, err := h.store.Names(r.Context(), r.URL.Query().Get("prefix"))
	if err != nil {
		h.fail(w, http.StatusInternalServerError, err)
		return
	}
	if names == nil {
		names = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"metrics": names})
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
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
