package dtw

import "math"

// cbSlack is the relative slack DistanceAbandonCB gives its limit before
// it declares a cell dead with the help of a cumulative bound. The bound
// and the path cost are sums of the same nonnegative terms taken in a
// different order (and, for LBImproved, split in two: |q − c| as
// |q − h| + |h − c|), so in floating point the bound may exceed the cost it
// bounds by a few units in the last place times the number of terms
// (about 500·2⁻⁵³ ≈ 6·10⁻¹⁴ relative for 120 points). 10⁻⁹ is far above
// that and far below any difference that matters to a ranking.
const cbSlack = 1e-9

// DistanceAbandonCB is DistanceAbandon with pruning and cumulative lower
// bounds, the ways the UCR suite (Rakthanmanon et al., KDD 2012) and
// EAPrunedDTW (Herrmann & Webb, Data Min. Knowl. Disc. 2021) make
// abandoned DTW cheap. It returns the exact Distance(a, b, band) when that
// is ≤ limit and +Inf otherwise (unlike DistanceAbandon, never a value
// above limit), usually after computing a small part of the band.
//
// # The bounds
//
// rows and cols (either may be nil) bound what is left of a path: for
// every warp path the band admits and every cell (i, j) on it, the cells
// of the path after (i, j) must cost at least rows[i+1] + cols[j+1].
// Entries past the end of a slice count as 0. The cells after (i, j) hold
// at least one cell of every row i' > i and one of every column j' > j,
// so the usual way to meet this is to split each cell's cost into a row
// part and a column part, cost(i', j') ≥ x(i', j') + y(i', j') with both
// parts ≥ 0, and take suffix sums of their least values:
//
//	rows[k] = Σ_{i' ≥ k} min_j x(i', j),   cols[k] = Σ_{j' ≥ k} min_i y(i, j'),
//
// the minima over the cells of the band. LB_Keogh of b against a's
// envelope is x = 0, y(i', j') = dist(b_j', envelope_j') (cols only);
// LB_Keogh of a against b's envelope is the transpose (rows only);
// LBImproved fills both (x is the query's part |a − h|, y the projection's
// |h − b|; see LBImproved).
//
// # Pruning and abandoning
//
// A cell whose value D(i, j) (the least cost of a path from (0, 0) to it)
// satisfies
//
//	D(i, j) + rows[i+1] + cols[j+1] > limit
//
// is dead: no path through it ends at or under limit. The slack
// cbSlack·limit is added to limit in this test (and only in this one)
// to absorb rounding, so a path whose rounded cost is ≤ limit is never
// pruned. Without bounds this is DistanceAbandon's D(i, j) > limit,
// applied to each cell instead of to a row's least.
//
// As in EAPrunedDTW, a row's cells left of the previous row's first live
// cell are reachable only through dead cells, so the row starts there;
// past the previous row's last live cell a cell's only predecessor is its
// left neighbour (and the diagonal for the first such cell), so D grows
// along the row and the row ends at its first cell with
// D(i, j) + rows[i+1] + cols[hi+1] > limit, hi being the row's last
// column (cols is first made nonincreasing, which only weakens it, so
// every cell after that one is dead too). Dead cells inside the computed
// range keep their values, which are costs of real (too dear) paths:
// every computed value is the cost of some path or +Inf, and the cells of
// a path whose cost is ≤ limit are all live and all computed with their
// exact D values (the same additions and the same exact mins as
// Distance), so the last cell holds Distance's value whenever it is
// ≤ limit. A row without a live cell means the distance is > limit, and
// +Inf is returned at once.
//
// Rows are computed two at a time, in one sweep where each step does a
// cell of row i and the cell of row i+1 below-left of it: each cell
// waits for its left neighbour (an addition and a min), and two
// independent chains of those keep the processor busier than one.
//
// An empty series or any NaN or ±Inf value in a or b gives +Inf, without
// a scan for them: a NaN cost makes its cell NaN, which min passes on to
// every cell after it and which is never ≤ a threshold, and an infinite
// value makes every path through its row or column cost +Inf (or NaN). A
// NaN limit never abandons (as DistanceAbandon), and a NaN or negative
// bound entry counts as 0. It never allocates once the Workspace has grown
// to m+1.
func (w *Workspace) DistanceAbandonCB(a, b []float64, band int, limit float64, rows, cols []float64) float64 {
	n, m := len(a), len(b)
	if n == 0 || m == 0 {
		return inf
	}
	if limit != limit { // NaN: never abandon
		limit = inf
	}
	if limit < 0 {
		return inf // every distance is ≥ 0
	}
	slack := limit + cbSlack*limit
	if cap(w.prev) < m+1 {
		w.prev = make([]float64, m+1)
		w.cur = make([]float64, m+1)
	}
	if cap(w.cbCols) < m+1 {
		w.cbCols = make([]float64, m+1)
	}
	// colb[j] is the column bound of a cell in column j−1: cols[j] made
	// nonincreasing (each entry the least of those up to it, which only
	// weakens it), with NaN and negative entries (no bound) as 0 and 0 past
	// the end. Then the cells of a row from column j on have at least the
	// bound colb[hi+1] of its last column.
	colb := w.cbCols[:m+1]
	clear(colb)
	if len(cols) > 0 {
		prevc := inf
		for j := 1; j < min(len(cols), m); j++ {
			c := cols[j]
			if !(c > 0) {
				break // 0 from here on
			}
			if c < prevc { // a branch, not min: suffix sums always take it
				prevc = c
			}
			colb[j] = prevc
		}
	}
	if cap(w.third) < m+1 {
		w.third = make([]float64, m+1)
	}
	// Three rows, indexed by column+1 (index 0 is column −1): P the row
	// before the pair being computed, A and B the pair.
	P, A, B := w.prev[:m+1], w.cur[:m+1], w.third[:m+1]
	// The virtual row −1: column −1 holds 0 and is its only live cell, so
	// D(0,0) = |a_0 − b_0| + 0.
	P[0] = 0
	first, last := -1, -1 // live columns of row P
	bd := newBand(n, m, band)
	equal := n == m && !bd.full
	rowRange := func(i int) (lo, hi int) {
		switch {
		case bd.full:
			return 0, m - 1
		case equal:
			return max(0, i-band), min(m-1, i+band)
		}
		return bd.row(i)
	}
	threshold := func(i int) float64 { // limit less the row bound after row i
		if i+1 < n && i+1 < len(rows) {
			if r := rows[i+1]; r > 0 {
				return slack - r
			}
		}
		return slack
	}
	// Rows go in pairs (A = row i, B = row i+1), computed in one sweep
	// where each step does a cell of A and the cell of B below-left of
	// it: two independent chains of "left" dependencies, so one cell's
	// addition and min wait less for the other's. See pairRows.
	for i := 0; i < n; i += 2 {
		loA, hiA := rowRange(i)
		sA := max(loA, first)
		if sA > last+1 || sA > hiA {
			return inf // no live predecessor reaches this row
		}
		tA := threshold(i)
		pair := i+1 < n
		if !pair {
			eA := oneRow(P, A, b, a[i], sA, last, hiA, tA-colb[hiA+1])
			fA, lA := liveRange(A, colb, sA, eA, tA)
			if fA < 0 {
				return inf
			}
			first, last = fA, lA
			P, A = A, P
			break
		}
		loB, hiB := rowRange(i + 1)
		sB := max(loB, sA)
		tB := threshold(i + 1)
		eA, eB := pairRows(P, A, B, b, a[i], a[i+1], sA, last, hiA, tA-colb[hiA+1], sB, hiB, tB-colb[hiB+1])
		fA, _ := liveRange(A, colb, sA, eA, tA)
		if fA < 0 {
			return inf // every cell of row i is dead
		}
		if sB > eA+1 || sB > hiB {
			return inf
		}
		fB, lB := liveRange(B, colb, sB, eB, tB)
		if fB < 0 {
			return inf // every cell of row i+1 is dead
		}
		first, last = fB, lB
		P, A, B = B, P, A
	}
	if last != m-1 {
		return inf
	}
	if d := P[m]; d <= limit {
		return d
	}
	return inf
}

// oneRow computes a row of DistanceAbandonCB into cur from prev (rows
// indexed by column+1) and returns the last column it wrote: columns
// s..min(hi, last) from their three predecessors (last is prev's last
// column to read), then, past last, from the left neighbour (and prev's
// column last, the diagonal of the first) while the value stays ≤ tEnd,
// beyond which every cell left in the row is dead. cur[s], column s−1, is
// set to +Inf.
func oneRow(prev, cur, b []float64, ai float64, s, last, hi int, tEnd float64) int {
	cur[s] = inf
	left := inf
	if e1 := min(hi, last); s <= e1 {
		p := prev[s : e1+2]
		c := cur[s+1 : e1+2]
		bs := b[s : e1+1]
		for k, bj := range bs {
			d := math.Abs(ai - bj)
			x := min(d+min(p[k], p[k+1]), d+left)
			left = x
			c[k] = x
		}
	}
	return growRow(prev, cur, b, ai, max(s, last+1), last, hi, tEnd)
}

// growRow continues a row from column j, where the row above holds
// nothing past column last: each cell's predecessors are its left
// neighbour and, for column last+1, the diagonal prev's column last. D
// grows along the row, and the row stops before its first cell over tEnd.
// It returns the last column written (j−1 if none).
func growRow(prev, cur, b []float64, ai float64, j, last, hi int, tEnd float64) int {
	if j > hi {
		return j - 1
	}
	best := cur[j] // column j−1 of this row, or the +Inf sentinel
	if j == last+1 {
		best = min(best, prev[j]) // column last of the row above
	}
	for ; j <= hi; j++ {
		x := math.Abs(ai-b[j]) + best
		if !(x <= tEnd) {
			break
		}
		cur[j+1] = x
		best = x
	}
	return j - 1
}

// pairRows computes rows A (i) and B (i+1) of DistanceAbandonCB from P
// (row i−1), and returns the last column written in each. Row A is
// oneRow's: from sA, three predecessors up to P's column last, then grown
// from the left neighbour alone while ≤ tEndA. Row B starts at sB ≥ sA
// and reads only what A computed: while A's cell j is computed so is B's
// cell j−1 (its diagonal A(j−2), up A(j−1) and left B(j−2) are all done),
// in the same step; then B's cells up to A's last computed column, then B
// grown from the left past it. Dead cells of A feed B: their values are
// costs of real paths, which is all B needs.
func pairRows(P, A, B, b []float64, ai, bi float64, sA, last, hiA int, tEndA float64, sB, hiB int, tEndB float64) (eA, eB int) {
	A[sA] = inf // column sA−1 of A, also B's diagonal left of its start when sB = sA
	B[sB] = inf // column sB−1 of B
	leftA, leftB := inf, inf
	e1 := min(hiA, last) // A's three-predecessor range is sA..e1
	j := sA
	// A alone while B has not started: A's columns sA..min(e1, sB).
	for ; j <= min(e1, sB); j++ {
		d := math.Abs(ai - b[j])
		x := min(d+min(P[j], P[j+1]), d+leftA)
		leftA = x
		A[j+1] = x
	}
	// Both: A's column j and B's column j−1, for j ≤ e1 and j−1 ≤ hiB.
	bNext := sB // B's first column not yet computed
	if j0, j1 := j, min(e1, hiB+1); j0 <= j1 {
		// Every slice below has the loop's length, so that the compiler
		// drops the bounds checks; the values each step needs from the
		// step before (A's columns j−2 and j−1, P's column j−1, b_{j−1})
		// stay in registers: reading A back from memory would also put a
		// store-to-load forwarding on B's chain.
		bj := b[j0 : j1+1]   // b_j
		pj := P[j0+1 : j1+2] // P column j
		aj := A[j0+1 : j1+2] // A column j (written)
		bj1 := B[j0 : j1+1]  // B column j−1 (written)
		pj, aj, bj1 = pj[:len(bj)], aj[:len(bj)], bj1[:len(bj)]
		a2, a1 := A[j0-1], A[j0] // A columns j0−2, j0−1
		pPrev, bPrev := P[j0], b[j0-1]
		for k, x := range bj {
			px := pj[k]
			da := math.Abs(ai - x)
			xa := min(da+min(pPrev, px), da+leftA)
			leftA = xa
			db := math.Abs(bi - bPrev)
			xb := min(db+min(a2, a1), db+leftB)
			leftB = xb
			aj[k] = xa
			bj1[k] = xb
			a2, a1 = a1, xa
			pPrev, bPrev = px, x
		}
		j, bNext = j1+1, j1
	}
	// A alone for the rest of its three-predecessor range (B has reached
	// hiB), then A grown past P's last column.
	for ; j <= e1; j++ {
		d := math.Abs(ai - b[j])
		x := min(d+min(P[j], P[j+1]), d+leftA)
		leftA = x
		A[j+1] = x
	}
	eA = growRow(P, A, b, ai, max(sA, last+1), last, hiA, tEndA)
	// B: its columns from where the sweep left it up to eA (three
	// predecessors in A), then grown past eA.
	jb := bNext
	leftB = B[jb] // column jb−1, or the sentinel
	for e := min(hiB, eA); jb <= e; jb++ {
		d := math.Abs(bi - b[jb])
		x := min(d+min(A[jb], A[jb+1]), d+leftB)
		leftB = x
		B[jb+1] = x
	}
	eB = growRow(A, B, b, bi, jb, eA, hiB, tEndB)
	return eA, eB
}

// liveRange returns the first and last live columns of row r between s
// and e (−1, −1 if none): those whose value plus the column bound after
// them is ≤ t. It runs after the row, from either end, so the cells' loop
// has no live test in it (a branch mispredicted wherever live and dead
// cells alternate).
func liveRange(r, colb []float64, s, e int, t float64) (first, last int) {
	if s > e {
		return -1, -1
	}
	c, cb := r[s+1:e+2], colb[s+1:e+2]
	first = -1
	for k := range c {
		if c[k]+cb[k] <= t {
			first = s + k
			break
		}
	}
	if first < 0 {
		return -1, -1
	}
	for k := len(c) - 1; ; k-- {
		if c[k]+cb[k] <= t {
			return first, s + k
		}
	}
}
