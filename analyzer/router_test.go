package analyzer

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/go-kale/kale/alerters"
	"github.com/go-kale/kale/internal/anomalies"
)

// outbox records what the router hands to the dispatcher; full makes
// Enqueue refuse, as a full queue does.
type outbox struct {
	mu   sync.Mutex
	sent []string // "<alerter> <kind> <metric>"
	last map[string]alerters.Alert
	full bool
}

func (o *outbox) Enqueue(alerter string, a alerters.Alert) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.full {
		return false
	}
	o.sent = append(o.sent, alerter+" "+a.Kind.String()+" "+a.Metric)
	if o.last == nil {
		o.last = map[string]alerters.Alert{}
	}
	o.last[alerter] = a
	return true
}

func (o *outbox) take() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.sent
	o.sent = nil
	return s
}

// routerFixture is a router over a real embedded anomaly store with a
// clock the test moves.
type routerFixture struct {
	t     *testing.T
	dir   string
	now   time.Time
	store *anomalies.Embedded
	out   *outbox
	r     *Router
	cfg   RouterConfig
}

func newRouterFixture(t *testing.T, cfg RouterConfig) *routerFixture {
	f := &routerFixture{t: t, dir: t.TempDir(), now: time.Unix(t0, 0), out: &outbox{}, cfg: cfg}
	f.reopen()
	return f
}

// reopen closes and reopens the store and the router: a restart of kale.
func (f *routerFixture) reopen() {
	f.t.Helper()
	if f.store != nil {
		f.store.Close()
	}
	st, err := anomalies.OpenEmbeddedOptions(f.dir, 24*time.Hour, nil, anomalies.Options{Now: func() time.Time { return f.now }})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { st.Close() })
	f.store = st
	if f.r, err = NewRouter(context.Background(), f.cfg, st, f.out, nil); err != nil {
		f.t.Fatal(err)
	}
}

// cycle hands the router a report at the fixture's clock with the given
// anomalies (metric -> value, at the clock's time) and normal metrics.
func (f *routerFixture) cycle(anomalous map[string]float64, normal ...string) {
	f.t.Helper()
	rep := &Report{Start: f.now, Normal: map[string]int64{}}
	for m, v := range anomalous {
		rep.Anomalies = append(rep.Anomalies, Anomaly{Metric: m, Timestamp: f.now.Unix(), Value: v, Score: 0.9,
			Detectors: []string{"grubbs", "three_sigma"}, Profile: "default"})
	}
	for _, m := range normal {
		if f.r.Watch(m) {
			rep.Normal[m] = f.now.Unix()
		}
	}
	if err := f.r.Handle(context.Background(), rep); err != nil {
		f.t.Fatal(err)
	}
}

func TestRouterAlertsOncePerExpiration(t *testing.T) {
	t.Parallel()
	f := newRouterFixture(t, RouterConfig{
		Rules: []Rule{
			{Pattern: "prod.", Alerter: "pd", Expiration: time.Hour, ResolveAfter: 10 * time.Minute},
			{Pattern: "web", Alerter: "pd"}, // same alerter: one page, not two
			{Regex: `^prod\.db\.`, Alerter: "mail", Expiration: 30 * time.Minute},
		},
		SendResolved:      map[string]bool{"pd": true},
		LinkBase:          "http://kale.test:1500/",
		DefaultExpiration: 12 * time.Hour,
	})
	f.cycle(map[string]float64{"prod.web.latency": 900, "prod.db.cpu": 99, "dev.web.x": 5, "staging.api": 1})
	want := []string{"pd trigger dev.web.x", "pd trigger prod.db.cpu", "mail trigger prod.db.cpu", "pd trigger prod.web.latency"}
	got := f.out.take()
	if diff := cmp.Diff(sortedCopy(want), sortedCopy(got)); diff != "" {
		t.Fatalf("first cycle (-want +got):\n%s", diff)
	}
	a := f.out.last["mail"]
	if a.Link != "http://kale.test:1500/?metric=prod.db.cpu" || a.DedupKey != "kale/mail/prod.db.cpu" ||
		a.Value != 99 || a.Score != 0.9 || a.Rule != `^prod\.db\.` || len(a.Detectors) != 2 {
		t.Errorf("mail alert %+v", a)
	}
	recs, err := f.store.Since(context.Background(), 0, 0)
	if err != nil || len(recs) != 4 {
		t.Fatalf("records %v %v, want the 4 anomalies", recs, err)
	}

	// Still anomalous a minute later, and after a restart: no repeat.
	f.now = f.now.Add(time.Minute)
	f.cycle(map[string]float64{"prod.web.latency": 950, "prod.db.cpu": 98})
	f.reopen()
	f.now = f.now.Add(time.Minute)
	f.cycle(map[string]float64{"prod.web.latency": 950, "prod.db.cpu": 98})
	if got := f.out.take(); len(got) != 0 {
		t.Fatalf("repeats inside the expiration: %v", got)
	}
	// The mail rule's 30 min expiration passes first, then pd's hour.
	f.now = f.now.Add(30 * time.Minute)
	f.cycle(map[string]float64{"prod.web.latency": 950, "prod.db.cpu": 98})
	if diff := cmp.Diff([]string{"mail trigger prod.db.cpu"}, f.out.take()); diff != "" {
		t.Errorf("after 32 min (-want +got):\n%s", diff)
	}
	f.now = f.now.Add(30 * time.Minute)
	f.cycle(map[string]float64{"prod.web.latency": 950})
	if diff := cmp.Diff([]string{"pd trigger prod.web.latency"}, f.out.take()); diff != "" {
		t.Errorf("after 62 min (-want +got):\n%s", diff)
	}
}

func TestRouterResolves(t *testing.T) {
	t.Parallel()
	f := newRouterFixture(t, RouterConfig{
		Rules:        []Rule{{Alerter: "pd", Expiration: time.Hour, ResolveAfter: 10 * time.Minute}, {Alerter: "mail", Expiration: time.Hour, ResolveAfter: 10 * time.Minute}},
		SendResolved: map[string]bool{"pd": true},
	})
	f.cycle(map[string]float64{"a": 1})
	f.out.take()
	if !f.r.Watch("a") || f.r.Watch("b") {
		t.Fatal("Watch: want a watched (open incident), b not")
	}
	// Normal, but not for long enough yet.
	f.now = f.now.Add(5 * time.Minute)
	f.cycle(nil, "a")
	if got := f.out.take(); len(got) != 0 {
		t.Fatalf("resolved too early: %v", got)
	}
	// The incident survives a restart, then resolves: pd is told, mail
	// (no send_resolved) is not; both incidents close.
	f.reopen()
	f.now = f.now.Add(6 * time.Minute)
	f.cycle(nil, "a")
	if diff := cmp.Diff([]string{"pd resolve a"}, f.out.take()); diff != "" {
		t.Errorf("resolve (-want +got):\n%s", diff)
	}
	if a := f.out.last["pd"]; a.DedupKey != "kale/pd/a" {
		t.Errorf("resolve dedup key %q, want the trigger's", a.DedupKey)
	}
	if f.r.Watch("a") || len(f.r.OpenIncidents()) != 0 {
		t.Errorf("incidents still open: %+v", f.r.OpenIncidents())
	}
	if in, _ := f.store.Incidents(context.Background()); len(in) != 0 {
		t.Errorf("stored incidents %+v, want none", in)
	}
}

// A full queue loses no alert: the claim is released and the next cycle
// tries again.
func TestRouterQueueFull(t *testing.T) {
	t.Parallel()
	f := newRouterFixture(t, RouterConfig{Rules: []Rule{{Alerter: "pd", Expiration: time.Hour}}})
	f.out.full = true
	f.cycle(map[string]float64{"a": 1})
	f.out.full = false
	f.now = f.now.Add(10 * time.Second)
	f.cycle(map[string]float64{"a": 1})
	if diff := cmp.Diff([]string{"pd trigger a"}, f.out.take()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestAnomaliesJSON(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "anomalies.json")
	f := newRouterFixture(t, RouterConfig{AnomaliesJSON: path})
	f.cycle(map[string]float64{"b.x": 2.5, `a."quoted"</script>`: 7})
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `handle_data([[7,"a.\"quoted\"\u003c/script\u003e",1700006400],[2.5,"b.x",1700006400]])` + "\n"
	if string(b) != want {
		t.Errorf("anomalies.json = %q, want %q", b, want)
	}
	f.cycle(nil)
	if b, _ := os.ReadFile(path); string(b) != "handle_data([])\n" {
		t.Errorf("after a quiet cycle: %q", b)
	}
}

func TestRuleMatch(t *testing.T) {
	t.Parallel()
	f := func(pattern, regex, metric string, want bool) {
		t.Helper()
		r := rule{Rule: Rule{Pattern: pattern, Regex: regex}}
		if pattern != "" {
			r.elements = strings.Split(pattern, ".")
		}
		if regex != "" {
			r.re = regexp.MustCompile(regex)
		}
		if got := r.match(metric); got != want {
			t.Errorf("rule{%q, %q}.match(%q) = %v, want %v", pattern, regex, metric, got, want)
		}
	}
	f("", "", "anything", true)
	f("web", "", "prod.web01.cpu", true)        // substring
	f("prod.cpu", "", "prod.web01.cpu", true)   // every element present
	f("prod.disk", "", "prod.web01.cpu", false) // disk missing
	f("", `^prod\.`, "prod.x", true)
	f("", `^prod\.`, "preprod.x", false)
	f("web", `cpu$`, "prod.web.mem", false) // both must match
}

func TestDedupKey(t *testing.T) {
	t.Parallel()
	if got := DedupKey("pd", "a.b"); got != "kale/pd/a.b" {
		t.Errorf("DedupKey = %q", got)
	}
	long := strings.Repeat("m", 300)
	if got := DedupKey("pd", long); len(got) > 255 || !strings.HasPrefix(got, "kale/pd/sha256:") || got != DedupKey("pd", long) {
		t.Errorf("long DedupKey = %q (%d bytes)", got, len(got))
	}
}

func sortedCopy(s []string) []string {
	return slices.Sorted(slices.Values(s))
}

// A cycle that does not judge the metric (stale, gone) restarts the normal
// count: the incident resolves only after resolve_after of normal data.
func TestRouterResolveNeedsUnbrokenNormal(t *testing.T) {
	t.Parallel()
	f := newRouterFixture(t, RouterConfig{
		Rules:        []Rule{{Alerter: "pd", Expiration: time.Hour, ResolveAfter: 10 * time.Minute}},
		SendResolved: map[string]bool{"pd": true},
	})
	f.cycle(map[string]float64{"a": 1})
	f.out.take()
	f.now = f.now.Add(time.Hour)
	f.cycle(nil) // a not judged: no data
	f.now = f.now.Add(time.Minute)
	f.cycle(nil, "a") // normal again, an hour after the anomaly: not yet
	f.now = f.now.Add(5 * time.Minute)
	f.cycle(nil, "a")
	if got := f.out.take(); len(got) != 0 {
		t.Fatalf("resolved after 5 min of normal data: %v", got)
	}
	f.now = f.now.Add(5 * time.Minute)
	f.cycle(nil, "a")
	if diff := cmp.Diff([]string{"pd resolve a"}, f.out.take()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// An undelivered trigger releases its claim (the next cycle alerts again);
// an undelivered resolve reopens the incident.
func TestRouterLost(t *testing.T) {
	t.Parallel()
	f := newRouterFixture(t, RouterConfig{
		Rules:        []Rule{{Alerter: "pd", Expiration: time.Hour, ResolveAfter: time.Minute}},
		SendResolved: map[string]bool{"pd": true},
	})
	f.cycle(map[string]float64{"a": 1})
	f.r.Lost("pd", f.out.last["pd"])
	f.out.take()
	f.now = f.now.Add(10 * time.Second)
	f.cycle(map[string]float64{"a": 1})
	if diff := cmp.Diff([]string{"pd trigger a"}, f.out.take()); diff != "" {
		t.Fatalf("after a lost trigger (-want +got):\n%s", diff)
	}
	f.now = f.now.Add(2 * time.Minute)
	f.cycle(nil, "a")
	if diff := cmp.Diff([]string{"pd resolve a"}, f.out.take()); diff != "" {
		t.Fatalf("resolve (-want +got):\n%s", diff)
	}
	f.r.Lost("pd", f.out.last["pd"])
	if !f.r.Watch("a") {
		t.Fatal("a lost resolve did not reopen the incident")
	}
	f.now = f.now.Add(2 * time.Minute)
	f.cycle(nil, "a")
	if diff := cmp.Diff([]string{"pd resolve a"}, f.out.take()); diff != "" {
		t.Errorf("resolve again (-want +got):\n%s", diff)
	}
}

// An anomaly that cannot be recorded (here a name that is not UTF-8) is
// reported, and the cycle's other anomalies are recorded all the same.
func TestRouterRecordsTheValid(t *testing.T) {
	f := newRouterFixture(t, RouterConfig{})
	rep := &Report{Start: f.now, Normal: map[string]int64{}}
	for _, m := range []string{"web.a", "bad.\xff", "web.b"} {
		rep.Anomalies = append(rep.Anomalies, Anomaly{Metric: m, Timestamp: f.now.Unix(), Value: 1, Score: 0.9, Profile: "default"})
	}
	err := f.r.Handle(context.Background(), rep)
	if err == nil || !strings.Contains(err.Error(), `"bad.\xff"`) {
		t.Errorf("Handle: %v, want an error naming the bad record", err)
	}
	recs, err := f.store.Since(context.Background(), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.Metric)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"web.a", "web.b"}) {
		t.Errorf("recorded %q, want web.a and web.b", got)
	}
}
