package oculus

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/go-kale/kale/dtw"
	"github.com/go-kale/kale/internal/store"
)

// ErrUnknownMetric: the store holds no such metric (a 404 in the API).
var ErrUnknownMetric = errors.New("unknown metric")

// Match is one metric of a search's answer.
type Match struct {
	Metric string `json:"metric"`
	// Distance is the FastDTW cost, within the band, between the two
	// shapes scaled to [0, ScalePoints] (the sum of |a_i − b_j| along the
	// warp path, as Oculus scored): 0 is the same shape; smaller is closer.
	Distance float64 `json:"distance"`
}

// CollectionMatch is a saved collection whose member resembles the query.
type CollectionMatch struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Metric      string  `json:"metric"`   // the member closest to the query
	Distance    float64 `json:"distance"` // its distance
}

// Result is a search's answer, best first.
type Result struct {
	Metric      string            `json:"metric,omitempty"`
	Window      Window            `json:"window"`
	Fingerprint string            `json:"fingerprint"`
	Flat        bool              `json:"flat,omitempty"` // the query's window was flat
	Candidates  int               `json:"candidates"`     // shapes the index proposed
	Ranked      int               `json:"ranked"`         // of which ranked by FastDTW (the rest pruned by LB_Keogh)
	Results     []Match           `json:"results"`
	Collections []CollectionMatch `json:"collections"`
}

// Searcher answers "what moved with this metric?" and "what looks like
// this curve?": candidates from the Index, ranked by FastDTW on the
// values, best first.
type Searcher struct {
	idx     Index
	st      store.Store
	cfg     Config
	metrics *Metrics
	pool    sync.Pool // *dtw.Workspace

	now func() time.Time

	saveMu sync.Mutex // serialises SaveCollection's read-modify-write

	mu      sync.Mutex // guards scratch: the last ad-hoc window's shapes
	scratch *Embedded
	scrWin  Window
}

// NewSearcher searches idx; st (may be nil) resolves metrics the index
// does not hold and windows other than the index's.
func NewSearcher(idx Index, st store.Store, cfg Config, m *Metrics) *Searcher {
	return &Searcher{idx: idx, st: st, cfg: cfg, metrics: m, now: time.Now,
		pool: sync.Pool{New: func() any { return new(dtw.Workspace) }}}
}

// Correlate finds the metrics whose shape over w is closest to metric's.
// A zero w means the index's window (the last hour of the latest import).
// Another window is answered from the store: every metric's shape over w
// is computed (as an import would) and kept until a search asks for
// another window, so this costs one scan of the store.
func (s *Searcher) Correlate(ctx context.Context, metric string, w Window, limit int) (Result, error) {
	start := time.Now()
	idx := s.idx
	st, err := idx.Stats(ctx)
	if err != nil {
		return Result{}, err
	}
	if w != (Window{}) && w != st.Window {
		if idx, err = s.adHoc(ctx, w); err != nil {
			return Result{}, err
		}
		if st, err = idx.Stats(ctx); err != nil {
			return Result{}, err
		}
	} else if st.Docs == 0 {
		return Result{}, ErrNoIndex
	}
	q, err := idx.Get(ctx, metric)
	if errors.Is(err, ErrNotIndexed) {
		q, err = s.shapeFromStore(ctx, metric, st)
	}
	if err != nil {
		return Result{}, err
	}
	r, err := s.rank(ctx, idx, q, limit)
	if err != nil {
		return Result{}, err
	}
	r.Metric, r.Window = metric, st.Window
	s.metrics.observe("correlate", start)
	return r, nil
}

// Search finds the metrics whose shape over the index's window is
// closest to values (a drawn curve or any series, resampled to the
// index's points).
func (s *Searcher) Search(ctx context.Context, values []float64, limit int) (Result, error) {
	start := time.Now()
	st, err := s.idx.Stats(ctx)
	if err != nil {
		return Result{}, err
	}
	if st.Docs == 0 {
		return Result{}, ErrNoIndex
	}
	q, err := ShapeOf(values, st.Points)
	if err != nil {
		return Result{}, fmt.Errorf("cannot search for these values: %w", err)
	}
	r, err := s.rank(ctx, s.idx, q, limit)
	if err != nil {
		return Result{}, err
	}
	r.Window = st.Window
	s.metrics.observe("search", start)
	return r, nil
}

// shapeFromStore shapes a metric the index does not hold: it may be new
// since the last import, or have had too few points then.
func (s *Searcher) shapeFromStore(ctx context.Context, metric string, st Stats) (Doc, error) {
	if s.st == nil {
		return Doc{}, fmt.Errorf("%w: %s", ErrUnknownMetric, metric)
	}
	pts, err := s.st.Fetch(ctx, metric, st.Window.From, st.Window.Until-1)
	if errors.Is(err, store.ErrNotFound) {
		return Doc{}, fmt.Errorf("%w: %s", ErrUnknownMetric, metric)
	}
	if err != nil {
		return Doc{}, err
	}
	d, _, ok := Shape(metric, pts, st.Window, st.Points, s.cfg.MinPoints, nil)
	if !ok {
		return Doc{}, fmt.Errorf("%w: %s has %d points between %s and %s, fewer than oculus.min_points (%d)",
			ErrTooFewPoints, metric, len(pts), unix(st.Window.From), unix(st.Window.Until), s.cfg.MinPoints)
	}
	return d, nil
}

// ErrTooFewPoints: the query metric has too few points in the window to
// have a shape (a 422 in the API).
var ErrTooFewPoints = errors.New("too few points in the window")

func unix(t int64) string { return time.Unix(t, 0).UTC().Format(time.RFC3339) }

// adHoc returns an index of every metric's shape over w, built from the
// store, reusing the last one when w is the same.
func (s *Searcher) adHoc(ctx context.Context, w Window) (Index, error) {
	if !w.Valid() {
		return nil, fmt.Errorf("%w: the window's from must be before its until", ErrBadQuery)
	}
	if s.st == nil {
		return nil, errors.New("searching another window than the index's needs the store")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.scratch != nil && s.scrWin == w {
		return s.scratch, nil
	}
	e, err := NewEmbedded(EmbeddedOptions{})
	if err != nil {
		return nil, err
	}
	if _, err := Import(ctx, s.st, e, w, s.cfg, nil, nil); err != nil {
		return nil, err
	}
	s.scratch, s.scrWin = e, w
	return e, nil
}

// rank asks idx for candidates and ranks them by FastDTW.
func (s *Searcher) rank(ctx context.Context, idx Index, q Doc, limit int) (Result, error) {
	if limit <= 0 {
		limit = 20
	}
	band := s.cfg.BandPoints(len(q.Values))
	cands, err := idx.Candidates(ctx, Query{Values: q.Values, Fingerprint: q.Fingerprint, Exclude: q.Metric, Band: band, ScanLimit: s.cfg.ScanLimit},
		max(s.cfg.Candidates, limit))
	if err != nil {
		return Result{}, err
	}
	ws := s.pool.Get().(*dtw.Workspace)
	defer s.pool.Put(ws)
	qv := to64(nil, q.Values)
	matches, ranked := s.rankCandidates(ws, qv, q.Metric, cands, band, limit)
	r := Result{Fingerprint: q.Fingerprint, Flat: q.Flat, Candidates: len(cands), Ranked: ranked, Results: matches}
	worst := math.Inf(1)
	if len(r.Results) == limit {
		worst = r.Results[len(r.Results)-1].Distance
	}
	if r.Collections, err = s.collections(ctx, ws, qv, worst); err != nil {
		return Result{}, err
	}
	return r, nil
}

// maxCollectionMatches caps the collections listed with a search.
const maxCollectionMatches = 5

// collections returns the saved collections with a member at most worst
// from the query (as close as the metrics listed), closest first.
func (s *Searcher) collections(ctx context.Context, ws *dtw.Workspace, qv []float64, worst float64) ([]CollectionMatch, error) {
	list, err := s.idx.Collections(ctx)
	if err != nil {
		return nil, err
	}
	out := []CollectionMatch{}
	var mv []float64
	for _, c := range list {
		best := CollectionMatch{Distance: math.Inf(1)}
		for _, m := range c.Members {
			if len(m.Values) < 2 {
				continue
			}
			mv = to64(mv, m.Values)
			if len(mv) != len(qv) {
				mv = interpolate(mv, len(qv))
			}
			if d := ws.FastDTWBand(qv, mv, s.cfg.Radius, s.cfg.BandPoints(len(qv))); d < best.Distance {
				best = CollectionMatch{ID: c.ID, Name: c.Name, Description: c.Description, Metric: m.Metric, Distance: d}
			}
		}
		if best.Distance <= worst {
			out = append(out, best)
		}
	}
	slices.SortFunc(out, func(a, b CollectionMatch) int {
		return cmp.Or(cmp.Compare(a.Distance, b.Distance), cmp.Compare(a.Name, b.Name))
	})
	return out[:min(len(out), maxCollectionMatches)], nil
}

func to64(dst []float64, v []float32) []float64 {
	dst = grow(dst, len(v))
	for i, x := range v {
		dst[i] = float64(x)
	}
	return dst
}

// Index returns the index the searcher reads.
func (s *Searcher) Index() Index { return s.idx }

// Config returns the searcher's settings.
func (s *Searcher) Config() Config { return s.cfg }

// rankCandidates returns the limit candidates closest to qv by FastDTW
// within the band, best first, and how many FastDTWs it ran. It is the
// UCR suite's cascade of ever dearer bounds (Rakthanmanon et al., KDD
// 2012), ending in FastDTW instead of exact DTW: candidates are visited in
// increasing order of their LB_Keogh bound, and the visit stops once a
// bound exceeds the limit-th best distance found (banded DTW is at least
// LB_Keogh, and FastDTW within the band at least banded DTW, so no
// candidate left could enter); each visited candidate first gets exact
// banded DTW abandoned at that distance, and only the survivors FastDTW.
// Without a band there is no LB_Keogh and every candidate is visited.
func (s *Searcher) rankCandidates(ws *dtw.Workspace, qv []float64, self string, cands []Doc, band, limit int) ([]Match, int) {
	order := byLBKeogh(qv, cands, band, self)
	var cv []float64
	best := make([]Match, 0, limit+1)
	ranked := 0
	for _, o := range order {
		if len(best) == limit && o.lb > best[limit-1].Distance {
			break
		}
		c := cands[o.i]
		cv = to64(cv, c.Values)
		if len(best) == limit {
			// Exact banded DTW, abandoned as soon as it exceeds the
			// limit-th best: it is at most FastDTW's cost, so a
			// candidate it rules out could not enter.
			if kth := best[limit-1].Distance; ws.DistanceAbandon(qv, cv, band, kth) > kth {
				continue
			}
		}
		m := Match{Metric: c.Metric, Distance: ws.FastDTWBand(qv, cv, s.cfg.Radius, band)}
		ranked++
		at, _ := slices.BinarySearchFunc(best, m, compareMatch)
		if at >= limit {
			continue
		}
		best = slices.Insert(best, at, m)
		if len(best) > limit {
			best = best[:limit]
		}
	}
	return best, ranked
}

// bounded is a document's index in a list and its LB_Keogh bound.
type bounded struct {
	lb float64
	i  int
}

// byLBKeogh returns the documents of docs (but the metric exclude, and
// those of another length than qv) in increasing order of their LB_Keogh
// bound to qv within band; without a band (band < 0) every bound is 0.
func byLBKeogh(qv []float64, docs []Doc, band int, exclude string) []bounded {
	order := make([]bounded, 0, len(docs))
	var upper, lower, cv []float64
	if band >= 0 {
		upper, lower = make([]float64, len(qv)), make([]float64, len(qv))
		dtw.Envelope(qv, band, upper, lower)
	}
	for i, d := range docs {
		if d.Metric == exclude || len(d.Values) != len(qv) {
			continue
		}
		lb := 0.0
		if band >= 0 {
			cv = to64(cv, d.Values)
			lb = dtw.LBKeogh(cv, upper, lower, math.Inf(1))
		}
		order = append(order, bounded{lb, i})
	}
	slices.SortFunc(order, func(a, b bounded) int { return cmp.Compare(a.lb, b.lb) })
	return order
}

func compareMatch(a, b Match) int {
	return cmp.Or(cmp.Compare(a.Distance, b.Distance), cmp.Compare(a.Metric, b.Metric))
}
