// Package storetest is the conformance suite of store.Store. Every backend
// runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, ret store.Retention) store.Store {
//			s, err := embedded.Open(...)
//			...
//			return s
//		})
//	}
//
// The suite checks the contract written in internal/store/store.go and
// nothing else, so that the embedded store and the Redis store cannot drift
// apart.
package storetest

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

	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/store"
)

// base is the first timestamp the suite writes: a realistic epoch second.
const base int64 = 1_700_000_000

// hangTimeout is how long a call with a cancelled context may take before
// the suite calls it a hang. It is a safety net, not a speed assertion.
const hangTimeout = 10 * time.Second

// suiteRetention is the retention every store of the suite is opened with:
// Cutoff(now) = now - 4200.
var suiteRetention = store.Retention{FullDuration: time.Hour, Grace: 10 * time.Minute}

// bitExact compares float64 values by their bits, so that -0 differs from
// +0 and a changed subnormal is caught.
var bitExact = cmp.Comparer(func(a, b float64) bool {
	return math.Float64bits(a) == math.Float64bits(b)
})

// Run runs the conformance subtests against the stores open returns.
//
// Each subtest calls open once. open must return a new, empty store that
// keeps data for ret and shares no data with the stores it returned before
// (a Redis factory flushes the database). Run closes every store it gets
// (ignoring the error of a second Close); open registers with t.Cleanup
// whatever else it must release. The subtests run one after another, never
// in parallel, so open may reuse one server for all of them.
func Run(t *testing.T, open func(t *testing.T, ret store.Retention) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"RoundTripBitExact", testRoundTripBitExact},
		{"OutOfOrderSorted", testOutOfOrderSorted},
		{"LastWriteWinsWithinAppend", testLastWriteWinsWithinAppend},
		{"LastWriteWinsAcrossAppends", testLastWriteWinsAcrossAppends},
		{"FetchInclusiveBounds", testFetchInclusiveBounds},
		{"FetchEmptyRange", testFetchEmptyRange},
		{"FetchNotFound", testFetchNotFound},
		{"FetchBatch", testFetchBatch},
		{"FetchBatchMany", testFetchBatchMany},
		{"FetchBatchCallbackError", testFetchBatchCallbackError},
		{"FetchBatchCancel", testFetchBatchCancel},
		{"FetchBatchScratch", testFetchBatchScratch},
		{"Names", testNames},
		{"NamesPrefixIsLiteral", testNamesPrefixIsLiteral},
		{"NamesEmptyStore", testNamesEmptyStore},
		{"EmptyAppend", testEmptyAppend},
		{"AppendKeepsNoReference", testAppendKeepsNoReference},
		{"LargeBatch", testLargeBatch},
		{"ManySmallAppends", testManySmallAppends},
		{"Trim", testTrim},
		{"TrimNothingToDo", testTrimNothingToDo},
		{"TrimDeduplicates", testTrimDeduplicates},
		{"AppendAfterTrimDeleted", testAppendAfterTrimDeleted},
		{"ConcurrentAppend", testConcurrentAppend},
		{"ConcurrentReadWrite", testConcurrentReadWrite},
		{"Ping", testPing},
		{"CancelledContext", testCancelledContext},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t, suiteRetention)
			if s == nil {
				t.Fatal("open returned a nil store")
			}
			t.Cleanup(func() { _ = s.Close() })
			tc.fn(t, s)
		})
	}
}

// noCallback is a FetchBatch callback that fails: for calls that must not
// reach it.
func noCallback(i int, _ []series.Point) error {
	return fmt.Errorf("FetchBatch called back for name %d", i)
}

// appendOK stores samples or fails the test.
func appendOK(t *testing.T, s store.Store, samples []series.Sample) {
	t.Helper()
	if err := s.Append(context.Background(), samples); err != nil {
		t.Fatalf("Append(%d samples): %v", len(samples), err)
	}
}

// fetchAll returns every point of name or fails the test.
func fetchAll(t *testing.T, s store.Store, name string) []series.Point {
	t.Helper()
	pts, err := s.Fetch(context.Background(), name, math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatalf("Fetch(%q): %v", name, err)
	}
	return pts
}

// checkPoints fails the test when metric name does not hold exactly want.
func checkPoints(t *testing.T, s store.Store, name string, want []series.Point) {
	t.Helper()
	got := fetchAll(t, s, name)
	if diff := cmp.Diff(want, got, bitExact, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Fetch(%q) mismatch (-want +got):\n%s", name, diff)
	}
}

// names returns Names(prefix) or fails the test.
func names(t *testing.T, s store.Store, prefix string) []string {
	t.Helper()
	got, err := s.Names(context.Background(), prefix)
	if err != nil {
		t.Fatalf("Names(%q): %v", prefix, err)
	}
	return got
}

// samplesOf turns points into samples of metric name.
func samplesOf(name string, pts []series.Point) []series.Sample {
	out := make([]series.Sample, len(pts))
	for i, p := range pts {
		out[i] = series.Sample{Name: name, Point: p}
	}
	return out
}

// regular returns n points from ts start every step seconds with values
// f(i).
func regular(start, step int64, n int, f func(i int) float64) []series.Point {
	pts := make([]series.Point, n)
	for i := range pts {
		pts[i] = series.Point{Timestamp: start + int64(i)*step, Value: f(i)}
	}
	return pts
}

func testRoundTripBitExact(t *testing.T, s store.Store) {
	values := []float64{
		0,
		math.Copysign(0, -1),
		1,
		-1,
		0.1,
		1.0 / 3,
		-2.5e-300,
		math.SmallestNonzeroFloat64,
		-math.SmallestNonzeroFloat64,
		math.Float64frombits(0x000fffffffffffff), // largest subnormal
		math.Float64frombits(0x0010000000000000), // smallest normal
		math.MaxFloat64,
		-math.MaxFloat64,
		1e308,
		9007199254740993, // 2^53+1 rounds to 2^53: the float is what counts
		123456789.123456789,
		-42,
		math.Pi,
		math.Nextafter(1, 2),
		math.Nextafter(1, 0),
		4503599627370496.5,
		1e-320,
	}
	want := regular(base, 60, len(values), func(i int) float64 { return values[i] })
	appendOK(t, s, samplesOf("bits.exact", want))
	checkPoints(t, s, "bits.exact", want)

	// The same values one per metric, each alone in its series.
	for i, v := range values {
		name := fmt.Sprintf("bits.single.%02d", i)
		appendOK(t, s, []series.Sample{{Name: name, Point: series.Point{Timestamp: base, Value: v}}})
		checkPoints(t, s, name, []series.Point{{Timestamp: base, Value: v}})
	}

	// Irregular timestamps: gaps of 1 s, hours, and back-to-back seconds.
	irregular := []series.Point{
		{Timestamp: base, Value: 1},
		{Timestamp: base + 1, Value: 2},
		{Timestamp: base + 2, Value: 2},
		{Timestamp: base + 3600, Value: -7.25},
		{Timestamp: base + 3601, Value: 0},
		{Timestamp: base + 86400, Value: 1e-10},
		{Timestamp: base + 86401, Value: 1e10},
	}
	appendOK(t, s, samplesOf("bits.irregular", irregular))
	checkPoints(t, s, "bits.irregular", irregular)

	// Timestamps far from today still round-trip.
	extremes := []series.Point{
		{Timestamp: 0, Value: 1},
		{Timestamp: 1, Value: 2},
		{Timestamp: 4_102_444_800, Value: 3}, // 2100-01-01
	}
	appendOK(t, s, samplesOf("bits.ts.extremes", extremes))
	checkPoints(t, s, "bits.ts.extremes", extremes)
}

func testOutOfOrderSorted(t *testing.T, s store.Store) {
	want := regular(base, 60, 300, func(i int) float64 { return float64(i) * 1.5 })

	// Reverse order in one Append.
	rev := slices.Clone(want)
	slices.Reverse(rev)
	appendOK(t, s, samplesOf("ooo.reversed", rev))
	checkPoints(t, s, "ooo.reversed", want)

	// A deterministic shuffle spread over many Appends.
	shuf := slices.Clone(want)
	for i := range shuf { // multiplicative permutation: 7 is coprime to 300
		shuf[i] = want[(i*7)%len(want)]
	}
	for i := 0; i < len(shuf); i += 13 {
		appendOK(t, s, samplesOf("ooo.shuffled", shuf[i:min(i+13, len(shuf))]))
	}
	checkPoints(t, s, "ooo.shuffled", want)

	// Newest first, then old points that fall before everything stored.
	late := want[150:]
	early := want[:150]
	appendOK(t, s, samplesOf("ooo.late", late))
	checkPoints(t, s, "ooo.late", late)
	appendOK(t, s, samplesOf("ooo.late", early))
	checkPoints(t, s, "ooo.late", want)

	// Points interleaved between ones already stored.
	even := make([]series.Point, 0, 150)
	odd := make([]series.Point, 0, 150)
	for i, p := range want {
		if i%2 == 0 {
			even = append(even, p)
		} else {
			odd = append(odd, p)
		}
	}
	appendOK(t, s, samplesOf("ooo.interleaved", even))
	appendOK(t, s, samplesOf("ooo.interleaved", odd))
	checkPoints(t, s, "ooo.interleaved", want)
}

func testLastWriteWinsWithinAppend(t *testing.T, s store.Store) {
	samples := []series.Sample{
		{Name: "lww.within", Point: series.Point{Timestamp: base + 60, Value: 1}},
		{Name: "lww.within", Point: series.Point{Timestamp: base, Value: 10}},
		{Name: "lww.within", Point: series.Point{Timestamp: base + 60, Value: 2}},
		{Name: "lww.other", Point: series.Point{Timestamp: base + 60, Value: 99}},
		{Name: "lww.within", Point: series.Point{Timestamp: base + 120, Value: 5}},
		{Name: "lww.within", Point: series.Point{Timestamp: base + 60, Value: 3}},
		{Name: "lww.within", Point: series.Point{Timestamp: base, Value: math.Copysign(0, -1)}},
	}
	appendOK(t, s, samples)
	checkPoints(t, s, "lww.within", []series.Point{
		{Timestamp: base, Value: math.Copysign(0, -1)},
		{Timestamp: base + 60, Value: 3},
		{Timestamp: base + 120, Value: 5},
	})
	checkPoints(t, s, "lww.other", []series.Point{{Timestamp: base + 60, Value: 99}})

	// Many rewrites of one timestamp in one batch: only the last counts.
	var many []series.Sample
	for i := range 1000 {
		many = append(many, series.Sample{Name: "lww.many", Point: series.Point{Timestamp: base + int64(i%10)*60, Value: float64(i)}})
	}
	appendOK(t, s, many)
	checkPoints(t, s, "lww.many", regular(base, 60, 10, func(i int) float64 { return float64(990 + i) }))
}

func testLastWriteWinsAcrossAppends(t *testing.T, s store.Store) {
	first := regular(base, 60, 500, func(i int) float64 { return float64(i) })
	appendOK(t, s, samplesOf("lww.across", first))

	// Rewrite every third point, old ones included, in a later Append.
	want := slices.Clone(first)
	var rewrite []series.Sample
	for i := 0; i < len(want); i += 3 {
		want[i].Value = -float64(i) - 0.5
		rewrite = append(rewrite, series.Sample{Name: "lww.across", Point: want[i]})
	}
	slices.Reverse(rewrite)
	appendOK(t, s, rewrite)
	checkPoints(t, s, "lww.across", want)

	// And once more, one point per Append, for the first and last points.
	for _, i := range []int{0, 499, 0, 250} {
		want[i].Value = float64(1000 + i)
		appendOK(t, s, samplesOf("lww.across", []series.Point{want[i]}))
	}
	checkPoints(t, s, "lww.across", want)

	// A rewrite with -0 over +0 must show -0.
	appendOK(t, s, samplesOf("lww.zero", []series.Point{{Timestamp: base, Value: 0}}))
	appendOK(t, s, samplesOf("lww.zero", []series.Point{{Timestamp: base, Value: math.Copysign(0, -1)}}))
	checkPoints(t, s, "lww.zero", []series.Point{{Timestamp: base, Value: math.Copysign(0, -1)}})
}

func testFetchInclusiveBounds(t *testing.T, s store.Store) {
	all := regular(base, 60, 200, func(i int) float64 { return float64(i) / 4 })
	appendOK(t, s, samplesOf("range.m", all))
	ctx := context.Background()
	f := func(from, until int64, want []series.Point) {
		t.Helper()
		got, err := s.Fetch(ctx, "range.m", from, until)
		if err != nil {
			t.Fatalf("Fetch(%d, %d): %v", from, until, err)
		}
		if diff := cmp.Diff(want, got, bitExact, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Fetch(%d, %d) mismatch (-want +got):\n%s", from-base, until-base, diff)
		}
	}
	last := all[len(all)-1].Timestamp
	f(base, last, all)
	f(math.MinInt64, math.MaxInt64, all)
	f(base+60, base+600, all[1:11])      // both bounds on points
	f(base+59, base+601, all[1:11])      // both bounds between points
	f(base+61, base+599, all[2:10])      // strictly inside
	f(base+600, base+600, all[10:11])    // one point: from == until
	f(base+601, base+601, nil)           // no point at that second
	f(base-1000, base, all[:1])          // ends on the first point
	f(last, last+1000, all[len(all)-1:]) // starts on the last point
	f(base-1000, base-1, nil)            // all before
	f(last+1, last+1000, nil)            // all after
	f(base+600, base+60, nil)            // from > until
}

func testFetchEmptyRange(t *testing.T, s store.Store) {
	appendOK(t, s, samplesOf("empty.range", []series.Point{{Timestamp: base, Value: 1}}))
	got, err := s.Fetch(context.Background(), "empty.range", base+1, base+100)
	if err != nil {
		t.Fatalf("Fetch of a known metric outside its data: %v, want nil error", err)
	}
	if len(got) != 0 {
		t.Errorf("Fetch outside the data = %v, want no point", got)
	}
}

func testFetchNotFound(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, name := range []string{"never.written", "", "a", "found.x"} {
		_, err := s.Fetch(ctx, name, math.MinInt64, math.MaxInt64)
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Fetch(%q) on an empty store: err = %v, want ErrNotFound", name, err)
		}
	}
	appendOK(t, s, samplesOf("found", []series.Point{{Timestamp: base, Value: 1}}))
	for _, name := range []string{"found.x", "foun", "Found", "found ", "metrics.found"} {
		_, err := s.Fetch(ctx, name, math.MinInt64, math.MaxInt64)
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Fetch(%q) next to metric \"found\": err = %v, want ErrNotFound", name, err)
		}
	}
	checkPoints(t, s, "found", []series.Point{{Timestamp: base, Value: 1}})
}

func testNames(t *testing.T, s store.Store) {
	long := strings.Repeat("very.long.segment-", 60) + "end" // > 1000 bytes
	all := []string{
		"a",
		"a.b",
		"a.b.c",
		"a.bc",
		"a-b.c",
		"aa",
		"b",
		"carbon.agents.host-1.cpuUsage",
		"carbon.agents.host-10.cpuUsage",
		"carbon.agents.host-2.cpuUsage",
		"stats.gauges.ünïcödé.温度",
		"stats.gauges.ünïcödé.湿度",
		"stats.timers.api.p99",
		"stats_counts.api",
		"x_y.z",
		"Z.upper",
		long,
	}
	var samples []series.Sample
	for i, n := range all {
		samples = append(samples, series.Sample{Name: n, Point: series.Point{Timestamp: base + int64(i), Value: float64(i)}})
	}
	// Write the names in reverse so that sorting is the store's job.
	slices.Reverse(samples)
	appendOK(t, s, samples)

	sorted := slices.Clone(all)
	slices.Sort(sorted)
	f := func(prefix string, want []string) {
		t.Helper()
		got := names(t, s, prefix)
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Names(%q) mismatch (-want +got):\n%s", prefix, diff)
		}
	}
	f("", sorted)
	f("a", []string{"a", "a-b.c", "a.b", "a.b.c", "a.bc", "aa"})
	f("a.", []string{"a.b", "a.b.c", "a.bc"})
	f("a.b", []string{"a.b", "a.b.c", "a.bc"})
	f("a.b.", []string{"a.b.c"})
	f("a.b.c", []string{"a.b.c"})
	f("a.b.c.", nil)
	f("carbon.agents.host-1", []string{"carbon.agents.host-1.cpuUsage", "carbon.agents.host-10.cpuUsage"})
	f("stats.", []string{"stats.gauges.ünïcödé.温度", "stats.gauges.ünïcödé.湿度", "stats.timers.api.p99"})
	f("stats.gauges.ünïcödé.", []string{"stats.gauges.ünïcödé.温度", "stats.gauges.ünïcödé.湿度"})
	f("stats", []string{"stats.gauges.ünïcödé.温度", "stats.gauges.ünïcödé.湿度", "stats.timers.api.p99", "stats_counts.api"})
	f("z", nil) // prefixes are case-sensitive
	f("Z", []string{"Z.upper"})
	f("very.long.segment-very.long", []string{long})
	f(long, []string{long})
	f(long+"x", nil)
	f("nothing", nil)
	f("metrics.", nil) // a backend's own key namespace never shows

	// Every name also round-trips through Fetch.
	for i, n := range all {
		checkPoints(t, s, n, []series.Point{{Timestamp: base + int64(i), Value: float64(i)}})
	}
}

func testNamesPrefixIsLiteral(t *testing.T, s store.Store) {
	// Glob and regexp characters in names and prefixes match only
	// themselves.
	all := []string{"g.a*b", "g.a?c", "g.[x]y", "g.a^b", "g.a\\b", "g.aXb", "g.a%b", "g.a_b"}
	var samples []series.Sample
	for i, n := range all {
		samples = append(samples, series.Sample{Name: n, Point: series.Point{Timestamp: base, Value: float64(i)}})
	}
	appendOK(t, s, samples)
	f := func(prefix string, want []string) {
		t.Helper()
		got := names(t, s, prefix)
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Names(%q) mismatch (-want +got):\n%s", prefix, diff)
		}
	}
	f("g.a*", []string{"g.a*b"})
	f("g.a?", []string{"g.a?c"})
	f("g.[x]", []string{"g.[x]y"})
	f("g.[", []string{"g.[x]y"})
	f("g.a\\", []string{"g.a\\b"})
	f("g.a%", []string{"g.a%b"})
	f("g.a_", []string{"g.a_b"})
	f("g.a.", nil)
	f("*", nil)
	f("?", nil)
}

func testNamesEmptyStore(t *testing.T, s store.Store) {
	got := names(t, s, "")
	if len(got) != 0 {
		t.Errorf("Names on an empty store = %q, want none", got)
	}
}

func testEmptyAppend(t *testing.T, s store.Store) {
	appendOK(t, s, nil)
	appendOK(t, s, []series.Sample{})
	if got := names(t, s, ""); len(got) != 0 {
		t.Errorf("Names after empty Appends = %q, want none", got)
	}
	appendOK(t, s, samplesOf("after.empty", []series.Point{{Timestamp: base, Value: 2}}))
	appendOK(t, s, nil)
	checkPoints(t, s, "after.empty", []series.Point{{Timestamp: base, Value: 2}})
}

func testAppendKeepsNoReference(t *testing.T, s store.Store) {
	want := regular(base, 60, 50, func(i int) float64 { return float64(i) })
	samples := samplesOf("noref", want)
	appendOK(t, s, samples)
	for i := range samples { // scribble over the caller's slice
		samples[i] = series.Sample{Name: "noref.scribbled", Point: series.Point{Timestamp: 1, Value: -1}}
	}
	checkPoints(t, s, "noref", want)
	if got := names(t, s, ""); !slices.Equal(got, []string{"noref"}) {
		t.Errorf("Names = %q, want [noref]", got)
	}
}

func testLargeBatch(t *testing.T, s store.Store) {
	const metrics, points = 100, 100
	var samples []series.Sample
	// Round-robin across metrics, as a listener's batch would be.
	for p := range points {
		for m := range metrics {
			samples = append(samples, series.Sample{
				Name:  fmt.Sprintf("large.m%03d", m),
				Point: series.Point{Timestamp: base + int64(p)*60, Value: float64(m*1000 + p)},
			})
		}
	}
	appendOK(t, s, samples)
	got := names(t, s, "large.")
	if len(got) != metrics {
		t.Fatalf("Names(\"large.\") gave %d names, want %d", len(got), metrics)
	}
	for m := range metrics {
		checkPoints(t, s, fmt.Sprintf("large.m%03d", m), regular(base, 60, points, func(p int) float64 { return float64(m*1000 + p) }))
	}
}

func testManySmallAppends(t *testing.T, s store.Store) {
	// One point per Append, more than a few hundred per series, so that a
	// backend that buffers or compresses in blocks crosses block edges.
	want := regular(base, 60, 700, func(i int) float64 { return float64(i%17) - 3.25 })
	for _, p := range want {
		appendOK(t, s, samplesOf("small.appends", []series.Point{p}))
	}
	checkPoints(t, s, "small.appends", want)
	got, err := s.Fetch(context.Background(), "small.appends", want[100].Timestamp, want[600].Timestamp)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if diff := cmp.Diff(want[100:601], got, bitExact); diff != "" {
		t.Errorf("Fetch of a middle range mismatch (-want +got):\n%s", diff)
	}
}

func trimOK(t *testing.T, s store.Store, now int64) store.TrimStats {
	t.Helper()
	st, err := s.Trim(context.Background(), now)
	if err != nil {
		t.Fatalf("Trim(%d): %v", now, err)
	}
	return st
}

func testTrim(t *testing.T, s store.Store) {
	now := base + 10_000
	cutoff := suiteRetention.Cutoff(now) // base + 5800
	// trim.mixed: points every 60 s from base to base+9960; those with
	// ts <= cutoff go.
	mixed := regular(base, 60, 167, func(i int) float64 { return float64(i) })
	var keep []series.Point
	removed := 0
	for _, p := range mixed {
		if p.Timestamp > cutoff {
			keep = append(keep, p)
		} else {
			removed++
		}
	}
	// trim.edge: one point exactly on the cutoff (goes) and one just after
	// it (stays).
	edge := []series.Point{{Timestamp: cutoff, Value: 1}, {Timestamp: cutoff + 1, Value: 2}}
	// trim.old: everything older than the cutoff; the metric disappears.
	old := regular(base, 60, 50, func(i int) float64 { return 1 })
	// trim.new: nothing to trim.
	fresh := regular(cutoff+1, 60, 30, func(i int) float64 { return float64(i) * 0.5 })
	// trim.old2: a single point on the cutoff.
	old2 := []series.Point{{Timestamp: cutoff, Value: 3}}

	var samples []series.Sample
	samples = append(samples, samplesOf("trim.mixed", mixed)...)
	samples = append(samples, samplesOf("trim.edge", edge)...)
	samples = append(samples, samplesOf("trim.old", old)...)
	samples = append(samples, samplesOf("trim.new", fresh)...)
	samples = append(samples, samplesOf("trim.old2", old2)...)
	appendOK(t, s, samples)

	got := trimOK(t, s, now)
	want := store.TrimStats{Metrics: 5, PointsRemoved: removed + 1 + len(old) + 1, Deleted: 2}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("TrimStats mismatch (-want +got):\n%s", diff)
	}
	checkPoints(t, s, "trim.mixed", keep)
	checkPoints(t, s, "trim.edge", edge[1:])
	checkPoints(t, s, "trim.new", fresh)
	for _, name := range []string{"trim.old", "trim.old2"} {
		if _, err := s.Fetch(context.Background(), name, math.MinInt64, math.MaxInt64); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Fetch(%q) after Trim deleted it: err = %v, want ErrNotFound", name, err)
		}
	}
	if diff := cmp.Diff([]string{"trim.edge", "trim.mixed", "trim.new"}, names(t, s, "")); diff != "" {
		t.Errorf("Names after Trim mismatch (-want +got):\n%s", diff)
	}

	// A second pass at the same now removes nothing more.
	got = trimOK(t, s, now)
	if diff := cmp.Diff(store.TrimStats{Metrics: 3}, got); diff != "" {
		t.Errorf("second TrimStats mismatch (-want +got):\n%s", diff)
	}

	// A later now removes everything.
	got = trimOK(t, s, now+1_000_000)
	want = store.TrimStats{Metrics: 3, PointsRemoved: len(keep) + 1 + len(fresh), Deleted: 3}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("final TrimStats mismatch (-want +got):\n%s", diff)
	}
	if got := names(t, s, ""); len(got) != 0 {
		t.Errorf("Names after trimming everything = %q, want none", got)
	}
}

func testTrimNothingToDo(t *testing.T, s store.Store) {
	if diff := cmp.Diff(store.TrimStats{}, trimOK(t, s, base)); diff != "" {
		t.Errorf("Trim of an empty store mismatch (-want +got):\n%s", diff)
	}
	pts := regular(base, 60, 100, func(i int) float64 { return float64(i) })
	appendOK(t, s, samplesOf("trim.none", pts))
	// now such that Cutoff(now) is just before the first point.
	now := base - 1 + int64((suiteRetention.FullDuration+suiteRetention.Grace)/time.Second)
	if diff := cmp.Diff(store.TrimStats{Metrics: 1}, trimOK(t, s, now)); diff != "" {
		t.Errorf("TrimStats mismatch (-want +got):\n%s", diff)
	}
	checkPoints(t, s, "trim.none", pts)
}

func testTrimDeduplicates(t *testing.T, s store.Store) {
	// Out-of-order data with rewrites, then a Trim that removes nothing by
	// age: Fetch gives the same sorted, de-duplicated series before and
	// after, and every point Trim reports removed is a replaced one.
	pts := regular(base, 60, 300, func(i int) float64 { return float64(i) })
	rev := slices.Clone(pts)
	slices.Reverse(rev)
	appendOK(t, s, samplesOf("trim.dedup", rev))
	want := slices.Clone(pts)
	var rewrite []series.Point
	for i := 0; i < len(want); i += 5 {
		want[i].Value = float64(-i)
		rewrite = append(rewrite, want[i])
	}
	appendOK(t, s, samplesOf("trim.dedup", rewrite))
	checkPoints(t, s, "trim.dedup", want)

	now := base + int64((suiteRetention.FullDuration+suiteRetention.Grace)/time.Second) - 1
	st := trimOK(t, s, now)
	if st.Metrics != 1 || st.Deleted != 0 || st.PointsRemoved < 0 || st.PointsRemoved > len(rewrite) {
		t.Errorf("TrimStats = %+v, want Metrics 1, Deleted 0, 0 <= PointsRemoved <= %d (replaced points only)", st, len(rewrite))
	}
	checkPoints(t, s, "trim.dedup", want)
	st = trimOK(t, s, now)
	if diff := cmp.Diff(store.TrimStats{Metrics: 1}, st); diff != "" {
		t.Errorf("second TrimStats mismatch (-want +got):\n%s", diff)
	}
}

func testAppendAfterTrimDeleted(t *testing.T, s store.Store) {
	appendOK(t, s, samplesOf("reborn", []series.Point{{Timestamp: base, Value: 1}}))
	st := trimOK(t, s, base+1_000_000)
	if diff := cmp.Diff(store.TrimStats{Metrics: 1, PointsRemoved: 1, Deleted: 1}, st); diff != "" {
		t.Errorf("TrimStats mismatch (-want +got):\n%s", diff)
	}
	// New data for a deleted metric brings it back with only the new data.
	appendOK(t, s, samplesOf("reborn", []series.Point{{Timestamp: base + 1_000_000, Value: 2}}))
	checkPoints(t, s, "reborn", []series.Point{{Timestamp: base + 1_000_000, Value: 2}})
	if got := names(t, s, ""); !slices.Equal(got, []string{"reborn"}) {
		t.Errorf("Names = %q, want [reborn]", got)
	}
}

func testConcurrentAppend(t *testing.T, s store.Store) {
	const (
		writers = 8
		batches = 10
		metrics = 12
		perSer  = 10 // points per metric per batch
	)
	// Writer w writes timestamps base + (w*batches*perSer + b*perSer + k)*60
	// to every metric, so writers overlap on metrics but never on
	// timestamps, and every point must survive.
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				var samples []series.Sample
				for k := range perSer {
					for m := range metrics {
						idx := w*batches*perSer + b*perSer + k
						samples = append(samples, series.Sample{
							Name:  fmt.Sprintf("conc.m%02d", (m+w)%metrics),
							Point: series.Point{Timestamp: base + int64(idx)*60, Value: float64(idx) + float64((m+w)%metrics)/100},
						})
					}
				}
				if err := s.Append(context.Background(), samples); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Append: %v", err)
	}
	if got := names(t, s, "conc."); len(got) != metrics {
		t.Fatalf("Names(\"conc.\") gave %d names, want %d", len(got), metrics)
	}
	for m := range metrics {
		want := regular(base, 60, writers*batches*perSer, func(i int) float64 { return float64(i) + float64(m)/100 })
		checkPoints(t, s, fmt.Sprintf("conc.m%02d", m), want)
	}
}

func testConcurrentReadWrite(t *testing.T, s store.Store) {
	// Appends, Fetches, Names and Trims at the same time: nothing fails,
	// and at the end every point newer than the cutoff is there.
	const writers, rounds, step = 4, 30, 60
	now := base + 100_000
	cutoff := suiteRetention.Cutoff(now)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, writers+2)
	for w := range writers {
		wg.Go(func() {
			for r := range rounds {
				ts := cutoff + 1 + int64(w*rounds+r)*step
				old := cutoff - int64(w*rounds+r)*step // trimmed away
				samples := []series.Sample{
					{Name: "rw.shared", Point: series.Point{Timestamp: ts, Value: float64(ts)}},
					{Name: fmt.Sprintf("rw.own%d", w), Point: series.Point{Timestamp: ts, Value: float64(ts)}},
					{Name: "rw.shared", Point: series.Point{Timestamp: old, Value: -1}},
				}
				if err := s.Append(ctx, samples); err != nil {
					errs <- fmt.Errorf("Append: %w", err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range rounds {
			if _, err := s.Fetch(ctx, "rw.shared", math.MinInt64, math.MaxInt64); err != nil && !errors.Is(err, store.ErrNotFound) {
				errs <- fmt.Errorf("Fetch: %w", err)
				return
			}
			if _, err := s.Names(ctx, "rw."); err != nil {
				errs <- fmt.Errorf("Names: %w", err)
				return
			}
			names := []string{"rw.shared", "rw.own0", "rw.own1", "rw.own2", "rw.own3"}
			err := s.FetchBatch(ctx, names, math.MinInt64, math.MaxInt64, func(i int, pts []series.Point) error {
				for k := 1; k < len(pts); k++ {
					if pts[k].Timestamp <= pts[k-1].Timestamp {
						return fmt.Errorf("FetchBatch: %s not sorted at %d", names[i], k)
					}
				}
				return nil
			})
			if err != nil {
				errs <- fmt.Errorf("FetchBatch: %w", err)
				return
			}
		}
	})
	wg.Go(func() {
		for range rounds / 3 {
			if _, err := s.Trim(ctx, now); err != nil {
				errs <- fmt.Errorf("Trim: %w", err)
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	trimOK(t, s, now)
	var shared []series.Point
	for i := range writers * rounds {
		ts := cutoff + 1 + int64(i)*step
		shared = append(shared, series.Point{Timestamp: ts, Value: float64(ts)})
	}
	checkPoints(t, s, "rw.shared", shared)
	for w := range writers {
		checkPoints(t, s, fmt.Sprintf("rw.own%d", w), regular(cutoff+1+int64(w*rounds)*step, step, rounds, func(i int) float64 {
			return float64(cutoff + 1 + int64(w*rounds+i)*step)
		}))
	}
}

func testPing(t *testing.T, s store.Store) {
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping on an open store: %v", err)
	}
}

func testCancelledContext(t *testing.T, s store.Store) {
	appendOK(t, s, samplesOf("cancel.m", regular(base, 60, 10, func(i int) float64 { return float64(i) })))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var big []series.Sample
	for i := range 5000 {
		big = append(big, series.Sample{Name: fmt.Sprintf("cancel.big%d", i%50), Point: series.Point{Timestamp: base + int64(i), Value: 1}})
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"Append", func() error { return s.Append(ctx, samplesOf("cancel.m", []series.Point{{Timestamp: base, Value: 5}})) }},
		{"AppendBig", func() error { return s.Append(ctx, big) }},
		{"Names", func() error { _, err := s.Names(ctx, ""); return err }},
		{"Fetch", func() error { _, err := s.Fetch(ctx, "cancel.m", math.MinInt64, math.MaxInt64); return err }},
		{"FetchBatch", func() error { return s.FetchBatch(ctx, []string{"cancel.m"}, math.MinInt64, math.MaxInt64, noCallback) }},
		{"Trim", func() error { _, err := s.Trim(ctx, base); return err }},
		{"Ping", func() error { return s.Ping(ctx) }},
	}
	for _, c := range calls {
		done := make(chan error, 1)
		go func() { done <- c.call() }()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("%s with a cancelled context: err = %v, want context.Canceled or nil", c.name, err)
			}
		case <-time.After(hangTimeout):
			t.Fatalf("%s with a cancelled context did not return within %v", c.name, hangTimeout)
		}
	}
	// The store still works with a live context.
	pts := fetchAll(t, s, "cancel.m")
	if len(pts) != 10 {
		t.Errorf("after cancelled calls cancel.m has %d points, want 10", len(pts))
	}
}

func testClosed(t *testing.T, s store.Store) {
	appendOK(t, s, samplesOf("closed.m", []series.Point{{Timestamp: base, Value: 1}}))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx := context.Background()
	calls := []struct {
		name string
		call func() error
	}{
		{"Append", func() error { return s.Append(ctx, samplesOf("closed.m", []series.Point{{Timestamp: base, Value: 2}})) }},
		{"AppendEmpty", func() error { return s.Append(ctx, nil) }},
		{"Names", func() error { _, err := s.Names(ctx, ""); return err }},
		{"Fetch", func() error { _, err := s.Fetch(ctx, "closed.m", math.MinInt64, math.MaxInt64); return err }},
		{"FetchBatch", func() error { return s.FetchBatch(ctx, []string{"closed.m"}, math.MinInt64, math.MaxInt64, noCallback) }},
		{"FetchBatchNoNames", func() error { return s.FetchBatch(ctx, nil, math.MinInt64, math.MaxInt64, noCallback) }},
		{"Trim", func() error { _, err := s.Trim(ctx, base); return err }},
		{"Ping", func() error { return s.Ping(ctx) }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close: err = %v, want ErrClosed", c.name, err)
		}
	}
	// A second Close may return ErrClosed or nil, but nothing else.
	if err := s.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
		t.Errorf("second Close: err = %v, want ErrClosed or nil", err)
	}
}
