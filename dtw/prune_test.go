package dtw

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// refRowsFrom returns, for every row k, the least cost of the cells in rows
// k..n−1 over every warp path the band admits: min over the row's allowed
// cells (k, j) of the reverse recurrence
//
//	R(i,j) = |a_i − b_j| + min(R(i+1,j), R(i,j+1), R(i+1,j+1)),  R(n−1,m−1) = |a_{n−1} − b_{m−1}|.
//
// A path's cells in rows ≥ k start at some cell (k, j) and cost at least
// R(k, j), where (k, j) is reachable and entered from row k−1 (or is
// (0, 0)); the least of those is the tightest cumulative bound there is:
// the test of DistanceAbandonCB's slack.
func refRowsFrom(a, b []float64, allowed func(i, j int) bool) []float64 {
	n, m := len(a), len(b)
	R := make([][]float64, n+1)
	for i := range R {
		R[i] = make([]float64, m+1)
		for j := range R[i] {
			R[i][j] = math.Inf(1)
		}
	}
	out := make([]float64, n)
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if allowed != nil && !allowed(i, j) {
				continue
			}
			next := math.Min(R[i+1][j], math.Min(R[i][j+1], R[i+1][j+1]))
			if i == n-1 && j == m-1 {
				next = 0
			}
			R[i][j] = math.Abs(a[i]-b[j]) + next
		}
	}
	// The path enters row k at a cell reachable from (0, 0) whose
	// predecessor is in row k−1; row 0 it enters at (0, 0).
	D := refMatrix(a, b, allowed)
	for k := range n {
		out[k] = math.Inf(1)
		for j := range m {
			entry := k == 0 && j == 0
			if k > 0 {
				entry = !math.IsInf(D[k][j+1], 1) || (j > 0 && !math.IsInf(D[k][j], 1)) // (k−1, j) or (k−1, j−1)
			}
			if entry && !math.IsInf(D[k+1][j+1], 1) {
				out[k] = math.Min(out[k], R[k][j])
			}
		}
	}
	return out
}

// refAfter returns A with A[i][j] the least cost of the cells after (i, j)
// of any admitted path through (i, j) (+Inf if none): the quantity that
// DistanceAbandonCB's rows[i+1] + cols[j+1] must never exceed.
func refAfter(a, b []float64, allowed func(i, j int) bool) [][]float64 {
	n, m := len(a), len(b)
	R := make([][]float64, n+1)
	for i := range R {
		R[i] = make([]float64, m+1)
		for j := range R[i] {
			R[i][j] = math.Inf(1)
		}
	}
	A := make([][]float64, n)
	for i := n - 1; i >= 0; i-- {
		A[i] = make([]float64, m)
		for j := m - 1; j >= 0; j-- {
			A[i][j] = math.Inf(1)
			if allowed != nil && !allowed(i, j) {
				continue
			}
			next := math.Min(R[i+1][j], math.Min(R[i][j+1], R[i+1][j+1]))
			if i == n-1 && j == m-1 {
				next = 0
			}
			A[i][j] = next
			R[i][j] = math.Abs(a[i]-b[j]) + next
		}
	}
	return A
}

// pathRowCosts returns, for the optimal path of refMatrix, the cost of its
// cells in rows k..n−1 for every k.
func pathRowCosts(a, b []float64, allowed func(i, j int) bool) []float64 {
	path := refTrace(refMatrix(a, b, allowed))
	out := make([]float64, len(a)+1)
	for _, c := range path { // path runs from (n−1, m−1) back to (0, 0)
		out[c[0]] += math.Abs(a[c[0]] - b[c[1]])
	}
	for k := len(a) - 1; k >= 0; k-- {
		out[k] += out[k+1]
	}
	return out[:len(a)]
}

// TestDistanceAbandonCB: with no bound, LBImproved's bounds (rows and
// columns, or either alone) or the tightest row bound there is (and, for
// equal lengths, the tightest column bound), DistanceAbandonCB returns
// Distance exactly whenever the limit is at or above it (ties included),
// and +Inf whenever the limit is below it.
func TestDistanceAbandonCB(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 43))
	var w Workspace
	below := 0
	for trial := range 3000 {
		n := 1 + r.IntN(40)
		m := n
		if trial%4 == 0 {
			m = 1 + r.IntN(40)
		}
		a, b := randomSeries(r, n), randomSeries(r, m)
		band := r.IntN(max(n, m)+2) - 1
		exact := w.Distance(a, b, band)
		type bounds struct{ rows, cols []float64 }
		tight := refRowsFrom(a, b, refBand(n, m, band))
		cases := map[string]bounds{"nil": {}, "tight rows": {tight, nil}}
		if n == m {
			cases["tight cols"] = bounds{nil, refRowsFrom(b, a, refBand(n, n, band))}
			up, lo := make([]float64, n), make([]float64, n)
			Envelope(a, band, up, lo)
			rows, cols := make([]float64, n), make([]float64, n)
			w.LBImproved(a, b, up, lo, band, rows, cols)
			cases["LBImproved"] = bounds{rows, cols}
			cases["LBImproved rows"] = bounds{rows, nil}
			cases["LBImproved cols"] = bounds{nil, cols}
			cases["short"] = bounds{rows[:n/2], cols[:n/3]} // missing entries count as 0
		}
		for name, bd := range cases {
			for _, limit := range []float64{exact, exact * 1.5, exact + 1, math.Inf(1), math.NaN()} {
				if got := w.DistanceAbandonCB(a, b, band, limit, bd.rows, bd.cols); got != exact {
					t.Fatalf("%s, n=%d m=%d band=%d limit %v: %v, want exact %v\na=%v\nb=%v\nrows=%v\ncols=%v",
						name, n, m, band, limit, got, exact, a, b, bd.rows, bd.cols)
				}
			}
			for _, limit := range []float64{math.Nextafter(exact, 0), exact * 0.9, exact / 2, 0, -1} {
				if !(limit < exact) {
					continue
				}
				below++
				if got := w.DistanceAbandonCB(a, b, band, limit, bd.rows, bd.cols); !math.IsInf(got, 1) {
					t.Fatalf("%s, n=%d m=%d band=%d limit %v < exact %v: got %v, want +Inf", name, n, m, band, limit, exact, got)
				}
			}
		}
		if math.Abs(tight[0]-exact) > 1e-12*(1+exact) {
			t.Fatalf("tightest bound of the whole path %v, Distance %v (test is wrong)", tight[0], exact)
		}
	}
	if below == 0 {
		t.Fatal("no limit below the distance: abandoning not exercised")
	}
}

// TestDistanceAbandonCBTies: duplicated and constant series give
// distances of exactly 0 and exact ties at the limit, where any rounding
// in the bound would abandon a candidate that belongs in the answer.
func TestDistanceAbandonCBTies(t *testing.T) {
	r := rand.New(rand.NewPCG(47, 53))
	var w Workspace
	for range 500 {
		n := 2 + r.IntN(150)
		a := randomSeries(r, n)
		for i := range a {
			a[i] = math.Abs(a[i]) * 0.1 // also small, non-dyadic values
		}
		b := make([]float64, n)
		copy(b, a)
		band := r.IntN(n/4 + 2)
		up, lo := make([]float64, n), make([]float64, n)
		Envelope(a, band, up, lo)
		rows, cols := make([]float64, n), make([]float64, n)
		if lb := w.LBImproved(a, b, up, lo, band, rows, cols); lb != 0 {
			t.Fatalf("LBImproved of a series with itself = %v, want 0", lb)
		}
		if got := w.DistanceAbandonCB(a, b, band, 0, rows, cols); got != 0 {
			t.Fatalf("self distance at limit 0 = %v, want 0", got)
		}
		// A shifted copy: the limit is exactly the distance.
		c := make([]float64, n)
		for i := range c {
			c[i] = a[max(0, i-1)] + 0.3
		}
		exact := w.Distance(a, c, band)
		w.LBImproved(a, c, up, lo, band, rows, cols)
		if got := w.DistanceAbandonCB(a, c, band, exact, rows, cols); got != exact {
			t.Fatalf("n=%d band=%d: LBImproved bounds, at limit = distance %v got %v", n, band, exact, got)
		}
		if got := w.DistanceAbandonCB(a, c, band, exact, refRowsFrom(a, c, refBand(n, n, band)), nil); got != exact {
			t.Fatalf("n=%d band=%d: tightest bound, at limit = distance %v got %v", n, band, exact, got)
		}
	}
}

// TestLBImproved: LB_Improved is a lower bound of banded DTW and at least
// LB_Keogh; it matches the literal definition (projection, Envelope of the
// projection, LB_Keogh of q against it); rows and cols are nonincreasing
// suffix sums adding up to the bound; and for every cell (i, j) of the
// band, rows[i+1] + cols[j+1] never exceeds the least cost of what follows
// (i, j) on any path (the condition DistanceAbandonCB relies on).
func TestLBImproved(t *testing.T) {
	r := rand.New(rand.NewPCG(59, 61))
	var w Workspace
	better := 0
	for range 2000 {
		n := 1 + r.IntN(60)
		q, c := randomSeries(r, n), randomSeries(r, n)
		band := r.IntN(n+3) - 1
		up, lo := make([]float64, n), make([]float64, n)
		Envelope(q, band, up, lo)
		d := w.Distance(q, c, band)
		keogh := LBKeogh(c, up, lo, math.Inf(1))
		lb := w.LBImproved(q, c, up, lo, band, nil, nil)
		rows, cols := make([]float64, n+1), make([]float64, n+1)
		lbcb := w.LBImproved(q, c, up, lo, band, rows, cols)
		tol := 1e-12 * (1 + d)
		if lb > d+tol || lbcb != lb {
			t.Fatalf("n=%d band=%d: LBImproved %v (with bounds %v) > Distance %v\nq=%v\nc=%v", n, band, lb, lbcb, d, q, c)
		}
		if lb < keogh-1e-12*(1+keogh) {
			t.Fatalf("LBImproved %v < LBKeogh %v", lb, keogh)
		}
		if lb > keogh*(1+1e-9) {
			better++
		}
		// The literal definition.
		h := make([]float64, n)
		for j := range c {
			h[j] = math.Min(math.Max(c[j], lo[j]), up[j])
		}
		hu, hl := make([]float64, n), make([]float64, n)
		Envelope(h, band, hu, hl)
		if want := keogh + LBKeogh(q, hu, hl, math.Inf(1)); math.Abs(lb-want) > 1e-12*(1+want) {
			t.Fatalf("n=%d band=%d: LBImproved %v, literal %v", n, band, lb, want)
		}
		if rows[0]+cols[0] != lb || rows[n] != 0 || cols[n] != 0 {
			t.Fatalf("rows[0]+cols[0] = %v, bound %v; rows[n], cols[n] = %v, %v (must be left alone)", rows[0]+cols[0], lb, rows[n], cols[n])
		}
		after := refAfter(q, c, refBand(n, n, band))
		for i := range n {
			if i > 0 && (rows[i] > rows[i-1] || cols[i] > cols[i-1]) {
				t.Fatalf("bounds increase at %d: rows %v cols %v", i, rows, cols)
			}
			for j := range n {
				if got := rows[i+1] + cols[j+1]; got > after[i][j]+tol {
					t.Fatalf("n=%d band=%d: cell (%d,%d): rows+cols = %v > least cost after it %v", n, band, i, j, got, after[i][j])
				}
			}
		}
	}
	if better == 0 {
		t.Fatal("LB_Improved never beat LB_Keogh: the second pass is not exercised")
	}
	// Mismatched lengths: 0 and zeroed bounds, no panic.
	rows, cols := []float64{5, 5, 5}, []float64{5, 5, 5}
	if got := w.LBImproved([]float64{1, 2, 3}, []float64{1, 2}, []float64{3, 3, 3}, []float64{1, 1, 1}, 1, rows, cols); got != 0 || rows[0] != 0 || cols[2] != 0 {
		t.Fatalf("mismatched lengths: %v, rows %v cols %v", got, rows, cols)
	}
	if got := w.LBImproved(nil, nil, nil, nil, 1, nil, nil); got != 0 {
		t.Fatalf("empty: %v", got)
	}
}

// TestSlidingMinMax checks van Herk's block maxima against the naive
// window scan, at every band from 0 to past the length.
func TestSlidingMinMax(t *testing.T) {
	r := rand.New(rand.NewPCG(67, 71))
	for range 2000 {
		n := 1 + r.IntN(100)
		h := randomSeries(r, n)
		band := r.IntN(n + 3)
		gmax, gmin := make([]float64, n), make([]float64, n)
		k := func() []uint64 { return make([]uint64, n) }
		slidingMinMax(h, band, gmax, gmin, k(), k(), k(), k(), k())
		for i := range n {
			u, l := math.Inf(-1), math.Inf(1)
			for k := max(0, i-band); k <= min(n-1, i+band); k++ {
				u, l = max(u, h[k]), min(l, h[k])
			}
			if gmax[i] != u || gmin[i] != l {
				t.Fatalf("n=%d band=%d i=%d: (%v, %v), naive (%v, %v)\nh=%v", n, band, i, gmin[i], gmax[i], l, u, h)
			}
		}
	}
}

func TestDistanceAbandonCBDegenerate(t *testing.T) {
	var w Workspace
	x := []float64{1, 2, 3}
	for _, b := range [][]float64{nil, {}, {1, math.NaN(), 3}, {math.Inf(1), 0, 0}} {
		if got := w.DistanceAbandonCB(x, b, 1, 100, nil, nil); !math.IsInf(got, 1) {
			t.Errorf("DistanceAbandonCB(%v, %v) = %v, want +Inf", x, b, got)
		}
		if got := w.DistanceAbandonCB(b, x, 1, 100, nil, nil); !math.IsInf(got, 1) {
			t.Errorf("DistanceAbandonCB(%v, %v) = %v, want +Inf", b, x, got)
		}
	}
	// A NaN or negative bound never prunes; an infinite one always does.
	y := []float64{3, 2, 1}
	exact := w.Distance(x, y, 1)
	for _, cb := range [][]float64{{math.NaN(), math.NaN(), math.NaN()}, {-1, -1, -1}} {
		if got := w.DistanceAbandonCB(x, y, 1, exact, cb, cb); got != exact {
			t.Errorf("bounds %v: %v, want %v", cb, got, exact)
		}
	}
	if got := w.DistanceAbandonCB(x, y, 1, 1e300, []float64{0, math.Inf(1), 0}, nil); !math.IsInf(got, 1) {
		t.Errorf("infinite row bound: %v, want +Inf", got)
	}
	if got := w.DistanceAbandonCB(x, y, 1, 1e300, nil, []float64{0, math.Inf(1), math.Inf(1)}); !math.IsInf(got, 1) {
		t.Errorf("infinite column bound: %v, want +Inf", got)
	}
	// LBImproved of a series holding NaN: no panic, a bound that is not a
	// number or not over +Inf, and bounds DistanceAbandonCB survives.
	nan := []float64{1, math.NaN(), 3}
	up, lo := make([]float64, 3), make([]float64, 3)
	Envelope(x, 1, up, lo)
	rows, cols := make([]float64, 3), make([]float64, 3)
	if lb := w.LBImproved(x, nan, up, lo, 1, rows, cols); lb > math.Inf(1) {
		t.Errorf("LBImproved with NaN = %v", lb)
	}
	if got := w.DistanceAbandonCB(x, nan, 1, 100, rows, cols); !math.IsInf(got, 1) {
		t.Errorf("DistanceAbandonCB with NaN and its bounds = %v, want +Inf", got)
	}
}

func TestPruneAllocations(t *testing.T) {
	r := rand.New(rand.NewPCG(73, 79))
	q, c := randomWalk(r, 120), randomWalk(r, 120)
	up, lo := make([]float64, 120), make([]float64, 120)
	Envelope(q, 12, up, lo)
	rows, cols := make([]float64, 120), make([]float64, 120)
	var w Workspace
	limit := w.Distance(q, c, 12)
	w.LBImproved(q, c, up, lo, 12, rows, cols)
	w.DistanceAbandonCB(q, c, 12, limit, rows, cols)
	if n := testing.AllocsPerRun(100, func() {
		w.LBImproved(q, c, up, lo, 12, rows, cols)
		w.DistanceAbandonCB(q, c, 12, limit, rows, cols)
	}); n != 0 {
		t.Fatalf("%v allocations per call, want 0", n)
	}
}

// FuzzDistanceAbandonCB: for any pair of equal-length series the pruned,
// bounded DTW agrees with Distance at limits at and above it, and
// LB_Improved stays below it.
func FuzzDistanceAbandonCB(f *testing.F) {
	f.Add([]byte{3, 10, 20, 30, 40, 50, 60, 70, 80})
	f.Add([]byte{0, 1, 1, 1, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 3 {
			return
		}
		band := int(data[0]%8) - 1
		rest := data[1:]
		n := len(rest) / 2
		a, b := fuzzSeries(rest[:n]), fuzzSeries(rest[n:2*n])
		if n == 0 || !allFinite(a) || !allFinite(b) {
			return
		}
		var w Workspace
		exact := w.Distance(a, b, band)
		up, lo := make([]float64, n), make([]float64, n)
		Envelope(a, band, up, lo)
		rows, cols := make([]float64, n), make([]float64, n)
		lb := w.LBImproved(a, b, up, lo, band, rows, cols)
		if lb > exact*(1+1e-12) {
			t.Fatalf("LBImproved %v > Distance %v", lb, exact)
		}
		if got := w.DistanceAbandonCB(a, b, band, exact, rows, cols); got != exact {
			t.Fatalf("DistanceAbandonCB at limit %v = %v", exact, got)
		}
		if got := w.DistanceAbandonCB(a, b, band, math.Inf(1), nil, nil); got != exact {
			t.Fatalf("DistanceAbandonCB unlimited = %v, want %v", got, exact)
		}
	})
}

// benchPair is a query and a candidate like Oculus's, 120 points scaled
// to [0, 25]: two unrelated random walks (smooth: the branches of
// DistanceAbandon's min are well predicted), or, noisy, two random walks
// with noise of a tenth of their range added (like the shapes an Oculus
// scan spends its DTWs on: the branches are not).
func benchPair(seed uint64, noisy bool) (q, c []float64) {
	r := rand.New(rand.NewPCG(seed, 5))
	scale := func(x []float64) {
		lo, hi := x[0], x[0]
		for _, v := range x {
			lo, hi = min(lo, v), max(hi, v)
		}
		for i := range x {
			x[i] = 25 * (x[i] - lo) / (hi - lo)
		}
	}
	q, c = randomWalk(r, 120), randomWalk(r, 120)
	for _, x := range [][]float64{q, c} {
		scale(x)
		if noisy {
			for i := range x {
				x[i] += 2.5 * r.NormFloat64()
			}
			scale(x)
		}
	}
	return q, c
}

// BenchmarkDistanceAbandonCB compares, on unrelated series (smooth and
// noisy, see benchPair) at limits of a quarter, a half and all of their
// distance, abandoned DTW (DistanceAbandon) with pruned DTW without bounds
// and with LB_Improved's bounds (the bound's own cost included).
func BenchmarkDistanceAbandonCB(b *testing.B) {
	for _, noisy := range []bool{false, true} {
		q, c := benchPair(1, noisy)
		up, lo := make([]float64, 120), make([]float64, 120)
		Envelope(q, 12, up, lo)
		var w Workspace
		exact := w.Distance(q, c, 12)
		rows, cols := make([]float64, 120), make([]float64, 120)
		for _, f := range []float64{0.25, 0.5, 1} {
			limit := exact * f
			name := fmt.Sprintf("noisy=%v/limit=%.2f", noisy, f)
			b.Run(name+"/DistanceAbandon", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					w.DistanceAbandon(q, c, 12, limit)
				}
			})
			b.Run(name+"/pruned", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					w.DistanceAbandonCB(q, c, 12, limit, nil, nil)
				}
			})
			b.Run(name+"/pruned+LBImproved", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					w.LBImproved(q, c, up, lo, 12, rows, cols)
					w.DistanceAbandonCB(q, c, 12, limit, rows, cols)
				}
			})
		}
	}
}

func BenchmarkLBImproved(b *testing.B) {
	q, c := benchPair(2, true)
	up, lo := make([]float64, 120), make([]float64, 120)
	Envelope(q, 12, up, lo)
	rows, cols := make([]float64, 120), make([]float64, 120)
	var w Workspace
	b.ReportAllocs()
	for b.Loop() {
		w.LBImproved(q, c, up, lo, 12, rows, cols)
	}
}
