package oculus_test

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

	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/shapegen"
	"github.com/go-kale/kale/internal/store/embedded"
	"github.com/go-kale/kale/oculus"
)

// corpus writes a shapegen corpus ending at end into a new embedded store.
func corpus(t *testing.T, spec shapegen.Spec) *embedded.Store {
	t.Helper()
	cfg := embedded.DefaultConfig()
	cfg.Dir = t.TempDir()
	st, err := embedded.Open(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var batch []series.Sample
	err = spec.Each(func(i int, m shapegen.Metric) error {
		for j, v := range m.Values {
			ts := spec.End - int64(len(m.Values)-1-j)*spec.Step
			batch = append(batch, series.Sample{Name: m.Name, Point: series.Point{Timestamp: ts, Value: v}})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Append(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestCorrelatePlanted: the planted partners of a metric come first.
func TestCorrelatePlanted(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	spec := shapegen.DefaultSpec(3000)
	spec.End = now.Unix()
	st := corpus(t, spec)
	// A flat metric and one with too few points.
	st.Append(ctx, []series.Sample{
		{Name: "flat.a", Point: series.Point{Timestamp: now.Unix() - 600, Value: 3}},
		{Name: "flat.a", Point: series.Point{Timestamp: now.Unix() - 300, Value: 3}},
		{Name: "sparse", Point: series.Point{Timestamp: now.Unix() - 60, Value: 1}},
	})
	for i := range 20 {
		st.Append(ctx, []series.Sample{{Name: "flat.a", Point: series.Point{Timestamp: now.Unix() - int64(i)*30, Value: 3}}})
	}
	cfg := oculus.DefaultConfig()
	idx, err := oculus.NewEmbedded(oculus.EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	im := oculus.NewImporter(st, idx, cfg, nil, nil, func() time.Time { return now })
	stats, err := im.ImportOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Indexed != 3001 || stats.TooFew != 1 || stats.Metrics != 3002 {
		t.Fatalf("import stats %+v; want 3001 indexed (3000 + flat.a), 1 with too few points, of 3002", stats)
	}
	s := oculus.NewSearcher(idx, st, cfg, nil)
	for _, q := range []string{"planted.g00000.m03", "planted.g00001.m07", "planted.g00002.m00", "planted.g00002.m04"} {
		r, err := s.Correlate(ctx, q, oculus.Window{}, 9)
		if err != nil {
			t.Fatal(err)
		}
		group := q[:len("planted.g00000")]
		for i, m := range r.Results {
			if !strings.HasPrefix(m.Metric, group) {
				t.Errorf("%s: result %d is %s (distance %.2f), want a member of %s", q, i, m.Metric, m.Distance, group)
			}
			if i > 0 && m.Distance < r.Results[i-1].Distance {
				t.Errorf("%s: results not sorted by distance: %+v", q, r.Results)
			}
		}
		if len(r.Results) != 9 || r.Metric != q || r.Window != im.Window(now) || r.Candidates < 9 {
			t.Errorf("%s: %d results, metric %q, window %v, %d candidates", q, len(r.Results), r.Metric, r.Window, r.Candidates)
		}
	}

	// A flat window is answered, not divided by zero.
	r, err := s.Correlate(ctx, "flat.a", oculus.Window{}, 5)
	if err != nil || !r.Flat || len(r.Results) != 5 {
		t.Errorf("flat query: %+v, %v; want 5 results flagged flat", r, err)
	}
	for _, m := range r.Results {
		if math.IsNaN(m.Distance) || math.IsInf(m.Distance, 0) {
			t.Errorf("flat query: distance %v", m.Distance)
		}
	}
	if _, err := s.Correlate(ctx, "nope", oculus.Window{}, 5); !errors.Is(err, oculus.ErrUnknownMetric) {
		t.Errorf("unknown metric: %v, want ErrUnknownMetric", err)
	}
	if _, err := s.Correlate(ctx, "sparse", oculus.Window{}, 5); !errors.Is(err, oculus.ErrTooFewPoints) {
		t.Errorf("sparse metric: %v, want ErrTooFewPoints", err)
	}

	// Search by values: a planted member's own values find its group.
	var values []float64
	spec.Each(func(i int, m shapegen.Metric) error {
		if m.Name == "planted.g00001.m02" {
			values = slices.Clone(m.Values)
		}
		return nil
	})
	// Drawn at another resolution: every 3rd point.
	var drawn []float64
	for i := 0; i < len(values); i += 3 {
		drawn = append(drawn, values[i])
	}
	r, err = s.Search(ctx, drawn, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range r.Results {
		if !strings.HasPrefix(m.Metric, "planted.g00001.") {
			t.Errorf("search by values: %s (%.2f) is not of group 1", m.Metric, m.Distance)
		}
	}
	if _, err := s.Search(ctx, []float64{1}, 10); !errors.Is(err, oculus.ErrBadQuery) {
		t.Errorf("one value: %v, want ErrBadQuery", err)
	}

	// Another window is answered from the store (here the hour, half a
	// minute earlier than the index's).
	w := oculus.Window{From: now.Unix() - 3630, Until: now.Unix() - 29}
	r, err = s.Correlate(ctx, "planted.g00002.m05", w, 9)
	if err != nil {
		t.Fatal(err)
	}
	if r.Window != w {
		t.Errorf("window %v, want %v", r.Window, w)
	}
	for _, m := range r.Results {
		if !strings.HasPrefix(m.Metric, "planted.g00002.") {
			t.Errorf("other window: %s (%.2f) is not of group 2", m.Metric, m.Distance)
		}
	}
}

// TestCollections: saved with their shapes, found again by a search that
// resembles a member.
func TestCollectionsFoundBySearch(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	spec := shapegen.DefaultSpec(2000)
	spec.End = now.Unix()
	st := corpus(t, spec)
	cfg := oculus.DefaultConfig()
	idx, err := oculus.NewEmbedded(oculus.EmbeddedOptions{Dir: t.TempDir(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oculus.NewImporter(st, idx, cfg, nil, nil, func() time.Time { return now }).ImportOnce(ctx); err != nil {
		t.Fatal(err)
	}
	s := oculus.NewSearcher(idx, st, cfg, nil)
	name, desc := "March disk full", "db1 filled /var"
	c, err := s.SaveCollection(ctx, "", oculus.CollectionInput{Name: &name, Description: &desc,
		Metrics: []string{"planted.g00001.m00", "planted.g00001.m01", "planted.g00001.m00"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != "march-disk-full" || len(c.Members) != 2 || len(c.Members[0].Values) != cfg.Points {
		t.Fatalf("saved %+v; want id march-disk-full with 2 members and their shapes", c)
	}
	if _, err := s.SaveCollection(ctx, "", oculus.CollectionInput{Name: &name}); !errors.Is(err, oculus.ErrCollectionExists) {
		t.Errorf("same name again: %v, want ErrCollectionExists", err)
	}
	if _, err := s.SaveCollection(ctx, "", oculus.CollectionInput{Name: &name, Metrics: []string{"nope"}}); err == nil {
		t.Error("an unknown metric was saved")
	}
	empty := ""
	if _, err := s.SaveCollection(ctx, "", oculus.CollectionInput{Name: &empty}); !errors.Is(err, oculus.ErrInvalidCollection) {
		t.Errorf("empty name: %v, want ErrInvalidCollection", err)
	}
	r, err := s.Correlate(ctx, "planted.g00001.m05", oculus.Window{}, 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Collections) != 1 || r.Collections[0].ID != "march-disk-full" || r.Collections[0].Description != desc {
		t.Errorf("a search resembling the collection lists %+v; want march-disk-full", r.Collections)
	}
	r, err = s.Correlate(ctx, "planted.g00000.m05", oculus.Window{}, 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Collections) != 0 {
		t.Errorf("an unrelated search lists %+v; want no collection", r.Collections)
	}
	// A change keeps the saved shapes of kept members.
	newDesc := "edited"
	c2, err := s.SaveCollection(ctx, c.ID, oculus.CollectionInput{Description: &newDesc, Metrics: []string{"planted.g00001.m01", "planted.g00001.m02"}})
	if err != nil {
		t.Fatal(err)
	}
	if c2.Description != "edited" || c2.Name != name || len(c2.Members) != 2 || !slices.Equal(c2.Members[0].Values, c.Members[1].Values) || !c2.Created.Equal(c.Created) {
		t.Errorf("changed collection %+v", c2)
	}
	if _, err := s.SaveCollection(ctx, "nope", oculus.CollectionInput{Description: &newDesc}); !errors.Is(err, oculus.ErrCollectionNotFound) {
		t.Errorf("changing a missing collection: %v", err)
	}

	// Add and Remove change the list on the server: concurrent additions
	// are all kept, kept members keep their shapes, and a removal wins.
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			m := fmt.Sprintf("planted.g00000.m%02d", i)
			if _, err := s.SaveCollection(ctx, c.ID, oculus.CollectionInput{Add: []string{m, "planted.g00001.m01"}}); err != nil {
				t.Errorf("add %s: %v", m, err)
			}
		})
	}
	wg.Wait()
	c3, err := s.SaveCollection(ctx, c.ID, oculus.CollectionInput{Remove: []string{"planted.g00001.m02", "planted.g00000.m05"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range c3.Members {
		got = append(got, m.Metric)
	}
	slices.Sort(got)
	want := []string{"planted.g00000.m00", "planted.g00000.m01", "planted.g00000.m02", "planted.g00000.m03", "planted.g00000.m04", "planted.g00001.m01"}
	if !slices.Equal(got, want) || !slices.Equal(c3.Members[0].Values, c.Members[1].Values) {
		t.Errorf("after 6 concurrent adds and a removal: %q, want %q, the first member's shape kept", got, want)
	}
	if _, err := s.SaveCollection(ctx, c.ID, oculus.CollectionInput{Metrics: []string{"a"}, Add: []string{"b"}}); !errors.Is(err, oculus.ErrInvalidCollection) {
		t.Errorf("metrics and add together: %v, want ErrInvalidCollection", err)
	}
}

func TestResample(t *testing.T) {
	w := oculus.Window{From: 0, Until: 100}
	pts := []series.Point{{Timestamp: 5, Value: 2}, {Timestamp: 15, Value: 4}, {Timestamp: 16, Value: 6}, {Timestamp: 75, Value: 11}, {Timestamp: 200, Value: 99}}
	got, ok := oculus.Resample(nil, pts, w, 10, 2)
	want := []float64{2, 5, 6, 7, 8, 9, 10, 11, 11, 11} // means, interpolation, trailing carry
	if !ok || !slices.Equal(got, want) {
		t.Errorf("Resample = %v %v, want %v", got, ok, want)
	}
	if _, ok := oculus.Resample(nil, pts[:1], w, 10, 2); ok {
		t.Error("one point in the window was enough for min 2")
	}
	// The widest window: its span overflows int64, the buckets do not.
	// Every point falls in the middle bucket: all take their mean.
	huge := oculus.Window{From: math.MinInt64, Until: math.MaxInt64}
	if got, ok := oculus.Resample(nil, pts, huge, 10, 2); !ok || !slices.Equal(got, slices.Repeat([]float64{24.4}, 10)) {
		t.Errorf("Resample over the widest window = %v %v", got, ok)
	}
	v := []float64{5, 5, 5}
	if !oculus.ScaleShape(v) || !slices.Equal(v, []float64{0, 0, 0}) {
		t.Errorf("flat: %v", v)
	}
	v = []float64{-math.MaxFloat64, 0, math.MaxFloat64}
	if oculus.ScaleShape(v) || !slices.Equal(v, []float64{0, 12.5, 25}) {
		t.Errorf("huge span: %v", v)
	}
}
