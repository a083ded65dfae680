package alerters_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/go-kale/kale/alerters"
	"github.com/go-kale/kale/alerters/internal/alerttest"
	"github.com/go-kale/kale/alerters/webhook"
	"github.com/go-kale/kale/internal/testserver"
)

// fastRetries keep the real-network tests quick; the default backoffs are
// checked with testing/synctest below.
var fastRetries = alerters.DispatchOptions{InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}

// hook is a webhook receiver answering with queued status codes (200 when
// the queue is empty); it records the kind of every request.
type hook struct {
	mu       sync.Mutex
	statuses []int
	kinds    []string
	received chan struct{} // if set, gets a value per request
	release  chan struct{} // if set, each request waits for it
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var p struct{ Kind string }
	body, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(body, &p)
	if h.received != nil {
		h.received <- struct{}{}
	}
	if h.release != nil {
		select {
		case <-h.release:
		case <-r.Context().Done():
			return
		}
	}
	h.mu.Lock()
	h.kinds = append(h.kinds, p.Kind)
	code := http.StatusOK
	if len(h.statuses) > 0 {
		code, h.statuses = h.statuses[0], h.statuses[1:]
	}
	h.mu.Unlock()
	w.WriteHeader(code)
}

func (h *hook) got() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.kinds...)
}

// newHookAlerter serves h and returns a webhook alerter named name for it.
func newHookAlerter(t *testing.T, name string, h *hook) alerters.Alerter {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c := webhook.DefaultConfig()
	c.URL = alerters.Secret(srv.URL)
	a, err := webhook.New(name, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// metrics returns every kale_alerts_* sample of reg that is not zero, as
// "name{label=value,...}" -> value.
func metrics(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(labels)
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			if v != 0 {
				out[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] = v
			}
		}
	}
	return out
}

// newDispatcher builds a dispatcher with its own registry and a log buffer.
func newDispatcher(t *testing.T, als []alerters.Alerter, opt alerters.DispatchOptions) (*alerters.Dispatcher, *prometheus.Registry, *testserver.SyncBuffer) {
	t.Helper()
	reg := prometheus.NewRegistry()
	logs := &testserver.SyncBuffer{}
	d, err := alerters.NewDispatcher(als, opt, slog.New(slog.NewTextHandler(logs, nil)), reg)
	if err != nil {
		t.Fatal(err)
	}
	return d, reg, logs
}

// closeNow closes d, allowing 10 s to drain.
func closeNow(t *testing.T, d *alerters.Dispatcher) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestRetryThenDeliver(t *testing.T) {
	h := &hook{statuses: []int{503, 503}}
	d, reg, logs := newDispatcher(t, []alerters.Alerter{newHookAlerter(t, "hook", h)}, fastRetries)
	al := alerttest.Alert()
	if !d.Enqueue("hook", al) {
		t.Fatal("Enqueue trigger = false")
	}
	al.Kind = alerters.Resolve
	if !d.Enqueue("hook", al) {
		t.Fatal("Enqueue resolve = false")
	}
	closeNow(t, d)
	// Two 503s for the trigger, then it and the resolve, in order.
	if diff := cmp.Diff([]string{"trigger", "trigger", "trigger", "resolve"}, h.got()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	want := map[string]float64{
		"kale_alerts_sent_total{alerter=hook,kind=trigger}": 1,
		"kale_alerts_sent_total{alerter=hook,kind=resolve}": 1,
		"kale_alerts_retries_total{alerter=hook}":           2,
	}
	if diff := cmp.Diff(want, metrics(t, reg)); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}
	if logs.String() != "" {
		t.Errorf("logged on success: %s", logs.String())
	}
}

func TestPermanentErrorIsNotRetried(t *testing.T) {
	h := &hook{statuses: []int{400}}
	d, reg, logs := newDispatcher(t, []alerters.Alerter{newHookAlerter(t, "hook", h)}, fastRetries)
	d.Enqueue("hook", alerttest.Alert())
	closeNow(t, d)
	if diff := cmp.Diff([]string{"trigger"}, h.got()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	want := map[string]float64{"kale_alerts_failed_total{alerter=hook}": 1}
	if diff := cmp.Diff(want, metrics(t, reg)); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}
	if l := logs.String(); !strings.Contains(l, `msg="cannot send alert" alerter=hook kind=trigger metric=web.api.latency attempts=1 retryable=false err="HTTP 400 Bad Request"`) {
		t.Errorf("log = %s", l)
	}
}

// An alert given up is reported to OnLost (the analyzer releases its
// claim); a delivered one is not.
func TestOnLost(t *testing.T) {
	h := &hook{statuses: []int{400, 200}}
	var mu sync.Mutex
	var lost []string
	opt := fastRetries
	opt.OnLost = func(alerter string, a alerters.Alert) {
		mu.Lock()
		defer mu.Unlock()
		lost = append(lost, alerter+" "+a.Kind.String()+" "+a.Metric)
	}
	d, _, _ := newDispatcher(t, []alerters.Alerter{newHookAlerter(t, "hook", h)}, opt)
	a := alerttest.Alert()
	d.Enqueue("hook", a)
	a.Kind = alerters.Resolve
	d.Enqueue("hook", a)
	closeNow(t, d)
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{"hook trigger " + a.Metric}, lost); diff != "" {
		t.Errorf("OnLost calls (-want +got):\n%s", diff)
	}
}

func TestAttemptsRunOut(t *testing.T) {
	h := &hook{statuses: []int{500, 500, 500, 500, 500, 500}}
	opt := fastRetries
	opt.Attempts = 3
	d, reg, _ := newDispatcher(t, []alerters.Alerter{newHookAlerter(t, "hook", h)}, opt)
	d.Enqueue("hook", alerttest.Alert())
	closeNow(t, d)
	if n := len(h.got()); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
	want := map[string]float64{"kale_alerts_failed_total{alerter=hook}": 1, "kale_alerts_retries_total{alerter=hook}": 2}
	if diff := cmp.Diff(want, metrics(t, reg)); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}
}

func TestFullQueueDrops(t *testing.T) {
	blocked := &hook{received: make(chan struct{}, 10), release: make(chan struct{})}
	fine := &hook{}
	opt := fastRetries
	opt.QueueSize = 2
	d, reg, logs := newDispatcher(t, []alerters.Alerter{newHookAlerter(t, "blocked", blocked), newHookAlerter(t, "fine", fine)}, opt)
	if !d.Enqueue("blocked", alerttest.Alert()) {
		t.Fatal("first Enqueue = false")
	}
	<-blocked.received // the worker holds the first alert: the queue is empty
	for i := range 2 {
		if !d.Enqueue("blocked", alerttest.Alert()) {
			t.Fatalf("Enqueue %d into a queue of 2 = false", i)
		}
	}
	for range 3 {
		if d.Enqueue("blocked", alerttest.Alert()) {
			t.Fatal("Enqueue into a full queue = true")
		}
	}
	// The other channel is not held up.
	if !d.Enqueue("fine", alerttest.Alert()) {
		t.Fatal("Enqueue to another alerter = false")
	}
	got := metrics(t, reg)
	for got["kale_alerts_sent_total{alerter=fine,kind=trigger}"] == 0 {
		time.Sleep(time.Millisecond)
		got = metrics(t, reg)
	}
	want := map[string]float64{
		"kale_alerts_dropped_total{alerter=blocked,reason=queue_full}": 3,
		"kale_alerts_queue_length{alerter=blocked}":                    2,
		"kale_alerts_sent_total{alerter=fine,kind=trigger}":            1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metrics with a blocked channel (-want +got):\n%s", diff)
	}
	// One drop logged, the two others suppressed (LogInterval 10s).
	if n := strings.Count(logs.String(), "alert dropped"); n != 1 {
		t.Errorf("%d drop lines, want 1: %s", n, logs.String())
	}
	close(blocked.release)
	closeNow(t, d)
	want = map[string]float64{
		"kale_alerts_dropped_total{alerter=blocked,reason=queue_full}": 3,
		"kale_alerts_sent_total{alerter=blocked,kind=trigger}":         3,
		"kale_alerts_sent_total{alerter=fine,kind=trigger}":            1,
	}
	if diff := cmp.Diff(want, metrics(t, reg)); diff != "" {
		t.Errorf("metrics after release (-want +got):\n%s", diff)
	}
}

func TestCloseDeadlineCountsShutdownDrops(t *testing.T) {
	blocked := &hook{received: make(chan struct{}, 10), release: make(chan struct{})}
	defer close(blocked.release)
	d, reg, _ := newDispatcher(t, []alerters.Alerter{newHookAlerter(t, "blocked", blocked)}, fastRetries)
	for range 3 {
		d.Enqueue("blocked", alerttest.Alert())
	}
	<-blocked.received
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := d.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "3 alerts dropped") {
		t.Errorf("Close = %v, want DeadlineExceeded and 3 dropped", err)
	}
	want := map[string]float64{"kale_alerts_dropped_total{alerter=blocked,reason=shutdown}": 3}
	if diff := cmp.Diff(want, metrics(t, reg)); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}
	if err2 := d.Close(context.Background()); err2 == nil || err2.Error() != err.Error() {
		t.Errorf("second Close = %v, want the first's result", err2)
	}
}

func TestUnknownAndClosed(t *testing.T) {
	d, reg, _ := newDispatcher(t, []alerters.Alerter{newHookAlerter(t, "hook", &hook{})}, fastRetries)
	if d.Enqueue("nope", alerttest.Alert()) {
		t.Error("Enqueue to an unknown alerter = true")
	}
	closeNow(t, d)
	if d.Enqueue("hook", alerttest.Alert()) {
		t.Error("Enqueue after Close = true")
	}
	want := map[string]float64{
		"kale_alerts_dropped_total{alerter=nope,reason=unknown_alerter}": 1,
		"kale_alerts_dropped_total{alerter=hook,reason=closed}":          1,
	}
	if diff := cmp.Diff(want, metrics(t, reg)); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}
}

func TestNewDispatcherErrors(t *testing.T) {
	a := newHookAlerter(t, "hook", &hook{})
	tests := []struct {
		name string
		als  []alerters.Alerter
		opt  alerters.DispatchOptions
		want string
	}{
		{"duplicate", []alerters.Alerter{a, a}, alerters.DispatchOptions{}, `two alerters are named "hook"`},
		{"nil", []alerters.Alerter{nil}, alerters.DispatchOptions{}, "alerter 0 is nil"},
		{"unnamed", []alerters.Alerter{&fake{}}, alerters.DispatchOptions{}, "alerter 0 has no name"},
		{"negative queue", nil, alerters.DispatchOptions{QueueSize: -1}, "queue_size: must not be negative"},
		{"backoffs", nil, alerters.DispatchOptions{InitialBackoff: time.Minute, MaxBackoff: time.Second}, "max_backoff: 1s is less than initial_backoff 1m0s"},
	}
	for _, tt := range tests {
		if _, err := alerters.NewDispatcher(tt.als, tt.opt, nil, nil); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: NewDispatcher error = %v, want %q", tt.name, err, tt.want)
		}
	}
	reg := prometheus.NewRegistry()
	d, err := alerters.NewDispatcher(nil, alerters.DispatchOptions{}, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer closeNow(t, d)
	if _, err := alerters.NewDispatcher(nil, alerters.DispatchOptions{}, nil, reg); err == nil {
		t.Error("a second dispatcher registered the same metrics")
	}
}

// fake is an in-memory Alerter for the timing tests: it records when each
// Send happened and answers with errs in turn (nil after them).
type fake struct {
	name string
	mu   sync.Mutex
	errs []error
	at   []time.Time
}

func (f *fake) Name() string { return f.name }

func (f *fake) Send(ctx context.Context, _ alerters.Alert) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.at = append(f.at, time.Now())
	if len(f.errs) == 0 {
		return nil
	}
	err := f.errs[0]
	f.errs = f.errs[1:]
	return err
}

func TestBackoffWithDefaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("connection refused")
		f := &fake{name: "f", errs: []error{boom, boom, boom, &alerters.StatusError{Code: 429, RetryAfter: 50 * time.Second}, boom, boom, boom, boom, boom}}
		d, err := alerters.NewDispatcher([]alerters.Alerter{f}, alerters.DispatchOptions{}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		d.Enqueue("f", alerttest.Alert())
		d.Enqueue("f", alerttest.Alert())
		if err := d.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if len(f.at) != 10 {
			t.Fatalf("%d sends, want 10 (5 attempts, give up; then 4 failures and a success)", len(f.at))
		}
		// Default InitialBackoff 1s doubling, MaxBackoff 1m; each wait in
		// [b/2, b]; Retry-After 50s raises the fourth wait.
		bounds := [][2]time.Duration{
			{500 * time.Millisecond, time.Second}, {time.Second, 2 * time.Second}, {2 * time.Second, 4 * time.Second},
			{50 * time.Second, 50 * time.Second}, // then the first alert is given up
			{0, 0},
			{500 * time.Millisecond, time.Second}, {time.Second, 2 * time.Second}, {2 * time.Second, 4 * time.Second},
			{4 * time.Second, 8 * time.Second},
		}
		for i, b := range bounds {
			gap := f.at[i+1].Sub(f.at[i])
			if gap < b[0] || gap > b[1] {
				t.Errorf("wait before send %d = %v, want in [%v, %v]", i+2, gap, b[0], b[1])
			}
		}
	})
}

func TestFailureLogIsRateLimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{name: "f"}
		for range 4 {
			f.errs = append(f.errs, alerters.Permanent(errors.New("bad credentials")))
		}
		logs := &testserver.SyncBuffer{}
		d, err := alerters.NewDispatcher([]alerters.Alerter{f}, alerters.DispatchOptions{}, slog.New(slog.NewTextHandler(logs, nil)), nil)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			d.Enqueue("f", alerttest.Alert())
		}
		synctest.Wait()
		time.Sleep(10 * time.Second) // the default LogInterval
		d.Enqueue("f", alerttest.Alert())
		if err := d.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
		if len(lines) != 2 || !strings.Contains(lines[0], "suppressed=0") || !strings.Contains(lines[1], "suppressed=2") {
			t.Errorf("log lines:\n%s\nwant 2: the first, then one with suppressed=2", logs.String())
		}
	})
}

func BenchmarkEnqueue(b *testing.B) {
	d, err := alerters.NewDispatcher([]alerters.Alerter{&fake{name: "f"}}, alerters.DispatchOptions{QueueSize: 1 << 16}, nil, prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close(context.Background())
	al := alerttest.Alert()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			d.Enqueue("f", al)
		}
	})
}
