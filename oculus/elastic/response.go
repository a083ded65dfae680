package elastic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/go-kale/kale/oculus"
)

// The decoders below read what the server answers. They never trust it:
// every field is checked, and a malformed answer is an error naming what
// was wrong, never a panic (FuzzDecoders).

// hit is one document of a search answer.
type hit struct {
	Index  string          `json:"_index"`
	ID     string          `json:"_id"`
	Source json.RawMessage `json:"_source"`
}

// searchResult is the part of a search answer Kale reads.
type searchResult struct {
	Total int // hits.total (exact when the request tracked total hits)
	Hits  []hit
}

// decodeSearch reads a search answer. hits.total is an object
// {"value": N, "relation": "eq"} since Elasticsearch 7 (and in ZincSearch),
// a bare number before, or absent when total hits were not tracked.
func decodeSearch(body []byte) (searchResult, error) {
	var r struct {
		TimedOut bool `json:"timed_out"`
		Shards   *struct {
			Failed int `json:"failed"`
		} `json:"_shards"`
		Hits *struct {
			Total json.RawMessage `json:"total"`
			Hits  []hit           `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return searchResult{}, fmt.Errorf("unreadable search answer: %w", err)
	}
	if r.Hits == nil {
		return searchResult{}, fmt.Errorf("search answer without hits: %s", excerpt(body))
	}
	if r.TimedOut {
		return searchResult{}, errors.New("the search timed out on the server")
	}
	if r.Shards != nil && r.Shards.Failed > 0 {
		return searchResult{}, fmt.Errorf("the search failed on %d shards: %s", r.Shards.Failed, excerpt(body))
	}
	out := searchResult{Hits: r.Hits.Hits}
	if t := bytes.TrimSpace(r.Hits.Total); len(t) > 0 && !bytes.Equal(t, []byte("null")) {
		var n float64
		if t[0] == '{' {
			var obj struct {
				Value *float64 `json:"value"`
			}
			if err := json.Unmarshal(t, &obj); err != nil || obj.Value == nil {
				return searchResult{}, fmt.Errorf("unreadable hits.total %s", excerpt(t))
			}
			n = *obj.Value
		} else if err := json.Unmarshal(t, &n); err != nil {
			return searchResult{}, fmt.Errorf("unreadable hits.total %s", excerpt(t))
		}
		if n < 0 || n > math.MaxInt32 || n != math.Trunc(n) {
			return searchResult{}, fmt.Errorf("impossible hits.total %v", n)
		}
		out.Total = int(n)
	}
	for i, h := range out.Hits {
		if len(h.Source) == 0 || h.Source[0] != '{' {
			return searchResult{}, fmt.Errorf("hit %d (%q) has no _source object", i, h.ID)
		}
	}
	return out, nil
}

// metricSource is a metric document as stored (see Index's package doc).
type metricSource struct {
	Metric      string    `json:"metric"`
	Fingerprint string    `json:"fingerprint"`
	Shingles    []string  `json:"shingles"`
	Tokens      []string  `json:"tokens"`
	Values      []float32 `json:"values"`
	Flat        bool      `json:"flat"`
}

// decodeDoc reads a metric document's _source into an oculus.Doc with
// points values.
func decodeDoc(src []byte, points int) (oculus.Doc, error) {
	var s metricSource
	if err := json.Unmarshal(src, &s); err != nil {
		return oculus.Doc{}, fmt.Errorf("unreadable metric document: %w", err)
	}
	if s.Metric == "" {
		return oculus.Doc{}, fmt.Errorf("metric document without a metric name: %s", excerpt(src))
	}
	if len(s.Values) != points {
		return oculus.Doc{}, fmt.Errorf("metric document %q has %d values, the generation %d", s.Metric, len(s.Values), points)
	}
	return oculus.Doc{Metric: s.Metric, Values: s.Values, Fingerprint: s.Fingerprint, Flat: s.Flat}, nil
}

// bulkItemResult is the outcome of one action of a bulk request.
type bulkItemResult struct {
	ID     string
	Status int
	Failed bool
	// Skipped: the server never tried the action (ZincSearch stopped
	// before it, or the answer has no item for it).
	Skipped bool
	Reason  string // why it failed
}

// decodeBulk reads a bulk answer for n actions and returns, for each, its
// outcome. Elasticsearch answers one item per action, with an error object
// on failure. ZincSearch stops at the first failing action: it answers the
// items up to it (the failing one marked as a success) and a top-level
// "error" string; decodeBulk marks that item and every later action
// failed. An action without an item is failed.
func decodeBulk(body []byte, n int) ([]bulkItemResult, error) {
	var r struct {
		Errors bool                         `json:"errors"`
		Error  json.RawMessage              `json:"error"`
		Items  []map[string]json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("unreadable bulk answer: %w", err)
	}
	if len(r.Items) > n {
		return nil, fmt.Errorf("bulk answer has %d items for %d actions", len(r.Items), n)
	}
	out := make([]bulkItemResult, n)
	for i, item := range r.Items {
		if len(item) != 1 {
			return nil, fmt.Errorf("bulk item %d has %d actions, want 1", i, len(item))
		}
		for _, raw := range item {
			var it struct {
				ID     string          `json:"_id"`
				Status int             `json:"status"`
				Result string          `json:"result"`
				Error  json.RawMessage `json:"error"`
			}
			if err := json.Unmarshal(raw, &it); err != nil {
				return nil, fmt.Errorf("unreadable bulk item %d: %w", i, err)
			}
			res := bulkItemResult{ID: it.ID, Status: it.Status}
			if it.Status < 200 || it.Status >= 300 || !isNull(it.Error) {
				res.Failed = true
				res.Reason = errorReason(it.Error)
				if res.Reason == "" {
					res.Reason = fmt.Sprintf("status %d, result %q", it.Status, it.Result)
				}
			}
			out[i] = res
		}
	}
	zincErr := errorReason(r.Error)
	if zincErr != "" && len(r.Items) > 0 {
		last := &out[len(r.Items)-1]
		last.Failed, last.Reason = true, zincErr
	}
	for i := len(r.Items); i < n; i++ {
		out[i].Failed, out[i].Skipped = true, true
		if out[i].Reason = "not tried: " + zincErr; zincErr == "" {
			out[i].Reason = "no item in the bulk answer"
		}
	}
	return out, nil
}

// decodeAliases reads GET /_alias/<alias>: {"index": {"aliases": {"alias":
// {}}}, ...} and returns the indexes that carry alias.
func decodeAliases(body []byte, alias string) ([]string, error) {
	var r map[string]struct {
		Aliases map[string]json.RawMessage `json:"aliases"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("unreadable alias answer: %w", err)
	}
	var out []string
	for index, a := range r {
		if _, ok := a.Aliases[alias]; ok && index != "" {
			out = append(out, index)
		}
	}
	return out, nil
}

// stateSource is the stored description of one committed generation, in
// the <prefix>-state index under the id of its concrete index.
type stateSource struct {
	Index string `json:"index"`
	From  int64  `json:"from"`
	Until int64  `json:"until"`
	Point int    `json:"points"`
	Docs  int    `json:"docs"`
	Built string `json:"built"` // RFC 3339 with nanoseconds
	// Building marks the document Build writes for a generation being
	// filled, replaced by Commit: one left behind names an abandoned
	// generation for sweep to delete.
	Building bool `json:"building,omitempty"`
}

// generation describes a committed generation.
type generation struct {
	index  string
	window oculus.Window
	points int
	docs   int
	built  time.Time
}

func (g generation) source() stateSource {
	return stateSource{Index: g.index, From: g.window.From, Until: g.window.Until, Point: g.points,
		Docs: g.docs, Built: g.built.UTC().Format(time.RFC3339Nano)}
}

// decodeGeneration reads a state document.
func decodeGeneration(src []byte) (generation, error) {
	var s stateSource
	if err := json.Unmarshal(src, &s); err != nil {
		return generation{}, fmt.Errorf("unreadable state document: %w", err)
	}
	built, err := time.Parse(time.RFC3339Nano, s.Built)
	g := generation{index: s.Index, window: oculus.Window{From: s.From, Until: s.Until}, points: s.Point, docs: s.Docs, built: built}
	switch {
	case err != nil:
		return generation{}, fmt.Errorf("state document of %q: unreadable build time %q", s.Index, s.Built)
	case s.Index == "" || !g.window.Valid() || s.Point < 2 || s.Docs < 0:
		return generation{}, fmt.Errorf("state document describes no valid generation: %s", excerpt(src))
	case s.Building:
		return generation{}, fmt.Errorf("state document of %q: the generation was never committed", s.Index)
	}
	return g, nil
}

// collectionSource is a stored collection: the name, searchable, and the
// whole collection as a JSON string that is stored but not indexed (so no
// member's values become search fields, in either engine).
type collectionSource struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Collection string `json:"collection"`
}

// decodeCollection reads a stored collection.
func decodeCollection(src []byte) (oculus.Collection, error) {
	var s collectionSource
	if err := json.Unmarshal(src, &s); err != nil {
		return oculus.Collection{}, fmt.Errorf("unreadable collection document: %w", err)
	}
	var c oculus.Collection
	if err := json.Unmarshal([]byte(s.Collection), &c); err != nil {
		return oculus.Collection{}, fmt.Errorf("collection document %q holds no readable collection: %w", s.ID, err)
	}
	if c.ID == "" || c.ID != s.ID {
		return oculus.Collection{}, fmt.Errorf("collection document %q holds collection %q", s.ID, c.ID)
	}
	return c, nil
}

// errorReason renders an error value of an answer: Elasticsearch's object
// {"type": ..., "reason": ..., "caused_by": ...}, ZincSearch's string, or
// anything else as its JSON. It returns "" for no error.
func errorReason(raw json.RawMessage) string {
	if isNull(raw) {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var e struct {
		Type     string `json:"type"`
		Reason   string `json:"reason"`
		CausedBy *struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		} `json:"caused_by"`
	}
	if json.Unmarshal(raw, &e) == nil && (e.Type != "" || e.Reason != "") {
		r := typeReason(e.Type, e.Reason)
		if e.CausedBy != nil && (e.CausedBy.Type != "" || e.CausedBy.Reason != "") {
			r += " (caused by " + typeReason(e.CausedBy.Type, e.CausedBy.Reason) + ")"
		}
		return r
	}
	if t := bytes.TrimSpace(raw); bytes.Equal(t, []byte("{}")) {
		return "failed (the server gave no reason)" // ZincSearch renders a Go error as {}
	}
	return excerpt(raw)
}

// typeReason joins an error's type and reason, either may be empty.
func typeReason(typ, reason string) string {
	switch {
	case typ == "":
		return reason
	case reason == "":
		return typ
	}
	return typ + ": " + reason
}

// decodeError reads the error of a non-2xx answer: {"error": ..., "status":
// N} (Elasticsearch: error is an object; ZincSearch: a string). ok is false
// when the body is not such an error, e.g. a plain "404 page not found"
// from a server that has no such route.
func decodeError(body []byte) (reason string, ok bool) {
	var r struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &r) != nil || isNull(r.Error) {
		return "", false
	}
	if reason = errorReason(r.Error); reason == "" {
		reason = "an empty error (the server gave no reason)"
	}
	return reason, true
}

// isNull reports whether raw is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// excerpt returns the start of a server's answer for an error message.
func excerpt(b []byte) string {
	const limit = 300
	b = bytes.TrimSpace(b)
	if len(b) > limit {
		return strings.ToValidUTF8(string(b[:limit]), "") + "..."
	}
	return strings.ToValidUTF8(string(b), "?")
}
