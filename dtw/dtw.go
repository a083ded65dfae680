// Package dtw computes dynamic time warping (DTW) distances between two
// univariate series: exact DTW with an optional Sakoe–Chiba band, exact DTW
// with early abandoning, exact DTW pruned and abandoned with cumulative
// lower bounds (DistanceAbandonCB, after the UCR suite and EAPrunedDTW),
// Salvador & Chan's FastDTW approximation, Keogh's LB_Keogh lower bound with
// its envelope, and Lemire's LB_Improved (LBImproved), which also yields
// the cumulative bounds DistanceAbandonCB prunes with.
//
// # Where it is used
//
// Oculus search (Etsy's Oculus, rebuilt in Kale) finds metrics whose recent
// shape resembles a query metric. Each series is min-max scaled to [0, 25]
// and resampled to about 120 points; a cheap fingerprint search proposes
// candidates, LB_Keogh prunes those that cannot beat the current k-th best,
// and the survivors are re-ranked by FastDTW, as Etsy's Oculus did.
//
// # The distance
//
// For a = a_0..a_{n-1} and b = b_0..b_{m-1}, a warp path is a sequence of
// cells (i, j) from (0, 0) to (n-1, m-1) whose steps are (1,0), (0,1) or
// (1,1). Its cost is the sum of |a_i − b_j| over its cells (Oculus's cost:
// absolute difference, not squared, no square root at the end). The DTW
// distance is the least cost of any path. It obeys the recurrence
//
//	D(0,0) = |a_0 − b_0|
//	D(i,j) = |a_i − b_j| + min(D(i−1,j), D(i,j−1), D(i−1,j−1))
//
// with D = +Inf outside the matrix (or outside the band), and
// DTW(a, b) = D(n−1, m−1). Row i depends only on row i−1, so two rows of
// length m suffice: O(n·m) time, O(m) memory.
//
// A Sakoe–Chiba band of half-width w admits only the cells with |j − c_i| ≤ w,
// where c_i = i·(m−1)/(n−1) is the diagonal of the n×m matrix (c_i = i for
// equal lengths). When c_i moves by more than one column per row (very
// unequal lengths, small w) the raw band would leave gaps or empty rows, so
// each row's interval is widened just enough to meet the next row's
// (see Workspace.Distance); the band therefore always admits a path.
//
// # Floating point
//
// Every implementation here computes D(i,j) as fl(|a_i − b_j| + min(...)),
// and min is exact. Because rounded addition is monotone (x ≤ y implies
// fl(x+z) ≤ fl(y+z)), D(n−1,m−1) is exactly the least rounded path sum, a
// DP restricted to a window (FastDTW, a band) can only return a value ≥ the
// unconstrained one, and LB_Keogh's rounded sum never exceeds the rounded
// path sum it bounds. The tests assert these inequalities without tolerance.
//
// # Non-finite input
//
// A series that holds NaN or ±Inf has no meaningful shape distance (NaN would
// poison every comparison, and |Inf − Inf| is NaN). Distance,
// DistanceAbandon and FastDTW return +Inf for such input, as they do for an
// empty series: the pair is "infinitely far apart" and sorts last in any
// ranking. Callers should drop or interpolate missing points before scaling.
// LBKeogh and Envelope do not scan for NaN: a NaN term compares false and adds
// nothing, so LB_Keogh stays ≤ the +Inf that Distance returns.
//
// # Allocation
//
// A Workspace owns every buffer the algorithms need. Once it has grown to the
// largest sizes seen, Distance, DistanceAbandon, DistanceAbandonCB,
// LBImproved and FastDTW do not allocate; LBKeogh never allocates. The
// package-level DTW and FastDTW functions allocate a fresh Workspace per
// call and are meant for one-off use.
package dtw

import "math"

var inf = math.Inf(1)

// Workspace holds reusable buffers so the hot loops do not allocate. The zero
// value is ready to use. A Workspace is not safe for concurrent use: give each
// goroutine its own.
type Workspace struct {
	// prev and cur are the two DP rows of Distance, indexed by column+1;
	// index 0 is a +Inf sentinel for column −1.
	prev, cur []float64

	// FastDTW state (see fastdtw.go).
	pyrA, pyrB []float64 // coarsened series of all levels below the input
	levels     []level   // level 0 is the input, level k+1 halves level k
	lo, hi     []int     // search window of the level being solved, per row
	off        []int     // off[i] = index of row i's first cell in cells
	cells      []float64 // D over the window, row by row
	pLo, pHi   []int     // column interval of the warp path, per row
	// LBImproved state (see lbimproved.go): the projection h, its
	// distances to c, and the order keys of h and of its block maxima and
	// minima.
	lbH, lbE []float64
	lbKeys   [5][]uint64
	// cbCols is DistanceAbandonCB's copy of its column bound, third its
	// third DP row.
	cbCols, third []float64
}

// DTW is exact DTW with a Sakoe–Chiba band of half-width band (band < 0:
// unconstrained). It allocates a Workspace per call; use Workspace.Distance
// in loops.
func DTW(a, b []float64, band int) float64 {
	var w Workspace
	return w.Distance(a, b, band)
}

// Distance returns the exact DTW distance between a and b: the least sum of
// |a_i − b_j| over the cells of a warp path from (0,0) to (n−1,m−1) with steps
// (1,0), (0,1), (1,1), computed by the recurrence
//
//	D(i,j) = |a_i − b_j| + min(D(i−1,j), D(i,j−1), D(i−1,j−1)).
//
// band < 0 means unconstrained. band ≥ 0 restricts the path to a Sakoe–Chiba
// band of half-width band around the line j = i·(m−1)/(n−1) (the diagonal
// j = i when the lengths are equal). Row i of the band is the column interval
//
//	lo_i = max(0, ⌈c_i − band⌉), hi_i = min(m−1, ⌊c_i + band⌋), c_i = i·(m−1)/(n−1),
//
// widened to hi_i = max(hi_i, lo_{i+1} − 1, lo_i) so that consecutive rows
// touch and no row is empty: with steps of at most one column per row the
// path must cross from row i to row i+1 at a column ≤ hi_i + 1. The widening
// only matters when the lengths differ by more than about twice the band; for
// equal lengths the band is exactly |i − j| ≤ band. For unequal lengths the
// band (and so the distance) is not symmetric in a and b, because the rows
// are a's points; unconstrained DTW and equal-length banded DTW are.
// band ≥ max(n, m) is the same as unconstrained.
//
// Rows are a's points and columns b's: O(n·m) time (O(n·band) with a band)
// and two rows of m+1 values. An empty series or any NaN or ±Inf value gives
// +Inf. Distance never allocates once the Workspace has grown to m+1.
func (w *Workspace) Distance(a, b []float64, band int) float64 {
	return w.distance(a, b, band, inf, false)
}

// DistanceAbandon is Distance with early abandoning: after each row it
// checks the row's least D value, and if every cell of the row exceeds limit
// it returns +Inf at once. Every warp path crosses every row and path costs
// only grow (|a_i − b_j| ≥ 0), so the true distance is then > limit. When the
// true distance is ≤ limit no row can be abandoned and the exact distance is
// returned; when it is > limit the result is either +Inf or the exact
// distance (> limit), whichever comes first. A NaN limit never abandons.
func (w *Workspace) DistanceAbandon(a, b []float64, band int, limit float64) float64 {
	return w.distance(a, b, band, limit, true)
}

// allFinite reports whether x holds no NaN and no ±Inf.
func allFinite(x []float64) bool {
	for _, v := range x {
		// v−v is 0 for finite v and NaN for NaN or ±Inf.
		if v-v != 0 {
			return false
		}
	}
	return true
}

// ceilDiv and floorDiv divide by a positive d, rounding towards +Inf or −Inf.
func ceilDiv(x, d int) int {
	q := x / d
	if x%d != 0 && x > 0 {
		q++
	}
	return q
}

func floorDiv(x, d int) int {
	q := x / d
	if x%d != 0 && x < 0 {
		q--
	}
	return q
}

// band is the Sakoe–Chiba window of Distance: row i covers the columns
// [rawLo(i), hi(i)] of an n×m matrix.
type band struct {
	n, m, w int
	full    bool // unconstrained: every row is [0, m−1]
}

func newBand(n, m, w int) band {
	full := w < 0 || w >= max(n, m) || n == 1
	return band{n: n, m: m, w: w, full: full}
}

// rawLo is max(0, ⌈c_i − w⌉); it is nondecreasing in i and rawLo(0) = 0.
func (bd band) rawLo(i int) int {
	if bd.full {
		return 0
	}
	d := bd.n - 1
	return max(0, ceilDiv(i*(bd.m-1)-bd.w*d, d))
}

// rows returns the widened interval of row i (see Distance).
func (bd band) row(i int) (lo, hi int) {
	if bd.full {
		return 0, bd.m - 1
	}
	d := bd.n - 1
	lo = bd.rawLo(i)
	hi = min(bd.m-1, floorDiv(i*(bd.m-1)+bd.w*d, d))
	if i+1 < bd.n {
		hi = max(hi, bd.rawLo(i+1)-1)
	}
	return lo, max(hi, lo)
}

func (w *Workspace) distance(a, b []float64, bandW int, limit float64, abandon bool) float64 {
	n, m := len(a), len(b)
	if n == 0 || m == 0 || !allFinite(a) || !allFinite(b) {
		return inf
	}
	if cap(w.prev) < m+1 {
		w.prev = make([]float64, m+1)
		w.cur = make([]float64, m+1)
	}
	prev, cur := w.prev[:m+1], w.cur[:m+1]
	for j := range prev {
		prev[j] = inf
		cur[j] = inf
	}
	// A virtual row −1 whose only finite cell is the diagonal predecessor
	// of (0,0): then D(0,0) = |a_0 − b_0| + 0 falls out of the recurrence.
	prev[0] = 0
	bd := newBand(n, m, bandW)
	for i, ai := range a {
		lo, hi := bd.row(i)
		// cur[lo] is column lo−1: outside the row, so +Inf. It may hold a
		// stale value of row i−2 (or the virtual 0 of row −1).
		cur[lo] = inf
		left := inf
		rowMin := inf
		// p[k] is column lo+k−1 of row i−1, c[k] is column lo+k−1 of row i.
		p := prev[lo : hi+2]
		c := cur[lo : hi+2]
		bs := b[lo : hi+1]
		for k, bj := range bs {
			best := p[k] // diagonal (i−1, j−1)
			if up := p[k+1]; up < best {
				best = up
			}
			if left < best {
				best = left
			}
			left = math.Abs(ai-bj) + best
			c[k+1] = left
			if left < rowMin {
				rowMin = left
			}
		}
		// Columns past hi in cur were never written (rows only move right),
		// so they still hold +Inf for row i+1's "up" reads.
		if abandon && rowMin > limit {
			return inf
		}
		prev, cur = cur, prev
	}
	return prev[m]
}
