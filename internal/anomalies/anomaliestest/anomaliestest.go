// Package anomaliestest is the conformance suite of anomalies.Store. Every
// backend runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		anomaliestest.Run(t, func(t *testing.T, retention time.Duration) anomaliestest.Backend {
//			s, err := anomalies.OpenEmbeddedOptions(t.TempDir(), retention, nil, ...)
//			...
//			return anomaliestest.Backend{Store: s, Advance: clock.Advance}
//		})
//	}
//
// The suite checks the contract written in the anomalies package doc and
// nothing else, so that the embedded and the Redis store cannot drift
// apart.
package anomaliestest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/go-kale/kale/internal/anomalies"
)

// Base is the first timestamp the suite writes: a realistic epoch second.
const Base int64 = 1_700_000_000

// Retention is the retention every store of the suite is opened with:
// Trim(now) drops records with Timestamp < now - 3600.
const Retention = time.Hour

// Backend is one store under test.
type Backend struct {
	Store anomalies.Store
	// Advance moves the store's claim clock forward by d. nil means the
	// store runs on real time (Redis): the suite then polls, for up to
	// 3 s, for a 1-second claim to expire.
	Advance func(d time.Duration)
}

// HostileNames are metric names that break naive key schemes: unicode,
// spaces, braces (Redis hash tags), colons (the Redis record id), glob
// characters, quotes, control characters, names that are prefixes of
// others, names that look like Kale's or Skyline's keys, 500-byte names.
var HostileNames = []string{
	"unicode.名前.métrique.🚀",
	"with space.and\ttab",
	"newline\nname",
	"braces{kale}.x",
	"{",
	"}",
	"{}",
	"a{b}c",
	"{kale.anomalies}",
	"colons:a:b::",
	"1700000000:x",
	"a",
	"a.b",
	"a:",
	"*?[glob]",
	`quote"back\slash`,
	"last_alert.smtp.x",
	"kale.anomalies",
	strings.Repeat("x", 500),
	strings.Repeat("é", 250),
}

// Run runs the conformance subtests. Each subtest calls open once; open
// must return a new, empty store that keeps records for retention and
// shares no data with the stores it returned before (a Redis factory
// flushes the server). Run closes every store (ignoring the error of a
// second Close). The subtests run one after another.
func Run(t *testing.T, open func(t *testing.T, retention time.Duration) Backend) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, b Backend)
	}{
		{"SinceOrder", testSinceOrder},
		{"SinceLimitAndFrom", testSinceLimitAndFrom},
		{"Metric", testMetric},
		{"Idempotent", testIdempotent},
		{"NoSharedMemory", testNoSharedMemory},
		{"EmptyAdd", testEmptyAdd},
		{"InvalidRecords", testInvalidRecords},
		{"NegativeLimit", testNegativeLimit},
		{"Trim", testTrim},
		{"TrimMany", testTrimMany},
		{"ClaimExpires", testClaimExpires},
		{"ClaimIndependent", testClaimIndependent},
		{"ClaimInvalid", testClaimInvalid},
		{"Release", testRelease},
		{"Incidents", testIncidents},
		{"HostileNames", testHostileNames},
		{"Concurrent", testConcurrent},
		{"CancelledContext", testCancelledContext},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := open(t, Retention)
			if b.Store == nil {
				t.Fatal("open returned a nil store")
			}
			t.Cleanup(func() { _ = b.Store.Close() })
			tc.fn(t, b)
		})
	}
}

// Rec returns a record of metric at ts with values derived from both.
func Rec(metric string, ts int64) anomalies.Record {
	return anomalies.Record{
		Metric:    metric,
		Timestamp: ts,
		Value:     float64(ts%1000) + 0.25,
		Score:     float64(len(metric)%7) + 0.5,
		Detectors: []string{"grubbs", "ks_test"},
		Profile:   "skyline",
	}
}

var ctx = context.Background()

// Add stores recs or fails the test.
func Add(t testing.TB, s anomalies.Store, recs ...anomalies.Record) {
	t.Helper()
	if err := s.Add(ctx, recs); err != nil {
		t.Fatalf("Add(%d records): %v", len(recs), err)
	}
}

func since(t *testing.T, s anomalies.Store, from int64, limit int) []anomalies.Record {
	t.Helper()
	got, err := s.Since(ctx, from, limit)
	if err != nil {
		t.Fatalf("Since(%d, %d): %v", from, limit, err)
	}
	return got
}

func metric(t *testing.T, s anomalies.Store, name string, from int64, limit int) []anomalies.Record {
	t.Helper()
	got, err := s.Metric(ctx, name, from, limit)
	if err != nil {
		t.Fatalf("Metric(%q, %d, %d): %v", name, from, limit, err)
	}
	return got
}

func claim(t *testing.T, s anomalies.Store, alerter, name string, ts int64, exp time.Duration) bool {
	t.Helper()
	ok, err := s.Claim(ctx, alerter, name, ts, exp)
	if err != nil {
		t.Fatalf("Claim(%q, %q): %v", alerter, name, err)
	}
	return ok
}

func incidents(t *testing.T, s anomalies.Store) []anomalies.Incident {
	t.Helper()
	got, err := s.Incidents(ctx)
	if err != nil {
		t.Fatalf("Incidents: %v", err)
	}
	return got
}

// Diff compares records, a nil and an empty slice being equal.
func Diff(want, got any) string {
	return cmp.Diff(want, got, cmpopts.EquateEmpty())
}

// newestFirst sorts records as Since returns them: Timestamp descending,
// then Metric descending.
func newestFirst(recs []anomalies.Record) []anomalies.Record {
	out := slices.Clone(recs)
	slices.SortFunc(out, func(a, b anomalies.Record) int {
		if a.Timestamp != b.Timestamp {
			if a.Timestamp > b.Timestamp {
				return -1
			}
			return 1
		}
		return -strings.Compare(a.Metric, b.Metric)
	})
	return out
}

// mixed is a set of records added out of order, with ties on timestamps.
func mixed() []anomalies.Record {
	return []anomalies.Record{
		Rec("b.cpu", Base+120),
		Rec("a.cpu", Base),
		Rec("c.mem", Base+60),
		Rec("a.cpu", Base+120),
		Rec("c.mem", Base+120),
		Rec("b.cpu", Base-60),
		Rec("a.cpu", Base+60),
	}
}

func testSinceOrder(t *testing.T, b Backend) {
	recs := mixed()
	Add(t, b.Store, recs[:3]...)
	Add(t, b.Store, recs[3:]...)
	if diff := Diff(newestFirst(recs), since(t, b.Store, math.MinInt64, 0)); diff != "" {
		t.Errorf("Since(all) mismatch (-want +got):\n%s", diff)
	}
}

func testSinceLimitAndFrom(t *testing.T, b Backend) {
	recs := mixed()
	Add(t, b.Store, recs...)
	all := newestFirst(recs) // ts: 120 120 120 60 60 0 -60
	tests := []struct {
		from  int64
		limit int
		want  []anomalies.Record
	}{
		{math.MinInt64, 1, all[:1]},
		{math.MinInt64, 3, all[:3]},
		{math.MinInt64, 4, all[:4]},
		{math.MinInt64, len(all), all},
		{math.MinInt64, len(all) + 5, all},
		{Base, 0, all[:6]},      // since is inclusive
		{Base + 1, 0, all[:5]},  // ...
		{Base + 60, 2, all[:2]}, // limit before since
		{Base + 120, 0, all[:3]},
		{Base + 121, 0, nil},
		{math.MaxInt64, 0, nil},
	}
	for _, tc := range tests {
		if diff := Diff(tc.want, since(t, b.Store, tc.from, tc.limit)); diff != "" {
			t.Errorf("Since(%d, %d) mismatch (-want +got):\n%s", tc.from-Base, tc.limit, diff)
		}
	}
}

func testMetric(t *testing.T, b Backend) {
	recs := mixed()
	Add(t, b.Store, recs...)
	a := newestFirst([]anomalies.Record{Rec("a.cpu", Base), Rec("a.cpu", Base+60), Rec("a.cpu", Base+120)})
	tests := []struct {
		metric string
		from   int64
		limit  int
		want   []anomalies.Record
	}{
		{"a.cpu", math.MinInt64, 0, a},
		{"a.cpu", math.MinInt64, 1, a[:1]},
		{"a.cpu", math.MinInt64, 2, a[:2]},
		{"a.cpu", math.MinInt64, 10, a},
		{"a.cpu", Base + 60, 0, a[:2]},
		{"a.cpu", Base + 61, 0, a[:1]},
		{"a.cpu", Base + 121, 0, nil},
		{"b.cpu", Base - 60, 0, []anomalies.Record{Rec("b.cpu", Base+120), Rec("b.cpu", Base-60)}},
		{"a", math.MinInt64, 0, nil}, // a prefix of a stored name
		{"a.cpu.x", math.MinInt64, 0, nil},
		{"missing", math.MinInt64, 0, nil},
		{"", math.MinInt64, 0, nil},
	}
	for _, tc := range tests {
		if diff := Diff(tc.want, metric(t, b.Store, tc.metric, tc.from, tc.limit)); diff != "" {
			t.Errorf("Metric(%q, %d, %d) mismatch (-want +got):\n%s", tc.metric, tc.from-Base, tc.limit, diff)
		}
	}
}

func testIdempotent(t *testing.T, b Backend) {
	first := Rec("m", Base)
	second := first
	second.Value, second.Score, second.Detectors = 99.5, 7, []string{"median_absolute_deviation"}
	third := first
	third.Value = -1.5
	other := Rec("n", Base)
	Add(t, b.Store, first, other)
	Add(t, b.Store, first) // the same again
	want := []anomalies.Record{other, first}
	if diff := Diff(want, since(t, b.Store, math.MinInt64, 0)); diff != "" {
		t.Errorf("after adding a record twice (-want +got):\n%s", diff)
	}
	Add(t, b.Store, second) // last write wins
	want = []anomalies.Record{other, second}
	if diff := Diff(want, since(t, b.Store, math.MinInt64, 0)); diff != "" {
		t.Errorf("after replacing a record (-want +got):\n%s", diff)
	}
	Add(t, b.Store, first, third) // within one Add, the last occurrence wins
	want = []anomalies.Record{other, third}
	if diff := Diff(want, since(t, b.Store, math.MinInt64, 0)); diff != "" {
		t.Errorf("after a duplicate within one Add (-want +got):\n%s", diff)
	}
	if diff := Diff([]anomalies.Record{third}, metric(t, b.Store, "m", math.MinInt64, 0)); diff != "" {
		t.Errorf("Metric after replacing (-want +got):\n%s", diff)
	}
}

func testNoSharedMemory(t *testing.T, b Backend) {
	in := []anomalies.Record{Rec("m", Base)}
	Add(t, b.Store, in...)
	in[0].Detectors[0] = "changed by the caller"
	in[0].Metric = "changed"
	got := since(t, b.Store, math.MinInt64, 0)
	if diff := Diff([]anomalies.Record{Rec("m", Base)}, got); diff != "" {
		t.Fatalf("the store kept the caller's memory (-want +got):\n%s", diff)
	}
	got[0].Detectors[0] = "changed by a reader"
	if diff := Diff([]anomalies.Record{Rec("m", Base)}, metric(t, b.Store, "m", math.MinInt64, 0)); diff != "" {
		t.Errorf("a reader changed the store (-want +got):\n%s", diff)
	}
}

func testEmptyAdd(t *testing.T, b Backend) {
	Add(t, b.Store)
	Add(t, b.Store, []anomalies.Record{}...)
	r := Rec("m", Base)
	r.Detectors, r.Profile = nil, ""
	Add(t, b.Store, r) // empty optional fields are fine
	if diff := Diff([]anomalies.Record{r}, since(t, b.Store, math.MinInt64, 0)); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}

func testInvalidRecords(t *testing.T, b Backend) {
	good := Rec("ok", Base)
	bad := func(f func(r *anomalies.Record)) anomalies.Record {
		r := Rec("bad", Base)
		f(&r)
		return r
	}
	tests := []struct {
		name string
		rec  anomalies.Record
	}{
		{"EmptyMetric", bad(func(r *anomalies.Record) { r.Metric = "" })},
		{"MetricNotUTF8", bad(func(r *anomalies.Record) { r.Metric = "a\xffb" })},
		{"ProfileNotUTF8", bad(func(r *anomalies.Record) { r.Profile = "\xc3" })},
		{"DetectorNotUTF8", bad(func(r *anomalies.Record) { r.Detectors = []string{"ok", "\xfe"} })},
		{"ValueNaN", bad(func(r *anomalies.Record) { r.Value = math.NaN() })},
		{"ValueInf", bad(func(r *anomalies.Record) { r.Value = math.Inf(1) })},
		{"ScoreNegInf", bad(func(r *anomalies.Record) { r.Score = math.Inf(-1) })},
		{"TimestampTooLarge", bad(func(r *anomalies.Record) { r.Timestamp = 1<<53 + 1 })},
		{"TimestampTooSmall", bad(func(r *anomalies.Record) { r.Timestamp = math.MinInt64 })},
	}
	for _, tc := range tests {
		err := b.Store.Add(ctx, []anomalies.Record{good, tc.rec})
		if !errors.Is(err, anomalies.ErrInvalid) {
			t.Errorf("%s: Add = %v, want ErrInvalid", tc.name, err)
		}
	}
	// All or nothing: the good record of each refused batch is not there.
	if got := since(t, b.Store, math.MinInt64, 0); len(got) != 0 {
		t.Errorf("refused batches stored %d records: %+v", len(got), got)
	}
	// The limits of the range are accepted.
	edge := []anomalies.Record{Rec("edge", 1<<53), Rec("edge", -(1 << 53))}
	Add(t, b.Store, edge...)
	if diff := Diff(edge, since(t, b.Store, math.MinInt64, 0)); diff != "" {
		t.Errorf("edge timestamps (-want +got):\n%s", diff)
	}
}

func testNegativeLimit(t *testing.T, b Backend) {
	if _, err := b.Store.Since(ctx, 0, -1); !errors.Is(err, anomalies.ErrInvalid) {
		t.Errorf("Since(limit -1) = %v, want ErrInvalid", err)
	}
	if _, err := b.Store.Metric(ctx, "m", 0, -1); !errors.Is(err, anomalies.ErrInvalid) {
		t.Errorf("Metric(limit -1) = %v, want ErrInvalid", err)
	}
}

func testTrim(t *testing.T, b Backend) {
	now := Base + 10_000
	cut := now - int64(Retention/time.Second)
	var recs []anomalies.Record
	for _, m := range []string{"m1", "m2"} {
		for _, ts := range []int64{cut - 1000, cut - 1, cut, cut + 1} {
			recs = append(recs, Rec(m, ts))
		}
	}
	recs = append(recs, Rec("m3", cut-5)) // a metric that goes away entirely
	Add(t, b.Store, recs...)
	n, err := b.Store.Trim(ctx, now)
	if err != nil {
		t.Fatalf("Trim: %v", err)
	}
	if n != 5 {
		t.Errorf("Trim removed %d, want 5", n)
	}
	want := newestFirst([]anomalies.Record{Rec("m1", cut), Rec("m1", cut+1), Rec("m2", cut), Rec("m2", cut+1)})
	if diff := Diff(want, since(t, b.Store, math.MinInt64, 0)); diff != "" {
		t.Errorf("after Trim (-want +got):\n%s", diff)
	}
	for _, m := range []string{"m1", "m2"} {
		want := []anomalies.Record{Rec(m, cut+1), Rec(m, cut)}
		if diff := Diff(want, metric(t, b.Store, m, math.MinInt64, 0)); diff != "" {
			t.Errorf("Metric(%q) after Trim (-want +got):\n%s", m, diff)
		}
	}
	if got := metric(t, b.Store, "m3", math.MinInt64, 0); len(got) != 0 {
		t.Errorf("Metric(m3) after Trim = %+v, want none", got)
	}
	if n, err := b.Store.Trim(ctx, now); err != nil || n != 0 {
		t.Errorf("second Trim = %d, %v; want 0, nil", n, err)
	}
	// A record older than the cut-off added after a Trim stays until the
	// next Trim.
	Add(t, b.Store, Rec("m1", cut-1))
	if got := metric(t, b.Store, "m1", math.MinInt64, 0); len(got) != 3 {
		t.Errorf("Metric(m1) after a late add = %d records, want 3", len(got))
	}
	if n, err := b.Store.Trim(ctx, now); err != nil || n != 1 {
		t.Errorf("third Trim = %d, %v; want 1, nil", n, err)
	}
}

func testTrimMany(t *testing.T, b Backend) {
	const n = 2500 // over the Redis backend's chunks of 1000
	recs := make([]anomalies.Record, n)
	for i := range recs {
		recs[i] = Rec(fmt.Sprintf("m%d", i%7), Base+int64(i))
	}
	Add(t, b.Store, recs...)
	if got := since(t, b.Store, math.MinInt64, 0); len(got) != n {
		t.Fatalf("Since(all) = %d records, want %d", len(got), n)
	}
	if diff := Diff(newestFirst(recs)[:1500], since(t, b.Store, math.MinInt64, 1500)); diff != "" {
		t.Errorf("Since(limit 1500) (-want +got):\n%s", diff)
	}
	now := Base + int64(Retention/time.Second) + 2100 // keeps ts >= Base+2100
	removed, err := b.Store.Trim(ctx, now)
	if err != nil {
		t.Fatalf("Trim: %v", err)
	}
	if removed != 2100 {
		t.Errorf("Trim removed %d, want 2100", removed)
	}
	if diff := Diff(newestFirst(recs[2100:]), since(t, b.Store, math.MinInt64, 0)); diff != "" {
		t.Errorf("after Trim (-want +got):\n%s", diff)
	}
	var per []anomalies.Record
	for _, r := range recs[2100:] {
		if r.Metric == "m3" {
			per = append(per, r)
		}
	}
	if diff := Diff(newestFirst(per), metric(t, b.Store, "m3", math.MinInt64, 0)); diff != "" {
		t.Errorf("Metric(m3) after Trim (-want +got):\n%s", diff)
	}
}

// expire waits until the claim (alerter, name) of expiration exp can be
// taken again, by the fake clock or by polling for up to 3 s, and fails the
// test if it never can. A successful poll takes the claim.
func expire(t *testing.T, b Backend, alerter, name string, exp time.Duration) {
	t.Helper()
	if b.Advance != nil {
		b.Advance(exp / 2)
		if claim(t, b.Store, alerter, name, Base, exp) {
			t.Fatal("Claim succeeded half-way through the expiration")
		}
		b.Advance(exp / 2)
		if !claim(t, b.Store, alerter, name, Base, exp) {
			t.Fatal("Claim failed once the expiration had passed")
		}
		return
	}
	deadline := time.Now().Add(3 * time.Second)
	for !claim(t, b.Store, alerter, name, Base, exp) {
		if time.Now().After(deadline) {
			t.Fatalf("Claim still refused 3 s after a %v claim", exp)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func testClaimExpires(t *testing.T, b Backend) {
	exp := time.Second
	if b.Advance != nil {
		exp = 30 * time.Minute
	}
	if !claim(t, b.Store, "smtp", "m", Base, exp) {
		t.Fatal("first Claim = false, want true")
	}
	if claim(t, b.Store, "smtp", "m", Base+60, exp) {
		t.Fatal("second Claim within the expiration = true, want false")
	}
	expire(t, b, "smtp", "m", exp)
	if claim(t, b.Store, "smtp", "m", Base+120, exp) {
		t.Error("Claim right after re-claiming = true, want false")
	}
}

func testClaimIndependent(t *testing.T, b Backend) {
	exp := time.Hour
	pairs := [][2]string{{"smtp", "m"}, {"slack", "m"}, {"smtp", "m2"}, {"smtp", "m.x"}, {"smtp", "x.m"}}
	for _, p := range pairs {
		if !claim(t, b.Store, p[0], p[1], Base, exp) {
			t.Errorf("Claim(%q, %q) = false on a fresh pair", p[0], p[1])
		}
	}
	for _, p := range pairs {
		if claim(t, b.Store, p[0], p[1], Base, exp) {
			t.Errorf("Claim(%q, %q) again = true", p[0], p[1])
		}
	}
}

func testClaimInvalid(t *testing.T, b Backend) {
	tests := []struct {
		alerter, metric string
		exp             time.Duration
	}{
		{"", "m", time.Minute},
		{"smtp.x", "m", time.Minute},
		{"smtp", "", time.Minute},
		{"smtp", "a\xff", time.Minute},
		{"smtp", "m", 0},
		{"smtp", "m", -time.Second},
		{"smtp", "m", time.Microsecond},
	}
	for _, tc := range tests {
		if _, err := b.Store.Claim(ctx, tc.alerter, tc.metric, Base, tc.exp); !errors.Is(err, anomalies.ErrInvalid) {
			t.Errorf("Claim(%q, %q, %v) = %v, want ErrInvalid", tc.alerter, tc.metric, tc.exp, err)
		}
	}
	if err := b.Store.Release(ctx, "a.b", "m"); !errors.Is(err, anomalies.ErrInvalid) {
		t.Errorf("Release(%q) = %v, want ErrInvalid", "a.b", err)
	}
	// None of them took a claim.
	if !claim(t, b.Store, "smtp", "m", Base, time.Minute) {
		t.Error("a refused Claim took the key")
	}
}

func testRelease(t *testing.T, b Backend) {
	if err := b.Store.Release(ctx, "smtp", "never"); err != nil {
		t.Errorf("Release of a missing claim: %v", err)
	}
	if !claim(t, b.Store, "smtp", "m", Base, time.Hour) || !claim(t, b.Store, "smtp", "other", Base, time.Hour) {
		t.Fatal("fresh Claim = false")
	}
	if err := b.Store.Release(ctx, "smtp", "m"); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if !claim(t, b.Store, "smtp", "m", Base+60, time.Hour) {
		t.Error("Claim after Release = false, want true")
	}
	if claim(t, b.Store, "smtp", "other", Base+60, time.Hour) {
		t.Error("Release dropped another claim")
	}
	if err := b.Store.Release(ctx, "smtp", "m"); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if err := b.Store.Release(ctx, "smtp", "m"); err != nil {
		t.Errorf("second Release: %v", err)
	}
}

func testIncidents(t *testing.T, b Backend) {
	if got := incidents(t, b.Store); len(got) != 0 {
		t.Fatalf("Incidents of an empty store = %+v", got)
	}
	a := anomalies.Incident{Key: "pagerduty.a", Metric: "a", Rule: "a.*", Alerter: "pagerduty", Opened: Base, LastAnomalous: Base}
	c := anomalies.Incident{Key: "pagerduty.c", Metric: "c", Rule: "*", Alerter: "pagerduty", Opened: Base + 5, LastAnomalous: Base + 5}
	bb := anomalies.Incident{Key: "pagerduty.b", Metric: "b", Alerter: "pagerduty", Opened: Base + 1}
	for _, in := range []anomalies.Incident{c, a, bb} {
		if err := b.Store.PutIncident(ctx, in); err != nil {
			t.Fatalf("PutIncident(%q): %v", in.Key, err)
		}
	}
	if diff := Diff([]anomalies.Incident{a, bb, c}, incidents(t, b.Store)); diff != "" {
		t.Errorf("Incidents (-want +got):\n%s", diff)
	}
	a.LastAnomalous = Base + 600 // update
	if err := b.Store.PutIncident(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := b.Store.CloseIncident(ctx, bb.Key); err != nil {
		t.Fatal(err)
	}
	if err := b.Store.CloseIncident(ctx, "never.opened"); err != nil {
		t.Errorf("CloseIncident of a missing key: %v", err)
	}
	if diff := Diff([]anomalies.Incident{a, c}, incidents(t, b.Store)); diff != "" {
		t.Errorf("Incidents after update and close (-want +got):\n%s", diff)
	}
	if err := b.Store.PutIncident(ctx, anomalies.Incident{Metric: "x"}); !errors.Is(err, anomalies.ErrInvalid) {
		t.Errorf("PutIncident with an empty key = %v, want ErrInvalid", err)
	}
}

func testHostileNames(t *testing.T, b Backend) {
	var all []anomalies.Record
	for i, name := range HostileNames {
		recs := []anomalies.Record{Rec(name, Base+int64(i)), Rec(name, Base+1000)}
		Add(t, b.Store, recs...)
		all = append(all, recs...)
	}
	if diff := Diff(newestFirst(all), since(t, b.Store, math.MinInt64, 0)); diff != "" {
		t.Errorf("Since (-want +got):\n%s", diff)
	}
	for i, name := range HostileNames {
		want := []anomalies.Record{Rec(name, Base+1000), Rec(name, Base+int64(i))}
		if diff := Diff(want, metric(t, b.Store, name, math.MinInt64, 0)); diff != "" {
			t.Errorf("Metric(%q) (-want +got):\n%s", name, diff)
		}
		if !claim(t, b.Store, "pagerduty", name, Base, time.Hour) {
			t.Errorf("Claim(%q) = false on a fresh name", name)
		}
		in := anomalies.Incident{Key: "pagerduty." + name, Metric: name, Rule: name, Alerter: "pagerduty", Opened: Base}
		if err := b.Store.PutIncident(ctx, in); err != nil {
			t.Fatalf("PutIncident(%q): %v", in.Key, err)
		}
	}
	for _, name := range HostileNames {
		if claim(t, b.Store, "pagerduty", name, Base, time.Hour) {
			t.Errorf("Claim(%q) again = true", name)
		}
	}
	got := incidents(t, b.Store)
	if len(got) != len(HostileNames) {
		t.Fatalf("Incidents = %d, want %d", len(got), len(HostileNames))
	}
	for _, in := range got {
		if in.Key != "pagerduty."+in.Metric || in.Rule != in.Metric {
			t.Errorf("incident %q came back as %+v", in.Key, in)
		}
	}
	n, err := b.Store.Trim(ctx, Base+1000+int64(Retention/time.Second))
	if err != nil || n != len(HostileNames) {
		t.Fatalf("Trim = %d, %v; want %d", n, err, len(HostileNames))
	}
	for _, name := range HostileNames {
		if diff := Diff([]anomalies.Record{Rec(name, Base+1000)}, metric(t, b.Store, name, math.MinInt64, 0)); diff != "" {
			t.Errorf("Metric(%q) after Trim (-want +got):\n%s", name, diff)
		}
	}
}

func testConcurrent(t *testing.T, b Backend) {
	const writers, per = 4, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers+2)
	for w := range writers {
		wg.Go(func() {
			for i := range per {
				r := Rec(fmt.Sprintf("w%d", w), Base+int64(i))
				if err := b.Store.Add(ctx, []anomalies.Record{r}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for range per {
				got, err := b.Store.Since(ctx, math.MinInt64, 10)
				if err != nil {
					errs <- err
					return
				}
				for i := 1; i < len(got); i++ {
					if got[i].Timestamp > got[i-1].Timestamp {
						errs <- fmt.Errorf("Since out of order: %+v", got)
						return
					}
				}
			}
		})
	}
	wg.Go(func() {
		for i := range per {
			if _, err := b.Store.Claim(ctx, "smtp", fmt.Sprintf("c%d", i%5), Base, time.Hour); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := since(t, b.Store, math.MinInt64, 0); len(got) != writers*per {
		t.Errorf("after concurrent adds: %d records, want %d", len(got), writers*per)
	}
}

// calls is one valid call of every method but Close, by name.
func calls(s anomalies.Store, c context.Context) map[string]func() error {
	return map[string]func() error{
		"Add":       func() error { return s.Add(c, []anomalies.Record{Rec("m", Base)}) },
		"Since":     func() error { _, err := s.Since(c, 0, 0); return err },
		"Metric":    func() error { _, err := s.Metric(c, "m", 0, 0); return err },
		"Trim":      func() error { _, err := s.Trim(c, Base); return err },
		"Claim":     func() error { _, err := s.Claim(c, "smtp", "m", Base, time.Minute); return err },
		"Release":   func() error { return s.Release(c, "smtp", "m") },
		"Put":       func() error { return s.PutIncident(c, anomalies.Incident{Key: "k"}) },
		"Incidents": func() error { _, err := s.Incidents(c); return err },
		"CloseInc":  func() error { return s.CloseIncident(c, "k") },
	}
}

func testCancelledContext(t *testing.T, b Backend) {
	c, cancel := context.WithCancel(ctx)
	cancel()
	for name, call := range calls(b.Store, c) {
		if err := call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context = %v, want context.Canceled", name, err)
		}
	}
	if got := since(t, b.Store, math.MinInt64, 0); len(got) != 0 {
		t.Errorf("a cancelled Add stored %+v", got)
	}
}

func testClosed(t *testing.T, b Backend) {
	Add(t, b.Store, Rec("m", Base))
	if err := b.Store.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for name, call := range calls(b.Store, ctx) {
		if err := call(); !errors.Is(err, anomalies.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
	if err := b.Store.Close(); !errors.Is(err, anomalies.ErrClosed) {
		t.Errorf("second Close = %v, want ErrClosed", err)
	}
}
