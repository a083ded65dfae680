package dtw

// Envelope fills upper and lower with the envelope of q for a Sakoe–Chiba
// band of half-width band:
//
//	upper_i = max(q_{i−band} .. q_{i+band}),  lower_i = min(q_{i−band} .. q_{i+band}),
//
// with the indices clipped to [0, len(q)−1]. It uses Lemire's streaming
// min/max (2006): two monotone deques of indices, each index pushed and
// popped at most once, so the cost is O(n) whatever the band. band < 0 means
// unconstrained (every entry is the global max or min).
//
// upper and lower should have len(q) elements; if one is shorter, only its
// first entries are filled (still with the envelope of the whole of q), and
// extra elements are left alone. The deques live on the stack for
// band ≤ 31 (or len(q) ≤ 63); larger windows allocate one small buffer
// (2·min(n, 2·band+1)+2 ints) per call. NaN in q does not panic but gives a
// meaningless envelope; Distance rejects such series anyway.
func Envelope(q []float64, band int, upper, lower []float64) {
	n := len(q)
	if n == 0 {
		return
	}
	if band < 0 || band > n {
		band = n
	}
	// During the scan a deque holds indices of one window, at most
	// min(n, 2·band+1) of them.
	size := min(n, 2*band+1) + 1
	var stack [128]int
	var buf []int
	if 2*size <= len(stack) {
		buf = stack[:2*size]
	} else {
		buf = make([]int, 2*size)
	}
	maxQ := ringDeque{buf: buf[:size]}
	minQ := ringDeque{buf: buf[size:]}
	for r := 0; r < n+band; r++ {
		i := r - band // the output index whose window [i−band, i+band] ends at r
		// Drop indices that left window i (they are < i − band).
		for maxQ.len > 0 && maxQ.front() < i-band {
			maxQ.popFront()
		}
		for minQ.len > 0 && minQ.front() < i-band {
			minQ.popFront()
		}
		if r < n {
			v := q[r]
			// An older index with a value no larger (smaller) than v can
			// never be the max (min) again while r is in the window.
			for maxQ.len > 0 && q[maxQ.back()] <= v {
				maxQ.popBack()
			}
			maxQ.pushBack(r)
			for minQ.len > 0 && q[minQ.back()] >= v {
				minQ.popBack()
			}
			minQ.pushBack(r)
		}
		if i < 0 {
			continue
		}
		if i < len(upper) {
			upper[i] = q[maxQ.front()]
		}
		if i < len(lower) {
			lower[i] = q[minQ.front()]
		}
	}
}

// ringDeque is a fixed-capacity double-ended queue of ints.
type ringDeque struct {
	buf       []int
	head, len int
}

func (d *ringDeque) front() int { return d.buf[d.head] }

func (d *ringDeque) back() int {
	k := d.head + d.len - 1
	if k >= len(d.buf) {
		k -= len(d.buf)
	}
	return d.buf[k]
}

func (d *ringDeque) popFront() {
	d.head++
	if d.head == len(d.buf) {
		d.head = 0
	}
	d.len--
}

func (d *ringDeque) popBack() { d.len-- }

func (d *ringDeque) pushBack(x int) {
	k := d.head + d.len
	if k >= len(d.buf) {
		k -= len(d.buf)
	}
	d.buf[k] = x
	d.len++
}

// LBKeogh returns Keogh's lower bound (Keogh & Ratanamahatana 2005) of the
// banded DTW distance between a query q and a candidate c of the same length,
// for the cost |a − b|:
//
//	LB_Keogh(q, c) = Σ_i  (c_i − upper_i)  if c_i > upper_i
//	                      (lower_i − c_i)  if c_i < lower_i
//	                      0                otherwise,
//
// where upper and lower are Envelope(q, band). Why it is a lower bound of
// Distance(q, c, band): every warp path visits every column i (every c_i) at
// least once, in a cell (k, i) with |k − i| ≤ band, whose cost |q_k − c_i| is
// at least the distance from c_i to the interval [lower_i, upper_i] because
// q_k lies in it. Summing one such cell per column gives at most the path
// cost, since the other cells cost ≥ 0. This holds for every admitted path,
// so for the cheapest, and (rounded addition being monotone) in floating
// point too.
//
// LBKeogh stops as soon as the partial sum exceeds limit and returns that
// partial sum (> limit, and still ≤ the true distance); pass math.Inf(1) for
// the full sum. If the lengths differ, only the first min(len(c),
// len(upper), len(lower)) positions are summed (no panic); the bound is only
// guaranteed for len(q) == len(c). It never allocates.
func LBKeogh(c, upper, lower []float64, limit float64) float64 {
	n := min(len(c), len(upper), len(lower))
	c, upper, lower = c[:n], upper[:n], lower[:n]
	var sum float64
	for i, v := range c {
		switch {
		case v > upper[i]:
			sum += v - upper[i]
		case v < lower[i]:
			sum += lower[i] - v
		default:
			continue
		}
		if sum > limit {
			return sum
		}
	}
	return sum
}
