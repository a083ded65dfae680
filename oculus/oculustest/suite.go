// Package oculustest is the conformance suite every oculus.Index backend
// passes, so the embedded and Elasticsearch indexes cannot drift apart.
package oculustest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/go-kale/kale/oculus"
)

// Opener opens the backend under test over the state named by key: two
// calls with the same key (the second after closing the first) see the
// same stored collections; a new key starts empty.
type Opener func(t *testing.T, key string) oculus.Index

// Run runs every conformance test against the backend.
func Run(t *testing.T, open Opener) {
	t.Run("Empty", func(t *testing.T) { testEmpty(t, open(t, t.Name())) })
	t.Run("Generations", func(t *testing.T) { testGenerations(t, open(t, t.Name())) })
	t.Run("Candidates", func(t *testing.T) { testCandidates(t, open(t, t.Name())) })
	t.Run("Collections", func(t *testing.T) { testCollections(t, open) })
}

const points = 60

// walk returns a seeded random walk, scaled as the importer scales.
func walk(seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 3))
	v := make([]float64, points)
	x := 0.0
	for i := range v {
		x += r.NormFloat64()
		v[i] = x
	}
	return v
}

// doc shapes values as the importer does.
func doc(metric string, values []float64) oculus.Doc {
	d, err := oculus.ShapeOf(values, points)
	if err != nil {
		panic(err)
	}
	d.Metric = metric
	return d
}

func window() oculus.Window {
	now := time.Now().Unix()
	return oculus.Window{From: now - 3600, Until: now}
}

func build(t *testing.T, idx oculus.Index, w oculus.Window, docs []oculus.Doc, commit bool) {
	t.Helper()
	ctx := context.Background()
	b, err := idx.Build(ctx, w, points)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	for lo := 0; lo < len(docs); lo += 7 { // several Adds
		if err := b.Add(ctx, docs[lo:min(lo+7, len(docs))]); err != nil {
			t.Fatalf("Add: %v", err)
		}
	}
	if commit {
		if err := b.Commit(ctx); err != nil {
			t.Fatalf("Commit: %v", err)
		}
	} else if err := b.Abort(ctx); err != nil {
		t.Fatalf("Abort: %v", err)
	}
}

func testEmpty(t *testing.T, idx oculus.Index) {
	ctx := context.Background()
	st, err := idx.Stats(ctx)
	if err != nil || st.Docs != 0 {
		t.Errorf("Stats of an empty index = %+v, %v; want zero", st, err)
	}
	if _, err := idx.Get(ctx, "a"); !errors.Is(err, oculus.ErrNoIndex) {
		t.Errorf("Get before any import: %v, want ErrNoIndex", err)
	}
	if _, err := idx.Candidates(ctx, oculus.Query{Values: make([]float32, points)}, 5); !errors.Is(err, oculus.ErrNoIndex) {
		t.Errorf("Candidates before any import: %v, want ErrNoIndex", err)
	}
	if err := idx.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func testGenerations(t *testing.T, idx oculus.Index) {
	ctx := context.Background()
	w1 := window()
	flat := doc("flat", []float64{5, 5, 5, 5})
	first := []oculus.Doc{doc("a", walk(1)), doc("b", walk(2)), doc("gone", walk(3)), flat}
	// A metric added twice keeps its last shape.
	first = append(first, doc("a", walk(4)))
	build(t, idx, w1, first, true)

	st, err := idx.Stats(ctx)
	if err != nil || st.Docs != 4 || st.Window != w1 || st.Points != points || st.Built.IsZero() {
		t.Fatalf("Stats = %+v, %v; want 4 docs over %v with %d points", st, err, w1, points)
	}
	got, err := idx.Get(ctx, "a")
	if err != nil {
		t.Fatalf("Get(a): %v", err)
	}
	want := doc("a", walk(4))
	if got.Metric != "a" || got.Fingerprint != want.Fingerprint || !closeValues(got.Values, want.Values) {
		t.Errorf("Get(a) = %+v, want the second shape %+v", got, want)
	}
	if f, err := idx.Get(ctx, "flat"); err != nil || !f.Flat || f.Fingerprint != "" {
		t.Errorf("Get(flat) = %+v, %v; want a flat document with an empty fingerprint", f, err)
	}
	if _, err := idx.Get(ctx, "nope"); !errors.Is(err, oculus.ErrNotIndexed) {
		t.Errorf("Get(nope) = %v, want ErrNotIndexed", err)
	}

	// An aborted build changes nothing.
	w2 := oculus.Window{From: w1.From + 120, Until: w1.Until + 120}
	build(t, idx, w2, []oculus.Doc{doc("other", walk(9))}, false)
	if st, _ := idx.Stats(ctx); st.Window != w1 || st.Docs != 4 {
		t.Errorf("after Abort, Stats = %+v; want the first generation", st)
	}

	// While a build runs the old generation answers; Commit swaps.
	b, err := idx.Build(ctx, w2, points)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Add(ctx, []oculus.Doc{doc("a", walk(1)), doc("new", walk(5))}); err != nil {
		t.Fatal(err)
	}
	if _, err := idx.Get(ctx, "gone"); err != nil {
		t.Errorf("during a build, Get(gone) = %v; the old generation must still answer", err)
	}
	if _, err := idx.Get(ctx, "new"); !errors.Is(err, oculus.ErrNotIndexed) {
		t.Errorf("during a build, Get(new) = %v; a half-built generation must not be visible", err)
	}
	if err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := idx.Stats(ctx); st.Window != w2 || st.Docs != 2 {
		t.Errorf("after the second Commit, Stats = %+v; want 2 docs over %v", st, w2)
	}
	if _, err := idx.Get(ctx, "gone"); !errors.Is(err, oculus.ErrNotIndexed) {
		t.Errorf("after the swap, Get(gone) = %v, want ErrNotIndexed", err)
	}
	if _, err := idx.Get(ctx, "new"); err != nil {
		t.Errorf("after the swap, Get(new) = %v", err)
	}
}

// testCandidates plants noisy copies of one shape among random walks: the
// copies must be among the candidates, and the query's own metric not.
func testCandidates(t *testing.T, idx oculus.Index) {
	ctx := context.Background()
	var docs []oculus.Doc
	for i := range 200 {
		docs = append(docs, doc(fmt.Sprintf("walk.%03d", i), walk(uint64(100+i))))
	}
	target := walk(7)
	r := rand.New(rand.NewPCG(5, 5))
	for c := range 3 {
		v := make([]float64, points)
		for i, x := range target {
			v[i] = 10 + 3*x + 0.2*r.NormFloat64() // scaled, offset, noisy
		}
		docs = append(docs, doc(fmt.Sprintf("copy.%d", c), v))
	}
	docs = append(docs, doc("query", target))
	build(t, idx, window(), docs, true)

	q, err := idx.Get(ctx, "query")
	if err != nil {
		t.Fatal(err)
	}
	cands, err := idx.Candidates(ctx, oculus.Query{Values: q.Values, Fingerprint: q.Fingerprint, Exclude: "query"}, 20)
	if err != nil {
		t.Fatalf("Candidates: %v", err)
	}
	if len(cands) == 0 || len(cands) > 20 {
		t.Fatalf("Candidates returned %d docs, want 1..20", len(cands))
	}
	var names []string
	for _, c := range cands {
		names = append(names, c.Metric)
		if len(c.Values) != points {
			t.Errorf("candidate %s has %d values, want %d", c.Metric, len(c.Values), points)
		}
	}
	for c := range 3 {
		if n := fmt.Sprintf("copy.%d", c); !slices.Contains(names, n) {
			t.Errorf("candidates %v miss the planted copy %s", names, n)
		}
	}
	if slices.Contains(names, "query") {
		t.Errorf("candidates %v include the excluded query metric", names)
	}
	if _, err := idx.Candidates(ctx, oculus.Query{Values: make([]float32, points+1)}, 5); err == nil {
		t.Error("a query of the wrong length was accepted")
	}
}

func testCollections(t *testing.T, open Opener) {
	ctx := context.Background()
	key := t.Name()
	idx := open(t, key)
	if list, err := idx.Collections(ctx); err != nil || len(list) != 0 {
		t.Fatalf("Collections of a new index = %v, %v; want none", list, err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	w := window()
	c1 := oculus.Collection{ID: "march-disk-full", Name: "March disk full", Description: "db1 filled /var; see INC-42",
		Created: now, Updated: now, Members: []oculus.Member{
			{Metric: "db1.disk.used", Window: w, Values: doc("x", walk(1)).Values},
			{Metric: "db1.io.wait", Window: w},
		}}
	c2 := oculus.Collection{ID: "a-deploy", Name: "A deploy", Created: now, Updated: now,
		Members: []oculus.Member{{Metric: "web.5xx", Window: w, Values: doc("y", walk(2)).Values}}}
	for _, c := range []oculus.Collection{c1, c2} {
		if err := idx.PutCollection(ctx, c); err != nil {
			t.Fatalf("PutCollection(%s): %v", c.ID, err)
		}
	}
	dup := c2
	dup.ID = "another-id"
	if err := idx.PutCollection(ctx, dup); !errors.Is(err, oculus.ErrCollectionExists) {
		t.Errorf("a second collection named %q: %v, want ErrCollectionExists", dup.Name, err)
	}
	c1.Description = "edited"
	if err := idx.PutCollection(ctx, c1); err != nil {
		t.Errorf("replacing a collection: %v", err)
	}
	check := func(idx oculus.Index) {
		t.Helper()
		list, err := idx.Collections(ctx)
		if err != nil || len(list) != 2 || list[0].Name != "A deploy" || list[1].Name != "March disk full" {
			t.Fatalf("Collections = %+v, %v; want A deploy, March disk full", list, err)
		}
		got, err := idx.Collection(ctx, "march-disk-full")
		if err != nil {
			t.Fatal(err)
		}
		if got.Description != "edited" || len(got.Members) != 2 || !got.Created.Equal(now) ||
			got.Members[0].Metric != "db1.disk.used" || got.Members[0].Window != w ||
			!closeValues(got.Members[0].Values, c1.Members[0].Values) || len(got.Members[1].Values) != 0 {
			t.Errorf("Collection = %+v\nwant %+v", got, c1)
		}
	}
	check(idx)
	if err := idx.Close(); err != nil {
		t.Fatal(err)
	}
	idx = open(t, key) // persistence
	check(idx)
	if err := idx.DeleteCollection(ctx, "a-deploy"); err != nil {
		t.Errorf("DeleteCollection: %v", err)
	}
	if err := idx.DeleteCollection(ctx, "a-deploy"); !errors.Is(err, oculus.ErrCollectionNotFound) {
		t.Errorf("deleting twice: %v, want ErrCollectionNotFound", err)
	}
	if _, err := idx.Collection(ctx, "a-deploy"); !errors.Is(err, oculus.ErrCollectionNotFound) {
		t.Errorf("Collection after delete: %v, want ErrCollectionNotFound", err)
	}
	if list, _ := idx.Collections(ctx); len(list) != 1 {
		t.Errorf("after delete, %d collections, want 1", len(list))
	}
}

func closeValues(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-4 {
			return false
		}
	}
	return true
}
