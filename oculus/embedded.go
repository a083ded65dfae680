package oculus

import (
	"cmp"
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kale/kale/internal/fsutil"
)

// EmbeddedOptions configures NewEmbedded.
type EmbeddedOptions struct {
	// Dir holds the collections (collections.json); "" keeps them in
	// memory only. Shapes are not written to disk: the importer rebuilds
	// them from the store in seconds at start.
	Dir string
	// Now stamps generations and collections (time.Now when nil).
	Now func() time.Time
}

// Embedded is the in-process Index: every shape of the current generation
// in one contiguous []float32, searched by a full scan with the UCR
// suite's cascade of bounds (see Candidates). The scan reads every shape,
// so unlike a text index of fingerprint words it cannot miss a metric
// whose values are close but whose words differ (noise turns flats into
// inc and dec). Commit also keeps, for the scan's bounds, every shape as
// 15-bit integers (2 bytes a point, lbswar.go) and its envelope quantised
// to a byte a point a side (2 bytes a point, lbenv.go): with the float32
// values (4 bytes a point), 8 bytes a point, 96 MB for 100,000 shapes of
// 120 points. docs/oculus.md has the figures.
type Embedded struct {
	opts    EmbeddedOptions
	cur     atomic.Pointer[generation]
	limited atomic.Uint64 // searches cut short by Query.ScanLimit

	mu          sync.Mutex // guards collections and the file
	collections map[string]Collection
}

type generation struct {
	window Window
	points int
	built  time.Time
	names  []string
	fps    []string
	flat   []bool
	values []float32 // len(names)*points
	byName map[string]int32
	// Built by Commit for the scan's bounds; nil in a generation built
	// otherwise, and the scan then does without them.
	env *envelopes // every shape's quantised envelope (lbenv.go)
	q15 *quantised // every shape on a 15-bit grid (lbswar.go)
}

func (g *generation) doc(i int) Doc {
	p := g.points
	return Doc{Metric: g.names[i], Values: g.values[i*p : (i+1)*p : (i+1)*p], Fingerprint: g.fps[i], Flat: g.flat[i]}
}

// NewEmbedded opens the embedded index, reading the collections from
// opts.Dir when it holds any.
func NewEmbedded(opts EmbeddedOptions) (*Embedded, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	e := &Embedded{opts: opts, collections: map[string]Collection{}}
	if opts.Dir == "" {
		return e, nil
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create the Oculus directory: %w", err)
	}
	b, err := os.ReadFile(e.collectionsFile())
	if errors.Is(err, os.ErrNotExist) {
		return e, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the collections: %w", err)
	}
	var list []Collection
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("cannot read the collections in %s: %w (restore it from a backup, or move it away to start with none)", e.collectionsFile(), err)
	}
	for _, c := range list {
		e.collections[c.ID] = c
	}
	return e, nil
}

func (e *Embedded) collectionsFile() string { return filepath.Join(e.opts.Dir, "collections.json") }

// Build starts a generation.
func (e *Embedded) Build(ctx context.Context, w Window, n int) (Builder, error) {
	if !w.Valid() || n < 2 {
		return nil, fmt.Errorf("oculus: cannot build over window %v with %d points", w, n)
	}
	return &embeddedBuilder{e: e, g: &generation{window: w, points: n, byName: map[string]int32{}}}, nil
}

type embeddedBuilder struct {
	e    *Embedded
	g    *generation
	done bool
}

func (b *embeddedBuilder) Add(ctx context.Context, docs []Doc) error {
	if b.done {
		return errors.New("oculus: Add after Commit or Abort")
	}
	g := b.g
	for _, d := range docs {
		if len(d.Values) != g.points {
			return fmt.Errorf("oculus: %s has %d values, the generation %d", d.Metric, len(d.Values), g.points)
		}
		if i, ok := g.byName[d.Metric]; ok {
			copy(g.values[int(i)*g.points:], d.Values)
			g.fps[i], g.flat[i] = d.Fingerprint, d.Flat
			continue
		}
		g.byName[d.Metric] = int32(len(g.names))
		g.names = append(g.names, d.Metric)
		g.fps = append(g.fps, d.Fingerprint)
		g.flat = append(g.flat, d.Flat)
		g.values = append(g.values, d.Values...)
	}
	return ctx.Err()
}

func (b *embeddedBuilder) Commit(ctx context.Context) error {
	if b.done {
		return errors.New("oculus: Commit after Commit or Abort")
	}
	b.done = true
	b.g.built = b.e.opts.Now()
	b.g.env = b.g.buildEnvelopes(defaultEnvelopeBand(b.g.points))
	b.g.q15 = b.g.buildQuantised()
	b.e.cur.Store(b.g)
	return nil
}

func (b *embeddedBuilder) Abort(ctx context.Context) error {
	b.done = true
	b.g = nil
	return nil
}

// Get returns a metric's document.
func (e *Embedded) Get(ctx context.Context, metric string) (Doc, error) {
	g := e.cur.Load()
	if g == nil {
		return Doc{}, ErrNoIndex
	}
	i, ok := g.byName[metric]
	if !ok {
		return Doc{}, ErrNotIndexed
	}
	return g.doc(int(i)), nil
}

// Stats describes the current generation.
func (e *Embedded) Stats(ctx context.Context) (Stats, error) {
	g := e.cur.Load()
	if g == nil {
		return Stats{}, nil
	}
	return Stats{Docs: len(g.names), Window: g.window, Points: g.points, Built: g.built}, nil
}

// Candidates returns the n documents closest to the query by exact DTW
// within the query's band, found by the UCR suite's cascade of ever
// dearer lower bounds over every shape (Rakthanmanon et al., KDD 2012),
// on GOMAXPROCS goroutines: LB_Keogh of every shape (on its 15-bit copy);
// exact DTW of the n shapes of least bound, which sets a first n-th best
// distance; then, in increasing order of bound until a bound exceeds the
// current n-th best, LB_Keogh of the query against the shape's stored
// envelope, Lemire's LB_Improved, and DTW pruned and abandoned at the n-th
// best with LB_Improved's cumulative bounds (dtw.DistanceAbandonCB).
// generation.nearest (lbscan.go) has the details. Every bound is ≤ the
// distance, so the answer is exact: the same distances as a full DTW of
// every shape (which shape wins a tie at the n-th distance may differ);
// unless q.ScanLimit cut the scan short (counted by ScanLimited), and the
// answer is then the exact n nearest among the q.ScanLimit shapes of
// least LB_Keogh bound.
// The documents' Values are shared with the index: read them, do not
// modify them. Without a band (q.Band < 0) a tenth of the points is used,
// which no longer bounds unconstrained DTW: the answer is then
// approximate.
func (e *Embedded) Candidates(ctx context.Context, q Query, n int) ([]Doc, error) {
	g := e.cur.Load()
	if g == nil {
		return nil, ErrNoIndex
	}
	if len(q.Values) != g.points {
		return nil, fmt.Errorf("oculus: the query has %d values, the index %d", len(q.Values), g.points)
	}
	for _, x := range q.Values {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, fmt.Errorf("%w: the query holds %v: every distance to it would be infinite", ErrBadQuery, x)
		}
	}
	if n <= 0 || len(g.names) == 0 {
		return nil, nil
	}
	band := q.Band
	if band < 0 || band >= g.points {
		band = max(1, g.points/10)
	}
	qv := make([]float64, g.points)
	for i, x := range q.Values {
		qv[i] = float64(x)
	}
	exclude := int32(-1)
	if i, ok := g.byName[q.Exclude]; ok {
		exclude = i
	}
	var st scanStats
	all, err := g.nearest(ctx, qv, band, exclude, n, q.ScanLimit, &st)
	if st.Limited {
		e.limited.Add(1)
	}
	if err != nil {
		return nil, err
	}
	out := make([]Doc, len(all))
	for i, b := range all {
		out[i] = g.doc(int(b.i))
	}
	return out, nil
}

// shapes64 copies the shapes of idx into c[0], c[1], .. as float64, two
// at a time: the shapes lie at unrelated addresses, and two streams let
// the memory fetch them together.
func (g *generation) shapes64(c [][]float64, idx []int32) {
	p := g.points
	k := 0
	for ; k+2 <= len(idx); k += 2 {
		x := g.values[int(idx[k])*p : int(idx[k]+1)*p]
		y := g.values[int(idx[k+1])*p : int(idx[k+1]+1)*p]
		cx, cy := c[k][:len(x)], c[k+1][:len(x)]
		y = y[:len(x)]
		for j, v := range x {
			cx[j], cy[j] = float64(v), float64(y[j])
		}
	}
	if k < len(idx) {
		g.shape64(c[k], int(idx[k]))
	}
}

// shape64 copies shape i into c as float64.
func (g *generation) shape64(c []float64, i int) []float64 {
	for j, x := range g.values[i*g.points : (i+1)*g.points] {
		c[j] = float64(x)
	}
	return c
}

// topN keeps the n smallest distances offered, safe for concurrent use.
type topN struct {
	mu  sync.Mutex
	n   int
	h   boundHeap
	lim atomic.Uint64 // math.Float64bits of the n-th best, +Inf until full
}

func newTopN(n int) *topN {
	t := &topN{n: n, h: make(boundHeap, 0, n)}
	t.lim.Store(math.Float64bits(math.Inf(1)))
	return t
}

func (t *topN) limit() float64 { return math.Float64frombits(t.lim.Load()) }

func (t *topN) offer(d float64, i int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case len(t.h) < t.n:
		heap.Push(&t.h, bound{d, i})
	case d < t.h[0].d:
		t.h[0] = bound{d, i}
		heap.Fix(&t.h, 0)
	default:
		return
	}
	if len(t.h) == t.n {
		t.lim.Store(math.Float64bits(t.h[0].d))
	}
}

func (t *topN) sorted() []bound {
	out := slices.Clone(t.h)
	slices.SortFunc(out, func(a, b bound) int { return cmp.Or(cmp.Compare(a.d, b.d), cmp.Compare(a.i, b.i)) })
	return out
}

type bound struct {
	d float64
	i int32
}

// boundHeap is a max-heap by d: its top is the worst of the best n.
type boundHeap []bound

func (h boundHeap) Len() int           { return len(h) }
func (h boundHeap) Less(i, j int) bool { return h[i].d > h[j].d }
func (h boundHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *boundHeap) Push(x any)        { *h = append(*h, x.(bound)) }
func (h *boundHeap) Pop() any          { old := *h; x := old[len(old)-1]; *h = old[:len(old)-1]; return x }

// PutCollection stores c.
func (e *Embedded) PutCollection(ctx context.Context, c Collection) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for id, o := range e.collections {
		if id != c.ID && o.Name == c.Name {
			return ErrCollectionExists
		}
	}
	old, had := e.collections[c.ID]
	e.collections[c.ID] = c
	if err := e.saveLocked(); err != nil {
		if had {
			e.collections[c.ID] = old
		} else {
			delete(e.collections, c.ID)
		}
		return err
	}
	return nil
}

// Collections lists every collection by name.
func (e *Embedded) Collections(ctx context.Context) ([]Collection, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Collection, 0, len(e.collections))
	for _, c := range e.collections {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Collection) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// Collection returns one collection.
func (e *Embedded) Collection(ctx context.Context, id string) (Collection, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.collections[id]
	if !ok {
		return Collection{}, ErrCollectionNotFound
	}
	return c, nil
}

// DeleteCollection removes one.
func (e *Embedded) DeleteCollection(ctx context.Context, id string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.collections[id]
	if !ok {
		return ErrCollectionNotFound
	}
	delete(e.collections, id)
	if err := e.saveLocked(); err != nil {
		e.collections[id] = c
		return err
	}
	return nil
}

// saveLocked writes every collection to a temporary file, syncs it and
// renames it over the old one, so a crash leaves the old or the new set.
func (e *Embedded) saveLocked() error {
	if e.opts.Dir == "" {
		return nil
	}
	list := make([]Collection, 0, len(e.collections))
	for _, c := range e.collections {
		list = append(list, c)
	}
	slices.SortFunc(list, func(a, b Collection) int { return cmp.Compare(a.ID, b.ID) })
	b, err := json.Marshal(list)
	if err != nil {
		return err
	}
	tmp := e.collectionsFile() + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("cannot save the collections: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, e.collectionsFile())
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("cannot save the collections: %w", err)
	}
	_ = fsutil.SyncDir(e.opts.Dir) // the file is written; the rename's durability is best effort
	return nil
}

// Ping always answers: the index is in process.
func (e *Embedded) Ping(ctx context.Context) error { return nil }

// Close drops the shapes; collections are already on disk.
func (e *Embedded) Close() error {
	e.cur.Store(nil)
	return nil
}

// ScanLimited returns how many searches so far stopped at their
// Query.ScanLimit, whose answers are then the nearest among the shapes
// scanned rather than among all.
func (e *Embedded) ScanLimited() uint64 { return e.limited.Load() }

// Each calls fn for every document of the current generation, in the
// order they were added, until fn returns false. The documents' Values
// are shared with the index: read them, do not modify them.
func (e *Embedded) Each(fn func(Doc) bool) {
	g := e.cur.Load()
	if g == nil {
		return
	}
	for i := range g.names {
		if !fn(g.doc(i)) {
			return
		}
	}
}
