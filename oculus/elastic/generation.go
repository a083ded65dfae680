package elastic

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-kale/kale/oculus"
)

// bulkBytes is the size above which Add splits its bulk requests.
const bulkBytes = 4 << 20

// Build creates a new concrete index <prefix>-metrics-<unix nanos> with the
// metrics mapping. The current generation keeps answering until Commit.
func (x *Index) Build(ctx context.Context, w oculus.Window, n int) (oculus.Builder, error) {
	if !w.Valid() || n < 2 {
		return nil, fmt.Errorf("oculus/elastic: cannot build over window %v with %d points", w, n)
	}
	x.sweep(ctx)
	var lastErr error
	for range 3 { // a name taken in the same nanosecond gets another
		name := x.alias + "-" + strconv.FormatInt(time.Now().UnixNano(), 10)
		// Registered in the state index first, so that sweep finds the
		// index if this process dies, or ctx ends, before Commit or Abort.
		src, _ := json.Marshal(stateSource{Index: name, From: w.From, Until: w.Until, Point: n,
			Built: time.Now().UTC().Format(time.RFC3339Nano), Building: true})
		if err := x.putDoc(ctx, x.state, name, src, false, "the registration of generation "+name); err != nil {
			return nil, err
		}
		status, body, err := x.do(ctx, http.MethodPut, "/"+name, []byte(metricsMapping))
		if err != nil {
			// The server may have created it all the same.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), x.timeout)
			x.dropGeneration(cctx, name)
			cancel()
			return nil, err
		}
		if status/100 == 2 {
			x.log.Debug("oculus generation started", "index", name)
			return &builder{x: x, index: name, window: w, points: n, ids: map[string]struct{}{}}, nil
		}
		x.deleteState(ctx, name)
		lastErr = x.statusError("create index "+name, status, body)
	}
	return nil, lastErr
}

// orphanAge is how old a generation that the alias does not name must be
// before sweep deletes it: far longer than any import, so that it never
// deletes one being filled by another Kale process.
const orphanAge = time.Hour

// sweep deletes the generations a crash left behind: those registered in
// the state index (Build registers each one), not named by the alias, and
// created (per the nanoseconds in their name) more than x.orphanAge ago.
// That covers a process that died between Build and Commit, and one that
// died between swapping the alias and deleting the previous generation.
// Failures are logged: the import goes on.
func (x *Index) sweep(ctx context.Context) {
	names, err := x.registered(ctx)
	var current []string
	if err == nil {
		current, err = x.aliasIndexes(ctx)
	}
	if err != nil {
		x.log.Warn("oculus/elastic: cannot list the generations to delete abandoned ones", "err", err)
		return
	}
	for _, name := range names {
		nanos, err := strconv.ParseInt(strings.TrimPrefix(name, x.alias+"-"), 10, 64)
		if err != nil || slices.Contains(current, name) || time.Since(time.Unix(0, nanos)) < x.orphanAge {
			continue
		}
		x.log.Warn("oculus/elastic: deleting a generation abandoned by a stopped import", "index", name,
			"created", time.Unix(0, nanos).UTC())
		x.dropGeneration(ctx, name)
	}
}

// registered lists the generations registered in the state index (every
// document there whose id is one of this prefix's generation names).
func (x *Index) registered(ctx context.Context) ([]string, error) {
	r, err := x.search(ctx, x.state, map[string]any{"size": maxCandidates, "_source": []string{"index"},
		"query": map[string]any{"match_all": map[string]any{}}})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, h := range r.Hits {
		if strings.HasPrefix(h.ID, x.alias+"-") {
			names = append(names, h.ID)
		}
	}
	return names, nil
}

// builder fills one concrete index.
type builder struct {
	x      *Index
	index  string
	window oculus.Window
	points int
	ids    map[string]struct{} // metrics indexed so far

	done bool // Commit succeeded or Abort was called
}

// Add bulk-indexes docs with id = metric name, so a metric added twice
// keeps its last document. Actions that fail are retried once; then Add
// returns an error naming the first failure.
func (b *builder) Add(ctx context.Context, docs []oculus.Doc) error {
	if b.done {
		return errors.New("oculus/elastic: Add after Commit or Abort")
	}
	var (
		buf   bytes.Buffer
		batch []string // metric of each action in buf
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := b.send(ctx, buf.Bytes(), batch)
		buf.Reset()
		batch = batch[:0]
		return err
	}
	for _, d := range docs {
		if err := b.encode(&buf, d); err != nil {
			return err
		}
		batch = append(batch, d.Metric)
		if buf.Len() >= bulkBytes {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	return ctx.Err()
}

// encode appends d's index action and document to buf.
func (b *builder) encode(buf *bytes.Buffer, d oculus.Doc) error {
	if d.Metric == "" {
		return errors.New("oculus/elastic: a document without a metric name")
	}
	if len(d.Values) != b.points {
		return fmt.Errorf("oculus/elastic: %s has %d values, the generation %d", d.Metric, len(d.Values), b.points)
	}
	for _, v := range d.Values {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("oculus/elastic: %s has a value that is not finite (%v)", d.Metric, v)
		}
	}
	shingles, err := docShingles(d.Fingerprint)
	if err != nil {
		return fmt.Errorf("oculus/elastic: %s: %w", d.Metric, err)
	}
	action, err := json.Marshal(map[string]any{"index": map[string]string{"_index": b.index, "_id": d.Metric}})
	if err != nil {
		return err
	}
	src, err := json.Marshal(metricSource{Metric: d.Metric, Fingerprint: d.Fingerprint, Shingles: shingles,
		Tokens: docTokens(d.Values), Values: d.Values, Flat: d.Flat})
	if err != nil {
		return fmt.Errorf("oculus/elastic: cannot encode %s: %w", d.Metric, err)
	}
	buf.Write(action)
	buf.WriteByte('\n')
	buf.Write(src)
	buf.WriteByte('\n')
	return nil
}

// send writes one bulk body and retries its failed actions once, after a
// pause (a failure is often a full queue: 429 on Elasticsearch).
func (b *builder) send(ctx context.Context, body []byte, metrics []string) error {
	lines := bytes.SplitAfter(body, []byte("\n")) // action, document, action, ...
	pending := make([]int, len(metrics))
	for i := range pending {
		pending[i] = i
	}
	var first string // the first failure of the last attempt
	for attempt := range 2 {
		if attempt > 0 {
			b.x.log.Warn("oculus/elastic: retrying failed bulk actions", "index", b.index, "failed", len(pending), "first", first)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
			var retry bytes.Buffer
			for _, i := range pending {
				retry.Write(lines[2*i])
				retry.Write(lines[2*i+1])
			}
			body = retry.Bytes()
		}
		items, err := b.x.bulk(ctx, b.index, body, len(pending), false)
		if err != nil {
			return err
		}
		var failed, skipped []int
		first = ""
		for k, it := range items {
			i := pending[k]
			switch {
			case !it.Failed:
				b.ids[metrics[i]] = struct{}{}
			case it.Skipped:
				skipped = append(skipped, i)
			default:
				failed = append(failed, i)
				if first == "" {
					first = fmt.Sprintf("%s: %s", metrics[i], it.Reason)
				}
			}
		}
		if len(failed)+len(skipped) == 0 {
			return nil
		}
		if first == "" {
			first = fmt.Sprintf("%s: %s", metrics[skipped[0]], items[slices.Index(pending, skipped[0])].Reason)
		}
		// The untried first: ZincSearch stops at a failing action, so one
		// that fails again must not keep them from being tried.
		pending = append(skipped, failed...)
	}
	return fmt.Errorf("oculus/elastic: %d of %d documents could not be indexed into %s, even on retry; the first: %s",
		len(pending), len(metrics), b.index, first)
}

// Commit makes the generation the current one: it waits until every
// document added is searchable, writes the generation's state document,
// swaps the alias in one _aliases request, and deletes the previous
// concrete index (a failure there is only logged).
func (b *builder) Commit(ctx context.Context) error {
	if b.done {
		return errors.New("oculus/elastic: Commit after Commit or Abort")
	}
	x := b.x
	want := len(b.ids)
	// No _refresh: Elasticsearch makes the writes searchable within its
	// refresh_interval (1 s), which the poll waits for, while ZincSearch
	// v0.4.10 answers _refresh by closing and reopening the index, which
	// races with its write-ahead-log consumer: the consumer can drop the
	// reopened shard from its list, and the index then never shows the
	// documents (seen in TestReadDuringSwap before this was removed).
	err := x.waitFor(ctx, fmt.Sprintf("making the %d documents of %s searchable", want, b.index), func() (bool, string, error) {
		r, err := x.search(ctx, b.index, map[string]any{"size": 0, "track_total_hits": true})
		return r.Total >= want, fmt.Sprintf("%d searchable", r.Total), err
	})
	if err != nil {
		return err
	}
	g := generation{index: b.index, window: b.window, points: b.points, docs: want, built: time.Now().UTC()}
	if err := x.putState(ctx, g); err != nil {
		return err
	}
	old, err := x.swapAlias(ctx, b.index)
	if err != nil {
		return err
	}
	b.done = true
	x.remember(g)
	x.log.Info("oculus generation committed", "index", b.index, "docs", want, "previous", old)
	for _, o := range old {
		if o != b.index {
			x.dropGeneration(ctx, o)
		}
	}
	return nil
}

// swapAlias points the alias at index alone, in one _aliases request
// (atomic on Elasticsearch; ZincSearch applies the add before the remove,
// so the alias briefly holds both, and current picks the newer). It
// returns the indexes the alias held before. When a previous index
// vanished between the lookup and the swap (Elasticsearch then refuses
// the whole request with 404), it looks again once.
func (x *Index) swapAlias(ctx context.Context, index string) ([]string, error) {
	for attempt := 0; ; attempt++ {
		old, err := x.aliasIndexes(ctx)
		if err != nil {
			return nil, err
		}
		actions := []any{}
		for _, o := range old {
			if o != index {
				actions = append(actions, map[string]any{"remove": map[string]string{"index": o, "alias": x.alias}})
			}
		}
		actions = append(actions, map[string]any{"add": map[string]string{"index": index, "alias": x.alias}})
		body, _ := json.Marshal(map[string]any{"actions": actions})
		status, resp, err := x.do(ctx, http.MethodPost, "/_aliases", body)
		if err != nil {
			return nil, err
		}
		if status/100 == 2 {
			return old, nil
		}
		if status != http.StatusNotFound || attempt > 0 {
			return nil, x.statusError("swap alias "+x.alias+" to "+index, status, resp)
		}
	}
}

// Abort deletes the new concrete index; the current generation stays.
// After Commit or Abort it does nothing. The generation stays registered in
// the state index for an hour, until a later Build's sweep: a bulk write
// that Add gave up on (its context ended) may still be applied by the
// server after the delete, and create the index again (both engines create
// a missing index on a write), so only the sweep can be sure it is gone.
func (b *builder) Abort(ctx context.Context) error {
	if b.done {
		return nil
	}
	b.done = true
	return b.x.deleteIndex(ctx, b.index)
}

// putState writes g's state document and waits until it is searchable.
func (x *Index) putState(ctx context.Context, g generation) error {
	src, err := json.Marshal(g.source())
	if err != nil {
		return err
	}
	if err := x.putDoc(ctx, x.state, g.index, src, true, "the state of "+g.index); err != nil {
		return err
	}
	return x.waitFor(ctx, "making the state of "+g.index+" searchable", func() (bool, string, error) {
		_, found, err := x.readState(ctx, g.index)
		return found, "not yet", err
	})
}

// deleteState deletes the state document of index, logging a failure.
func (x *Index) deleteState(ctx context.Context, index string) {
	action, _ := json.Marshal(map[string]any{"delete": map[string]string{"_index": x.state, "_id": index}})
	items, err := x.bulk(ctx, x.state, append(action, '\n'), 1, false)
	switch {
	case err != nil:
		x.log.Warn("oculus/elastic: cannot delete a generation's state document", "index", index, "err", err)
	case items[0].Failed && items[0].Status != http.StatusNotFound && !strings.Contains(items[0].Reason, "no reason"):
		x.log.Warn("oculus/elastic: cannot delete a generation's state document", "index", index, "err", items[0].Reason)
	}
}

// dropGeneration deletes a replaced generation's index and state, logging
// failures: the new generation is already current.
func (x *Index) dropGeneration(ctx context.Context, index string) {
	if err := x.deleteIndex(ctx, index); err != nil {
		x.log.Warn("oculus/elastic: cannot delete the previous generation; delete it by hand", "index", index, "err", err)
	}
	x.deleteState(ctx, index)
	x.mu.Lock()
	delete(x.gens, index)
	x.mu.Unlock()
}

// remember caches a committed generation's state (state documents never
// change).
func (x *Index) remember(g generation) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(x.gens) > 16 { // only the last few are ever asked for
		clear(x.gens)
	}
	x.gens[g.index] = g
}

// readState fetches the state document of index; found is false when
// there is none, or only the one Build registers before Commit.
func (x *Index) readState(ctx context.Context, index string) (generation, bool, error) {
	r, err := x.search(ctx, x.state, map[string]any{"size": 1, "query": map[string]any{"ids": map[string]any{"values": []string{index}}}})
	if err != nil || len(r.Hits) == 0 {
		return generation{}, false, err
	}
	var s stateSource
	if json.Unmarshal(r.Hits[0].Source, &s) == nil && s.Building {
		return generation{}, false, nil // registered by Build, not committed (yet)
	}
	g, err := decodeGeneration(r.Hits[0].Source)
	if err != nil {
		return generation{}, false, fmt.Errorf("oculus/elastic: %s: %w", x.state, err)
	}
	if g.index != index {
		return generation{}, false, fmt.Errorf("oculus/elastic: the state document %s describes %s", index, g.index)
	}
	return g, true, nil
}

// aliasIndexes lists the concrete indexes behind the alias (none before
// the first Commit).
func (x *Index) aliasIndexes(ctx context.Context) ([]string, error) {
	status, body, err := x.do(ctx, http.MethodGet, "/_alias/"+x.alias, nil)
	if err != nil {
		return nil, err
	}
	switch {
	case status == http.StatusNotFound: // Elasticsearch: no such alias
		return nil, nil
	case status/100 != 2:
		return nil, x.statusError("GET /_alias/"+x.alias, status, body)
	}
	names, err := decodeAliases(body, x.alias)
	if err != nil {
		return nil, fmt.Errorf("oculus/elastic: GET /_alias/%s: %w", x.alias, err)
	}
	return names, nil
}

// current returns the current generation: the newest concrete index
// behind the alias (Elasticsearch swaps it atomically; ZincSearch adds the
// new index before it removes the old one, so for a moment the alias
// holds both) and its state. ok is false before the first Commit.
func (x *Index) current(ctx context.Context) (g generation, ok bool, err error) {
	names, err := x.aliasIndexes(ctx)
	if err != nil || len(names) == 0 {
		return generation{}, false, err
	}
	name := slices.MaxFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(len(a), len(b)), cmp.Compare(a, b)) // the suffixes are decimal nanoseconds
	})
	x.mu.Lock()
	g, ok = x.gens[name]
	x.mu.Unlock()
	if ok {
		return g, true, nil
	}
	g, found, err := x.readState(ctx, name)
	if err != nil {
		return generation{}, false, err
	}
	if !found {
		return generation{}, false, fmt.Errorf("oculus/elastic: the alias %s points at %s, which has no state document in %s: was the alias changed by hand? The next import repairs it",
			x.alias, name, x.state)
	}
	x.remember(g)
	return g, true, nil
}

// onCurrent runs fn on the current generation. When fn fails with an
// error answer or ErrNotIndexed, and a Commit has meanwhile replaced the
// generation (its index may be gone, or going), it runs fn once more on
// the new one: so a metric present in both generations is never reported
// missing during a swap.
func (x *Index) onCurrent(ctx context.Context, fn func(g generation) error) error {
	g, ok, err := x.current(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return oculus.ErrNoIndex
	}
	if x.afterResolve != nil {
		x.afterResolve(g)
	}
	err = fn(g)
	var apiErr *apiError
	if err == nil || !(errors.As(err, &apiErr) || errors.Is(err, oculus.ErrNotIndexed)) || ctx.Err() != nil {
		return err
	}
	now, ok, cerr := x.current(ctx)
	if cerr != nil || !ok || now.index == g.index {
		return err
	}
	x.log.Debug("oculus/elastic: the generation was replaced during a read; reading the new one", "old", g.index, "new", now.index, "err", err)
	return fn(now)
}

// Get returns a metric's document in the current generation.
func (x *Index) Get(ctx context.Context, metric string) (oculus.Doc, error) {
	var d oculus.Doc
	err := x.onCurrent(ctx, func(g generation) error {
		r, err := x.search(ctx, g.index, map[string]any{
			"size": 1, "_source": metricFields,
			"query": term("metric", metric),
		})
		if err != nil {
			return err
		}
		if len(r.Hits) == 0 {
			return oculus.ErrNotIndexed
		}
		d, err = decodeDoc(r.Hits[0].Source, g.points)
		if err != nil {
			return fmt.Errorf("oculus/elastic: %s: %w", g.index, err)
		}
		if d.Metric != metric {
			return fmt.Errorf("oculus/elastic: %s answered %q for metric %q", g.index, d.Metric, metric)
		}
		return nil
	})
	return d, err
}

// Candidates returns up to n documents of the current generation that
// share positional tokens or shingles with q (see the package doc): the
// engine's best n×Oversample by score, of which the n nearest by exact
// DTW within q.Band (oculus.Nearest).
func (x *Index) Candidates(ctx context.Context, q oculus.Query, n int) ([]oculus.Doc, error) {
	var out []oculus.Doc
	err := x.onCurrent(ctx, func(g generation) error {
		if len(q.Values) != g.points {
			return fmt.Errorf("oculus/elastic: the query has %d values, the index %d", len(q.Values), g.points)
		}
		if n <= 0 {
			return nil
		}
		fetch := n
		if x.cand.Oversample > 1 {
			fetch = n * x.cand.Oversample
		}
		body, err := candidateQuery(q, fetch, x.cand)
		if err != nil {
			return err
		}
		r, err := x.search(ctx, g.index, body)
		if err != nil {
			return err
		}
		out = make([]oculus.Doc, 0, len(r.Hits))
		for _, h := range r.Hits {
			d, err := decodeDoc(h.Source, g.points)
			if err != nil {
				return fmt.Errorf("oculus/elastic: %s: %w", g.index, err)
			}
			if d.Metric != q.Exclude {
				out = append(out, d)
			}
		}
		if len(out) > n {
			out = oculus.Nearest(q.Values, out, n, q.Band, q.Exclude)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Stats describes the current generation, from its state document.
func (x *Index) Stats(ctx context.Context) (oculus.Stats, error) {
	g, ok, err := x.current(ctx)
	if err != nil || !ok {
		return oculus.Stats{}, err
	}
	return oculus.Stats{Docs: g.docs, Window: g.window, Points: g.points, Built: g.built}, nil
}

// Drop deletes every index of the prefix: the generations (behind the
// alias, or registered in the state index), the state index and the
// collections index, collections included. It is for throw-away prefixes
// (kale bench oculus); an Index is unusable after it until New runs
// again.
func (x *Index) Drop(ctx context.Context) error {
	gens, err := x.aliasIndexes(ctx)
	if err != nil {
		return err
	}
	names, err := x.registered(ctx)
	if err != nil {
		return err
	}
	for _, name := range names {
		if !slices.Contains(gens, name) {
			gens = append(gens, name)
		}
	}
	var errs []error
	for _, name := range append(gens, x.state, x.collections) {
		if err := x.deleteIndex(ctx, name); err != nil {
			errs = append(errs, err)
		}
	}
	x.mu.Lock()
	clear(x.gens)
	x.mu.Unlock()
	return errors.Join(errs...)
}
