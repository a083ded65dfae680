package oculus

import (
	"context"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/go-kale/kale/dtw"
)

// scanStats counts what one scan did; the benchmark reports them because,
// unlike latencies, they do not depend on what else runs on the machine.
type scanStats struct {
	Shapes   int // shapes bounded by LB_Keogh (all but the excluded one)
	Sorted   int // shapes whose LB_Keogh was under the first n-th best: sorted and visited in order
	Visited  int // shapes still under the n-th best when their turn came
	EC       int // of which LB_Keogh against the shape's envelope ruled out
	Improved int // of which LB_Improved ruled out without DTW
	DTW      int // of which reached DTW (the first n included)
	Complete int // of which DTW ran to the end (the distance was under the limit)
	// Limited: the scan stopped at its scanLimit with shapes left whose
	// bound was under the n-th best.
	Limited bool
}

func (s *scanStats) add(o scanStats) {
	s.Shapes += o.Shapes
	s.Sorted += o.Sorted
	s.Visited += o.Visited
	s.EC += o.EC
	s.Improved += o.Improved
	s.DTW += o.DTW
	s.Complete += o.Complete
	s.Limited = s.Limited || o.Limited
}

// scratch is one scan's buffers, pooled so a query allocates neither the
// 100,000 bounds nor the sorted keys (a few MB at 100,000 shapes).
type scratch struct {
	lbs   []float32
	first []uint64
	heaps [][]uint64
	order []uint64 // every worker's keys, merged
	merge []uint64 // mergeByBound's scratch
	tab   ecTable
	up15  []uint64
	lo15  []uint64
	work  []scanWorker
}

// scanWorker is one goroutine's DTW state.
type scanWorker struct {
	ws         dtw.Workspace
	c          [ecBatch][]float64 // shapes as float64
	rows, cols []float64
	keys       []uint64 // the worker's shapes under the first limit
	radix      []uint64 // sortByBound's scratch
	st         scanStats
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// boundKey packs a nonnegative float32 bound and a shape index into one
// uint64 whose order is the bound's, then the index's: the bits of
// nonnegative IEEE floats order as the floats do. Sorting 100,000 uint64s
// takes a fraction of sorting the indices with a comparison closure.
func boundKey(lb float32, i int32) uint64 {
	return uint64(math.Float32bits(lb))<<32 | uint64(uint32(i))
}

func keyBound(k uint64) (float32, int32) {
	return math.Float32frombits(uint32(k >> 32)), int32(uint32(k))
}

// lbAbove reports whether a first-pass bound (float32, from the 15-bit or
// the float32 LB_Keogh) is over the float64 limit lim, with room for its
// rounding: a float32 sum of 120 terms may exceed the float64 bound it
// rounds by about 120·2⁻²⁴ relative, and the shapes' values are at most 25.
func lbAbove(lb float32, lim float64) bool { return float64(lb) > lim*(1+1e-5)+1e-4 }

// nearest returns the n shapes (the excluded one left out) of least banded
// DTW distance to qv, best first, by the UCR suite's cascade of lower
// bounds (Rakthanmanon et al., KDD 2012), each dearer and tighter than
// the one before:
//
//  1. LB_Keogh of every shape against the query's envelope, on GOMAXPROCS
//     goroutines: on the 15-bit copy of the shapes with SWAR arithmetic
//     (lbswar.go; float32 if the generation has none), each goroutine
//     keeping its n smallest.
//  2. Exact DTW of the n shapes of least bound: a first n-th best
//     distance, the limit.
//  3. The shapes whose bound is under that limit, sorted by bound (a radix
//     sort on each goroutine, then merged): in that order the limit falls
//     fast, and the first bound over it ends the scan.
//  4. In that order, on GOMAXPROCS goroutines taking batches of ecBatch
//     from a shared cursor: stop at the first bound over the current
//     limit; otherwise LB_EC, LB_Keogh of the query against the shape's
//     stored envelope (lbenv.go); then LB_Improved (dtw.LBImproved), which
//     also gives per row and per column bounds of what is left of a warp
//     path; then DTW pruned and abandoned at the current limit with those
//     bounds (dtw.DistanceAbandonCB), offered to the top n when it ends
//     under the limit.
//
// Every bound is ≤ the distance (the comparisons allow for their
// rounding) and a shape is dropped only when a bound exceeds the n-th best
// distance found so far, so the answer is the exact n nearest; among
// shapes tied at the n-th distance, whichever was offered first. With
// scanLimit > 0, step 4 visits at most the first scanLimit shapes of the
// order (the first n included), and the answer is then the exact n nearest
// among those. st, when
// not nil, receives the counts. The buffers come from a pool: a query
// allocates a few small slices.
func (g *generation) nearest(ctx context.Context, qv []float64, band int, exclude int32, n, scanLimit int, st *scanStats) ([]bound, error) {
	p := g.points
	shapes := len(g.names)
	upper, lower := make([]float64, p), make([]float64, p)
	dtw.Envelope(qv, band, upper, lower)
	up32, lo32 := make([]float32, p), make([]float32, p)
	for i := range upper {
		up32[i], lo32[i] = float32(upper[i]), float32(lower[i])
	}
	workers := min(runtime.GOMAXPROCS(0), max(1, shapes/4096))
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	if cap(sc.lbs) < shapes {
		sc.lbs = make([]float32, shapes)
	}
	lbs := sc.lbs[:shapes]
	for len(sc.heaps) < workers {
		sc.heaps = append(sc.heaps, nil)
	}
	for len(sc.work) < workers {
		sc.work = append(sc.work, scanWorker{})
	}

	// 1. Every shape's LB_Keogh; each worker keeps its n smallest.
	q15 := g.q15
	if q15 != nil && len(q15.v) != q15.words*shapes {
		q15 = nil
	}
	var up15, lo15 []uint64
	var off15 float64
	if q15 != nil {
		if cap(sc.up15) < q15.words {
			sc.up15, sc.lo15 = make([]uint64, q15.words), make([]uint64, q15.words)
		}
		up15, lo15 = sc.up15[:q15.words], sc.lo15[:q15.words]
		off15 = q15.queryWords(upper, lower, up15, lo15)
	}
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*shapes/workers, (w+1)*shapes/workers
		wg.Go(func() {
			h := sc.heaps[w][:0]
			top := uint64(math.MaxUint64) // the heap's largest key once it holds n
			keep := func(i int, lb float32) {
				// A sum past float32's range would be +Inf, which is no
				// bound: MaxFloat32 is one (and -1 marks step 2's shapes).
				lb = min(lb, math.MaxFloat32)
				lbs[i] = lb
				if k := boundKey(lb, int32(i)); k < top && int32(i) != exclude {
					h = pushSmallest(h, n, k)
					if len(h) == n {
						top = h[0]
					}
				}
			}
			if q15 != nil {
				words, v, step := q15.words, q15.v, q15.step
				for i := lo; i < hi; i++ {
					keep(i, float32(float64(lbKeogh15(v[i*words:(i+1)*words], up15, lo15))*step+off15))
				}
			} else {
				for i := lo; i < hi; i++ {
					keep(i, lbKeogh32(g.values[i*p:(i+1)*p], up32, lo32))
				}
			}
			sc.heaps[w] = h
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	first := sc.first[:0]
	for _, h := range sc.heaps[:workers] {
		first = append(first, h...)
	}
	slices.Sort(first)
	sc.first = first[:0]
	first = first[:min(n, len(first))]

	// 2. Exact DTW of the n smallest bounds: the first limit. Their
	// bounds become +Inf so that step 3 does not pick them again.
	best := newTopN(n)
	w0 := &sc.work[0]
	w0.grow(p)
	w0.st = scanStats{}
	for _, k := range first {
		_, i := keyBound(k)
		// DistanceAbandonCB with no limit and no bounds is Distance, on
		// its faster two-row sweep.
		best.offer(w0.ws.DistanceAbandonCB(qv, g.shape64(w0.c[0], int(i)), band, math.Inf(1), nil, nil), i)
		lbs[i] = -1 // done: step 3 leaves it out
	}
	w0.st.DTW += len(first)
	w0.st.Complete += len(first)
	stats := scanStats{Shapes: shapes}
	if exclude >= 0 {
		stats.Shapes--
	}

	// 3. On every worker, the shapes whose bound is under the limit
	// (worker w takes every workers-th shape), sorted by bound; then the
	// lists merged into one.
	limit := best.limit()
	for w := range workers {
		wk := &sc.work[w]
		if w > 0 {
			wk.st = scanStats{}
		}
		wg.Go(func() {
			keys := wk.keys[:0]
			for i := w; i < shapes; i += workers {
				if lb := lbs[i]; !lbAbove(lb, limit) && int32(i) != exclude && !(lb < 0) {
					keys = append(keys, boundKey(lb, int32(i)))
				}
			}
			keys, wk.radix = sortByBound(keys, wk.radix)
			wk.keys = keys
		})
	}
	wg.Wait()
	order := sc.order[:0]
	for w := range workers {
		order = mergeByBound(order, sc.work[w].keys, &sc.merge)
		sc.work[w].keys = sc.work[w].keys[:0]
	}
	cutBound := float32(math.Inf(1)) // the bound of the first shape cut off by scanLimit
	if keep := max(scanLimit-len(first), 0); scanLimit > 0 && len(order) > keep {
		cutBound, _ = keyBound(order[keep])
		order = order[:keep]
	}
	sc.order = order
	stats.Sorted = len(order)

	// 4. In that order, on every worker, batches of ecBatch shapes taken
	// from a shared cursor (so that a worker given the dearer shapes does
	// not finish last): LB_EC, LB_Improved, and DTW pruned and abandoned
	// at the current limit, until a bound exceeds it. Every shape after
	// that one has a larger bound.
	env := g.env
	if env != nil && (band < 0 || band > env.band || len(env.base) != shapes) {
		env = nil
	}
	var tab *ecTable
	if env != nil {
		tab = env.table(qv, &sc.tab)
	}
	var cursor atomic.Int64
	var done atomic.Bool
	for w := range workers {
		wk := &sc.work[w]
		wg.Go(func() {
			wk.grow(p)
			rows, cols := wk.rows, wk.cols
			var ec [ecBatch]float64
			var pass [ecBatch]int32 // the batch's shapes left after LB_EC
			for batches := 0; !done.Load(); batches++ {
				if batches&255 == 255 && ctx.Err() != nil {
					return
				}
				k0 := int(cursor.Add(ecBatch)) - ecBatch
				if k0 >= len(order) {
					return
				}
				batch := order[k0:min(k0+ecBatch, len(order))]
				if env != nil {
					env.lbECBatch(qv, batch, tab, &ec)
				}
				n := 0
				lim := best.limit()
				for b, key := range batch {
					lb, i := keyBound(key)
					if lbAbove(lb, lim) {
						done.Store(true) // and every shape after it
						break
					}
					wk.st.Visited++
					if env != nil && ec[b] > lim*(1+1e-9) {
						wk.st.EC++
						continue
					}
					pass[n] = i
					n++
				}
				g.shapes64(wk.c[:n], pass[:n])
				for b, i := range pass[:n] {
					c := wk.c[b]
					lim := best.limit()
					if wk.ws.LBImproved(qv, c, upper, lower, band, rows, cols) > lim*(1+1e-9) {
						wk.st.Improved++
						continue
					}
					wk.st.DTW++
					if d := wk.ws.DistanceAbandonCB(qv, c, band, lim, rows, cols); d <= lim {
						wk.st.Complete++
						best.offer(d, i)
					}
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// The cut left out shapes that could have entered the answer unless a
	// bound over the final n-th best came before it, or the first shape cut
	// off is already over it.
	stats.Limited = !done.Load() && float64(cutBound) <= math.MaxFloat32 && !lbAbove(cutBound, best.limit())
	if st != nil {
		for _, wk := range sc.work[:workers] {
			stats.add(wk.st)
		}
		*st = stats
	}
	return best.sorted(), nil
}

// mergeByBound merges two lists sorted by bound into one, using scratch
// (grown as needed), and returns it; a's buffer becomes the scratch.
func mergeByBound(a, b []uint64, scratch *[]uint64) []uint64 {
	if len(b) == 0 {
		return a
	}
	out := (*scratch)[:0]
	if cap(out) < len(a)+len(b) {
		out = make([]uint64, 0, len(a)+len(b))
	}
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if a[i]>>32 <= b[j]>>32 {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	out = append(out, a[i:]...)
	out = append(out, b[j:]...)
	*scratch = a[:0]
	return out
}

// sortByBound sorts boundKeys by their bound (the upper 32 bits; shapes
// of equal bound in any order) with three passes of an 11-bit radix sort,
// using scratch (grown as needed), and returns the sorted slice (keys or
// scratch) and the other one as the next scratch. 50,000 keys take a
// fifth of slices.Sort's time; short lists go to slices.Sort.
func sortByBound(keys, scratch []uint64) (sorted, spare []uint64) {
	if len(keys) < 1024 {
		slices.Sort(keys)
		return keys, scratch
	}
	if cap(scratch) < len(keys) {
		scratch = make([]uint64, len(keys), cap(keys))
	}
	src, dst := keys, scratch[:len(keys)]
	for shift := 32; shift < 64; shift += 11 {
		var count [2048]int
		for _, k := range src {
			count[k>>shift&2047]++
		}
		sum := 0
		for d, c := range count {
			count[d] = sum
			sum += c
		}
		for _, k := range src {
			d := k >> shift & 2047
			dst[count[d]] = k
			count[d]++
		}
		src, dst = dst, src
	}
	return src, dst[:0]
}

// grow sizes the worker's buffers to p points.
func (w *scanWorker) grow(p int) {
	if cap(w.rows) < p {
		w.rows, w.cols = make([]float64, p), make([]float64, p)
		for b := range w.c {
			w.c[b] = make([]float64, p)
		}
	}
	w.rows, w.cols = w.rows[:p], w.cols[:p]
	for b := range w.c {
		w.c[b] = w.c[b][:p]
	}
}

// pushSmallest keeps in h (a max-heap of at most n keys) the n smallest
// keys offered.
func pushSmallest(h []uint64, n int, k uint64) []uint64 {
	if len(h) == n {
		if k >= h[0] {
			return h
		}
		h[0] = k
	} else {
		h = append(h, k)
		// Sift up.
		for j := len(h) - 1; j > 0; {
			parent := (j - 1) / 2
			if h[parent] >= h[j] {
				break
			}
			h[parent], h[j] = h[j], h[parent]
			j = parent
		}
		return h
	}
	// Sift down from the root.
	for j := 0; ; {
		l := 2*j + 1
		if l >= len(h) {
			break
		}
		m := l
		if r := l + 1; r < len(h) && h[r] > h[l] {
			m = r
		}
		if h[j] >= h[m] {
			break
		}
		h[j], h[m] = h[m], h[j]
		j = m
	}
	return h
}

// lbKeogh32 is dtw.LBKeogh on the index's float32 shapes, the first pass
// of a generation without a 15-bit copy: the sum of how far c leaves the
// query's envelope. Every shape's bound is needed to order the shapes, so
// it is never abandoned. A point is above the envelope, below it or in
// it, so max(x − upper, lower − x, 0) is its term, computed without a
// branch; four partial sums keep the additions from waiting on each
// other. A shape holding NaN gets a NaN bound, sorted after every other;
// its distance is +Inf anyway.
func lbKeogh32(c, upper, lower []float32) float32 {
	n := len(c)
	upper, lower = upper[:n], lower[:n]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= n; i += 4 {
		s0 += max(c[i]-upper[i], lower[i]-c[i], 0)
		s1 += max(c[i+1]-upper[i+1], lower[i+1]-c[i+1], 0)
		s2 += max(c[i+2]-upper[i+2], lower[i+2]-c[i+2], 0)
		s3 += max(c[i+3]-upper[i+3], lower[i+3]-c[i+3], 0)
	}
	for ; i < n; i++ {
		s0 += max(c[i]-upper[i], lower[i]-c[i], 0)
	}
	return (s0 + s1) + (s2 + s3)
}
