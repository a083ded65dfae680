package embedded

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/store"
)

// corruptChunk replaces the bytes of chunk k of series name with a
// truncated copy (chunk bytes are never modified in place).
func corruptChunk(t *testing.T, s *Store, name string, k int) {
	t.Helper()
	sh := s.shardFor(name)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	ms := sh.series[name]
	if ms == nil || len(ms.chunks) <= k {
		t.Fatalf("series %q has no chunk %d", name, k)
	}
	c := &ms.chunks[k]
	c.data = slices.Clone(c.data[:len(c.data)/2])
}

// TestFetchBatchCorruptChunk: a series whose chunk does not decode is
// skipped and reported after the batch, which goes on; a corrupt chunk
// outside the range is never decoded.
func TestFetchBatchCorruptChunk(t *testing.T) {
	cfg := testConfig(t, store.DefaultRetention())
	cfg.Dir = ""
	s := openTest(t, cfg)
	defer s.Close()
	ctx := context.Background()
	names := []string{"a", "b", "c"}
	want := map[string][]series.Point{}
	for k, name := range names {
		pts := regularPoints(100, t0, 60, func(i int) float64 { return float64(k*1000 + i) })
		var samples []series.Sample
		for _, p := range pts {
			samples = append(samples, series.Sample{Name: name, Point: p})
		}
		if err := s.Append(ctx, samples); err != nil {
			t.Fatal(err)
		}
		want[name] = pts
	}
	corruptChunk(t, s, "b", 2) // points 32 to 47 (16-point chunks)

	got := map[string][]series.Point{}
	collect := func(i int, pts []series.Point) error {
		got[names[i]] = slices.Clone(pts)
		return nil
	}
	err := s.FetchBatch(ctx, names, math.MinInt64, math.MaxInt64, collect)
	if !errors.Is(err, store.ErrCorrupt) || !errors.Is(err, errCorruptChunk) ||
		!strings.Contains(err.Error(), `1 of 3 metrics`) || !strings.Contains(err.Error(), `"b"`) {
		t.Errorf("FetchBatch: err = %v, want ErrCorrupt naming \"b\", 1 of 3 metrics", err)
	}
	if diff := cmp.Diff(map[string][]series.Point{"a": want["a"], "c": want["c"]}, got); diff != "" {
		t.Errorf("FetchBatch with a corrupt series mismatch (-want +got):\n%s", diff)
	}
	if _, err := s.Fetch(ctx, "b", math.MinInt64, math.MaxInt64); !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("Fetch of the corrupt series: err = %v, want ErrCorrupt", err)
	}

	// Ranges that miss the corrupt chunk never decode it.
	for _, r := range [][2]int64{{t0, t0 + 31*60}, {t0 + 48*60, t0 + 99*60}} {
		clear(got)
		if err := s.FetchBatch(ctx, names, r[0], r[1], collect); err != nil {
			t.Errorf("FetchBatch(%d, %d) away from the corrupt chunk: %v", r[0]-t0, r[1]-t0, err)
		}
		lo, hi := (r[0]-t0)/60, (r[1]-t0)/60+1
		for _, name := range names {
			if diff := cmp.Diff(want[name][lo:hi], got[name]); diff != "" {
				t.Errorf("FetchBatch(%d, %d) of %q mismatch (-want +got):\n%s", r[0]-t0, r[1]-t0, name, diff)
			}
		}
	}
}

// TestFetchBatchAllocs: in steady state a batch allocates nothing per
// metric: the scratch space grows on the first metrics and is reused.
func TestFetchBatchAllocs(t *testing.T) {
	cfg := DefaultConfig()
	s := openTest(t, cfg)
	defer s.Close()
	ctx := context.Background()
	names := benchNames(300)
	w := newWalker(len(names))
	batch := make([]series.Sample, len(names))
	for m := range 1440 + 7 { // 7 points left in each head
		for i := range batch {
			batch[i] = series.Sample{Name: names[i], Point: series.Point{Timestamp: t0 + int64(m)*60, Value: w.next(i)}}
		}
		if err := s.Append(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	// A late rewrite in every head, so that every read merges the head
	// into the chunks.
	for i := range batch {
		batch[i] = series.Sample{Name: names[i], Point: series.Point{Timestamp: t0 + 600*60, Value: -1}}
	}
	if err := s.Append(ctx, batch); err != nil {
		t.Fatal(err)
	}
	points := 0
	fn := func(_ int, pts []series.Point) error {
		points += len(pts)
		return nil
	}
	allocs := func(n int) float64 {
		return testing.AllocsPerRun(5, func() {
			if err := s.FetchBatch(ctx, names[:n], math.MinInt64, math.MaxInt64, fn); err != nil {
				t.Fatal(err)
			}
		})
	}
	few, many := allocs(3), allocs(len(names))
	t.Logf("allocations per FetchBatch: %v for 3 metrics, %v for %d", few, many, len(names))
	if many > few {
		t.Errorf("FetchBatch made %v allocations for %d metrics and %v for 3: it allocates per metric", many, len(names), few)
	}
	if points == 0 {
		t.Error("FetchBatch read no point")
	}
}
