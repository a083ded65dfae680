package dtw

import "math"

// LBImproved returns Lemire's LB_Improved lower bound (Pattern
// Recognition 42(9), 2009) of Distance(q, c, band) for two series of the
// same length n, and fills rows and cols (each when it has at least n
// entries) with the matching bounds of DistanceAbandonCB, rows being q's
// points: call DistanceAbandonCB(q, c, band, limit, rows, cols).
//
// upper and lower must be Envelope(q, band). Let h be c projected onto the
// envelope, h_j = min(max(c_j, lower_j), upper_j). For a cell (k, j) of the
// band, q_k lies in [lower_j, upper_j], so h_j lies between q_k and c_j
// and, for the cost |a − b|,
//
//	|q_k − c_j| = |q_k − h_j| + |h_j − c_j|.
//
// Summed over the cells of a warp path, the second parts are at least
// Σ_j |h_j − c_j| (each column j is visited at least once), which is
// LB_Keogh(c against q's envelope); the first parts are at least
// Σ_k dist(q_k, [min h, max h] over j ∈ [k−band, k+band]) (each row k is
// visited at least once, in a cell of its band), which is LB_Keogh(q
// against h's envelope). Their sum is LB_Improved ≥ LB_Keogh.
//
// The same split gives DistanceAbandonCB's bounds: the cells of a path
// after (i, j) hold every row after i and every column after j, so they
// cost at least rows[i+1] + cols[j+1] with
//
//	rows[k] = Σ_{k' ≥ k} dist(q_k', [min h, max h] over the band of k'),   cols[k] = Σ_{j ≥ k} |h_j − c_j|,
//
// and rows[0] + cols[0] is LB_Improved. band < 0 or ≥ n is the
// unconstrained case (the envelopes are the whole series' range).
//
// If the lengths of q, c, upper and lower differ, LBImproved returns 0 (a
// valid but useless bound) and fills rows and cols with zeros. A NaN in q
// or c makes the bound NaN (and NaN bound entries, which
// DistanceAbandonCB takes as 0); Distance is +Inf for such a pair. The
// envelope of h is computed with van Herk's block maxima (no deque), in
// O(n) whatever the band. It never allocates once the Workspace has grown
// to n.
func (w *Workspace) LBImproved(q, c, upper, lower []float64, band int, rows, cols []float64) float64 {
	n := len(q)
	if len(rows) >= n {
		rows = rows[:n]
	} else {
		rows = nil
	}
	if len(cols) >= n {
		cols = cols[:n]
	} else {
		cols = nil
	}
	if n == 0 || len(c) != n || len(upper) != n || len(lower) != n {
		clear(rows)
		clear(cols)
		return 0
	}
	if band < 0 || band >= n {
		band = n
	}
	if cap(w.lbH) < n {
		w.lbH = make([]float64, n)
		w.lbE = make([]float64, n)
		for k := range w.lbKeys {
			w.lbKeys[k] = make([]uint64, n)
		}
	}
	h, e := w.lbH[:n], w.lbE[:n]
	upper, lower, c = upper[:n], lower[:n], c[:n]
	// Branch-free throughout (min, max and math.Abs compile to
	// instructions without jumps): on noisy series a compare-and-branch
	// per point is mispredicted half the time.
	k := &w.lbKeys
	hk := k[0][:n]
	for j, x := range c {
		v := min(max(x, lower[j]), upper[j])
		h[j] = v
		hk[j] = orderKey(v)
		e[j] = math.Abs(x - v)
	}
	// Both suffix sums, from the end, each row's window max and min of h
	// taken from the block maxima as it goes (see slidingMinMaxKeys for
	// the three ranges of windows), so the envelope of h is never stored.
	var rs, cs float64
	i := n - 1
	add := func(hiK, loK uint64) {
		x := q[i]
		rs += max(x-keyFloat(hiK), keyFloat(loK)-x, 0)
		cs += e[i]
		if rows != nil {
			rows[i] = rs
		}
		if cols != nil {
			cols[i] = cs
		}
	}
	if band >= n-1 {
		hi, lo := hk[0], hk[0]
		for _, x := range hk {
			hi, lo = max(hi, x), min(lo, x)
		}
		for ; i >= 0; i-- {
			add(hi, lo)
		}
		return rs + cs
	}
	gmax, gmin, smax, smin := k[1][:n], k[2][:n], k[3][:n], k[4][:n]
	W := blockMinMax(hk, band, gmax, gmin, smax, smin)
	lastBlock := (n - 1) / W * W
	for ; i > band && i+band >= n; i-- { // right-clipped
		if a := i - band; a >= lastBlock {
			add(smax[a], smin[a])
		} else {
			add(max(smax[a], gmax[n-1]), min(smin[a], gmin[n-1]))
		}
	}
	for ; i > band; i-- { // interior
		a, b := i-band, i+band
		add(max(smax[a], gmax[b]), min(smin[a], gmin[b]))
	}
	for ; i >= 0; i-- { // left-clipped: a prefix of block 0
		b := min(n-1, i+band)
		add(gmax[b], gmin[b])
	}
	return rs + cs
}

// orderKey maps a float64 to a uint64 whose unsigned order is the
// float's (−Inf < negatives < −0 < +0 < positives < +Inf): the sign bit is
// flipped for a nonnegative float, every bit for a negative one. Integer
// max and min compile to a compare and a conditional move, so a running
// max costs one or two cycles per point where a float max, with its NaN
// and signed-zero fix-ups, costs about ten.
func orderKey(x float64) uint64 {
	b := math.Float64bits(x)
	return b ^ (uint64(int64(b)>>63) | 1<<63)
}

// keyFloat inverts orderKey.
func keyFloat(k uint64) float64 {
	return math.Float64frombits(k ^ (uint64(int64(^k)>>63) | 1<<63))
}

// blockMinMax fills the prefix (g) and suffix (s) maxima and minima of hk
// within blocks of W = 2·band+1 points, and returns W.
func blockMinMax(hk []uint64, band int, gmax, gmin, smax, smin []uint64) int {
	n := len(hk)
	W := 2*band + 1
	for b0 := 0; b0 < n; b0 += W {
		b1 := min(b0+W, n) // block [b0, b1)
		hi, lo := hk[b0], hk[b0]
		for j := b0; j < b1; j++ {
			x := hk[j]
			hi, lo = max(hi, x), min(lo, x)
			gmax[j], gmin[j] = hi, lo
		}
		hi, lo = hk[b1-1], hk[b1-1]
		for j := b1 - 1; j >= b0; j-- {
			x := hk[j]
			hi, lo = max(hi, x), min(lo, x)
			smax[j], smin[j] = hi, lo
		}
	}
	return W
}

// slidingMinMax computes the max and min of h over every window
// [i−band, i+band] clipped to [0, n−1] into upper[i] and lower[i], using
// the five key slices as scratch (h's orderKeys, and the prefix and
// suffix maxima and minima). Van Herk / Gil–Werman: cut the series into
// blocks of W = 2·band+1 points; the prefix maxima within each block (g)
// and the suffix maxima within each block (s) give the max of any window
// of at most W points that is either aligned on a block's start (g at its
// end), or spans two adjacent blocks (max of s at its start and g at its
// end), or ends at n−1 (s at its start, with g at n−1 if n−1 is in the
// next block). Every clipped window is one of these. NaN in h gives a
// meaningless envelope, without a panic. LBImproved walks the same windows
// from the end without storing them; this form is the one tested against
// the naive scan.
func slidingMinMax(h []float64, band int, upper, lower []float64, hk, gmax, gmin, smax, smin []uint64) {
	for i, x := range h {
		hk[i] = orderKey(x)
	}
	slidingMinMaxKeys(hk, band, upper, lower, gmax, gmin, smax, smin)
}

// slidingMinMaxKeys is slidingMinMax on the orderKeys hk of h.
func slidingMinMaxKeys(hk []uint64, band int, upper, lower []float64, gmax, gmin, smax, smin []uint64) {
	n := len(hk)
	if band >= n-1 {
		hi, lo := hk[0], hk[0]
		for _, x := range hk[1:] {
			hi, lo = max(hi, x), min(lo, x)
		}
		u, l := keyFloat(hi), keyFloat(lo)
		for i := range n {
			upper[i], lower[i] = u, l
		}
		return
	}
	W := blockMinMax(hk, band, gmax, gmin, smax, smin)
	// Three ranges of i, so that no division is left in the loops:
	//   - i ≤ band: the window [0, i+band] is a prefix of block 0: g[b];
	//   - interior: W points spanning two blocks, or exactly one (then
	//     s[a] = g[b] = the block's max): max(s[a], g[b]);
	//   - right-clipped, i+band ≥ n: [a, n−1], in the last block alone
	//     (s[a]) or in two (max(s[a], g[n−1])).
	i := 0
	for ; i <= band; i++ {
		b := min(n-1, i+band)
		upper[i], lower[i] = keyFloat(gmax[b]), keyFloat(gmin[b])
	}
	for ; i+band < n; i++ {
		a, b := i-band, i+band
		upper[i], lower[i] = keyFloat(max(smax[a], gmax[b])), keyFloat(min(smin[a], gmin[b]))
	}
	lastBlock := (n - 1) / W * W
	for ; i < n; i++ {
		a := i - band
		if a >= lastBlock {
			upper[i], lower[i] = keyFloat(smax[a]), keyFloat(smin[a])
		} else {
			upper[i], lower[i] = keyFloat(max(smax[a], gmax[n-1])), keyFloat(min(smin[a], gmin[n-1]))
		}
	}
}
