// Package replay feeds recorded series to an ensemble point by point,
// exactly as the streaming analyzer sees them, and returns one score per
// input row: `kale replay` and `kale bench nab` are built on it.
//
// What the analyzer sees is the store: points sorted by time, one per
// timestamp (the last written wins), the last FullDuration of them. Replay
// keeps that window as rows arrive; after each row it judges the newest
// point at now = the newest timestamp seen so far (a row that goes back in
// time, as one NAB file does, is stored in its place and judged at the
// newest time, as a late point would be). The alert suppression is the
// analyzer's: after an alert, the metric does not alert again for
// SuppressFor seconds.
package replay

import (
	"errors"
	"math"
	"slices"

	"github.com/go-kale/kale/algorithms"
)

// ErrNotFinite marks a row whose value is NaN or ±Inf: Horizon refuses such
// points, so the analyzer never sees them; replay does the same (the row
// gets Score 0 and is not stored).
var ErrNotFinite = errors.New("NotFinite")

// Options configure a replay.
type Options struct {
	FullDuration int64 // seconds of history the analyzer sees (store.full_duration)
	SuppressFor  int64 // seconds without a repeat alert after one (the alert rule's expiration)
}

// Row is the outcome of one input row.
type Row struct {
	// Score is what an alert carries: the ensemble's score when the row
	// alerts; 0 while alerts are suppressed after one; otherwise the
	// ensemble's score, which is below the alert threshold
	// (Ensemble.AlertThreshold: Consensus/N for a vote, Threshold for an
	// evidence score)
	// exactly when the row does not alert. So a threshold on Score above
	// the alert threshold keeps only alerts, and NAB's threshold sweep
	// trades a lower threshold for more alerts.
	Score float64
	// Alert reports whether the analyzer would alert on this row.
	Alert bool
	// Err says why the row was not judged, or is nil: a pre-check
	// exception (algorithms.ErrTooShort, ErrStale, ErrBoring),
	// algorithms.ErrSkylineRaised (classic), or ErrNotFinite. Its Score is 0.
	Err error
}

// Run replays rows (t[i], v[i]) in input order through e into out (one Row
// per input row, reusing out) and returns it.
func Run(e *algorithms.Ensemble, t []int64, v []float64, opt Options, out []Row) []Row {
	out = slices.Grow(out[:0], len(t))[:len(t)]
	var w window
	var s algorithms.Scratch
	var verdict algorithms.Verdict
	var now int64
	lastAlert, alerted := int64(0), false
	for i := range t {
		if math.IsNaN(v[i]) || math.IsInf(v[i], 0) {
			out[i] = Row{Err: ErrNotFinite}
			continue
		}
		w.put(t[i], v[i])
		if i == 0 || t[i] > now {
			now = t[i]
		}
		wt, wv := w.since(now - opt.FullDuration)
		e.Analyze(wt, wv, now, &s, &verdict)
		r := Row{Err: verdict.Err}
		switch {
		case verdict.Err != nil:
		case alerted && now-lastAlert < opt.SuppressFor:
			// suppressed: the analyzer keeps quiet about this metric
		default:
			r.Score = verdict.Score
			if verdict.Anomalous {
				r.Alert = true
				lastAlert, alerted = now, true
			}
		}
		out[i] = r
	}
	return out
}

// window is a sorted, de-duplicated series with an old prefix that is
// dropped from time to time.
type window struct {
	t     []int64
	v     []float64
	start int // points before start are older than every window asked for
}

// put stores a point as the store does: in time order, replacing a point
// with the same timestamp.
func (w *window) put(ts int64, val float64) {
	n := len(w.t)
	switch {
	case n == w.start || ts > w.t[n-1]:
		w.t, w.v = append(w.t, ts), append(w.v, val)
	case ts == w.t[n-1]:
		w.v[n-1] = val
	default: // out of order: rare
		i, found := slices.BinarySearch(w.t[w.start:], ts)
		i += w.start
		if found {
			w.v[i] = val
			return
		}
		w.t, w.v = slices.Insert(w.t, i, ts), slices.Insert(w.v, i, val)
	}
}

// since returns the points with timestamp > cutoff, and forgets older ones.
func (w *window) since(cutoff int64) ([]int64, []float64) {
	for w.start < len(w.t) && w.t[w.start] <= cutoff {
		w.start++
	}
	if w.start > 4096 && w.start > len(w.t)/2 { // compact
		n := copy(w.t, w.t[w.start:])
		copy(w.v, w.v[w.start:])
		w.t, w.v, w.start = w.t[:n], w.v[:n], 0
	}
	return w.t[w.start:], w.v[w.start:]
}
