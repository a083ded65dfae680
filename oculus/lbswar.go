package oculus

import (
	"math"
	"runtime"
	"slices"
	"sync"
)

// The first pass of a scan bounds every shape of the generation, 100,000
// times 120 points per query: in float32 it costs about 220 ns a shape,
// most of a quick query. So Commit also keeps every shape as 15-bit
// integers on one grid for the whole generation, four to a uint64, and
// the first pass computes LB_Keogh on those with SWAR arithmetic (SIMD
// within a register): 4.5 integer operations a point instead of 15.
//
// The integer bound is a lower bound of the float one, so of the distance.
// With the grid level(v) = base + v·step, every value c is stored as
// v = round((c − base)/step), and err is the largest |c − level(v)| over
// the generation (measured at Commit). The query's envelope is rounded
// outwards by err and one step more: upper to the least U with
// level(U) ≥ upper + err, lower to the largest L with level(L) ≤ lower − err.
// Then when v > U the point is above the envelope by
// c − upper ≥ level(v) − err − upper ≥ level(v) − level(U) = (v − U)·step,
// and likewise below, so step·Σ(sat(v − U) + sat(L − v)) is at most
// LB_Keogh. The rounding costs at most about two steps a point outside the
// envelope: 0.0015 for shapes on [0, 25], nothing next to the distances.

const (
	q15Max  = 1<<15 - 1
	q15High = 0x8000_8000_8000_8000 // the top bit of each 16-bit lane
	q15Lo32 = 0x0000_FFFF_0000_FFFF // lanes 0 and 2
)

// quantised is a generation's 15-bit copy of its shapes.
type quantised struct {
	words      int      // uint64 words a shape: ⌈points/4⌉
	v          []uint64 // shapes × words, lanes of 16 bits holding 15
	base, step float64  // the grid
	err        float64  // the largest |c − level(v)|, and a margin
}

// buildQuantised quantises every shape, or returns nil when the values
// have no finite range (then the scan bounds the float32 values).
func (g *generation) buildQuantised() *quantised {
	if len(g.values) == 0 {
		return nil
	}
	p, shapes := g.points, len(g.names)
	workers := min(runtime.GOMAXPROCS(0), max(1, shapes/4096))
	los, his, errs := make([]float32, workers), make([]float32, workers), make([]float64, workers)
	var wg sync.WaitGroup
	for w := range workers {
		v := g.values[w*shapes/workers*p : (w+1)*shapes/workers*p]
		wg.Go(func() {
			lo, hi := v[0], v[0]
			for _, x := range v {
				lo, hi = min(lo, x), max(hi, x)
			}
			los[w], his[w] = lo, hi
		})
	}
	wg.Wait()
	lo, hi := float64(slices.Min(los)), float64(slices.Max(his))
	if math.IsInf(lo, 0) || math.IsInf(hi, 0) || math.IsNaN(lo) || math.IsNaN(hi) {
		return nil
	}
	step := (hi - lo) / q15Max
	if step == 0 || math.IsInf(step, 0) {
		step = 1 // one value: every shape is level 0, exactly
	}
	q := &quantised{words: (p + 3) / 4, base: lo, step: step}
	q.v = make([]uint64, q.words*shapes)
	inv := 1 / step
	for w := range workers {
		from, to := w*shapes/workers, (w+1)*shapes/workers
		wg.Go(func() {
			e := 0.0
			for i := from; i < to; i++ {
				words := q.v[i*q.words : (i+1)*q.words]
				for k, x := range g.values[i*p : (i+1)*p] {
					// The nearest level, or one next to it: err measures
					// whatever this gives.
					v := min(q15Max, int((float64(x)-lo)*inv+0.5))
					e = max(e, math.Abs(float64(x)-q.level(v)))
					words[k/4] |= uint64(v) << (16 * (k % 4))
				}
			}
			errs[w] = e
		})
	}
	wg.Wait()
	for _, e := range errs {
		q.err = max(q.err, e)
	}
	// A margin for the rounding of err and of the levels themselves.
	q.err += 1e-12 * (math.Abs(lo) + math.Abs(hi) + step)
	if math.IsInf(q.err, 0) || math.IsNaN(q.err) {
		return nil
	}
	return q
}

// level is the value of grid level v.
func (q *quantised) level(v int) float64 { return q.base + float64(float64(v)*q.step) }

// queryWords packs the query's envelope, rounded outwards (see above),
// into up and lo (q.words each), and returns what the lanes cannot hold:
// where the envelope lies wholly below the grid (upper < base, so every
// shape is above it by at least base − upper) or above it, the lane is
// pinned at the grid's end and the rest of the gap, less err, is added
// as a constant. Padding lanes past the last point get the widest
// envelope, [0, q15Max], so they add nothing.
func (q *quantised) queryWords(upper, lower []float64, up, lo []uint64) (offset float64) {
	for k := range up {
		up[k], lo[k] = q15Max*0x0001_0001_0001_0001, 0
	}
	top := q.level(q15Max)
	for k := range upper {
		u := levelIndex(math.Ceil((upper[k]+q.err-q.base)/q.step)) + 1
		u = min(q15Max, max(0, u))
		for u < q15Max && q.level(u) < upper[k]+q.err {
			u++
		}
		l := levelIndex(math.Floor((lower[k]-q.err-q.base)/q.step)) - 1
		l = min(q15Max, max(0, l))
		for l > 0 && q.level(l) > lower[k]-q.err {
			l--
		}
		if math.IsNaN(upper[k]) || math.IsNaN(lower[k]) {
			u, l = q15Max, 0
		}
		// Every value is ≥ base and ≤ top (up to err): a lane at 0 above
		// an envelope under the grid counts (c − base), short of
		// (c − upper) by base − upper; likewise at the top.
		if gap := q.base - upper[k] - q.err; gap > 0 {
			offset += gap
		}
		if gap := lower[k] - top - q.err; gap > 0 {
			offset += gap
		}
		shift := 16 * (k % 4)
		up[k/4] = up[k/4]&^(0xFFFF<<shift) | uint64(u)<<shift
		lo[k/4] |= uint64(l) << shift
	}
	return offset
}

// levelIndex converts a grid level computed in float64 to an int, first
// clamped to just outside [0, q15Max] (Go leaves the conversion of an
// out-of-range float undefined, and the correction loops of queryWords
// would then walk the whole grid); NaN gives 0, which queryWords then
// overrides.
func levelIndex(x float64) int {
	if math.IsNaN(x) {
		return 0
	}
	return int(min(max(x, -2), q15Max+2))
}

// lbKeogh15 is LB_Keogh on the 15-bit shape c against the packed
// envelope (up, lo), in grid steps: Σ sat(c − up) + sat(lo − c) over the
// lanes, where sat(a − b) is a − b when a ≥ b and 0 otherwise. For lanes
// of 15 bits in 16, (a | H) − b cannot borrow across lanes, its top bit
// tells a ≥ b, and that bit turned into a 15-bit mask keeps a − b or
// clears it. The two saturated differences of a point cannot both be
// nonzero (lo ≤ up), so their sum fits the lane; lanes are summed into two
// 32-bit halves, which hold 2·q15Max per word for 65,000 words (260,000
// points) before they could overflow.
func lbKeogh15(c, up, lo []uint64) uint64 {
	up, lo = up[:len(c)], lo[:len(c)]
	var acc uint64
	for k, x := range c {
		a := (x | q15High) - up[k]
		m := a & q15High
		a &= m - m>>15
		b := (lo[k] | q15High) - x
		m = b & q15High
		b &= m - m>>15
		t := a + b
		acc += t&q15Lo32 + t>>16&q15Lo32
	}
	return acc&0xFFFF_FFFF + acc>>32
}
