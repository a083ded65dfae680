package oculus

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-kale/kale/dtw"
	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/shapegen"
)

// corpus builds a generation the way `kale bench oculus` does (the
// shapegen corpus, each metric shaped over its window as Import would),
// and picks queries among the planted members with the bench's seed.
func corpus(tb testing.TB, metrics, queries int) (*generation, []int32) {
	tb.Helper()
	spec := shapegen.DefaultSpec(metrics)
	spec.End = 1_700_000_000
	w := Window{From: spec.End + 1 - 3600, Until: spec.End + 1}
	g := &generation{window: w, points: 120, byName: map[string]int32{}}
	members := make([][]string, spec.Groups)
	pts := make([]series.Point, spec.Points)
	var buf []float64
	err := spec.Each(func(i int, m shapegen.Metric) error {
		if m.Group >= 0 {
			members[m.Group] = append(members[m.Group], m.Name)
		}
		for j, v := range m.Values {
			pts[j] = series.Point{Timestamp: spec.End - int64(len(m.Values)-1-j)*spec.Step, Value: v}
		}
		var d Doc
		var ok bool
		d, buf, ok = Shape(m.Name, pts, w, g.points, 10, buf)
		if !ok {
			return fmt.Errorf("%s has too few points", m.Name)
		}
		g.byName[d.Metric] = int32(len(g.names))
		g.names = append(g.names, d.Metric)
		g.fps = append(g.fps, d.Fingerprint)
		g.flat = append(g.flat, d.Flat)
		g.values = append(g.values, d.Values...)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	g.env = g.buildEnvelopes(defaultEnvelopeBand(g.points))
	g.q15 = g.buildQuantised()
	rng := rand.New(rand.NewPCG(spec.Seed, 99))
	qs := make([]int32, queries)
	for k := range qs {
		gr := members[rng.IntN(len(members))]
		qs[k] = g.byName[gr[rng.IntN(len(gr))]]
	}
	return g, qs
}

// bruteDistances is every shape's full banded DTW distance to qv, on
// GOMAXPROCS goroutines.
func bruteDistances(g *generation, qv []float64, band int) []float64 {
	d := make([]float64, len(g.names))
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			var ws dtw.Workspace
			c := make([]float64, g.points)
			for i := w; i < len(d); i += workers {
				d[i] = ws.Distance(qv, g.shape64(c, i), band)
			}
		})
	}
	wg.Wait()
	return d
}

// bruteNearest is the answer nearest must give: the n least of the
// distances d (bruteDistances), the excluded shape left out.
func bruteNearest(d []float64, exclude int32, n int) []float64 {
	var out []float64
	for i, x := range d {
		if int32(i) != exclude {
			out = append(out, x)
		}
	}
	slices.Sort(out)
	return out[:min(n, len(out))]
}

// TestNearestExact: the cascade returns exactly the distances of the n
// nearest shapes by full banded DTW (the shapes themselves may differ
// only among equal distances), for planted queries, queries from outside
// the index, with and without an excluded shape, for n from 1 to more
// than the index holds, with duplicated and flat shapes making ties.
func TestNearestExact(t *testing.T) {
	g, qs := corpus(t, 4000, 8)
	// Ties: copies of a few shapes and a flat one.
	p := g.points
	for k, src := range []int{int(qs[0]), int(qs[1]), 17, 17, 17} {
		name := fmt.Sprintf("copy.%d", k)
		g.byName[name] = int32(len(g.names))
		g.names, g.fps, g.flat = append(g.names, name), append(g.fps, ""), append(g.flat, false)
		g.values = append(g.values, g.values[src*p:(src+1)*p]...)
	}
	g.names, g.fps, g.flat = append(g.names, "flat"), append(g.fps, ""), append(g.flat, true)
	g.values = append(g.values, make([]float32, p)...)
	g.env = g.buildEnvelopes(defaultEnvelopeBand(p))
	g.q15 = g.buildQuantised()
	if !g.env.common || g.env.gridBase != 0 {
		t.Fatalf("shapes scaled to [0, %v] share no grid: base %v step %v", ScalePoints, g.env.gridBase, g.env.gridStep)
	}

	r := rand.New(rand.NewPCG(5, 6))
	// check compares nearest with the brute-force distances d of every
	// shape of g to qv within band.
	check := func(name string, g *generation, qv []float64, d []float64, band int, exclude int32, n int) scanStats {
		t.Helper()
		var st scanStats
		got, err := g.nearest(context.Background(), qv, band, exclude, n, 0, &st)
		if err != nil {
			t.Fatal(err)
		}
		want := bruteNearest(d, exclude, n)
		if len(got) != len(want) {
			t.Fatalf("%s: %d shapes, want %d", name, len(got), len(want))
		}
		seen := map[int32]bool{}
		for k, b := range got {
			if b.i == exclude {
				t.Fatalf("%s: the excluded shape %d is in the answer", name, exclude)
			}
			if seen[b.i] {
				t.Fatalf("%s: shape %d twice", name, b.i)
			}
			seen[b.i] = true
			if d[b.i] != b.d {
				t.Fatalf("%s: shape %d reported at %v, its distance is %v", name, b.i, b.d, d[b.i])
			}
			if b.d != want[k] {
				t.Fatalf("%s: %d-th distance %v, brute force %v\ngot  %v\nwant %v", name, k, b.d, want[k], got, want)
			}
		}
		return st
	}
	var total scanStats
	for k, qi := range qs {
		qv := g.shape64(make([]float64, p), int(qi))
		d := bruteDistances(g, qv, 12)
		for _, n := range []int{1, 40} {
			total.add(check(fmt.Sprintf("planted query %d n=%d", k, n), g, qv, d, 12, qi, n))
		}
		// The query itself and its copy at distance 0 are both in.
		check(fmt.Sprintf("planted query %d, not excluded", k), g, qv, d, 12, -1, 40)
		if k%2 == 0 {
			check(fmt.Sprintf("planted query %d, band 3", k), g, qv, bruteDistances(g, qv, 3), 3, qi, 40)
		}
	}
	for k := range 6 {
		// A query from outside the index: a random walk, scaled.
		qv := make([]float64, p)
		x := 0.0
		for i := range qv {
			x += r.NormFloat64()
			qv[i] = x
		}
		ScaleShape(qv)
		check(fmt.Sprintf("outside query %d", k), g, qv, bruteDistances(g, qv, 12), 12, -1, 40)
	}
	// Flat query: ties with the flat shape and among themselves.
	flat := make([]float64, p)
	check("flat query", g, flat, bruteDistances(g, flat, 12), 12, -1, 40)
	// n larger than the index, with and without the Commit-time copies.
	small := &generation{points: p, names: g.names[:30], values: g.values[:30*p], byName: g.byName}
	q3 := g.shape64(make([]float64, p), 3)
	d3 := bruteDistances(small, q3, 12)
	check("n > shapes, no envelopes", small, q3, d3, 12, 3, 40)
	small.env, small.q15 = small.buildEnvelopes(12), small.buildQuantised()
	check("n > shapes", small, q3, d3, 12, 3, 40)
	// A band wider than the envelopes' skips LB_EC.
	q0 := g.shape64(make([]float64, p), int(qs[0]))
	check("band 20", g, q0, bruteDistances(g, q0, 20), 20, qs[0], 40)
	// Without the 15-bit copy: the float32 first pass.
	q15 := g.q15
	g.q15 = nil
	check("float32 first pass", g, q0, bruteDistances(g, q0, 12), 12, qs[0], 40)
	g.q15 = q15
	if total.DTW == 0 || total.Sorted >= total.Shapes || total.EC == 0 || total.Improved == 0 || total.Complete == total.DTW {
		t.Fatalf("the cascade is not exercised: %+v", total)
	}
	t.Logf("planted queries, n=1 and 40: %+v", total)
}

// TestEnvelopeQuantisation: the stored envelope contains the true one at
// every point (upper rounded up, lower down, checked with the expression
// lbEC decodes with), so LB_EC stays under the banded DTW distance for
// every band up to the envelopes' own, and a query's table on a shape's
// grid gives the decoded sum exactly; flat, constant, huge and
// non-finite shapes included.
func TestEnvelopeQuantisation(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const p = 120
	var shapes [][]float64
	for k := range 300 {
		c := make([]float64, p)
		x := 0.0
		for i := range c {
			switch k % 5 {
			case 0, 1:
				x += r.NormFloat64()
				c[i] = x
			case 2:
				c[i] = r.Float64() * 25
			case 3:
				c[i] = 7.25 // flat
			default:
				c[i] = (r.Float64() - 0.5) * 1e300
			}
		}
		if k%2 == 0 {
			ScaleShape(c)
		}
		shapes = append(shapes, c)
	}
	bad := make([]float64, p)
	bad[5] = math.NaN()
	shapes = append(shapes, bad)
	g := &generation{points: p, byName: map[string]int32{}}
	for k, c := range shapes {
		g.names = append(g.names, fmt.Sprint(k))
		for _, x := range c {
			g.values = append(g.values, float32(x))
		}
	}
	const band = 12
	env := g.buildEnvelopes(band)
	var ws dtw.Workspace
	c := make([]float64, p)
	up, lo := make([]float64, p), make([]float64, p)
	ruled := 0
	for i := range shapes {
		g.shape64(c, i)
		dtw.Envelope(c, band, up, lo)
		base, step := env.base[i], env.step[i]
		qu, ql := env.q[2*p*i:2*p*i+p], env.q[2*p*i+p:2*p*(i+1)]
		if !math.IsInf(base, -1) {
			for k := range p {
				if u := envLevel(base, step, qu[k]); u < up[k] {
					t.Fatalf("shape %d point %d: stored upper %v < %v", i, k, u, up[k])
				}
				if l := envLevel(base, step, ql[k]); l > lo[k] {
					t.Fatalf("shape %d point %d: stored lower %v > %v", i, k, l, lo[k])
				}
				if w := step * 2; up[k]-lo[k] < 1e300 && envLevel(base, step, qu[k])-up[k] > w {
					t.Fatalf("shape %d point %d: upper %v rounded to %v, more than two steps (%v)", i, k, up[k], envLevel(base, step, qu[k]), step)
				}
			}
		} else if i < len(shapes)-1 && i%5 != 4 {
			t.Fatalf("shape %d has no grid", i)
		}
		for range 5 {
			q := shapes[r.IntN(len(shapes)-1)]
			ec := env.lbEC(q, i, nil)
			if !math.IsInf(base, -1) {
				// The query's table on the shape's grid gives the same
				// sum, bit for bit.
				var tab ecTable
				tab.fill(q, base, step)
				if got := env.lbEC(q, i, &tab); got != ec && !(math.IsNaN(got) && math.IsNaN(ec)) {
					t.Fatalf("shape %d: LB_EC from the table %v, decoded %v", i, got, ec)
				}
			}
			for _, b := range []int{0, 5, band} {
				d := ws.Distance(q, c, b)
				if ec > d*(1+1e-12) {
					t.Fatalf("shape %d band %d: LB_EC %v > distance %v", i, b, ec, d)
				}
				if ec > 0 && ec < d {
					ruled++
				}
			}
		}
	}
	if ruled == 0 {
		t.Fatal("LB_EC never positive: not exercised")
	}
}

// TestQuantisedBound: the 15-bit LB_Keogh of the first pass is a lower
// bound of the float one (so of the distance) and within a few grid steps
// a point of it, for queries inside and outside the generation's range,
// with padding lanes (points not a multiple of 4), a constant generation,
// and a generation with a non-finite value (no grid: the float pass).
func TestQuantisedBound(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, p := range []int{120, 7, 1} {
		g := &generation{points: p}
		var shapes [][]float64
		for k := range 200 {
			c := make([]float64, p)
			x := 0.0
			for i := range c {
				x += r.NormFloat64()
				c[i] = x
			}
			if p > 1 {
				ScaleShape(c)
			}
			if k == 7 {
				clear(c) // flat
			}
			shapes = append(shapes, c)
			g.names = append(g.names, fmt.Sprint(k))
			for _, v := range c {
				g.values = append(g.values, float32(v))
			}
		}
		q := g.buildQuantised()
		if q == nil {
			t.Fatalf("p=%d: no grid", p)
		}
		up, lo := make([]uint64, q.words), make([]uint64, q.words)
		upper, lower := make([]float64, p), make([]float64, p)
		u32, l32 := make([]float32, p), make([]float32, p)
		c := make([]float64, p)
		tight := 0
		for range 50 {
			qv := shapes[r.IntN(len(shapes))]
			if r.IntN(3) == 0 { // outside [0, 25]
				qv = slices.Clone(qv)
				for i := range qv {
					qv[i] = qv[i]*3 - 30
				}
			}
			band := r.IntN(p + 1)
			dtw.Envelope(qv, band, upper, lower)
			for i := range upper {
				u32[i], l32[i] = float32(upper[i]), float32(lower[i])
			}
			off := q.queryWords(upper, lower, up, lo)
			for i := range shapes {
				g.shape64(c, i)
				want := dtw.LBKeogh(c, upper, lower, math.Inf(1))
				got := float64(lbKeogh15(q.v[i*q.words:(i+1)*q.words], up, lo))*q.step + off
				if got > want*(1+1e-12)+1e-12 {
					t.Fatalf("p=%d band=%d shape %d: 15-bit LB_Keogh %v > float %v", p, band, i, got, want)
				}
				if f32 := float64(lbKeogh32(g.values[i*p:(i+1)*p], u32, l32)); math.Abs(f32-want) > 1e-4*(1+want) {
					t.Fatalf("lbKeogh32 %v, float64 %v", f32, want)
				}
				if slack := 3 * q.step * float64(p); want-got > slack {
					t.Fatalf("p=%d shape %d: 15-bit bound %v more than %v under %v", p, i, got, slack, want)
				}
				if got > 0 {
					tight++
				}
			}
		}
		if tight == 0 {
			t.Fatalf("p=%d: the bound was never positive", p)
		}
	}
	// One value everywhere: level 0, exact.
	flat := &generation{points: 5, names: []string{"a", "b"}, values: []float32{3, 3, 3, 3, 3, 3, 3, 3, 3, 3}}
	if q := flat.buildQuantised(); q == nil || q.err > 1e-9 {
		t.Fatalf("constant generation: %+v", q)
	}
	inf := &generation{points: 2, names: []string{"a"}, values: []float32{1, float32(math.Inf(1))}}
	if q := inf.buildQuantised(); q != nil {
		t.Fatal("a non-finite value should leave the generation without a grid")
	}
}

// TestSortByBound: the radix sort orders keys by bound like slices.Sort,
// for short and long lists, equal bounds, and zero.
func TestSortByBound(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	var scratch []uint64
	for _, n := range []int{0, 1, 5, 1023, 1024, 5000, 70000} {
		keys := make([]uint64, n)
		for i := range keys {
			lb := float32(r.ExpFloat64() * 100)
			switch r.IntN(10) {
			case 0:
				lb = 0
			case 1:
				lb = 42.5
			case 2:
				lb = float32(math.Inf(1))
			}
			keys[i] = boundKey(lb, int32(r.IntN(1<<30)))
		}
		want := slices.Clone(keys)
		var got []uint64
		got, scratch = sortByBound(keys, scratch)
		if len(got) != n {
			t.Fatalf("n=%d: %d keys back", n, len(got))
		}
		for i := 1; i < n; i++ {
			a, _ := keyBound(got[i-1])
			b, _ := keyBound(got[i])
			if a > b {
				t.Fatalf("n=%d: bound %v before %v at %d", n, a, b, i)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("n=%d: not a permutation of the keys", n)
		}
	}
}

// TestNearestConcurrent runs queries on several goroutines at once (the
// pooled scratch and the shared top-n under the race detector).
func TestNearestConcurrent(t *testing.T) {
	g, qs := corpus(t, 5000, 8)
	p := g.points
	var wg sync.WaitGroup
	for _, qi := range qs {
		wg.Go(func() {
			qv := g.shape64(make([]float64, p), int(qi))
			got, err := g.nearest(context.Background(), qv, 12, qi, 40, 0, nil)
			if err != nil {
				t.Error(err)
				return
			}
			want := bruteNearest(bruteDistances(g, qv, 12), qi, 40)
			for k := range got {
				if got[k].d != want[k] {
					t.Errorf("query %d: %d-th distance %v, want %v", qi, k, got[k].d, want[k])
					return
				}
			}
		})
	}
	wg.Wait()
}

// oldNearest is the cascade Candidates ran before this file's (kept here
// as the benchmark's baseline): float32 LB_Keogh of every shape, all of
// them sorted, exact DTW of the n first, then dtw.DistanceAbandon in bound
// order on every goroutine until a bound exceeds the n-th best. It
// returns the answer and how many shapes reached DTW.
func oldNearest(g *generation, qv []float64, band int, exclude int32, n int) ([]bound, int) {
	p, shapes := g.points, len(g.names)
	upper, lower := make([]float64, p), make([]float64, p)
	dtw.Envelope(qv, band, upper, lower)
	up32, lo32 := make([]float32, p), make([]float32, p)
	for i := range upper {
		up32[i], lo32[i] = float32(upper[i]), float32(lower[i])
	}
	workers := min(runtime.GOMAXPROCS(0), max(1, shapes/4096))
	lbs := make([]float32, shapes)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*shapes/workers, (w+1)*shapes/workers
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				lbs[i] = lbKeogh32(g.values[i*p:(i+1)*p], up32, lo32)
			}
		})
	}
	wg.Wait()
	order := make([]int32, 0, shapes)
	for i := range lbs {
		if int32(i) != exclude {
			order = append(order, int32(i))
		}
	}
	slices.SortFunc(order, func(a, b int32) int { return cmp.Compare(lbs[a], lbs[b]) })
	first := min(n, len(order))
	best := newTopN(n)
	var ws dtw.Workspace
	c := make([]float64, p)
	for _, i := range order[:first] {
		best.offer(ws.Distance(qv, g.shape64(c, int(i)), band), i)
	}
	var dtws atomic.Int64
	dtws.Add(int64(first))
	rest := order[first:]
	for w := range workers {
		wg.Go(func() {
			var ws dtw.Workspace
			c := make([]float64, p)
			for k := w; k < len(rest); k += workers {
				i := rest[k]
				lim := best.limit()
				if lbAbove(lbs[i], lim) {
					return
				}
				dtws.Add(1)
				if d := ws.DistanceAbandon(qv, g.shape64(c, int(i)), band, lim); d <= lim {
					best.offer(d, i)
				}
			}
		})
	}
	wg.Wait()
	return best.sorted(), int(dtws.Load())
}

// BenchmarkNearest measures one correlation query's scan at the bench's
// scale (100,000 shapes; 20,000 with -short), over the bench's 200
// planted queries in turn: run it with -benchtime=200x so that every
// query counts once. It reports, per query, the CPU time of the process
// (cpu-ms/op: all goroutines, less sensitive than ns/op to what else runs
// on the machine) and how many shapes reached DTW (dtw/op, which does not
// depend on the machine at all), for the cascade before this one
// (cascade=old: LB_Keogh, then abandoned DTW) and for nearest's
// (cascade=new, with its other counts). The first query's answers of the
// two are checked to have the same distances.
func BenchmarkNearest(b *testing.B) {
	metrics := 100_000
	if testing.Short() {
		metrics = 20_000
	}
	g, qs := corpus(b, metrics, 200)
	p := g.points
	qvs := make([][]float64, len(qs))
	for k, qi := range qs {
		qvs[k] = g.shape64(make([]float64, p), int(qi))
	}
	oldAns, _ := oldNearest(g, qvs[0], 12, qs[0], 40)
	newAns, err := g.nearest(context.Background(), qvs[0], 12, qs[0], 40, 0, nil)
	if err != nil {
		b.Fatal(err)
	}
	for k := range oldAns {
		if oldAns[k].d != newAns[k].d {
			b.Fatalf("%d-th distance: old cascade %v, new %v", k, oldAns[k].d, newAns[k].d)
		}
	}
	b.Run("cascade=old", func(b *testing.B) {
		dtws, queries := 0, 0
		cpu0 := cpuTime()
		for b.Loop() {
			k := queries % len(qs)
			_, d := oldNearest(g, qvs[k], 12, qs[k], 40)
			dtws += d
			queries++
		}
		q := float64(queries)
		b.ReportMetric(float64(cpuTime()-cpu0)/1e6/q, "cpu-ms/op")
		b.ReportMetric(float64(dtws)/q, "dtw/op")
	})
	b.Run("cascade=new", func(b *testing.B) {
		var total scanStats
		queries := 0
		b.ReportAllocs()
		cpu0 := cpuTime()
		for b.Loop() {
			k := queries % len(qs)
			var st scanStats
			if _, err := g.nearest(context.Background(), qvs[k], 12, qs[k], 40, 0, &st); err != nil {
				b.Fatal(err)
			}
			total.add(st)
			queries++
		}
		q := float64(queries)
		b.ReportMetric(float64(cpuTime()-cpu0)/1e6/q, "cpu-ms/op")
		b.ReportMetric(float64(total.Sorted)/q, "sorted/op")
		b.ReportMetric(float64(total.Visited)/q, "visited/op")
		b.ReportMetric(float64(total.EC)/q, "lbec-pruned/op")
		b.ReportMetric(float64(total.Improved)/q, "lbimproved-pruned/op")
		b.ReportMetric(float64(total.DTW)/q, "dtw/op")
		b.ReportMetric(float64(total.Complete)/q, "dtw-complete/op")
	})
}

// TestNearestScanLimit: a scan limit of at least every shape changes
// nothing; a smaller one that cuts the scan is reported (Limited, and
// Embedded.ScanLimited), returns n shapes, each i-th no nearer than the
// exact i-th, and the exact answer whenever the scan ends before the cut.
func TestNearestScanLimit(t *testing.T) {
	g, qs := corpus(t, 4000, 8)
	cut := 0
	for _, qi := range qs {
		qv := g.shape64(make([]float64, g.points), int(qi))
		want := bruteNearest(bruteDistances(g, qv, 12), qi, 40)
		for _, limit := range []int{0, len(g.names), 400, 41, 1} {
			var st scanStats
			got, err := g.nearest(context.Background(), qv, 12, qi, 40, limit, &st)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("query %d, limit %d: %d shapes, want %d", qi, limit, len(got), len(want))
			}
			exact := true
			for k, b := range got {
				if b.d < want[k]-1e-9 {
					t.Errorf("query %d, limit %d: the %d-th distance %v is under the exact %v", qi, limit, k, b.d, want[k])
				}
				exact = exact && math.Abs(b.d-want[k]) <= 1e-9
			}
			switch {
			case (limit == 0 || limit >= len(g.names)) && (st.Limited || !exact):
				t.Errorf("query %d, limit %d: Limited %v, exact %v; want an exact, unlimited scan", qi, limit, st.Limited, exact)
			case !st.Limited && !exact:
				t.Errorf("query %d, limit %d: not Limited, yet not exact", qi, limit)
			}
			if st.Limited {
				cut++
			}
		}
	}
	if cut == 0 {
		t.Error("no scan was cut by limits down to 1: the test checks nothing")
	}

	e, err := NewEmbedded(EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.Build(context.Background(), g.window, g.points)
	if err != nil {
		t.Fatal(err)
	}
	for i := range g.names {
		if err := b.Add(context.Background(), []Doc{g.doc(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	q := Query{Values: g.doc(int(qs[0])).Values, Exclude: g.names[qs[0]], Band: 12}
	if _, err := e.Candidates(context.Background(), q, 40); err != nil || e.ScanLimited() != 0 {
		t.Errorf("without a limit: err %v, ScanLimited %d", err, e.ScanLimited())
	}
	q.ScanLimit = 1
	if _, err := e.Candidates(context.Background(), q, 40); err != nil || e.ScanLimited() != 1 {
		t.Errorf("with limit 1: err %v, ScanLimited %d; want 1", err, e.ScanLimited())
	}
}

// firstPassBounds are the bounds step 1 of nearest computes, as it does.
func firstPassBounds(g *generation, qv []float64, band int) []float32 {
	upper, lower := make([]float64, g.points), make([]float64, g.points)
	dtw.Envelope(qv, band, upper, lower)
	q := g.q15
	up, lo := make([]uint64, q.words), make([]uint64, q.words)
	off := q.queryWords(upper, lower, up, lo)
	lbs := make([]float32, len(g.names))
	for i := range lbs {
		lbs[i] = min(float32(float64(lbKeogh15(q.v[i*q.words:(i+1)*q.words], up, lo))*q.step+off), math.MaxFloat32)
	}
	return lbs
}

// TestNearestLimitedExactly: Limited is set exactly when the scan limit
// cut off a shape whose first-pass bound is within reach of the final
// n-th best distance: with room for every such shape it is not set, with
// one short it is.
func TestNearestLimitedExactly(t *testing.T) {
	g, qs := corpus(t, 3000, 4)
	const n = 20
	checked := 0
	for _, qi := range qs {
		qv := g.shape64(make([]float64, g.points), int(qi))
		exact, err := g.nearest(context.Background(), qv, 12, qi, n, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		final := exact[len(exact)-1].d
		var keys []uint64
		for i, lb := range firstPassBounds(g, qv, 12) {
			if int32(i) != qi {
				keys = append(keys, boundKey(lb, int32(i)))
			}
		}
		slices.Sort(keys)
		within := 0 // shapes after the first n whose bound is within reach
		for _, k := range keys[n:] {
			if lb, _ := keyBound(k); !lbAbove(lb, final) {
				within++
			}
		}
		if within == 0 {
			continue
		}
		checked++
		for _, c := range []struct {
			limit int
			want  bool
		}{{n + within, false}, {n + within - 1, true}} {
			var st scanStats
			if _, err := g.nearest(context.Background(), qv, 12, qi, n, c.limit, &st); err != nil {
				t.Fatal(err)
			}
			if st.Limited != c.want {
				t.Errorf("query %d, %d shapes within reach, limit %d: Limited %v, want %v", qi, within, c.limit, st.Limited, c.want)
			}
		}
	}
	if checked == 0 {
		t.Error("no query had a shape within reach past the first n: nothing was checked")
	}
}

// TestNearestHugeValues: a bound past float32's range is still a bound
// (it does not become +Inf and drop the shape), whichever first pass runs.
func TestNearestHugeValues(t *testing.T) {
	const m = math.MaxFloat32
	q := []float32{0, m, 0, m, 0, m, 0, m}
	far := []float32{m, 0, m, 0, m, 0, m, 0}          // bound 0, DTW about 6.8e38
	near := []float32{0, m, -2e38, m, -2e38, m, 0, m} // bound past float32, DTW about 4e38
	for _, q15 := range []bool{true, false} {
		g := &generation{points: 8, byName: map[string]int32{}}
		for i, v := range [][]float32{far, near} {
			name := fmt.Sprint("s", i)
			g.byName[name] = int32(i)
			g.names, g.fps, g.flat = append(g.names, name), append(g.fps, ""), append(g.flat, false)
			g.values = append(g.values, v...)
		}
		g.env = g.buildEnvelopes(defaultEnvelopeBand(g.points))
		if q15 {
			g.q15 = g.buildQuantised()
		}
		qv := to64(nil, q)
		got, err := g.nearest(context.Background(), qv, 1, -1, 1, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := dtw.DTW(qv, to64(nil, near), 1)
		if len(got) != 1 || got[0].i != 1 || got[0].d != want {
			t.Errorf("15-bit copy %v: nearest = %+v; want shape 1 at %v", q15, got, want)
		}
	}
}

// TestNearestUnconstrained: with a negative band the stored envelopes
// (built for a tenth of the points) bound nothing and are not used.
func TestNearestUnconstrained(t *testing.T) {
	g, qs := corpus(t, 2000, 6)
	for _, qi := range qs {
		qv := g.shape64(make([]float64, g.points), int(qi))
		want := bruteNearest(bruteDistances(g, qv, -1), qi, 10)
		got, err := g.nearest(context.Background(), qv, -1, qi, 10, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k := range want {
			if math.Abs(got[k].d-want[k]) > 1e-9 {
				t.Fatalf("query %d: the %d-th distance is %v, want %v", qi, k, got[k].d, want[k])
			}
		}
	}
}

// TestCandidatesNonFinite: a query holding NaN or ±Inf is refused.
func TestCandidatesNonFinite(t *testing.T) {
	e, err := NewEmbedded(EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := int64(1_700_000_000)
	b, err := e.Build(context.Background(), Window{From: now - 60, Until: now}, 4)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Add(context.Background(), []Doc{{Metric: "a", Values: []float32{1, 2, 3, 4}}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, x := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		if _, err := e.Candidates(context.Background(), Query{Values: []float32{0, x, 0, 0}, Band: 1}, 5); !errors.Is(err, ErrBadQuery) {
			t.Errorf("a query holding %v: %v; want ErrBadQuery", x, err)
		}
	}
}
