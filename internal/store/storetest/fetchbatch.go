package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/store"
)

// Model is what a store must hold: per metric, the last value written at
// each timestamp.
type Model map[string]map[int64]float64

// write applies samples to m, in order, as a store's Append must.
func (m Model) Write(samples []series.Sample) {
	for _, x := range samples {
		if m[x.Name] == nil {
			m[x.Name] = map[int64]float64{}
		}
		m[x.Name][x.Timestamp] = x.Value
	}
}

// Trim removes what a store's Trim at cutoff must remove.
func (m Model) Trim(cutoff int64) {
	for name, pts := range m {
		for ts := range pts {
			if ts <= cutoff {
				delete(pts, ts)
			}
		}
		if len(pts) == 0 {
			delete(m, name)
		}
	}
}

// Points returns the points of name in [from, until], sorted, and whether
// the store holds name.
func (m Model) Points(name string, from, until int64) ([]series.Point, bool) {
	pts, ok := m[name]
	if !ok {
		return nil, false
	}
	var out []series.Point
	for _, ts := range slices.Sorted(maps.Keys(pts)) {
		if ts >= from && ts <= until {
			out = append(out, series.Point{Timestamp: ts, Value: pts[ts]})
		}
	}
	return out, true
}

// All returns every metric's points, sorted by time.
func (m Model) All() map[string][]series.Point {
	out := map[string][]series.Point{}
	for name := range m {
		out[name], _ = m.Points(name, math.MinInt64, math.MaxInt64)
	}
	return out
}

// batchCall is one call of a FetchBatch callback, its points copied.
type batchCall struct {
	I   int
	Pts []series.Point
}

// fetchBatch runs FetchBatch and returns its calls, each with a copy of
// its points (the store may reuse the slice after the callback returns).
func fetchBatch(t *testing.T, s store.Store, names []string, from, until int64) []batchCall {
	t.Helper()
	var calls []batchCall
	err := s.FetchBatch(context.Background(), names, from, until, func(i int, pts []series.Point) error {
		calls = append(calls, batchCall{I: i, Pts: slices.Clone(pts)})
		return nil
	})
	if err != nil {
		t.Fatalf("FetchBatch(%d names, %d, %d): %v", len(names), from, until, err)
	}
	return calls
}

// checkBatch runs FetchBatch on names and checks that it calls back, in
// increasing order of i, exactly for the names Fetch finds, with Fetch's
// points, which are also the model's.
func checkBatch(t *testing.T, s store.Store, m Model, names []string, from, until int64) {
	t.Helper()
	var want []batchCall
	for i, name := range names {
		pts, err := s.Fetch(context.Background(), name, from, until)
		modelPts, held := m.Points(name, from, until)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if held {
				t.Fatalf("Fetch(%q): ErrNotFound, but the metric was written", name)
			}
			continue
		case err != nil:
			t.Fatalf("Fetch(%q, %d, %d): %v", name, from, until, err)
		}
		if diff := cmp.Diff(modelPts, pts, bitExact, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("Fetch(%q, %d, %d) differs from what was written (-want +got):\n%s", name, from, until, diff)
		}
		want = append(want, batchCall{I: i, Pts: pts})
	}
	got := fetchBatch(t, s, names, from, until)
	if diff := cmp.Diff(want, got, bitExact, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("FetchBatch(%d, %d) differs from Fetch of each name (-want +got):\n%s", from, until, diff)
	}
}

// fetchBatchData writes the mixed data set of the FetchBatch tests into s
// and m: regular, out-of-order, rewritten (within and across Appends) and
// long series, one of a single point, and one with a gap of a day.
func fetchBatchData(t *testing.T, s store.Store, m Model) []string {
	t.Helper()
	write := func(samples []series.Sample) {
		t.Helper()
		appendOK(t, s, samples)
		m.Write(samples)
	}
	// fb.regular: in order, one Append.
	write(samplesOf("fb.regular", regular(base, 60, 300, func(i int) float64 { return float64(i) / 4 })))
	// fb.ooo: a permutation over many Appends, then every 7th rewritten
	// newest first.
	pts := regular(base, 60, 300, func(i int) float64 { return float64(i%23) - 0.5 })
	shuf := make([]series.Point, len(pts))
	for i := range shuf { // 7 is coprime to 300
		shuf[i] = pts[(i*7)%len(pts)]
	}
	for i := 0; i < len(shuf); i += 11 {
		write(samplesOf("fb.ooo", shuf[i:min(i+11, len(shuf))]))
	}
	var rewrite []series.Point
	for i := len(pts) - 1; i >= 0; i -= 7 {
		rewrite = append(rewrite, series.Point{Timestamp: pts[i].Timestamp, Value: -float64(i)})
	}
	write(samplesOf("fb.ooo", rewrite))
	// fb.dup: repeated timestamps within one Append.
	var dup []series.Sample
	for i := range 200 {
		dup = append(dup, series.Sample{Name: "fb.dup", Point: series.Point{Timestamp: base + int64(i%40)*60, Value: float64(i)}})
	}
	write(dup)
	// fb.long: 700 points, 10 per Append, so that chunked backends seal
	// and split many times.
	long := regular(base, 60, 700, func(i int) float64 { return math.Round(math.Sin(float64(i)/10)*1e4) / 100 })
	for i := 0; i < len(long); i += 10 {
		write(samplesOf("fb.long", long[i:i+10]))
	}
	// fb.single and fb.gap.
	write(samplesOf("fb.single", []series.Point{{Timestamp: base + 120, Value: math.Copysign(0, -1)}}))
	gap := append(regular(base, 60, 20, func(i int) float64 { return float64(i) }),
		regular(base+86400, 60, 20, func(i int) float64 { return float64(-i) })...)
	write(samplesOf("fb.gap", gap))

	// The names: every metric, some twice, and names the store does not
	// hold ("fb" and "fb.regular.x" are prefixes and extensions of real
	// ones), in no particular order.
	return []string{"fb.missing", "fb.long", "fb.regular", "", "fb.ooo", "fb.regular", "fb",
		"fb.single", "fb.regular.x", "fb.dup", "fb.gap", "fb.long", "fb.missing2"}
}

func testFetchBatch(t *testing.T, s store.Store) {
	m := Model{}
	names := fetchBatchData(t, s, m)
	ranges := []struct{ from, until int64 }{
		{math.MinInt64, math.MaxInt64},
		{base, base + 699*60},                 // exactly fb.long
		{base + 37*60 + 1, base + 433*60 - 1}, // cuts chunks of every size in the middle
		{base + 120, base + 120},              // one second
		{base + 121, base + 179},              // between points: empty for every metric
		{base - 1000, base - 1},               // before all
		{base + 700*60, base + 86400 + 60},    // after fb.long: fb.gap's second half
		{base + 600, base + 60},               // from > until
	}
	for _, r := range ranges {
		checkBatch(t, s, m, names, r.from, r.until)
	}

	// Trim into the middle of the series (a partly old chunk), then write
	// rewrites and new points that stay unsealed among sealed ones.
	cutoff := base + 250*60 + 30
	trimOK(t, s, cutoff+int64((suiteRetention.FullDuration+suiteRetention.Grace)/time.Second))
	m.Trim(cutoff)
	late := []series.Sample{
		{Name: "fb.long", Point: series.Point{Timestamp: base + 400*60, Value: 1e6}},
		{Name: "fb.long", Point: series.Point{Timestamp: base + 401*60 + 7, Value: -1e6}},
		{Name: "fb.long", Point: series.Point{Timestamp: base + 800*60, Value: 42}},
		{Name: "fb.regular", Point: series.Point{Timestamp: base + 299*60, Value: 7}},
	}
	appendOK(t, s, late)
	m.Write(late)
	for _, r := range ranges {
		checkBatch(t, s, m, names, r.from, r.until)
	}

	// No names, or only unknown ones: no call.
	for _, ns := range [][]string{nil, {}, {"fb.missing", "fb.single"}} {
		if got := fetchBatch(t, s, ns, math.MinInt64, math.MaxInt64); len(got) != 0 {
			t.Errorf("FetchBatch(%q) called back %d times, want none", ns, len(got))
		}
	}
}

func testFetchBatchMany(t *testing.T, s store.Store) {
	// More names than a Redis round trip (fetch_batch) carries, with every
	// third missing, so that rounds and skipped names meet at every edge.
	m := Model{}
	var samples []series.Sample
	var names []string
	for k := range 1200 {
		name := fmt.Sprintf("many.m%04d", k)
		names = append(names, name)
		if k%3 == 1 {
			continue
		}
		for p := range 3 {
			samples = append(samples, series.Sample{Name: name, Point: series.Point{Timestamp: base + int64(p)*60, Value: float64(k) + float64(p)/8}})
		}
	}
	appendOK(t, s, samples)
	m.Write(samples)
	checkBatch(t, s, m, names, math.MinInt64, math.MaxInt64)
	checkBatch(t, s, m, names, base+60, base+60)
}

func testFetchBatchCallbackError(t *testing.T, s store.Store) {
	m := Model{}
	fetchBatchData(t, s, m)
	names := slices.Sorted(maps.Keys(m))
	for k := range 50 {
		names = append(names, fmt.Sprintf("fb.absent%02d", k)) // skipped names do not count
	}
	for k := range 30 {
		name := fmt.Sprintf("fb.extra%02d", k)
		appendOK(t, s, samplesOf(name, []series.Point{{Timestamp: base, Value: float64(k)}}))
		names = append(names, name)
	}
	held := len(m) + 30
	errStop := errors.New("stop here")
	for _, stopAt := range []int{1, 2, len(m) + 1, len(m) + 12, held} {
		calls := 0
		err := s.FetchBatch(context.Background(), names, math.MinInt64, math.MaxInt64, func(int, []series.Point) error {
			calls++
			if calls == stopAt {
				return fmt.Errorf("callback %d: %w", calls, errStop)
			}
			return nil
		})
		if !errors.Is(err, errStop) {
			t.Errorf("FetchBatch with a callback failing at call %d: err = %v, want the callback's", stopAt, err)
		}
		if calls != stopAt {
			t.Errorf("FetchBatch with a callback failing at call %d: %d calls, want no call after the failure", stopAt, calls)
		}
	}
	// The store is unharmed.
	checkBatch(t, s, m, slices.Sorted(maps.Keys(m)), math.MinInt64, math.MaxInt64)
}

func testFetchBatchCancel(t *testing.T, s store.Store) {
	m := Model{}
	var samples []series.Sample
	var names []string
	for k := range 40 {
		name := fmt.Sprintf("cancel.fb%02d", k)
		names = append(names, name)
		samples = append(samples, samplesOf(name, regular(base, 60, 5, func(i int) float64 { return float64(k * i) }))...)
	}
	appendOK(t, s, samples)
	m.Write(samples)

	// Cancelled before the call: no callback.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := 0
	err := s.FetchBatch(ctx, names, math.MinInt64, math.MaxInt64, func(int, []series.Point) error { calls++; return nil })
	if !errors.Is(err, context.Canceled) || calls != 0 {
		t.Errorf("FetchBatch with a cancelled context: %d calls, err = %v; want none and context.Canceled", calls, err)
	}

	// Cancelled by the callback: no call after it.
	for _, at := range []int{1, 9, 40} {
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		err := s.FetchBatch(ctx, names, math.MinInt64, math.MaxInt64, func(int, []series.Point) error {
			calls++
			if calls == at {
				cancel()
			}
			return nil
		})
		cancel()
		wantErr := at < len(names) // cancelled after the last call: the batch is complete
		if wantErr && !errors.Is(err, context.Canceled) || !wantErr && err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("FetchBatch cancelled at call %d: err = %v, want context.Canceled", at, err)
		}
		if calls != at {
			t.Errorf("FetchBatch cancelled at call %d: %d calls, want none after the cancel", at, calls)
		}
	}
	// The store still works.
	checkBatch(t, s, m, names, math.MinInt64, math.MaxInt64)
}

func testFetchBatchScratch(t *testing.T, s store.Store) {
	// The callback's slice is the store's scratch: the callback copies
	// what it keeps (the contract), and scribbling over the slice changes
	// nothing stored.
	m := Model{}
	names := fetchBatchData(t, s, m)
	var kept [][]series.Point
	err := s.FetchBatch(context.Background(), names, math.MinInt64, math.MaxInt64, func(i int, pts []series.Point) error {
		kept = append(kept, slices.Clone(pts))
		for k := range pts {
			pts[k] = series.Point{Timestamp: -1, Value: math.NaN()}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("FetchBatch: %v", err)
	}
	var want [][]series.Point
	for _, name := range names {
		if pts, held := m.Points(name, math.MinInt64, math.MaxInt64); held {
			want = append(want, pts)
		}
	}
	if diff := cmp.Diff(want, kept, bitExact, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("copies made in the callback mismatch (-want +got):\n%s", diff)
	}
	checkBatch(t, s, m, names, math.MinInt64, math.MaxInt64)
}
