package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/go-kale/kale/dtw"
	"github.com/go-kale/kale/internal/progress"
	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/shapegen"
	"github.com/go-kale/kale/internal/store/embedded"
	"github.com/go-kale/kale/oculus"
)

// benchOculus measures Oculus on a synthetic corpus with planted groups of
// related metrics (internal/shapegen): the corpus is written to an
// embedded store, imported into the index (timed: index_per_sec), and
// --queries planted members are correlated one at a time (p50_ms,
// p99_ms). recall_at_20 is the share of each query's planted partners in
// its top 20; exact_overlap_at_20 the share of its top 20 that is also in
// the top 20 of a brute-force exact DTW ranking (within the same band) of
// every indexed shape.
func benchOculus(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kale bench oculus", flag.ContinueOnError)
	fs.SetOutput(stderr)
	metrics := fs.Int("metrics", 100_000, "metrics in the corpus")
	queries := fs.Int("queries", 100, "planted metrics to correlate")
	groupSize := fs.Int("group-size", 10, "members per planted group")
	groups := fs.Int("groups", 0, "planted groups (default: 1 per 1000 metrics)")
	noise := fs.Float64("noise", 0.05, "largest noise of a planted member, as a fraction of its shape's range")
	shift := fs.Int("shift", 3, "largest time shift of a planted member, in points")
	seed := fs.Uint64("seed", 1, "corpus seed")
	backend := fs.String("backend", "embedded", "embedded or elasticsearch")
	esURL := fs.String("elasticsearch", "", "Elasticsearch base URL(s), comma-separated (with --backend elasticsearch)")
	esUser := fs.String("es-user", "", "Elasticsearch user")
	esPassword := fs.String("es-password", "", "Elasticsearch password, or env:NAME")
	esQuery := fs.String("es-query", oculus.QueryTokens, "Elasticsearch candidate query: tokens or shingles (Oculus's words alone)")
	cfg := oculus.DefaultConfig()
	fs.IntVar(&cfg.Radius, "radius", cfg.Radius, "FastDTW radius")
	fs.IntVar(&cfg.Candidates, "candidates", cfg.Candidates, "candidates ranked by FastDTW per search")
	fs.IntVar(&cfg.ScanLimit, "scan-limit", cfg.ScanLimit, "embedded index: most shapes per search given DTW (0: no limit, always exact)")
	fs.Float64Var(&cfg.Band, "band", cfg.Band, "DTW band as a share of the window (1: unconstrained, as Oculus); the exact ranking uses the same band")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the queries to this file")
	exact := fs.Bool("exact", true, "compute exact_overlap_at_20 (brute-force exact DTW over every shape: the slow part)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return exitUsage
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "kale bench oculus: %v\n", err)
		return 1
	}
	spec := shapegen.DefaultSpec(*metrics)
	spec.GroupSize, spec.Noise, spec.MaxShift, spec.Seed = *groupSize, *noise, *shift, *seed
	if *groups > 0 {
		spec.Groups = *groups
	}
	spec.Points = int(cfg.Window/time.Second) / int(spec.Step)
	now := time.Now().Unix()
	spec.End = now
	if err := spec.Validate(); err != nil {
		return fail(err)
	}
	if *backend != "embedded" && *backend != "elasticsearch" {
		fmt.Fprintf(stderr, "kale bench oculus: --backend %q: want embedded or elasticsearch\n", *backend)
		return exitUsage
	}
	if *queries < 1 {
		return fail(errors.New("--queries must be at least 1"))
	}
	if err := cfg.Validate(); err != nil {
		return fail(err)
	}

	dir, err := os.MkdirTemp("", "kale-bench-oculus-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	ecfg := embedded.DefaultConfig()
	ecfg.Dir = dir
	ecfg.SyncInterval = time.Minute
	st, err := embedded.Open(ecfg, nil, prometheus.NewRegistry())
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	ctx := context.Background()

	progress.Printf(stderr, "writing %d metrics (%d planted groups of %d) x %d points into an embedded store...\n",
		spec.Metrics, spec.Groups, spec.GroupSize, spec.Points)
	bar := progress.New(stderr, "metrics", int64(spec.Metrics))
	group := make(map[string]int, spec.Groups*spec.GroupSize)
	members := make([][]string, spec.Groups)
	batch := make([]series.Sample, 0, 64*1024)
	err = spec.Each(func(i int, m shapegen.Metric) error {
		if m.Group >= 0 {
			group[m.Name] = m.Group
			members[m.Group] = append(members[m.Group], m.Name)
		}
		for j, v := range m.Values {
			ts := spec.End - int64(len(m.Values)-1-j)*spec.Step
			batch = append(batch, series.Sample{Name: m.Name, Point: series.Point{Timestamp: ts, Value: v}})
		}
		if len(batch) >= 60_000 {
			if err := st.Append(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
			bar.Update(int64(i + 1))
		}
		return nil
	})
	if err == nil {
		err = st.Append(ctx, batch)
	}
	if err != nil {
		return fail(err)
	}
	bar.Done(int64(spec.Metrics))

	idx, closeIdx, err := benchIndex(*backend, *esURL, *esUser, *esPassword, *esQuery)
	if err != nil {
		return fail(err)
	}
	defer closeIdx()
	w := oculus.Window{From: now + 1 - int64(cfg.Window/time.Second), Until: now + 1}
	progress.Printf(stderr, "importing into the %s index...\n", *backend)
	stats, err := oculus.Import(ctx, st, idx, w, cfg, nil, nil)
	if err != nil {
		return fail(err)
	}
	indexPerSec := float64(stats.Indexed) / stats.Duration.Seconds()
	progress.Printf(stderr, "indexed %d shapes in %v (%.0f metrics/s)\n", stats.Indexed, stats.Duration.Round(time.Millisecond), indexPerSec)

	// The queries: planted members, drawn with the corpus seed.
	rng := rand.New(rand.NewPCG(spec.Seed, 99))
	var qs []string
	for range *queries {
		g := members[rng.IntN(len(members))]
		qs = append(qs, g[rng.IntN(len(g))])
	}
	s := oculus.NewSearcher(idx, st, cfg, nil)
	if _, err := s.Correlate(ctx, qs[0], oculus.Window{}, 20); err != nil { // warm up
		return fail(err)
	}
	var limitedBefore uint64 // searches cut short by the scan limit
	if e, ok := idx.(*oculus.Embedded); ok {
		limitedBefore = e.ScanLimited()
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fail(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return fail(err)
		}
	}
	lat := make([]float64, len(qs))
	ranked := 0
	results := make([][]oculus.Match, len(qs))
	recall := 0.0
	bar = progress.New(stderr, "queries", int64(len(qs)))
	for i, q := range qs {
		t := time.Now()
		r, err := s.Correlate(ctx, q, oculus.Window{}, 20)
		if err != nil {
			return fail(fmt.Errorf("correlate %s: %w", q, err))
		}
		lat[i] = float64(time.Since(t).Microseconds()) / 1000
		results[i] = r.Results
		ranked += r.Ranked
		found := 0
		for _, m := range r.Results {
			if g, ok := group[m.Metric]; ok && g == group[q] {
				found++
			}
		}
		recall += float64(found) / float64(len(members[group[q]])-1)
		bar.Update(int64(i + 1))
	}
	bar.Done(int64(len(qs)))
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	recall /= float64(len(qs))
	slices.Sort(lat)

	overlap := math.NaN()
	if *exact {
		ref, err := oculus.NewEmbedded(oculus.EmbeddedOptions{})
		if err != nil {
			return fail(err)
		}
		if _, err := oculus.Import(ctx, st, ref, w, cfg, nil, nil); err != nil {
			return fail(err)
		}
		progress.Printf(stderr, "ranking every shape by exact DTW for %d queries...\n", len(qs))
		overlap, err = exactOverlap(ctx, ref, qs, results, cfg.BandPoints(cfg.Points), stderr)
		if err != nil {
			return fail(err)
		}
	}
	limited := 0
	if e, ok := idx.(*oculus.Embedded); ok {
		limited = int(e.ScanLimited() - limitedBefore)
	}
	fmt.Fprintf(stdout, "RESULT backend=%s metrics=%d indexed=%d groups=%d group_size=%d queries=%d points=%d radius=%d band=%d candidates=%d scan_limit=%d scan_limited=%d mean_ranked=%.0f recall_at_20=%.4f exact_overlap_at_20=%.4f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f index_per_sec=%.0f\n",
		*backend, spec.Metrics, stats.Indexed, spec.Groups, spec.GroupSize, len(qs), cfg.Points, cfg.Radius, cfg.BandPoints(cfg.Points), cfg.Candidates, cfg.ScanLimit, limited, float64(ranked)/float64(len(qs)),
		recall, overlap, quantile(lat, 0.50), quantile(lat, 0.99), lat[len(lat)-1], indexPerSec)
	return 0
}

// quantile of sorted values (nearest rank).
func quantile(sorted []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// exactOverlap returns the mean share of each query's results that is in
// the top 20 by exact unconstrained DTW over every shape of ref.
func exactOverlap(ctx context.Context, ref *oculus.Embedded, qs []string, results [][]oculus.Match, band int, stderr io.Writer) (float64, error) {
	var docs []oculus.Doc
	ref.Each(func(d oculus.Doc) bool { docs = append(docs, d); return true })
	byName := make(map[string]int, len(docs))
	for i, d := range docs {
		byName[d.Metric] = i
	}
	total := 0.0
	bar := progress.New(stderr, "queries", int64(len(qs)))
	for k, q := range qs {
		qi, ok := byName[q]
		if !ok {
			return 0, fmt.Errorf("%s is not in the reference index", q)
		}
		top := exactTop(docs, qi, 20, band, results[k], byName)
		in := make(map[string]bool, len(top))
		for _, t := range top {
			in[t] = true
		}
		hit := 0
		for _, m := range results[k] {
			if in[m.Metric] {
				hit++
			}
		}
		total += float64(hit) / float64(max(len(top), 1))
		bar.Update(int64(k + 1))
		if err := ctx.Err(); err != nil {
			return 0, err
		}
	}
	bar.Done(int64(len(qs)))
	return total / float64(len(qs)), nil
}

// exactTop ranks every doc by exact DTW to docs[qi] and returns the k
// closest names. The search's own results seed the threshold, and every
// other shape is abandoned as soon as its DTW exceeds the current k-th
// best: exact, and far cheaper than n full DTWs.
func exactTop(docs []oculus.Doc, qi, k, band int, seed []oculus.Match, byName map[string]int) []string {
	type cand struct {
		d float64
		i int
	}
	f64 := func(v []float32) []float64 {
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x)
		}
		return out
	}
	q := f64(docs[qi].Values)
	var ws dtw.Workspace
	var best []cand
	seen := map[int]bool{qi: true}
	for _, m := range seed {
		i := byName[m.Metric]
		seen[i] = true
		best = append(best, cand{ws.Distance(q, f64(docs[i].Values), band), i})
	}
	slices.SortFunc(best, func(a, b cand) int { return cmp.Compare(a.d, b.d) })
	limit := math.Inf(1)
	if len(best) >= k {
		best = best[:k]
		limit = best[k-1].d
	}
	workers := runtime.GOMAXPROCS(0)
	parts := make([][]cand, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			var ws dtw.Workspace
			local := slices.Clone(best)
			lim := limit
			c := make([]float64, len(q))
			for i := w; i < len(docs); i += workers {
				if seen[i] {
					continue
				}
				for j, x := range docs[i].Values {
					c[j] = float64(x)
				}
				d := ws.DistanceAbandon(q, c, band, lim)
				if d > lim || math.IsInf(d, 1) {
					continue
				}
				local = append(local, cand{d, i})
				slices.SortFunc(local, func(a, b cand) int { return cmp.Compare(a.d, b.d) })
				if len(local) >= k {
					local = local[:k]
					lim = local[k-1].d
				}
			}
			parts[w] = local
		})
	}
	wg.Wait()
	all := map[int]float64{}
	for _, p := range parts {
		for _, c := range p {
			all[c.i] = c.d
		}
	}
	merged := make([]cand, 0, len(all))
	for i, d := range all {
		merged = append(merged, cand{d, i})
	}
	slices.SortFunc(merged, func(a, b cand) int {
		return cmp.Or(cmp.Compare(a.d, b.d), cmp.Compare(docs[a.i].Metric, docs[b.i].Metric))
	})
	out := make([]string, 0, k)
	for _, c := range merged[:min(k, len(merged))] {
		out = append(out, docs[c.i].Metric)
	}
	return out
}

// benchIndex opens the index under test.
func benchIndex(backend, esURL, user, password, query string) (oculus.Index, func(), error) {
	switch backend {
	case "embedded":
		e, err := oculus.NewEmbedded(oculus.EmbeddedOptions{})
		return e, func() { e.Close() }, err
	case "elasticsearch":
		return openBenchElastic(esURL, user, password, query)
	}
	return nil, nil, fmt.Errorf("--backend %q: want embedded or elasticsearch", backend)
}
