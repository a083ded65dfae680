// Package analyzer is Kale's analysis service: every cycle it lists the
// metrics of the series store, reads them in batches, judges each one's
// newest point with the configured ensemble (a profile of algorithms/) on
// all cores, and hands the anomalies to a Handler (the recorder and the
// alert router of this package).
//
// A cycle starts every Config.Interval (10 s by default, as Skyline). A
// cycle that takes longer than the interval is logged and counted
// (kale_analyzer_cycle_overruns_total) and the next one starts at once, on
// the data as it stands then: the analyzer never queues cycles.
//
// Differences from Skyline's Analyzer (docs/skyline-differences.md): the
// metrics are split into batches that workers take from a queue (no
// contiguous slice per process, so no overlapping slices, etsy #94, and a
// slow batch does not hold the others); each batch is one pipelined read;
// "now" is the cycle's start for every metric.
package analyzer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/go-kale/kale/algorithms"
	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/store"
)

// Source is what the analyzer reads: the series store (internal/store.Store
// satisfies it).
type Source interface {
	Names(ctx context.Context, prefix string) ([]string, error)
	FetchBatch(ctx context.Context, names []string, from, until int64, fn func(i int, points []series.Point) error) error
}

// Config configures the analyzer; the YAML keys are under analyzer: in
// Kale's config file.
type Config struct {
	// Interval is how often a cycle starts (Skyline's 10 s sleep).
	Interval time.Duration `yaml:"interval"`
	// Workers analyse batches in parallel; 0 = one per CPU.
	Workers int `yaml:"workers"`
	// Profile names the ensemble: default or classic.
	Profile string `yaml:"profile"`
	// BatchSize is how many metrics a worker reads at once (one pipelined
	// round trip on Redis).
	BatchSize int `yaml:"batch_size"`
	// AnomalyHistory is how long anomaly records are kept.
	AnomalyHistory time.Duration `yaml:"anomaly_history"`
	// AnomaliesJSON, when set, is a file rewritten every cycle in Skyline's
	// anomalies.json format (JSONP: handle_data([[value, name, ts], ...]))
	// for tools that read it.
	AnomaliesJSON string `yaml:"anomalies_json"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Interval:       10 * time.Second,
		Profile:        "default",
		BatchSize:      500,
		AnomalyHistory: 30 * 24 * time.Hour,
	}
}

// Validate reports every problem of c.
func (c Config) Validate() error {
	var errs []error
	if c.Interval <= 0 {
		errs = append(errs, errors.New("analyzer.interval must be > 0"))
	}
	if c.Workers < 0 {
		errs = append(errs, errors.New("analyzer.workers must be >= 0 (0 = one per CPU)"))
	}
	if _, err := algorithms.ProfileSettings(c.Profile); err != nil {
		errs = append(errs, fmt.Errorf("analyzer.profile: %w", err))
	}
	if c.BatchSize < 1 || c.BatchSize > 100000 {
		errs = append(errs, errors.New("analyzer.batch_size must be 1 to 100000"))
	}
	if c.AnomalyHistory < time.Minute {
		errs = append(errs, errors.New("analyzer.anomaly_history must be at least 1m"))
	}
	return errors.Join(errs...)
}

// Anomaly is one anomalous verdict.
type Anomaly struct {
	Metric    string
	Timestamp int64 // of the judged (newest) point
	Value     float64
	Score     float64
	Detectors []string // those that voted Yes
	Profile   string
}

// Report is the outcome of one cycle.
type Report struct {
	Start     time.Time
	Duration  time.Duration
	Metrics   int // listed at the start of the cycle
	Analysed  int // judged (not stopped by a pre-check or missing)
	Anomalies []Anomaly
	// Exceptions counts the metrics not judged, by reason: TooShort, Stale,
	// Boring (the ensemble's pre-checks), Deleted (listed, then not read:
	// deleted by Roomba in between, Skyline's DeletedByRoomba, or its stored
	// data does not decode, which is logged), ReadError (its batch could
	// not be read: a network error, a timeout), Other.
	Exceptions map[string]int
	// Normal holds, for each metric Watch asked about, the timestamp of its
	// newest point when it was judged and found normal this cycle.
	Normal map[string]int64
}

// Handler receives each cycle's report (the recorder and alert router).
// Watch is asked, from the workers and concurrently, about every metric
// judged normal: true puts it in Report.Normal (the metrics with an open
// incident, which a normal verdict may resolve).
type Handler interface {
	Watch(metric string) bool
	Handle(ctx context.Context, r *Report) error
}

// Analyzer runs the cycles. Create it with New.
type Analyzer struct {
	cfg          Config
	ensemble     *algorithms.Ensemble
	fullDuration int64
	src          Source
	handler      Handler
	logger       *slog.Logger
	metrics      *metrics
	now          func() time.Time
	loggedAt     time.Time // the last cycle logged at info (observe)
}

// Options are the optional parts of New.
type Options struct {
	Logger  *slog.Logger
	Metrics *Metrics         // nil: not exported
	Now     func() time.Time // nil: time.Now
}

// New returns an analyzer that judges the last fullDuration of every
// metric of src with cfg.Profile and reports each cycle to h (nil: no one).
func New(cfg Config, fullDuration time.Duration, src Source, h Handler, opt Options) (*Analyzer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if fullDuration < time.Second {
		return nil, fmt.Errorf("analyzer: history %v must be at least 1s", fullDuration)
	}
	e, err := algorithms.Profile(cfg.Profile, int64(fullDuration/time.Second))
	if err != nil {
		return nil, err
	}
	if cfg.Workers == 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	a := &Analyzer{
		cfg: cfg, ensemble: e, fullDuration: int64(fullDuration / time.Second),
		src: src, handler: h, logger: opt.Logger, now: opt.Now,
	}
	if a.logger == nil {
		a.logger = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.metrics = opt.Metrics.orNop()
	return a, nil
}

// Ensemble returns the ensemble in use.
func (a *Analyzer) Ensemble() *algorithms.Ensemble { return a.ensemble }

// Run runs cycles until ctx ends. A failed cycle (the store unreachable)
// is logged and retried at the next interval; Run returns nil when ctx
// ends.
func (a *Analyzer) Run(ctx context.Context) error {
	for {
		start := a.now()
		r, err := a.Cycle(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			a.logger.Error("analyzer cycle failed; retrying at the next interval", "err", err)
			a.metrics.failures.Inc()
		} else if a.handler != nil {
			// A finished cycle is recorded and alerted in full even when a
			// shutdown begins meanwhile: an alert sent but not remembered
			// would page again after the restart.
			hctx, hcancel := context.WithTimeout(context.WithoutCancel(ctx), handleTimeout)
			if err := a.handler.Handle(hctx, r); err != nil {
				a.logger.Error("cannot record or alert this cycle's anomalies", "err", err)
			}
			hcancel()
		}
		elapsed := a.now().Sub(start)
		wait := a.cfg.Interval - elapsed
		if wait <= 0 {
			a.metrics.overruns.Inc()
			a.logger.Warn("analyzer cycle took longer than its interval; the next starts now",
				"took", elapsed.Round(time.Millisecond), "interval", a.cfg.Interval,
				"hint", "raise analyzer.interval, add cores (analyzer.workers), or use the classic profile")
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// handleTimeout bounds the Handler's work on one cycle's report.
const handleTimeout = 30 * time.Second

// Cycle runs one cycle now and returns its report (not handed to the
// Handler: Run does that).
func (a *Analyzer) Cycle(ctx context.Context) (*Report, error) {
	start := a.now()
	now := start.Unix()
	names, err := a.src.Names(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("cannot list the metrics: %w", err)
	}
	r := &Report{Start: start, Metrics: len(names), Exceptions: map[string]int{}, Normal: map[string]int64{}}

	type batch struct{ lo, hi int }
	batches := make(chan batch)
	nBatches := (len(names) + a.cfg.BatchSize - 1) / a.cfg.BatchSize
	var (
		mu         sync.Mutex
		firstErr   error // the first read error
		readErrors int   // batches that could not be read
		wg         sync.WaitGroup
	)
	for range min(a.cfg.Workers, max(1, nBatches)) {
		wg.Go(func() {
			w := worker{a: a, now: now, exceptions: map[string]int{}, normal: map[string]int64{}}
			for b := range batches {
				if err := w.batch(ctx, names[b.lo:b.hi]); err != nil {
					// A batch that cannot be read costs its metrics this
					// cycle (exception ReadError), not the whole cycle.
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					readErrors++
					mu.Unlock()
					for i := range b.hi - b.lo {
						if !w.seen[i] {
							w.exceptions["ReadError"]++
						}
					}
				}
			}
			mu.Lock()
			r.Anomalies = append(r.Anomalies, w.anomalies...)
			for k, n := range w.exceptions {
				r.Exceptions[k] += n
			}
			for k, ts := range w.normal {
				r.Normal[k] = ts
			}
			r.Analysed += w.analysed
			mu.Unlock()
		})
	}
feed:
	for lo := 0; lo < len(names); lo += a.cfg.BatchSize {
		select {
		case batches <- batch{lo, min(lo+a.cfg.BatchSize, len(names))}:
		case <-ctx.Done():
			break feed
		}
	}
	close(batches)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if readErrors > 0 && readErrors == nBatches {
		return nil, firstErr // nothing could be read: the store is down
	}
	if readErrors > 0 {
		a.logger.Warn("some metrics could not be read this cycle (exception ReadError)",
			"batches", readErrors, "of", nBatches, "first_err", firstErr)
	}
	r.Duration = a.now().Sub(start)
	a.observe(r)
	return r, nil
}

// cycleLogEvery is how often a quiet cycle is logged at info; the others
// are at debug. A cycle that found anomalies or took longer than the
// interval is always logged at info.
const cycleLogEvery = 10 * time.Minute

// observe exports and logs a finished cycle.
func (a *Analyzer) observe(r *Report) {
	m := a.metrics
	m.cycles.Inc()
	m.duration.Observe(r.Duration.Seconds())
	m.metrics.Set(float64(r.Metrics))
	m.analysed.Add(float64(r.Analysed))
	m.anomalies.Add(float64(len(r.Anomalies)))
	for reason, n := range r.Exceptions {
		m.exceptions.WithLabelValues(reason).Add(float64(n))
	}
	attrs := []any{"seconds", fmt.Sprintf("%.3f", r.Duration.Seconds()), "metrics", r.Metrics,
		"analysed", r.Analysed, "anomalies", len(r.Anomalies)}
	for _, reason := range exceptionReasons {
		if n := r.Exceptions[reason]; n > 0 {
			attrs = append(attrs, reason, n)
		}
	}
	level := slog.LevelDebug
	if now := a.now(); len(r.Anomalies) > 0 || r.Duration > a.cfg.Interval || now.Sub(a.loggedAt) >= cycleLogEvery {
		level, a.loggedAt = slog.LevelInfo, now
	}
	a.logger.Log(context.Background(), level, "analyzer cycle", attrs...)
}

// exceptionReasons are Report.Exceptions' keys, in log order.
var exceptionReasons = []string{"TooShort", "Stale", "Boring", "Deleted", "ReadError", "Other"}

// worker holds one goroutine's buffers and tallies.
type worker struct {
	a          *Analyzer
	now        int64
	s          algorithms.Scratch
	verdict    algorithms.Verdict
	t          []int64
	v          []float64
	seen       []bool
	analysed   int
	anomalies  []Anomaly
	exceptions map[string]int
	normal     map[string]int64
}

// batch reads and judges names.
func (w *worker) batch(ctx context.Context, names []string) error {
	a := w.a
	w.seen = slices.Grow(w.seen[:0], len(names))[:len(names)]
	clear(w.seen)
	err := a.src.FetchBatch(ctx, names, w.now-a.fullDuration, w.now, func(i int, pts []series.Point) error {
		w.seen[i] = true
		w.t, w.v = w.t[:0], w.v[:0]
		for _, p := range pts {
			w.t, w.v = append(w.t, p.Timestamp), append(w.v, p.Value)
		}
		w.judge(names[i])
		return nil
	})
	switch {
	case errors.Is(err, store.ErrCorrupt):
		// The batch was read; some metrics did not decode: skipped
		// (embedded; counted as Deleted below) or judged on the points
		// before the bad bytes (Redis). Not a reason to stop the cycle.
		w.a.logger.Warn("some metrics have undecodable data", "err", err)
	case err != nil:
		return fmt.Errorf("cannot read a batch of %d metrics: %w", len(names), err)
	}
	for _, ok := range w.seen {
		if !ok {
			w.exceptions["Deleted"]++
		}
	}
	return nil
}

// judge runs the ensemble over w.t, w.v for metric name.
func (w *worker) judge(name string) {
	e := w.a.ensemble
	e.Analyze(w.t, w.v, w.now, &w.s, &w.verdict)
	v := &w.verdict
	switch {
	case v.Err == nil:
	case errors.Is(v.Err, algorithms.ErrTooShort):
		w.exceptions["TooShort"]++
		return
	case errors.Is(v.Err, algorithms.ErrStale):
		w.exceptions["Stale"]++
		return
	case errors.Is(v.Err, algorithms.ErrBoring):
		w.exceptions["Boring"]++
		return
	default:
		w.exceptions["Other"]++
		return
	}
	w.analysed++
	if !v.Anomalous {
		if h := w.a.handler; h != nil && h.Watch(name) {
			w.normal[name] = v.Timestamp
		}
		return
	}
	w.anomalies = append(w.anomalies, Anomaly{
		Metric: name, Timestamp: v.Timestamp, Value: v.Value, Score: v.Score,
		Detectors: e.Fired(v), Profile: e.Name,
	})
}
