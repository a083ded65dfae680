package dtw

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// ---------------------------------------------------------------------------
// Reference implementations: full matrices, written for clarity, not speed.

// refDTW is the textbook DTW over the full (n+1)×(m+1) matrix with row and
// column 0 at +Inf except D[0][0] = 0, restricted to the cells for which
// allowed(i, j) holds (nil: all cells).
func refDTW(a, b []float64, allowed func(i, j int) bool) float64 {
	D := refMatrix(a, b, allowed)
	return D[len(a)][len(b)]
}

func refMatrix(a, b []float64, allowed func(i, j int) bool) [][]float64 {
	n, m := len(a), len(b)
	D := make([][]float64, n+1)
	for i := range D {
		D[i] = make([]float64, m+1)
		for j := range D[i] {
			D[i][j] = math.Inf(1)
		}
	}
	D[0][0] = 0
	for i := 1; i <= n; i++ {
		for j := 1; j <= m; j++ {
			if allowed != nil && !allowed(i-1, j-1) {
				continue
			}
			D[i][j] = math.Abs(a[i-1]-b[j-1]) + math.Min(D[i-1][j-1], math.Min(D[i-1][j], D[i][j-1]))
		}
	}
	return D
}

// refBand is the Sakoe–Chiba band of Distance, built cell by cell: cell
// (i, j) is in the raw band iff |j·(n−1) − i·(m−1)| ≤ w·(n−1), i.e.
// |j − c_i| ≤ w; then each row's right end is widened to meet the next row's
// left end and never to fall left of its own left end.
func refBand(n, m, w int) func(i, j int) bool {
	if w < 0 || n == 1 {
		return nil
	}
	lo := make([]int, n)
	hi := make([]int, n)
	for i := range n {
		lo[i], hi[i] = m, -1
		for j := range m {
			if d := j*(n-1) - i*(m-1); d <= w*(n-1) && -d <= w*(n-1) {
				lo[i] = min(lo[i], j)
				hi[i] = max(hi[i], j)
			}
		}
		if lo[i] == m { // empty raw row: c_i lies strictly between columns
			lo[i] = int(math.Ceil(float64(i*(m-1)) / float64(n-1)))
			hi[i] = lo[i] - 1
		}
	}
	for i := range n {
		if i+1 < n {
			hi[i] = max(hi[i], lo[i+1]-1)
		}
		hi[i] = max(hi[i], lo[i])
	}
	return func(i, j int) bool { return lo[i] <= j && j <= hi[i] }
}

// refFastDTW is FastDTW written the slow, literal way: the window is a set of
// cells (a bool matrix) built by projecting every coarse path cell to its
// 2×2 block and adding every cell within Chebyshev distance radius of a
// projected cell; the DP runs over the whole matrix with +Inf outside the
// window; the path is traced back with the same tie order as the package
// (diagonal, then (i−1, j), then (i, j−1)). It returns the cost and the path.
func refFastDTW(a, b []float64, radius int) (float64, [][2]int) {
	n, m := len(a), len(b)
	if min(n, m) <= radius+2 {
		D := refMatrix(a, b, nil)
		return D[n][m], refTrace(D)
	}
	half := func(x []float64) []float64 {
		h := make([]float64, (len(x)+1)/2)
		for k := range h {
			if 2*k+1 < len(x) {
				h[k] = (x[2*k] + x[2*k+1]) / 2
			} else {
				h[k] = x[2*k]
			}
		}
		return h
	}
	_, coarse := refFastDTW(half(a), half(b), radius)
	win := make([][]bool, n)
	for i := range win {
		win[i] = make([]bool, m)
	}
	for _, c := range coarse {
		for _, p := range [][2]int{{2 * c[0], 2 * c[1]}, {2*c[0] + 1, 2 * c[1]}, {2 * c[0], 2*c[1] + 1}, {2*c[0] + 1, 2*c[1] + 1}} {
			for di := -radius; di <= radius; di++ {
				for dj := -radius; dj <= radius; dj++ {
					i, j := p[0]+di, p[1]+dj
					// Projected cells are clipped before expanding.
					if p[0] < n && p[1] < m && i >= 0 && i < n && j >= 0 && j < m {
						win[i][j] = true
					}
				}
			}
		}
	}
	D := refMatrix(a, b, func(i, j int) bool { return win[i][j] })
	return D[n][m], refTrace(D)
}

// refTrace traces the optimal path back through a refMatrix result.
func refTrace(D [][]float64) [][2]int {
	i, j := len(D)-1, len(D[0])-1
	path := [][2]int{{i - 1, j - 1}}
	for i > 1 || j > 1 {
		switch {
		case i == 1:
			j--
		case j == 1:
			i--
		default:
			di, dj, best := -1, -1, D[i-1][j-1]
			if D[i-1][j] < best {
				di, dj, best = -1, 0, D[i-1][j]
			}
			if D[i][j-1] < best {
				di, dj = 0, -1
			}
			i, j = i+di, j+dj
		}
		path = append(path, [2]int{i - 1, j - 1})
	}
	return path
}

// ---------------------------------------------------------------------------
// Inputs.

// randomWalk returns n steps of a Gaussian random walk.
func randomWalk(r *rand.Rand, n int) []float64 {
	x := make([]float64, n)
	v := 0.0
	for i := range x {
		v += r.NormFloat64()
		x[i] = v
	}
	return x
}

// randomSeries returns a random walk, uniform noise or small integers (the
// last makes DP ties common, which exercises the tie order).
func randomSeries(r *rand.Rand, n int) []float64 {
	x := make([]float64, n)
	switch r.IntN(3) {
	case 0:
		copy(x, randomWalk(r, n))
	case 1:
		for i := range x {
			x[i] = 25 * r.Float64()
		}
	default:
		for i := range x {
			x[i] = float64(r.IntN(4))
		}
	}
	return x
}

// ---------------------------------------------------------------------------
// Hand-computed cases.

func TestDistanceHandComputed(t *testing.T) {
	cases := []struct {
		name string
		a, b []float64
		band int
		want float64
	}{
		// b repeats a's 2: path (0,0) (1,1) (1,2) (2,3), every cell 0.
		{"warp absorbs a repeat", []float64{1, 2, 3}, []float64{1, 2, 2, 3}, -1, 0},
		// Every cell costs 1 and the shortest path has 3 cells (the diagonal).
		{"constant offset", []float64{0, 0, 0}, []float64{1, 1, 1}, -1, 3},
		// Cost matrix |a_i − b_j| for a = 0 0 0 1, b = 0 1 1 1:
		//   row 0..2: 0 1 1 1
		//   row 3:    1 0 0 0
		// Unconstrained: (0,0) (1,0) (2,0) (3,1) (3,2) (3,3) costs 0.
		{"band changes answer: unconstrained", []float64{0, 0, 0, 1}, []float64{0, 1, 1, 1}, -1, 0},
		// band 0 forces the diagonal: 0 + 1 + 1 + 0 = 2.
		{"band changes answer: band 0", []float64{0, 0, 0, 1}, []float64{0, 1, 1, 1}, 0, 2},
		// band 1 (|i−j| ≤ 1):
		//   D(0,0)=0 D(0,1)=1
		//   D(1,0)=0 D(1,1)=1+min(1,0,0)=1 D(1,2)=1+min(∞,1,1)=2
		//   D(2,1)=1+min(1,∞,0)=1 D(2,2)=1+min(2,1,1)=2 D(2,3)=1+min(∞,2,2)=3
		//   D(3,2)=0+min(2,∞,1)=1 D(3,3)=0+min(3,1,2)=1
		{"band changes answer: band 1", []float64{0, 0, 0, 1}, []float64{0, 1, 1, 1}, 1, 1},
		// band 3 ≥ n−1 admits every cell: unconstrained again.
		{"band changes answer: band 3", []float64{0, 0, 0, 1}, []float64{0, 1, 1, 1}, 3, 0},
		// Unequal lengths, n = 2, m = 4: (0,0) (0,1) (0,2) (1,3) costs
		// 0 + 1 + 2 + 0 = 3; going to row 1 earlier costs |5−2| = 3 or more
		// at column 2 alone.
		{"unequal lengths", []float64{0, 5}, []float64{0, 1, 2, 5}, -1, 3},
		// A single point must be matched to all of b: 2 + 1 + 0 + 1.
		{"single point", []float64{3}, []float64{1, 2, 3, 4}, -1, 4},
		{"single point, band 0", []float64{3}, []float64{1, 2, 3, 4}, 0, 4},
		// n = 3, m = 4, band 0: c_i = 0, 1.5, 3. Raw rows [0,0], empty
		// (⌈1.5⌉=2 > ⌊1.5⌋=1), [3,3]; widening gives [0,1], [2,2], [3,3],
		// one path (0,0) (0,1) (1,2) (2,3): 0 + |1−2| + 0 + 0 = 1, where
		// the unconstrained distance is 0.
		{"unequal lengths, band 0 widened", []float64{1, 2, 3}, []float64{1, 2, 2, 3}, 0, 1},
		// Same with band 1: rows [0,1], [1,2], [2,3] admit (0,0) (1,1)
		// (1,2) (2,3) at cost 0.
		{"unequal lengths, band 1", []float64{1, 2, 3}, []float64{1, 2, 2, 3}, 1, 0},
	}
	var w Workspace
	for _, tc := range cases {
		if got := w.Distance(tc.a, tc.b, tc.band); got != tc.want {
			t.Errorf("%s: Distance(%v, %v, %d) = %v, want %v", tc.name, tc.a, tc.b, tc.band, got, tc.want)
		}
		if got := refDTW(tc.a, tc.b, refBand(len(tc.a), len(tc.b), tc.band)); got != tc.want {
			t.Errorf("%s: reference = %v, want %v (test is wrong)", tc.name, got, tc.want)
		}
		if got := DTW(tc.a, tc.b, tc.band); got != tc.want {
			t.Errorf("%s: DTW = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestFastDTWHandComputed(t *testing.T) {
	// b is a delayed by one sample: b_j = a_{j−1} for j ≥ 1, b_0 = a_0 = 0.
	// The path (0,0) (0,1) (1,2) (2,3) .. (6,7) (7,7) costs 0 everywhere
	// except |a_7 − b_7| = |7 − 6| = 1, and no path can do better because
	// a_7 = 7 exceeds every b_j by at least 1. So DTW = 1.
	a := []float64{0, 1, 2, 3, 4, 5, 6, 7}
	b := []float64{0, 0, 1, 2, 3, 4, 5, 6}
	if got := DTW(a, b, -1); got != 1 {
		t.Fatalf("DTW = %v, want 1", got)
	}
	// FastDTW, radius 0. Level 1 (PAA of pairs): a' = 0.5 2.5 4.5 6.5,
	// b' = 0 1.5 3.5 5.5. Level 2: a'' = 1.5 5.5, b'' = 0.75 4.5; min
	// length 2 ≤ radius+2, so exact DTW there: costs
	//   |1.5−0.75| = 0.75  |1.5−4.5| = 3
	//   |5.5−0.75| = 4.75  |5.5−4.5| = 1
	// and the diagonal (0,0) (1,1) wins with 1.75.
	// Level 1 window = projection {0,1}² ∪ {2,3}² (no expansion at radius
	// 0). Costs inside it: rows 0,1 × cols 0,1: 0.5 1 / 2.5 1; rows 2,3 ×
	// cols 2,3: 1 1 / 3 1. D(0,0)=0.5 D(0,1)=1.5 D(1,0)=3 D(1,1)=1.5
	// D(2,2)=2.5 D(2,3)=3.5 D(3,2)=5.5 D(3,3)=1+min(3.5,5.5,2.5)=3.5; the
	// traced path is the diagonal again.
	// Level 0 window = the 2×2 blocks {2k,2k+1}² on the diagonal, which
	// leave blocks only by the diagonal step (2k+1,2k+1) → (2k+2,2k+2).
	// Block 0 costs 0 then 1 (|a_1 − b_1| = 1); block k ≥ 1 costs
	// |a_2k − b_2k| = 1 on entry and 1 more to reach (2k+1,2k+1) either
	// way. Total 1 + 3·2 = 7, against the exact 1: radius 0 cannot follow
	// a one-sample delay across block boundaries.
	// radius ≥ 1 adds the neighbours of each block, among them every
	// superdiagonal cell (i, i+1), so the optimal path is in the window.
	for r, want := range []float64{7, 1, 1, 1} {
		got := FastDTW(a, b, r)
		if got != want {
			t.Errorf("FastDTW(radius %d) = %v, want %v", r, got, want)
		}
		if ref, _ := refFastDTW(a, b, r); ref != want {
			t.Errorf("reference FastDTW(radius %d) = %v, want %v (test is wrong)", r, ref, want)
		}
	}
}

func TestDegenerateInputs(t *testing.T) {
	var w Workspace
	inf := math.Inf(1)
	x := []float64{1, 2, 3}
	bad := [][]float64{nil, {}, {1, math.NaN(), 3}, {math.Inf(1), 0}, {0, math.Inf(-1)}}
	for _, b := range bad {
		for _, pair := range [][2][]float64{{x, b}, {b, x}, {b, b}} {
			if got := w.Distance(pair[0], pair[1], -1); got != inf {
				t.Errorf("Distance(%v, %v) = %v, want +Inf", pair[0], pair[1], got)
			}
			if got := w.Distance(pair[0], pair[1], 1); got != inf {
				t.Errorf("Distance(%v, %v, 1) = %v, want +Inf", pair[0], pair[1], got)
			}
			if got := w.DistanceAbandon(pair[0], pair[1], -1, 100); got != inf {
				t.Errorf("DistanceAbandon(%v, %v) = %v, want +Inf", pair[0], pair[1], got)
			}
			if got := w.FastDTW(pair[0], pair[1], 1); got != inf {
				t.Errorf("FastDTW(%v, %v) = %v, want +Inf", pair[0], pair[1], got)
			}
		}
	}
	// Huge finite values overflow to +Inf but never to NaN.
	big := []float64{1e308, -1e308, 1e308, -1e308, 1e308, -1e308}
	if got := w.Distance(big, []float64{-1e308, 1e308, -1e308}, -1); got != inf {
		t.Errorf("overflowing Distance = %v, want +Inf", got)
	}
	if got := w.FastDTW(big, []float64{-1e308, 1e308, -1e308, 1e308, -1e308, 1e308}, 0); got != inf {
		t.Errorf("overflowing FastDTW = %v, want +Inf", got)
	}
	// Huge bands and radii are clamped, negative radius is 0.
	if got, want := w.Distance(x, x, math.MaxInt), 0.0; got != want {
		t.Errorf("Distance with band MaxInt = %v, want %v", got, want)
	}
	if got, want := w.FastDTW(x, []float64{3, 2, 1}, -5), w.FastDTW(x, []float64{3, 2, 1}, 0); got != want {
		t.Errorf("FastDTW radius −5 = %v, radius 0 = %v", got, want)
	}
	if got := w.FastDTW(randomWalk(rand.New(rand.NewPCG(1, 2)), 50), x, math.MaxInt); math.IsInf(got, 0) {
		t.Errorf("FastDTW with radius MaxInt = %v", got)
	}
	// LBKeogh and Envelope tolerate short or empty slices.
	if got := LBKeogh(nil, nil, nil, inf); got != 0 {
		t.Errorf("LBKeogh(empty) = %v, want 0", got)
	}
	if got := LBKeogh([]float64{5, 5, 5}, []float64{1}, []float64{0, 0}, inf); got != 4 {
		t.Errorf("LBKeogh on mismatched lengths = %v, want 4 (first position only)", got)
	}
	Envelope(nil, 3, nil, nil)
	up := []float64{-1}
	Envelope([]float64{1, 9, 2}, 1, up, nil)
	if up[0] != 9 {
		t.Errorf("Envelope into a short upper: %v, want [9]", up)
	}
}

// ---------------------------------------------------------------------------
// Properties on random inputs.

func TestDistanceMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	var w Workspace
	for trial := range 3000 {
		n, m := 1+r.IntN(30), 1+r.IntN(30)
		if trial%3 == 0 {
			m = n
		}
		a, b := randomSeries(r, n), randomSeries(r, m)
		band := r.IntN(max(n, m)+3) - 1 // −1 .. max(n,m)+1
		want := refDTW(a, b, refBand(n, m, band))
		got := w.Distance(a, b, band)
		if got != want {
			t.Fatalf("Distance(n=%d, m=%d, band=%d) = %v, reference %v\na=%v\nb=%v", n, m, band, got, want, a, b)
		}
		if math.IsInf(got, 0) {
			t.Fatalf("band %d admits no path for n=%d m=%d", band, n, m)
		}
		free := w.Distance(a, b, -1)
		if got < free {
			t.Fatalf("banded %v < unconstrained %v", got, free)
		}
		// Unconstrained DTW is symmetric, and so is banded DTW for equal
		// lengths; min in the recurrence is exact, and the cost sums
		// along a path are the same numbers in the same order when the
		// path is transposed.
		if back := w.Distance(b, a, -1); back != free {
			t.Fatalf("unconstrained not symmetric: %v vs %v", free, back)
		}
		if n == m {
			if back := w.Distance(b, a, band); back != got {
				t.Fatalf("equal-length band %d not symmetric: %v vs %v", band, got, back)
			}
			// A wider band admits a superset of paths.
			if wider := w.Distance(a, b, band+1); band >= 0 && wider > got {
				t.Fatalf("band %d gives %v, band %d gives more: %v", band, got, band+1, wider)
			}
		}
		for _, big := range []int{max(n, m), max(n, m) + 5, math.MaxInt} {
			if v := w.Distance(a, b, big); v != free {
				t.Fatalf("band %d = %v, unconstrained %v", big, v, free)
			}
		}
	}
}

func TestDistanceAbandon(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	var w Workspace
	abandoned := 0
	for range 2000 {
		n, m := 1+r.IntN(40), 1+r.IntN(40)
		a, b := randomSeries(r, n), randomSeries(r, m)
		band := r.IntN(n+2) - 1
		exact := w.Distance(a, b, band)
		// limit ≥ exact: the exact value, always.
		for _, limit := range []float64{exact, exact * 1.5, exact + 1, math.Inf(1), math.NaN()} {
			if got := w.DistanceAbandon(a, b, band, limit); got != exact {
				t.Fatalf("DistanceAbandon(limit %v) = %v, want exact %v", limit, got, exact)
			}
		}
		// limit < exact: +Inf or the exact value, which is > limit.
		for _, limit := range []float64{math.Nextafter(exact, 0), exact * 0.9, exact / 2, 0, -1} {
			if !(limit < exact) {
				continue
			}
			got := w.DistanceAbandon(a, b, band, limit)
			if got != exact && !math.IsInf(got, 1) {
				t.Fatalf("DistanceAbandon(limit %v) = %v, exact %v: want +Inf or exact", limit, got, exact)
			}
			if math.IsInf(got, 1) {
				abandoned++
			}
		}
	}
	if abandoned == 0 {
		t.Fatal("no call abandoned: early abandoning is not exercised")
	}
}

func TestFastDTWProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 17))
	var w Workspace
	for trial := range 1500 {
		n, m := 1+r.IntN(70), 1+r.IntN(70)
		if trial%2 == 0 {
			m = max(1, n+r.IntN(7)-3)
		}
		a, b := randomSeries(r, n), randomSeries(r, m)
		radius := r.IntN(6)
		exact := w.Distance(a, b, -1)
		got := w.FastDTW(a, b, radius)
		if got < exact {
			t.Fatalf("FastDTW(n=%d m=%d r=%d) = %v < exact %v", n, m, radius, got, exact)
		}
		want, _ := refFastDTW(a, b, radius)
		if got != want {
			t.Fatalf("FastDTW(n=%d m=%d r=%d) = %v, literal reference %v\na=%v\nb=%v", n, m, radius, got, want, a, b)
		}
		if v := w.FastDTW(a, b, max(n, m)); v != exact {
			t.Fatalf("FastDTW with radius ≥ length = %v, exact %v", v, exact)
		}
		if v := FastDTW(a, b, radius); v != got {
			t.Fatalf("package FastDTW %v != Workspace.FastDTW %v", v, got)
		}
	}
}

func TestEnvelopeMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 23))
	for range 500 {
		n := 1 + r.IntN(200)
		q := randomSeries(r, n)
		band := r.IntN(n+40) - 1
		up, lo := make([]float64, n), make([]float64, n)
		Envelope(q, band, up, lo)
		for i := range n {
			u, l := math.Inf(-1), math.Inf(1)
			for k := range n {
				if band < 0 || (k >= i-band && k <= i+band) {
					u, l = max(u, q[k]), min(l, q[k])
				}
			}
			if up[i] != u || lo[i] != l {
				t.Fatalf("n=%d band=%d i=%d: envelope (%v, %v), naive (%v, %v)", n, band, i, lo[i], up[i], l, u)
			}
		}
	}
}

func TestLBKeoghIsLowerBound(t *testing.T) {
	r := rand.New(rand.NewPCG(29, 31))
	var w Workspace
	tight := 0
	for range 3000 {
		n := 1 + r.IntN(60)
		q, c := randomSeries(r, n), randomSeries(r, n)
		band := r.IntN(n + 2)
		up, lo := make([]float64, n), make([]float64, n)
		Envelope(q, band, up, lo)
		lb := LBKeogh(c, up, lo, math.Inf(1))
		d := w.Distance(q, c, band)
		if lb > d {
			t.Fatalf("LBKeogh %v > Distance %v (n=%d band=%d)\nq=%v\nc=%v", lb, d, n, band, q, c)
		}
		if lb > 0 {
			tight++
		}
		// The literal formula.
		var sum float64
		for i := range c {
			if c[i] > up[i] {
				sum += c[i] - up[i]
			} else if c[i] < lo[i] {
				sum += lo[i] - c[i]
			}
		}
		if lb != sum {
			t.Fatalf("LBKeogh %v, formula %v", lb, sum)
		}
		// Early stop: the partial sum exceeds the limit, and never the full sum.
		if lb > 0 {
			limit := lb / 2
			part := LBKeogh(c, up, lo, limit)
			if !(part > limit) || part > lb {
				t.Fatalf("LBKeogh(limit %v) = %v, full %v", limit, part, lb)
			}
		}
	}
	if tight == 0 {
		t.Fatal("LBKeogh was 0 on every input: the bound is not exercised")
	}
}

// TestNoAllocs checks that the hot paths do not allocate once the Workspace
// has grown.
func TestNoAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(37, 41))
	a, b := randomWalk(r, 120), randomWalk(r, 120)
	long1, long2 := randomWalk(r, 1000), randomWalk(r, 1000)
	up, lo := make([]float64, 120), make([]float64, 120)
	var w Workspace
	w.Distance(a, b, -1)
	w.FastDTW(long1, long2, 5) // warm up to the largest size
	checks := []struct {
		name string
		f    func()
	}{
		{"Distance band -1", func() { w.Distance(a, b, -1) }},
		{"Distance band 12", func() { w.Distance(a, b, 12) }},
		{"DistanceAbandon", func() { w.DistanceAbandon(a, b, 12, 10) }},
		{"FastDTW n=120 r=5", func() { w.FastDTW(a, b, 5) }},
		{"FastDTW n=1000 r=5", func() { w.FastDTW(long1, long2, 5) }},
		{"Envelope band 12", func() { Envelope(a, 12, up, lo) }},
		{"LBKeogh", func() { LBKeogh(b, up, lo, math.Inf(1)) }},
	}
	for _, c := range checks {
		if n := testing.AllocsPerRun(50, c.f); n != 0 {
			t.Errorf("%s: %v allocs per run, want 0", c.name, n)
		}
	}
}

// ---------------------------------------------------------------------------
// Accuracy of FastDTW.

// TestFastDTWAccuracy measures the mean relative error (FastDTW − exact)/exact
// of FastDTW on pairs of independent Gaussian random walks, for radius 1, 5
// and 10 at lengths 100, 1000 and 10000 (exact DTW at 10000 uses the
// two-row Distance: 10⁸ cells, O(m) memory). Per-pair errors are heavy-tailed
// (at 10000, radius 1, single pairs range from 0.3% to over 20%), so the
// table also gives the standard error of each mean. The table is logged;
// the assertions are loose sanity bounds, not tuned figures.
func TestFastDTWAccuracy(t *testing.T) {
	radii := []int{1, 5, 10}
	type row struct{ n, pairs int }
	rows := []row{{100, 200}, {1000, 50}, {10000, 8}}
	if raceEnabled || testing.Short() {
		// Exact DTW at 10000 is 8·10⁸ cells: about 1.5 s normally,
		// over 30 s under the race detector.
		rows = rows[:2]
		t.Log("length 10000 skipped (-race or -short)")
	}
	r := rand.New(rand.NewPCG(2007, 11))
	var w Workspace
	var sb strings.Builder
	sb.WriteString("mean relative error (FastDTW − exact)/exact ± standard error, random walks\n")
	fmt.Fprintf(&sb, "%8s %6s", "length", "pairs")
	for _, rad := range radii {
		fmt.Fprintf(&sb, " %16s", fmt.Sprintf("radius %d", rad))
	}
	sb.WriteString("\n")
	for _, rw := range rows {
		sum := make([]float64, len(radii))
		sumSq := make([]float64, len(radii))
		for range rw.pairs {
			a, b := randomWalk(r, rw.n), randomWalk(r, rw.n)
			exact := w.Distance(a, b, -1)
			if !(exact > 0) {
				t.Fatalf("exact DTW %v on random walks", exact)
			}
			for k, rad := range radii {
				approx := w.FastDTW(a, b, rad)
				e := (approx - exact) / exact
				if e < 0 {
					t.Fatalf("n=%d radius %d: FastDTW %v < exact %v", rw.n, rad, approx, exact)
				}
				sum[k] += e
				sumSq[k] += e * e
			}
		}
		fmt.Fprintf(&sb, "%8d %6d", rw.n, rw.pairs)
		p := float64(rw.pairs)
		for k := range sum {
			sum[k] /= p
			se := math.Sqrt(max(0, sumSq[k]/p-sum[k]*sum[k]) / (p - 1))
			fmt.Fprintf(&sb, "  %6.2f%% ± %4.2f", 100*sum[k], 100*se)
		}
		sb.WriteString("\n")
		if sum[2] > sum[0] {
			t.Errorf("n=%d: mean error at radius 10 (%v) above radius 1 (%v)", rw.n, sum[2], sum[0])
		}
		if rw.n == 100 && sum[2] >= 0.05 {
			t.Errorf("n=100: mean error at radius 10 is %.2f%%, want < 5%%", 100*sum[2])
		}
	}
	t.Log("\n" + sb.String())
}

// ---------------------------------------------------------------------------
// Fuzzing.

// fuzzSeries decodes bytes into a series: 255 is NaN, 254 is +Inf, 253 is
// −Inf, anything else b is (b − 126)/4. At most 200 points are used.
func fuzzSeries(p []byte) []float64 {
	p = p[:min(len(p), 200)]
	x := make([]float64, len(p))
	for i, c := range p {
		switch c {
		case 255:
			x[i] = math.NaN()
		case 254:
			x[i] = math.Inf(1)
		case 253:
			x[i] = math.Inf(-1)
		default:
			x[i] = (float64(c) - 126) / 4
		}
	}
	return x
}

// FuzzFastDTW feeds arbitrary pairs (NaN and ±Inf included) to every entry
// point. NaN or ±Inf anywhere, or an empty series, must give +Inf from
// Distance, DistanceAbandon and FastDTW (documented behaviour); finite input
// must give a finite FastDTW ≥ Distance, Distance equal to the full-matrix
// reference, and LBKeogh ≤ banded Distance for equal lengths. Nothing may
// panic.
func FuzzFastDTW(f *testing.F) {
	f.Add([]byte{1, 3, 10, 20, 30, 40, 10, 20, 20, 30, 40})
	f.Add([]byte{0, 0})
	f.Add([]byte{2, 5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14})
	f.Add([]byte{3, 4, 100, 255, 100, 100, 100, 100, 100})
	f.Add([]byte{0, 2, 254, 253, 1, 2, 3})
	f.Add([]byte{7, 30, 0, 250, 0, 250, 0, 250, 0, 250, 0, 250, 0, 250, 0, 250, 0, 250, 0, 250, 0, 250, 0, 250, 0, 250, 0, 250, 0, 250, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		radius := int(data[0]%12) - 1 // −1 .. 10
		rest := data[2:]
		split := int(data[1]) % (len(rest) + 1)
		a, b := fuzzSeries(rest[:split]), fuzzSeries(rest[split:])
		var w Workspace
		d := w.Distance(a, b, -1)
		fd := w.FastDTW(a, b, radius)
		band := max(radius, 0)
		db := w.Distance(a, b, band)
		da := w.DistanceAbandon(a, b, band, d)
		if len(a) == 0 || len(b) == 0 || !allFinite(a) || !allFinite(b) {
			for _, v := range []float64{d, fd, db, da} {
				if !math.IsInf(v, 1) {
					t.Fatalf("non-finite or empty input gave %v, want +Inf", v)
				}
			}
		} else {
			if math.IsInf(d, 0) || math.IsNaN(d) || math.IsInf(fd, 0) || math.IsNaN(fd) {
				t.Fatalf("finite input gave Distance %v FastDTW %v", d, fd)
			}
			if fd < d {
				t.Fatalf("FastDTW %v < Distance %v", fd, d)
			}
			if db < d {
				t.Fatalf("banded %v < unconstrained %v", db, d)
			}
			if ref := refDTW(a, b, nil); ref != d {
				t.Fatalf("Distance %v, reference %v", d, ref)
			}
			if da != db && !math.IsInf(da, 1) {
				t.Fatalf("DistanceAbandon %v, Distance %v", da, db)
			}
		}
		if len(a) > 0 && len(a) == len(b) {
			up, lo := make([]float64, len(a)), make([]float64, len(a))
			Envelope(a, band, up, lo)
			if lb := LBKeogh(b, up, lo, math.Inf(1)); lb > db {
				t.Fatalf("LBKeogh %v > Distance %v", lb, db)
			}
		}
	})
}

// ---------------------------------------------------------------------------
// Benchmarks.

func BenchmarkDistance(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x, y := randomWalk(r, 120), randomWalk(r, 120)
	for _, band := range []int{-1, 12} {
		b.Run(fmt.Sprintf("n=120/band=%d", band), func(b *testing.B) {
			var w Workspace
			b.ReportAllocs()
			for b.Loop() {
				w.Distance(x, y, band)
			}
		})
	}
}

func BenchmarkDistanceAbandon(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x, y := randomWalk(r, 120), randomWalk(r, 120)
	var w Workspace
	limit := w.Distance(x, y, 12) / 4
	b.ReportAllocs()
	for b.Loop() {
		w.DistanceAbandon(x, y, 12, limit)
	}
}

func BenchmarkFastDTW(b *testing.B) {
	for _, c := range []struct{ n, radius int }{{120, 5}, {1000, 5}, {10000, 10}} {
		r := rand.New(rand.NewPCG(2, 2))
		x, y := randomWalk(r, c.n), randomWalk(r, c.n)
		b.Run(fmt.Sprintf("n=%d/r=%d", c.n, c.radius), func(b *testing.B) {
			var w Workspace
			w.FastDTW(x, y, c.radius) // grow the buffers outside the timing
			b.ReportAllocs()
			for b.Loop() {
				w.FastDTW(x, y, c.radius)
			}
		})
	}
}

func BenchmarkEnvelope(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 3))
	q := randomWalk(r, 120)
	up, lo := make([]float64, 120), make([]float64, 120)
	b.ReportAllocs()
	for b.Loop() {
		Envelope(q, 12, up, lo)
	}
}

func BenchmarkLBKeogh(b *testing.B) {
	r := rand.New(rand.NewPCG(4, 4))
	q, c := randomWalk(r, 120), randomWalk(r, 120)
	up, lo := make([]float64, 120), make([]float64, 120)
	Envelope(q, 12, up, lo)
	b.ReportAllocs()
	for b.Loop() {
		LBKeogh(c, up, lo, math.Inf(1))
	}
}

// TestFastDTWBand: the banded FastDTW never beats banded exact DTW, equals
// it when the radius covers the series, and stays close on random walks.
func TestFastDTWBand(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	var ws Workspace
	sumErr, pairs := 0.0, 0
	for range 300 {
		n, m := 20+r.IntN(150), 0
		m = n
		if r.IntN(4) == 0 {
			m = 10 + r.IntN(150)
		}
		a, b := randomWalk(r, n), randomWalk(r, m)
		band := r.IntN(20)
		exact := ws.Distance(a, b, band)
		for _, radius := range []int{0, 1, 5, 10} {
			got := ws.FastDTWBand(a, b, radius, band)
			if got < exact {
				t.Fatalf("n=%d m=%d band=%d radius=%d: FastDTWBand %v < banded DTW %v", n, m, band, radius, got, exact)
			}
			if math.IsInf(got, 0) || math.IsNaN(got) {
				t.Fatalf("n=%d m=%d band=%d radius=%d: %v", n, m, band, radius, got)
			}
			if radius == 5 && n == m && exact > 0 {
				sumErr += (got - exact) / exact
				pairs++
			}
		}
		if got := ws.FastDTWBand(a, b, max(n, m), band); got != exact {
			t.Fatalf("n=%d m=%d band=%d: full radius gives %v, banded DTW %v", n, m, band, got, exact)
		}
		if got, want := ws.FastDTWBand(a, b, 5, -1), ws.FastDTW(a, b, 5); got != want {
			t.Fatalf("band -1: %v, FastDTW %v", got, want)
		}
	}
	mean := sumErr / float64(pairs)
	t.Logf("FastDTWBand radius 5 vs banded DTW: mean relative error %.3f%% over %d equal-length pairs", 100*mean, pairs)
	if mean > 0.05 {
		t.Errorf("mean relative error %.2f%% at radius 5, want < 5%%", 100*mean)
	}
}
