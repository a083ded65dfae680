package analyzer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/store"
	"github.com/go-kale/kale/internal/store/embedded"
)

// t0 is the newest timestamp of the test series; the clock reads t0+30.
const t0 = 1_700_006_400

func clock() time.Time { return time.Unix(t0+30, 0) }

// openStore returns an embedded store holding the named series.
func openStore(t *testing.T, full time.Duration, data map[string][]series.Point) store.Store {
	t.Helper()
	cfg := embedded.DefaultConfig()
	cfg.Dir = t.TempDir()
	cfg.Retention = store.Retention{FullDuration: full, Grace: 10 * time.Minute}
	st, err := embedded.Open(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var samples []series.Sample
	for name, pts := range data {
		for _, p := range pts {
			samples = append(samples, series.Sample{Name: name, Point: p})
		}
	}
	if err := st.Append(context.Background(), samples); err != nil {
		t.Fatal(err)
	}
	return st
}

// noisy returns n points 60 s apart ending at end: Gaussian noise around
// 100 (seeded), with the last value replaced by last when not NaN.
func noisy(seed uint64, n int, end int64, last float64) []series.Point {
	rng := rand.New(rand.NewPCG(seed, 1))
	pts := make([]series.Point, n)
	for i := range pts {
		pts[i] = series.Point{Timestamp: end - int64(n-1-i)*60, Value: math.Round((100+rng.NormFloat64())*100) / 100}
	}
	if !math.IsNaN(last) {
		pts[n-1].Value = last
	}
	return pts
}

// ghostSource lists extra names the store does not hold (deleted between
// listing and reading, as Roomba may).
type ghostSource struct {
	store.Store
	ghosts []string
}

func (g ghostSource) Names(ctx context.Context, prefix string) ([]string, error) {
	names, err := g.Store.Names(ctx, prefix)
	return append(names, g.ghosts...), err
}

func TestCycle(t *testing.T) {
	t.Parallel()
	data := map[string][]series.Point{
		"web.spike":  noisy(1, 1440, t0, 500),
		"web.short":  noisy(2, 10, t0, math.NaN()),
		"web.stale":  noisy(3, 1440, t0-3600, math.NaN()),
		"web.boring": slices.Repeat([]series.Point{{Timestamp: 0, Value: 7}}, 1440),
	}
	for i := range data["web.boring"] {
		data["web.boring"][i].Timestamp = t0 - int64(1439-i)*60
	}
	for i := range 40 {
		data["web.normal"+string(rune('a'+i%26))+string(rune('a'+i/26))] = noisy(uint64(10+i), 1440, t0, math.NaN())
	}
	st := openStore(t, 24*time.Hour, data)
	for _, profile := range []string{"classic", "default"} {
		t.Run(profile, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Profile, cfg.BatchSize, cfg.Workers = profile, 7, 3 // several batches, several workers
			reg := prometheus.NewRegistry()
			m, err := NewMetrics(reg)
			if err != nil {
				t.Fatal(err)
			}
			a, err := New(cfg, 24*time.Hour, ghostSource{st, []string{"web.gone"}}, nil, Options{Now: clock, Metrics: m})
			if err != nil {
				t.Fatal(err)
			}
			r, err := a.Cycle(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if r.Metrics != len(data)+1 {
				t.Errorf("Metrics = %d, want %d", r.Metrics, len(data)+1)
			}
			var names []string
			for _, an := range r.Anomalies {
				names = append(names, an.Metric)
				if an.Metric == "web.spike" && (an.Value != 500 || an.Timestamp != t0 || an.Profile != profile || len(an.Detectors) == 0 || an.Score <= 0) {
					t.Errorf("spike anomaly %+v", an)
				}
			}
			if !slices.Contains(names, "web.spike") || len(names) > 3 {
				t.Errorf("anomalies %v, want web.spike (and at most a couple of noise alarms)", names)
			}
			wantExc := map[string]int{"Deleted": 1, "Stale": 1, "Boring": 1}
			if profile == "default" { // classic's MIN_TOLERABLE_LENGTH is 1
				wantExc["TooShort"] = 1
			}
			if diff := cmp.Diff(wantExc, r.Exceptions); diff != "" {
				t.Errorf("exceptions (-want +got):\n%s", diff)
			}
			wantAnalysed := len(data) - 2 // Stale, Boring
			if profile == "default" {
				wantAnalysed--
			}
			if r.Analysed != wantAnalysed {
				t.Errorf("Analysed = %d, want %d", r.Analysed, wantAnalysed)
			}
			if got := testutil.ToFloat64(m.m.exceptions.WithLabelValues("Deleted")); got != 1 {
				t.Errorf("kale_analyzer_exceptions_total{reason=Deleted} = %v, want 1", got)
			}
			if got := testutil.ToFloat64(m.m.anomalies); got != float64(len(r.Anomalies)) {
				t.Errorf("kale_analyzer_anomalies_total = %v, want %d", got, len(r.Anomalies))
			}
		})
	}
}

// countingHandler counts the cycles handed to it.
type countingHandler struct{ n atomic.Int64 }

func (h *countingHandler) Watch(string) bool { return false }
func (h *countingHandler) Handle(context.Context, *Report) error {
	h.n.Add(1)
	return nil
}

// A cycle longer than the interval is counted and the next starts at once;
// Run hands every cycle to the handler and stops with ctx.
func TestRunOverrun(t *testing.T) {
	t.Parallel()
	st := openStore(t, 24*time.Hour, map[string][]series.Point{"a": noisy(1, 100, t0, math.NaN())})
	cfg := DefaultConfig()
	cfg.Interval = time.Nanosecond
	m, _ := NewMetrics(nil)
	h := &countingHandler{}
	var ticks atomic.Int64 // a clock that moves 1 ms each time it is read
	moving := func() time.Time { return clock().Add(time.Duration(ticks.Add(1)) * time.Millisecond) }
	a, err := New(cfg, 24*time.Hour, st, h, Options{Now: moving, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()
	for h.n.Load() < 3 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if got := testutil.ToFloat64(m.m.overruns); got < 2 {
		t.Errorf("overruns = %v after %d cycles with a 1 ns interval", got, h.n.Load())
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	c := DefaultConfig()
	c.Interval, c.Workers, c.Profile, c.BatchSize, c.AnomalyHistory = 0, -1, "fancy", 0, time.Second
	err := c.Validate()
	for _, key := range []string{"interval", "workers", "profile", "batch_size", "anomaly_history"} {
		if err == nil || !strings.Contains(err.Error(), "analyzer."+key) {
			t.Errorf("Validate() = %v, want an error naming analyzer.%s", err, key)
		}
	}
}

// failingSource fails FetchBatch for batches holding a given name.
type failingSource struct {
	store.Store
	bad string
}

func (f failingSource) FetchBatch(ctx context.Context, names []string, from, until int64, fn func(int, []series.Point) error) error {
	if slices.Contains(names, f.bad) {
		return errors.New("i/o timeout")
	}
	return f.Store.FetchBatch(ctx, names, from, until, fn)
}

// A batch that cannot be read costs its metrics (ReadError), not the cycle;
// when nothing can be read the cycle fails.
func TestReadError(t *testing.T) {
	t.Parallel()
	data := map[string][]series.Point{}
	for i := range 10 {
		data[fmt.Sprintf("m%02d", i)] = noisy(uint64(i), 100, t0, math.NaN())
	}
	st := openStore(t, 24*time.Hour, data)
	cfg := DefaultConfig()
	cfg.Profile, cfg.BatchSize = "classic", 3
	a, err := New(cfg, 24*time.Hour, failingSource{st, "m04"}, nil, Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	r, err := a.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r.Exceptions["ReadError"] != 3 || r.Analysed != 7 {
		t.Errorf("exceptions %v, analysed %d; want ReadError 3 (m03-m05), 7 analysed", r.Exceptions, r.Analysed)
	}
	cfg.BatchSize = 100
	a, _ = New(cfg, 24*time.Hour, failingSource{st, "m04"}, nil, Options{Now: clock})
	if _, err := a.Cycle(context.Background()); err == nil || !strings.Contains(err.Error(), "i/o timeout") {
		t.Errorf("every batch failing: Cycle error %v, want the read error", err)
	}
}

// A quiet cycle is logged at info once every cycleLogEvery, else at
// debug; a cycle that finds anomalies is always logged at info.
func TestCycleLogLevels(t *testing.T) {
	t.Parallel()
	quiet := openStore(t, 24*time.Hour, map[string][]series.Point{"web.a": noisy(1, 1440, t0, math.NaN())})
	now := time.Unix(t0+30, 0)
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := DefaultConfig()
	cfg.Profile = "classic"
	a, err := New(cfg, 24*time.Hour, quiet, nil, Options{Now: func() time.Time { return now }, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	levels := func() string {
		var out []string
		for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			if strings.Contains(line, `msg="analyzer cycle"`) {
				out = append(out, strings.Fields(line)[1])
			}
		}
		buf.Reset()
		return strings.Join(out, " ")
	}
	for _, step := range []time.Duration{0, 10 * time.Second, 10 * time.Second, cycleLogEvery} {
		now = now.Add(step)
		if _, err := a.Cycle(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got := levels(); got != "level=INFO level=DEBUG level=DEBUG level=INFO" {
		t.Errorf("quiet cycles logged at %q, want info, debug, debug, info (10 minutes later)", got)
	}
	spiky := openStore(t, 24*time.Hour, map[string][]series.Point{"web.spike": noisy(1, 1440, t0, 500)})
	now = time.Unix(t0+30, 0) // the spike fresh
	a, _ = New(cfg, 24*time.Hour, spiky, nil, Options{Now: func() time.Time { return now }, Logger: logger})
	a.loggedAt = now // as if a quiet cycle had just been logged
	r, err := a.Cycle(context.Background())
	if err != nil || len(r.Anomalies) != 1 {
		t.Fatalf("the spike's cycle: %v, %d anomalies", err, len(r.Anomalies))
	}
	if got := levels(); got != "level=INFO" {
		t.Errorf("a cycle with an anomaly logged at %q, want info", got)
	}
}
