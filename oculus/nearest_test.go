package oculus

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/go-kale/kale/dtw"
)

// Nearest agrees with ranking every document by exact DTW, with and
// without a band, and leaves out the excluded metric and documents of
// another length.
func TestNearest(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	walk := func(n int) []float32 {
		v := make([]float32, n)
		x := float32(0)
		for i := range v {
			x += float32(rng.NormFloat64())
			v[i] = x
		}
		return v
	}
	const points = 40
	var docs []Doc
	for i := range 300 {
		docs = append(docs, Doc{Metric: fmt.Sprintf("m%03d", i), Values: walk(points)})
	}
	docs = append(docs, Doc{Metric: "short", Values: walk(points - 1)})
	q := walk(points)
	docs[5].Values = q // an exact copy, excluded below
	for _, band := range []int{-1, 0, 4} {
		got := Nearest(q, docs, 10, band, "m005")
		type scored struct {
			d float64
			m string
		}
		var all []scored
		for _, d := range docs {
			if d.Metric == "m005" || d.Metric == "short" {
				continue
			}
			all = append(all, scored{dtw.DTW(to64(nil, q), to64(nil, d.Values), band), d.Metric})
		}
		slices.SortFunc(all, func(a, b scored) int { return cmp.Or(cmp.Compare(a.d, b.d), cmp.Compare(a.m, b.m)) })
		var want, names []string
		for _, s := range all[:10] {
			want = append(want, s.m)
		}
		for _, d := range got {
			names = append(names, d.Metric)
		}
		if !slices.Equal(names, want) {
			t.Errorf("band %d: Nearest = %v, want %v", band, names, want)
		}
	}
	if got := Nearest(q, docs, 0, 4, ""); len(got) != 0 {
		t.Errorf("n = 0: %d documents", len(got))
	}
	if got := Nearest(q, docs[:3], 10, 4, ""); len(got) != 3 {
		t.Errorf("3 documents, n = 10: got %d", len(got))
	}
}
