package dtw

import "math"

// level is one resolution of the FastDTW pyramid: series a of length na and
// b of length nb, stored at offA in pyrA and offB in pyrB (level 0, the
// input, is not copied).
type level struct {
	offA, na, offB, nb int
}

// FastDTW is Salvador & Chan's approximation of DTW with the given radius;
// it allocates a Workspace per call. See Workspace.FastDTW.
func FastDTW(a, b []float64, radius int) float64 {
	var w Workspace
	return w.FastDTW(a, b, radius)
}

// FastDTW approximates DTW(a, b) by Salvador & Chan's multilevel FastDTW
// (Intelligent Data Analysis 11(5), 2007), with the same cost as Distance:
// the sum of |a_i − b_j| along a warp path.
//
//  1. Base case: if min(n, m) ≤ radius+2, return exact DTW.
//  2. Coarsen: halve both series by piecewise aggregate approximation,
//     a'_k = (a_{2k} + a_{2k+1})/2, keeping an odd last point as it is
//     (length ⌈n/2⌉).
//  3. Recurse on the coarse pair, obtaining a coarse warp path.
//  4. Project: each coarse cell (I, J) covers the finer cells
//     {2I, 2I+1} × {2J, 2J+1} (clipped to the matrix).
//  5. Expand the projected path by radius cells in every direction
//     (the Chebyshev neighbourhood), giving the search window.
//  6. Run the DTW recurrence with D = +Inf outside the window and, below the
//     top level, trace the optimal path back for the next finer level.
//
// Steps 4–5 produce, in each row, one contiguous column interval (the path is
// monotone and connected), so the window is stored as lo_i, hi_i per row with
// lo_i = max(0, projLo(i−radius) − radius), hi_i = min(m−1, projHi(i+radius) + radius).
// The window always contains the projected path, so a path from (0,0) to
// (n−1,m−1) exists, and the result — the cost along the best path in the
// window — is always ≥ the exact DTW distance; with radius ≥ min(n,m) − 2 it
// is exact.
//
// Complexity: the window has O((n+m)·radius) cells at each level and the
// levels shrink geometrically, so time and memory are O((n+m)·radius)
// (the base case has min(n,m) ≤ radius+2, so its full matrix is also within
// that bound). A negative radius is treated as 0. An empty series or any NaN
// or ±Inf value gives +Inf. After the Workspace has grown for the largest
// input seen, FastDTW does not allocate.
func (w *Workspace) FastDTW(a, b []float64, radius int) float64 {
	return w.fastDTW(a, b, radius, -1)
}

// FastDTWBand is FastDTW constrained to the Sakoe-Chiba band of Distance
// with half-width band (band < 0: none, as FastDTW). At every level the
// search window is intersected with the band scaled to that level's length
// (plus one cell of slack on the coarse levels), so the path found never
// leaves the band and the result is always ≥ Distance(a, b, band): it
// approximates banded DTW, as FastDTW approximates unconstrained DTW. When
// the projected window and the band do not overlap enough to hold a path
// (possible only with a radius much smaller than the band), it falls back
// to the exact Distance(a, b, band).
func (w *Workspace) FastDTWBand(a, b []float64, radius, band int) float64 {
	d := w.fastDTW(a, b, radius, band)
	if math.IsInf(d, 1) && band >= 0 && allFinite(a) && allFinite(b) {
		return w.distance(a, b, band, inf, false)
	}
	return d
}

func (w *Workspace) fastDTW(a, b []float64, radius, bandW int) float64 {
	n, m := len(a), len(b)
	if n == 0 || m == 0 || !allFinite(a) || !allFinite(b) {
		return inf
	}
	// Clamp so radius+2 cannot overflow; any radius ≥ min(n, m) is exact.
	radius = min(max(radius, 0), min(n, m))
	if min(n, m) <= radius+2 {
		return w.distance(a, b, bandW, inf, false)
	}

	// Build the pyramid: level k+1 halves level k until the base case.
	w.levels = append(w.levels[:0], level{na: n, nb: m})
	// The coarse levels need Σ⌈n/2^k⌉ ≤ n + (number of levels) ≤ 2n values.
	w.pyrA = grow(w.pyrA, 2*n)
	w.pyrB = grow(w.pyrB, 2*m)
	for {
		top := w.levels[len(w.levels)-1]
		if min(top.na, top.nb) <= radius+2 {
			break
		}
		next := level{
			offA: levelEnd(w.levels, true), na: (top.na + 1) / 2,
			offB: levelEnd(w.levels, false), nb: (top.nb + 1) / 2,
		}
		k := len(w.levels) - 1
		halve(w.seriesA(a, k), w.pyrA[next.offA:next.offA+next.na])
		halve(w.seriesB(b, k), w.pyrB[next.offB:next.offB+next.nb])
		w.levels = append(w.levels, next)
	}

	w.lo = growInt(w.lo, n)
	w.hi = growInt(w.hi, n)
	w.off = growInt(w.off, n+1)
	w.pLo = growInt(w.pLo, (n+1)/2)
	w.pHi = growInt(w.pHi, (n+1)/2)

	// Base case: full window, exact DTW, then its path.
	k := len(w.levels) - 1
	lv := w.levels[k]
	for i := range lv.na {
		w.lo[i], w.hi[i] = 0, lv.nb-1
	}
	for {
		if bandW >= 0 {
			bk := bandW
			if k > 0 { // the band scaled to this level, with a cell of slack
				bk = ceilDiv(bandW*lv.na, n) + 1
			}
			if !w.clipToBand(lv.na, lv.nb, bk) {
				return inf
			}
		}
		x, y := w.seriesA(a, k), w.seriesB(b, k)
		d := w.solveWindow(x, y)
		if k == 0 {
			return d
		}
		w.tracePath(lv.na, lv.nb)
		k--
		lv = w.levels[k]
		w.expandWindow(lv.na, lv.nb, radius)
	}
}

// clipToBand intersects the window w.lo/w.hi of an n×m level with the
// Sakoe-Chiba band of half-width bw, and reports whether the result still
// holds a path: every row non-empty and touching the row before.
// Intersecting two windows whose bounds are nondecreasing keeps them
// nondecreasing, and lo[0] = 0, hi[n−1] = m−1 hold for both.
func (w *Workspace) clipToBand(n, m, bw int) bool {
	bd := newBand(n, m, bw)
	if bd.full {
		return true
	}
	lo, hi := w.lo[:n], w.hi[:n]
	for i := range lo {
		l, h := bd.row(i)
		lo[i], hi[i] = max(lo[i], l), min(hi[i], h)
		if lo[i] > hi[i] || i > 0 && lo[i] > hi[i-1]+1 {
			return false
		}
	}
	return true
}

// grow returns s with length ≥ n, reallocating only if its capacity is short.
func grow(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:cap(s)]
}

func growInt(s []int, n int) []int {
	if cap(s) < n {
		return make([]int, n)
	}
	return s[:cap(s)]
}

// levelEnd is the first free index in pyrA (a) or pyrB (!a) after the levels
// stored so far.
func levelEnd(levels []level, a bool) int {
	top := levels[len(levels)-1]
	if len(levels) == 1 {
		return 0
	}
	if a {
		return top.offA + top.na
	}
	return top.offB + top.nb
}

// seriesA and seriesB return level k of the pyramid of a or b.
func (w *Workspace) seriesA(a []float64, k int) []float64 {
	if k == 0 {
		return a
	}
	lv := w.levels[k]
	return w.pyrA[lv.offA : lv.offA+lv.na]
}

func (w *Workspace) seriesB(b []float64, k int) []float64 {
	if k == 0 {
		return b
	}
	lv := w.levels[k]
	return w.pyrB[lv.offB : lv.offB+lv.nb]
}

// halve writes the piecewise aggregate approximation of x with segments of
// two points into dst (length ⌈len(x)/2⌉); an odd last point is copied.
func halve(x, dst []float64) {
	for k := range dst {
		if 2*k+1 < len(x) {
			dst[k] = (x[2*k] + x[2*k+1]) / 2
		} else {
			dst[k] = x[2*k]
		}
	}
}

// expandWindow turns the path of the coarser level (w.pLo, w.pHi, one entry
// per coarse row) into the window of the finer n×m level (w.lo, w.hi):
// projection to 2×2 blocks, then radius cells in every direction.
func (w *Workspace) expandWindow(n, m, radius int) {
	lo, hi := w.lo[:n], w.hi[:n]
	for i := range lo {
		// Fine row t lies in coarse row t/2; the projected columns of
		// fine row t are [2·pLo[t/2], min(2·pHi[t/2]+1, m−1)]. Both ends
		// are nondecreasing in t, so the union over t ∈ [i−r, i+r] is
		// bounded by the ends of the first and the last of those rows.
		t0, t1 := max(0, i-radius), min(n-1, i+radius)
		lo[i] = max(0, 2*w.pLo[t0/2]-radius)
		hi[i] = min(m-1, min(2*w.pHi[t1/2]+1, m-1)+radius)
	}
}

// solveWindow runs the DTW recurrence for rows x and columns y over the
// window w.lo/w.hi (lo nondecreasing with lo[0] = 0, hi nondecreasing with
// hi[n−1] = m−1, consecutive rows touching), storing D in w.cells, and
// returns D(n−1, m−1).
func (w *Workspace) solveWindow(x, y []float64) float64 {
	n := len(x)
	lo, hi, off := w.lo[:n], w.hi[:n], w.off[:n+1]
	off[0] = 0
	for i := range lo {
		off[i+1] = off[i] + hi[i] - lo[i] + 1
	}
	w.cells = grow(w.cells, off[n])
	cells := w.cells

	// Row 0 starts at column 0: D(0,j) = |x_0 − y_j| + D(0,j−1).
	row := cells[off[0]:off[1]]
	acc := 0.0
	for j := range row {
		acc += math.Abs(x[0] - y[j])
		row[j] = acc
	}
	for i := 1; i < n; i++ {
		plo, phi := lo[i-1], hi[i-1]
		prow := cells[off[i-1]:off[i]]
		row := cells[off[i]:off[i+1]]
		xi := x[i]
		l, h := lo[i], hi[i]
		// Row i's columns fall into three runs: j ≤ phi has (i−1, j) and,
		// unless j = plo, (i−1, j−1) in the window; j = phi+1 has only the
		// diagonal; j > phi+1 has only (i, j−1). lo and hi are
		// nondecreasing, so l ≥ plo and the runs come in this order.
		j := l
		left := inf
		if j == plo { // (i−1, j) only
			left = math.Abs(xi-y[j]) + prow[0]
			row[0] = left
			j++
		}
		if e := min(h, phi); j <= e {
			diag := prow[j-1-plo : e-plo]
			up := prow[j-plo : e-plo+1]
			out := row[j-l : e-l+1]
			for k, yj := range y[j : e+1] {
				best := diag[k]
				if u := up[k]; u < best {
					best = u
				}
				if left < best {
					best = left
				}
				left = math.Abs(xi-yj) + best
				out[k] = left
			}
			j = e + 1
		}
		if j == phi+1 && j <= h { // (i−1, j−1) and (i, j−1)
			best := prow[phi-plo]
			if left < best {
				best = left
			}
			left = math.Abs(xi-y[j]) + best
			row[j-l] = left
			j++
		}
		if j <= h {
			out := row[j-l : h-l+1]
			for k, yj := range y[j : h+1] {
				left += math.Abs(xi - yj)
				out[k] = left
			}
		}
	}
	return cells[off[n]-1]
}

// tracePath follows the optimal path of the n×m window solved last from
// (n−1, m−1) back to (0, 0) and records, for each row, the interval of
// columns the path visits in w.pLo and w.pHi. Ties prefer the diagonal, then
// the step from the row below (i−1, j), then (i, j−1).
func (w *Workspace) tracePath(n, m int) {
	lo, hi, off, cells := w.lo[:n], w.hi[:n], w.off[:n+1], w.cells
	pLo, pHi := w.pLo[:n], w.pHi[:n]
	at := func(i, j int) (float64, bool) {
		if j < lo[i] || j > hi[i] {
			return 0, false
		}
		return cells[off[i]+j-lo[i]], true
	}
	i, j := n-1, m-1
	pLo[i], pHi[i] = j, j
	for i > 0 || j > 0 {
		switch {
		case i == 0:
			j--
		case j == 0:
			i--
			pHi[i] = j
		default:
			// At least one predecessor lies in the window (see
			// solveWindow's invariants); take the cheapest.
			di, dj := 0, 0
			best := inf
			found := false
			if v, ok := at(i-1, j-1); ok {
				di, dj, best, found = -1, -1, v, true
			}
			if v, ok := at(i-1, j); ok && (!found || v < best) {
				di, dj, best, found = -1, 0, v, true
			}
			if v, ok := at(i, j-1); ok && (!found || v < best) {
				di, dj, found = 0, -1, true
			}
			if !found { // unreachable for a valid window; stay safe
				di, dj = -1, -1
			}
			i, j = i+di, j+dj
			if di != 0 {
				pHi[i] = j
			}
		}
		pLo[i] = j
	}
}
