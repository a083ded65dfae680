package oculus

import (
	"math"
	"runtime"
	"sync"
)

// Candidate envelopes.
//
// LB_Keogh has two directions. The scan orders every shape by the
// candidate against the query's envelope (LB_EQ: one envelope per query).
// The other direction, the query against the candidate's envelope
// (LB_EC = Σ_k dist(q_k, [lower^c_k, upper^c_k])), is as cheap once the
// candidate's envelope exists, and prunes different shapes: on the
// bench's corpus (`kale bench oculus`, 100,000 metrics), of the shapes a
// scan visits (LB_EQ under the current 40th best distance) LB_EC rules
// out about 40 %, at about a quarter of the price of LB_Improved, which
// comes next. So Commit computes every shape's envelope for the default
// band (a tenth of the points, as Config.Band's default; about 0.15 s on
// two cores for 100,000 shapes) and keeps it quantised to one byte per
// point per side: 2·points bytes a shape, 24 MB for 100,000 shapes of 120
// points (the shapes themselves are 48 MB).
//
// Quantisation keeps the bound: each shape's envelope is stored on its own
// grid base + k·step (k = 0..255, base the shape's least value and
// 255·step a hair over its range), the upper side rounded up and the lower
// side rounded down, and Commit checks, with the very expression the
// query evaluates, that the stored upper is ≥ the true one and the lower
// ≤ it. A wider envelope only loosens LB_EC, so it stays ≤ the distance.
// An envelope computed for band b also bounds any band ≤ b (the window
// is wider than needed); queries with a wider band skip LB_EC.

// envelopes is a generation's quantised candidate envelopes.
type envelopes struct {
	band       int
	q          []uint8   // per shape: points upper levels, then points lower levels
	base, step []float64 // per shape grid
	// The grid most shapes share (every shape scaled to [0, 25] has
	// the same), for which a query tabulates its terms (see ecTable);
	// common is false when fewer than half the shapes are on it.
	gridBase, gridStep float64
	common             bool
}

// envLevel is the value of level k on a grid: written once, used both
// when checking the stored level and when a query reads it, so the two
// round alike. The conversion keeps a compiler from fusing the multiply
// and the add (the Go spec allows fusion without it).
func envLevel(base, step float64, k uint8) float64 {
	return base + float64(float64(k)*step)
}

// defaultEnvelopeBand is the band Commit computes envelopes for: a tenth
// of the points (Config's default Band, 0.1), at least 1.
func defaultEnvelopeBand(points int) int {
	return max(1, int(math.Round(float64(points)/10)))
}

// buildEnvelopes computes every shape's quantised envelope for band, on
// GOMAXPROCS goroutines.
func (g *generation) buildEnvelopes(band int) *envelopes {
	p, shapes := g.points, len(g.names)
	env := &envelopes{band: band, q: make([]uint8, 2*p*shapes), base: make([]float64, shapes), step: make([]float64, shapes)}
	workers := min(runtime.GOMAXPROCS(0), max(1, shapes/1024))
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*shapes/workers, (w+1)*shapes/workers
		wg.Go(func() {
			var b envBuffers
			b.grow(p)
			for i := lo; i < hi; i++ {
				env.quantise(i, g.shape64(b.c, i), band, &b)
			}
		})
	}
	wg.Wait()
	env.findCommonGrid()
	return env
}

// findCommonGrid sets the grid shared by most shapes: the most frequent
// among the first 64 shapes with a grid, kept if at least half of all
// shapes are on it.
func (env *envelopes) findCommonGrid() {
	type grid struct{ base, step float64 }
	count := map[grid]int{}
	seen := 0
	for i := range env.base {
		if seen == 64 {
			break
		}
		if math.IsInf(env.base[i], -1) {
			continue
		}
		count[grid{env.base[i], env.step[i]}]++
		seen++
	}
	var top grid
	for g, c := range count {
		if c > count[top] || c == count[top] && (g.step > top.step || g.step == top.step && g.base < top.base) {
			top = g
		}
	}
	if count[top] == 0 {
		return
	}
	on := 0
	for i := range env.base {
		if env.base[i] == top.base && env.step[i] == top.step {
			on++
		}
	}
	env.gridBase, env.gridStep = top.base, top.step
	env.common = 2*on >= len(env.base)
}

// ecTable holds a query's LB_EC terms on the common grid: up[k·256+v] is
// max(q_k − level(v), 0) and lo[k·256+v] is max(level(v) − q_k, 0), so a
// shape on that grid costs two table reads per point instead of decoding
// its levels. The sum is the same, bit for bit, as lbEC's own: a stored
// upper level is ≥ the lower one, so at most one of the two terms is
// nonzero and up + lo is exactly max(q_k − upper, lower − q_k, 0).
type ecTable struct {
	base, step float64
	up, lo     []float64 // len(q)·256
}

// table fills t for the query q (nil if there is no common grid). Its
// 2·256·len(q) entries (490 KB at 120 points) cost about 0.1 ms to fill.
func (env *envelopes) table(q []float64, t *ecTable) *ecTable {
	if !env.common {
		return nil
	}
	t.fill(q, env.gridBase, env.gridStep)
	return t
}

// fill tabulates q's terms on the grid (base, step).
func (t *ecTable) fill(q []float64, base, step float64) {
	p := len(q)
	if cap(t.up) < 256*p {
		t.up, t.lo = make([]float64, 256*p), make([]float64, 256*p)
	}
	t.base, t.step = base, step
	t.up, t.lo = t.up[:256*p], t.lo[:256*p]
	var levels [256]float64
	for v := range levels {
		levels[v] = envLevel(t.base, t.step, uint8(v))
	}
	for k, x := range q {
		up, lo := t.up[256*k:256*(k+1)], t.lo[256*k:256*(k+1)]
		for v, l := range levels {
			up[v] = max(x-l, 0)
			lo[v] = max(l-x, 0)
		}
	}
}

// envBuffers is one goroutine's scratch for quantise.
type envBuffers struct {
	c, up, low, smax, smin []float64
}

func (b *envBuffers) grow(p int) {
	b.c, b.up, b.low = make([]float64, p), make([]float64, p), make([]float64, p)
	b.smax, b.smin = make([]float64, p), make([]float64, p)
}

// slidingEnvelope sets up[i] and low[i] to the max and min of c over
// [i−band, i+band] clipped to the series: van Herk / Gil–Werman block
// maxima (as dtw.LBImproved's), which at Commit's 100,000 shapes is
// several times faster than dtw.Envelope's deques on noisy shapes. The
// prefix maxima go to up and low first, the suffix maxima to smax and
// smin; see dtw's slidingMinMax for why the three ranges below cover
// every window.
func slidingEnvelope(c []float64, band int, up, low, smax, smin []float64) {
	n := len(c)
	if band >= n-1 {
		hi, lo := c[0], c[0]
		for _, x := range c {
			hi, lo = max(hi, x), min(lo, x)
		}
		for i := range n {
			up[i], low[i] = hi, lo
		}
		return
	}
	W := 2*band + 1
	for b0 := 0; b0 < n; b0 += W {
		b1 := min(b0+W, n)
		hi, lo := c[b0], c[b0]
		for j := b0; j < b1; j++ {
			hi, lo = max(hi, c[j]), min(lo, c[j])
			up[j], low[j] = hi, lo
		}
		hi, lo = c[b1-1], c[b1-1]
		for j := b1 - 1; j >= b0; j-- {
			hi, lo = max(hi, c[j]), min(lo, c[j])
			smax[j], smin[j] = hi, lo
		}
	}
	// In place over the prefix maxima: window i reads up[b] with b ≥ i.
	i := 0
	for ; i <= band; i++ {
		b := min(n-1, i+band)
		up[i], low[i] = up[b], low[b]
	}
	for ; i+band < n; i++ {
		a, b := i-band, i+band
		up[i], low[i] = max(smax[a], up[b]), min(smin[a], low[b])
	}
	lastBlock := (n - 1) / W * W
	hiN, loN := up[n-1], low[n-1]
	for ; i < n; i++ {
		a := i - band
		if a >= lastBlock {
			up[i], low[i] = smax[a], smin[a]
		} else {
			up[i], low[i] = max(smax[a], hiN), min(smin[a], loN)
		}
	}
}

// quantise stores shape i's envelope.
func (env *envelopes) quantise(i int, c []float64, band int, b *envBuffers) {
	p := len(c)
	up, low := b.up, b.low
	slidingEnvelope(c, band, up, low, b.smax, b.smin)
	lo, hi := c[0], c[0]
	for _, x := range c {
		lo, hi = min(lo, x), max(hi, x)
	}
	base, step := lo, (hi-lo)/255*(1+1e-6)
	qu, ql := env.q[2*p*i:2*p*i+p], env.q[2*p*i+p:2*p*(i+1)]
	none := func() { // no usable grid: the widest envelope, which lbEC reads as 0
		env.base[i], env.step[i] = math.Inf(-1), math.Inf(1)
		for k := range p {
			qu[k], ql[k] = 255, 0
		}
	}
	if math.IsInf(step, 0) || math.IsNaN(step) || math.IsInf(base, 0) || math.IsNaN(base) {
		none()
		return
	}
	env.base[i], env.step[i] = base, step
	if step == 0 { // flat: every level is base, the value itself
		for k := range p {
			qu[k], ql[k] = 0, 0
		}
		return
	}
	for k := range p {
		// Truncation is the floor here (the envelope is ≥ base); then
		// up to the first level at or over the upper side, down to the
		// last at or under the lower side, with the very expression lbEC
		// decodes with. Rounding moves each by a level at most.
		u := min(255, max(0, int((up[k]-base)/step)))
		for u < 255 && envLevel(base, step, uint8(u)) < up[k] {
			u++
		}
		l := min(255, max(0, int((low[k]-base)/step)))
		for l > 0 && envLevel(base, step, uint8(l)) > low[k] {
			l--
		}
		if !(envLevel(base, step, uint8(u)) >= up[k]) || !(envLevel(base, step, uint8(l)) <= low[k]) {
			// Rounding left the grid short of the envelope (or NaN):
			// no bound rather than an overstated one.
			none()
			return
		}
		qu[k], ql[k] = uint8(u), uint8(l)
	}
}

// lbEC is LB_Keogh of the query against shape i's stored envelope:
// Σ_k dist(q_k, [lower_k, upper_k]), a lower bound of the shape's banded
// DTW distance to q for any band ≤ env.band. A shape without a grid
// (base −Inf) gives 0. t (may be nil) is the query's table for the common
// grid, used when the shape is on it.
func (env *envelopes) lbEC(q []float64, i int, t *ecTable) float64 {
	p := len(q)
	base, step := env.base[i], env.step[i]
	if math.IsInf(base, -1) {
		return 0
	}
	qu, ql := env.q[2*p*i:2*p*i+p], env.q[2*p*i+p:2*p*(i+1)]
	var s float64
	if t != nil && base == t.base && step == t.step {
		up, lo := t.up[:256*p], t.lo[:256*p]
		for k := range qu {
			s += up[256*k+int(qu[k])] + lo[256*k+int(ql[k])]
		}
		return s
	}
	for k, x := range q[:p] {
		s += max(x-envLevel(base, step, qu[k]), envLevel(base, step, ql[k])-x, 0)
	}
	return s
}

// ecBatch is how many shapes lbECBatch bounds at once.
const ecBatch = 4

// lbECBatch sets out[b] to lbEC of the shape of keys[b] (boundKeys), for
// up to ecBatch keys. On the common grid it walks the shapes' envelopes
// side by side: they lie at unrelated addresses (the scan visits shapes
// by bound), and four independent streams let the memory fetch them
// together rather than one after the other.
func (env *envelopes) lbECBatch(q []float64, keys []uint64, t *ecTable, out *[ecBatch]float64) {
	p := len(q)
	if len(keys) == ecBatch && t != nil {
		var iu, il [ecBatch][]uint8
		all := true
		for b, k := range keys {
			i := int(uint32(k))
			if env.base[i] != t.base || env.step[i] != t.step {
				all = false
				break
			}
			iu[b], il[b] = env.q[2*p*i:2*p*i+p], env.q[2*p*i+p:2*p*(i+1)]
		}
		if all {
			u0, u1, u2, u3 := iu[0][:p], iu[1][:p], iu[2][:p], iu[3][:p]
			l0, l1, l2, l3 := il[0][:p], il[1][:p], il[2][:p], il[3][:p]
			up, lo := t.up[:256*p], t.lo[:256*p]
			var s0, s1, s2, s3 float64
			for k := range p {
				r := 256 * k
				s0 += up[r+int(u0[k])] + lo[r+int(l0[k])]
				s1 += up[r+int(u1[k])] + lo[r+int(l1[k])]
				s2 += up[r+int(u2[k])] + lo[r+int(l2[k])]
				s3 += up[r+int(u3[k])] + lo[r+int(l3[k])]
			}
			out[0], out[1], out[2], out[3] = s0, s1, s2, s3
			return
		}
	}
	for b, k := range keys {
		out[b] = env.lbEC(q, int(uint32(k)), t)
	}
}
