package oculus

import (
	"cmp"
	"math"
	"slices"

	"github.com/go-kale/kale/dtw"
)

// Nearest returns the n documents of docs closest to values by exact DTW
// within band (points; negative: unconstrained), closest first, leaving
// out the metric exclude and documents of another length. It is the
// re-ranking step of a backend whose engine returns a coarse candidate set
// (oculus/elastic asks its engine for many more than n): the documents are
// visited in increasing order of their LB_Keogh bound, each one's DTW is
// abandoned at the current n-th best, and the visit stops once a bound
// exceeds it (DTW within the band is at least LB_Keogh). docs is not
// modified; the result shares its documents.
func Nearest(values []float32, docs []Doc, n, band int, exclude string) []Doc {
	if n <= 0 {
		return nil
	}
	type scored struct {
		d float64
		i int
	}
	qv := to64(nil, values)
	var ws dtw.Workspace
	var cv []float64
	best := make([]scored, 0, n+1)
	for _, o := range byLBKeogh(qv, docs, band, exclude) {
		kth := math.Inf(1)
		if len(best) == n {
			kth = best[n-1].d
		}
		if o.lb > kth {
			break
		}
		cv = to64(cv, docs[o.i].Values)
		d := ws.DistanceAbandon(qv, cv, band, kth)
		if d > kth {
			continue
		}
		s := scored{d, o.i}
		at, _ := slices.BinarySearchFunc(best, s, func(a, b scored) int {
			return cmp.Or(cmp.Compare(a.d, b.d), cmp.Compare(docs[a.i].Metric, docs[b.i].Metric))
		})
		best = slices.Insert(best, at, s)
		best = best[:min(len(best), n)]
	}
	out := make([]Doc, len(best))
	for k, s := range best {
		out[k] = docs[s.i]
	}
	return out
}
