package alerters

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DispatchOptions tune a Dispatcher. A zero field takes its default from
// DefaultDispatchOptions.
type DispatchOptions struct {
	// QueueSize is the number of alerts each alerter's queue holds (default 1000).
	QueueSize int `yaml:"queue_size"`
	// Attempts is the number of sends of one alert, the first included (default 5).
	Attempts int `yaml:"attempts"`
	// InitialBackoff is the wait before the second attempt (default 1s).
	InitialBackoff time.Duration `yaml:"initial_backoff"`
	// MaxBackoff caps every wait between attempts (default 1m).
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// SendTimeout bounds one Send (default 30s).
	SendTimeout time.Duration `yaml:"send_timeout"`
	// LogInterval is the least time between two log lines about one
	// alerter's failures or drops (default 10s); lines in between are
	// counted and the count is logged with the next line as "suppressed".
	LogInterval time.Duration `yaml:"log_interval"`
	// OnLost, when set, is called (from the alerter's worker goroutine)
	// with each alert that was accepted by Enqueue but not delivered: given
	// up after its attempts or a permanent error, or dropped at shutdown.
	// The analyzer uses it to release the alert's de-dup claim, so the
	// next cycle alerts again instead of staying silent for the expiration.
	OnLost func(alerter string, a Alert) `yaml:"-"`
}

// DefaultDispatchOptions returns the defaults: QueueSize 1000, Attempts 5,
// InitialBackoff 1s, MaxBackoff 1m, SendTimeout 30s, LogInterval 10s.
func DefaultDispatchOptions() DispatchOptions {
	return DispatchOptions{
		QueueSize:      1000,
		Attempts:       5,
		InitialBackoff: time.Second,
		MaxBackoff:     time.Minute,
		SendTimeout:    30 * time.Second,
		LogInterval:    10 * time.Second,
	}
}

// withDefaults fills zero fields from DefaultDispatchOptions.
func (o DispatchOptions) withDefaults() DispatchOptions {
	d := DefaultDispatchOptions()
	o.QueueSize = cmp.Or(o.QueueSize, d.QueueSize)
	o.Attempts = cmp.Or(o.Attempts, d.Attempts)
	o.InitialBackoff = cmp.Or(o.InitialBackoff, d.InitialBackoff)
	o.MaxBackoff = cmp.Or(o.MaxBackoff, d.MaxBackoff)
	o.SendTimeout = cmp.Or(o.SendTimeout, d.SendTimeout)
	o.LogInterval = cmp.Or(o.LogInterval, d.LogInterval)
	return o
}

// Validate names the first key with an impossible value (zero means
// default and is valid).
func (o DispatchOptions) Validate() error {
	var errs []error
	if o.QueueSize < 0 {
		errs = append(errs, fmt.Errorf("queue_size: must not be negative, got %d", o.QueueSize))
	}
	if o.Attempts < 0 {
		errs = append(errs, fmt.Errorf("attempts: must not be negative, got %d", o.Attempts))
	}
	if o.InitialBackoff < 0 {
		errs = append(errs, fmt.Errorf("initial_backoff: must not be negative, got %v", o.InitialBackoff))
	}
	if o.MaxBackoff < 0 {
		errs = append(errs, fmt.Errorf("max_backoff: must not be negative, got %v", o.MaxBackoff))
	}
	if o.InitialBackoff > 0 && o.MaxBackoff > 0 && o.MaxBackoff < o.InitialBackoff {
		errs = append(errs, fmt.Errorf("max_backoff: %v is less than initial_backoff %v", o.MaxBackoff, o.InitialBackoff))
	}
	if o.SendTimeout < 0 {
		errs = append(errs, fmt.Errorf("send_timeout: must not be negative, got %v", o.SendTimeout))
	}
	if o.LogInterval < 0 {
		errs = append(errs, fmt.Errorf("log_interval: must not be negative, got %v", o.LogInterval))
	}
	return errors.Join(errs...)
}

// Drop reasons, the values of the "reason" label of
// kale_alerts_dropped_total.
const (
	DropQueueFull      = "queue_full"      // the alerter's queue was full
	DropClosed         = "closed"          // Enqueue after Close
	DropUnknownAlerter = "unknown_alerter" // no alerter of that name
	DropShutdown       = "shutdown"        // still queued (or being retried) when Close's ctx ended
)

// Dispatcher delivers alerts through alerters, each with its own bounded
// queue and worker, so a slow or dead channel never delays another channel
// or the caller.
//
// One worker per alerter sends its alerts one at a time in Enqueue order
// (a Resolve never overtakes its Trigger). A send that fails with a
// Retryable error is tried again, up to Attempts sends in all, after a
// backoff: attempt n (n >= 1 failed sends) waits a uniformly random time in
// [b/2, b] with b = min(InitialBackoff * 2^(n-1), MaxBackoff), or longer
// when the channel answered 429 with Retry-After (still capped by
// MaxBackoff). Each Send gets its own SendTimeout.
//
// Metrics (registered with the Registerer given to NewDispatcher):
//
//	kale_alerts_sent_total{alerter,kind}       alerts the channel accepted
//	kale_alerts_failed_total{alerter}          alerts given up on (permanent error or attempts used up)
//	kale_alerts_retries_total{alerter}         sends repeated after a retryable error
//	kale_alerts_dropped_total{alerter,reason}  alerts never sent: queue_full, closed, unknown_alerter, shutdown
//	kale_alerts_queue_length{alerter}          alerts waiting in the queue
//
// Failures and drops are logged at warn level, at most one line per
// alerter per LogInterval; the next line carries the count of the lines
// suppressed in between.
type Dispatcher struct {
	opt     DispatchOptions
	logger  *slog.Logger
	m       *dispatchMetrics
	workers map[string]*worker
	order   []*worker // in the order given, for Close

	mu     sync.RWMutex // guards closed against the queue channels' close
	closed bool

	abort     context.Context // cancelled when Close's ctx ends: stop sending
	abortFunc context.CancelFunc
	closeOnce sync.Once
	closeErr  error
	lost      atomic.Int64 // alerts dropped with reason shutdown

	unknown *limiter // for drops of unknown alerter names
}

// worker owns one alerter's queue.
type worker struct {
	d     *Dispatcher
	al    Alerter
	name  string
	queue chan Alert
	lim   *limiter
	done  chan struct{}

	sent      [2]prometheus.Counter // by Kind
	failed    prometheus.Counter
	retries   prometheus.Counter
	queueFull prometheus.Counter
	closedC   prometheus.Counter
	shutdown  prometheus.Counter
	length    prometheus.Gauge
}

// NewDispatcher starts one worker per alerter and returns the Dispatcher
// that feeds them. Alerter names must be non-empty and unique. A zero
// field of opt takes its default; logger nil discards logs; reg nil
// registers no metrics. It fails on an invalid opt, a nil, unnamed or
// duplicate alerter, or when the metrics cannot be registered.
func NewDispatcher(als []Alerter, opt DispatchOptions, logger *slog.Logger, reg prometheus.Registerer) (*Dispatcher, error) {
	if err := opt.Validate(); err != nil {
		return nil, fmt.Errorf("cannot create dispatcher: %w", err)
	}
	opt = opt.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := newDispatchMetrics()
	d := &Dispatcher{
		opt:     opt,
		logger:  logger,
		m:       m,
		workers: make(map[string]*worker, len(als)),
		unknown: &limiter{interval: opt.LogInterval},
	}
	for i, al := range als {
		if al == nil {
			return nil, fmt.Errorf("cannot create dispatcher: alerter %d is nil", i)
		}
		name := al.Name()
		if name == "" {
			return nil, fmt.Errorf("cannot create dispatcher: alerter %d has no name", i)
		}
		if _, dup := d.workers[name]; dup {
			return nil, fmt.Errorf("cannot create dispatcher: two alerters are named %q", name)
		}
		w := &worker{
			d:         d,
			al:        al,
			name:      name,
			queue:     make(chan Alert, opt.QueueSize),
			lim:       &limiter{interval: opt.LogInterval},
			done:      make(chan struct{}),
			sent:      [2]prometheus.Counter{m.sent.WithLabelValues(name, Trigger.String()), m.sent.WithLabelValues(name, Resolve.String())},
			failed:    m.failed.WithLabelValues(name),
			retries:   m.retries.WithLabelValues(name),
			queueFull: m.dropped.WithLabelValues(name, DropQueueFull),
			closedC:   m.dropped.WithLabelValues(name, DropClosed),
			shutdown:  m.dropped.WithLabelValues(name, DropShutdown),
			length:    m.length.WithLabelValues(name),
		}
		d.workers[name] = w
		d.order = append(d.order, w)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.sent, m.failed, m.retries, m.dropped, m.length} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("cannot register alert metrics: %w", err)
			}
		}
	}
	d.abort, d.abortFunc = context.WithCancel(context.Background())
	for _, w := range d.order {
		go w.run()
	}
	return d, nil
}

// Enqueue queues a for the alerter named alerterName and returns true, or
// returns false at once and counts a drop (reason "unknown_alerter",
// "queue_full" or "closed") when it cannot. It never blocks on a channel
// and is safe for concurrent use. It keeps its own copy of a.Detectors, so
// the caller may reuse that slice.
func (d *Dispatcher) Enqueue(alerterName string, a Alert) bool {
	w, ok := d.workers[alerterName]
	if !ok {
		d.m.dropped.WithLabelValues(alerterName, DropUnknownAlerter).Inc()
		d.logDrop(d.unknown, alerterName, a, DropUnknownAlerter)
		return false
	}
	a.Detectors = slices.Clone(a.Detectors)
	d.mu.RLock()
	if d.closed {
		d.mu.RUnlock()
		w.closedC.Inc()
		d.logDrop(w.lim, alerterName, a, DropClosed)
		return false
	}
	w.length.Inc()
	select {
	case w.queue <- a:
		d.mu.RUnlock()
		return true
	default:
		d.mu.RUnlock()
		w.length.Dec()
		w.queueFull.Inc()
		d.logDrop(w.lim, alerterName, a, DropQueueFull)
		return false
	}
}

// Close stops accepting alerts (Enqueue then returns false, counted as
// "closed") and waits until every queued alert has been sent or given up
// on, or until ctx ends. When ctx ends first, it stops the sends in flight
// and their retries, counts every alert not delivered as dropped
// (reason "shutdown"), and returns an error wrapping ctx.Err(). Then it
// closes every alerter that implements io.Closer. Close may be called
// more than once; later calls wait like the first and return its result.
func (d *Dispatcher) Close(ctx context.Context) error {
	d.closeOnce.Do(func() {
		d.mu.Lock()
		d.closed = true
		for _, w := range d.order {
			close(w.queue)
		}
		d.mu.Unlock()

		allDone := make(chan struct{})
		go func() {
			for _, w := range d.order {
				<-w.done
			}
			close(allDone)
		}()
		select {
		case <-allDone:
		case <-ctx.Done():
			d.abortFunc()
			<-allDone
			n := d.lost.Load()
			d.logger.Warn("alerts dropped at shutdown", "count", n)
			d.closeErr = fmt.Errorf("cannot drain alert queues (%d alerts dropped): %w", n, ctx.Err())
		}
		d.abortFunc()
		var errs []error
		for _, w := range d.order {
			if c, ok := w.al.(io.Closer); ok {
				if err := c.Close(); err != nil {
					errs = append(errs, fmt.Errorf("cannot close alerter %q: %w", w.name, err))
				}
			}
		}
		d.closeErr = errors.Join(append([]error{d.closeErr}, errs...)...)
	})
	return d.closeErr
}

// run sends the queue's alerts until the queue is closed and empty.
func (w *worker) run() {
	defer close(w.done)
	for a := range w.queue {
		w.length.Dec()
		if w.d.abort.Err() != nil {
			w.dropShutdown(a)
			continue
		}
		w.deliver(a)
	}
}

// dropShutdown counts an alert lost to Close's deadline.
func (w *worker) dropShutdown(a Alert) {
	w.shutdown.Inc()
	w.d.lost.Add(1)
	w.onLost(a)
}

// onLost reports an undelivered alert to DispatchOptions.OnLost.
func (w *worker) onLost(a Alert) {
	if f := w.d.opt.OnLost; f != nil {
		f(w.name, a)
	}
}

// deliver sends a with retries and counts the outcome.
func (w *worker) deliver(a Alert) {
	opt := w.d.opt
	abort := w.d.abort
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(abort, opt.SendTimeout)
		err := w.al.Send(ctx, a)
		cancel()
		if err == nil {
			if a.Kind == Resolve {
				w.sent[1].Inc()
			} else {
				w.sent[0].Inc()
			}
			return
		}
		if abort.Err() != nil {
			w.dropShutdown(a)
			return
		}
		if !Retryable(err) || attempt >= opt.Attempts {
			w.failed.Inc()
			w.logFailure(a, attempt, err)
			w.onLost(a)
			return
		}
		w.retries.Inc()
		t := time.NewTimer(backoff(opt, attempt, err))
		select {
		case <-t.C:
		case <-abort.Done():
			t.Stop()
			w.dropShutdown(a)
			return
		}
	}
}

// backoff returns the wait after the failed attempt n (n >= 1): uniform in
// [b/2, b] with b = min(InitialBackoff * 2^(n-1), MaxBackoff), raised to a
// StatusError's RetryAfter, all capped at MaxBackoff.
func backoff(opt DispatchOptions, n int, err error) time.Duration {
	b := opt.InitialBackoff
	for i := 1; i < n && b < opt.MaxBackoff; i++ {
		b *= 2
	}
	b = min(b, opt.MaxBackoff)
	if half := b / 2; half > 0 {
		b = half + rand.N(half+1)
	}
	var s *StatusError
	if errors.As(err, &s) && s.RetryAfter > b {
		b = s.RetryAfter
	}
	return min(b, opt.MaxBackoff)
}

// logFailure logs a give-up, rate-limited.
func (w *worker) logFailure(a Alert, attempts int, err error) {
	ok, suppressed := w.lim.allow(time.Now())
	if !ok {
		return
	}
	w.d.logger.Warn("cannot send alert", "alerter", w.name, "kind", a.Kind.String(), "metric", a.Metric,
		"attempts", attempts, "retryable", Retryable(err), "err", err, "suppressed", suppressed)
}

// logDrop logs a drop, rate-limited by lim.
func (d *Dispatcher) logDrop(lim *limiter, alerter string, a Alert, reason string) {
	ok, suppressed := lim.allow(time.Now())
	if !ok {
		return
	}
	d.logger.Warn("alert dropped", "alerter", alerter, "reason", reason, "kind", a.Kind.String(),
		"metric", a.Metric, "suppressed", suppressed)
}

// limiter allows one log line per interval and counts the lines it
// suppressed in between.
type limiter struct {
	interval time.Duration

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// allow reports whether a line may be logged at now and, if so, how many
// were suppressed since the last one.
func (l *limiter) allow(now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < l.interval {
		l.suppressed++
		return false, 0
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	return true, n
}

// dispatchMetrics are the Dispatcher's Prometheus metrics.
type dispatchMetrics struct {
	sent, failed, retries, dropped *prometheus.CounterVec
	length                         *prometheus.GaugeVec
}

func newDispatchMetrics() *dispatchMetrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "kale", Subsystem: "alerts", Name: name, Help: help}, labels)
	}
	return &dispatchMetrics{
		sent:    counter("sent_total", "Alerts the channel accepted, by alerter and kind (trigger, resolve).", "alerter", "kind"),
		failed:  counter("failed_total", "Alerts given up on after a permanent error or the last attempt.", "alerter"),
		retries: counter("retries_total", "Sends repeated after a retryable error.", "alerter"),
		dropped: counter("dropped_total", "Alerts never sent, by reason: queue_full, closed, unknown_alerter, shutdown.", "alerter", "reason"),
		length: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "kale", Subsystem: "alerts", Name: "queue_length",
			Help: "Alerts waiting in the alerter's queue.",
		}, []string{"alerter"}),
	}
}
