package replay

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/go-kale/kale/algorithms"
)

// probe is an ensemble of one detector that votes Yes on values above 100
// and records what it was shown.
type probe struct {
	seen [][2][]float64 // per call: timestamps (as floats) and values
	nows []int64
}

func (p *probe) ensemble() *algorithms.Ensemble {
	return &algorithms.Ensemble{Name: "probe", Consensus: 1, Detectors: []algorithms.Detector{{
		Name: "over100",
		Run: func(t []int64, v []float64, now int64, _ *algorithms.Scratch) algorithms.Outcome {
			ts := make([]float64, len(t))
			for i := range t {
				ts[i] = float64(t[i])
			}
			p.seen = append(p.seen, [2][]float64{ts, append([]float64(nil), v...)})
			p.nows = append(p.nows, now)
			if v[len(v)-1] > 100 {
				return algorithms.Outcome{Vote: algorithms.Yes, Ratio: 2}
			}
			return algorithms.Outcome{Vote: algorithms.No, Ratio: 0.5}
		},
	}}}
}

func TestWindowAndStoreSemantics(t *testing.T) {
	t.Parallel()
	p := &probe{}
	ts := []int64{0, 10, 20, 20, 5, 30}
	vs := []float64{1, 2, 3, 4, 9, 6}
	rows := Run(p.ensemble(), ts, vs, Options{FullDuration: 15, SuppressFor: 0}, nil)
	if len(rows) != len(ts) {
		t.Fatalf("%d rows for %d inputs", len(rows), len(ts))
	}
	want := [][2][]float64{
		{{0}, {1}},
		{{0, 10}, {1, 2}},
		{{10, 20}, {2, 3}}, // 0 <= 20-20: out of the window
		{{10, 20}, {2, 4}}, // repeated timestamp: last write wins
		{{10, 20}, {2, 4}}, // a late point older than the window: stored, not seen
		{{20, 30}, {4, 6}}, // now 30
	}
	if diff := cmp.Diff(want, p.seen); diff != "" {
		t.Errorf("windows shown (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int64{0, 10, 20, 20, 20, 30}, p.nows); diff != "" {
		t.Errorf("now (-want +got):\n%s", diff)
	}
}

func TestOutOfOrderInsideWindow(t *testing.T) {
	t.Parallel()
	p := &probe{}
	Run(p.ensemble(), []int64{100, 130, 110, 130}, []float64{1, 3, 2, 4}, Options{FullDuration: 1000}, nil)
	last := p.seen[len(p.seen)-1]
	if diff := cmp.Diff([2][]float64{{100, 110, 130}, {1, 2, 4}}, last); diff != "" {
		t.Errorf("window after out-of-order rows (-want +got):\n%s", diff)
	}
}

func TestSuppression(t *testing.T) {
	t.Parallel()
	p := &probe{}
	ts := []int64{0, 60, 120, 180, 240, 300, 360}
	vs := []float64{500, 500, 1, 500, 500, 500, 500}
	rows := Run(p.ensemble(), ts, vs, Options{FullDuration: 3600, SuppressFor: 240}, nil)
	var alerts []bool
	var scores []float64
	for _, r := range rows {
		alerts = append(alerts, r.Alert)
		scores = append(scores, r.Score)
	}
	// alert at 0; quiet until 240 (0+240); alert at 240; quiet after.
	if diff := cmp.Diff([]bool{true, false, false, false, true, false, false}, alerts); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]float64{1, 0, 0, 0, 1, 0, 0}, scores); diff != "" {
		t.Errorf("scores (-want +got):\n%s", diff)
	}
	// Without suppression, a quiet row keeps its (sub-threshold) score.
	rows = Run(p.ensemble(), []int64{0, 60}, []float64{1, 500}, Options{FullDuration: 3600}, rows)
	if rows[0].Score != 0 || rows[0].Alert || !rows[1].Alert || rows[1].Score != 1 {
		t.Errorf("rows %+v", rows)
	}
}

// Pre-check exceptions score 0 and never alert.
func TestPreChecks(t *testing.T) {
	t.Parallel()
	p := &probe{}
	e := p.ensemble()
	e.Checks = algorithms.Checks{MinLength: 3}
	rows := Run(e, []int64{0, 1, 2}, []float64{500, 500, 500}, Options{FullDuration: 3600}, nil)
	if rows[0].Err != algorithms.ErrTooShort || rows[0].Alert || rows[0].Score != 0 || !rows[2].Alert {
		t.Errorf("rows %+v", rows)
	}
}

// NaN and ±Inf rows are refused as Horizon refuses them: not stored, not
// judged, one output row each.
func TestNotFiniteRows(t *testing.T) {
	t.Parallel()
	p := &probe{}
	rows := Run(p.ensemble(), []int64{0, 60, 120, 180}, []float64{1, math.NaN(), math.Inf(1), 500}, Options{FullDuration: 3600}, nil)
	if len(rows) != 4 || rows[1].Err != ErrNotFinite || rows[2].Err != ErrNotFinite || !rows[3].Alert {
		t.Fatalf("rows %+v", rows)
	}
	if last := p.seen[len(p.seen)-1]; len(last[1]) != 2 {
		t.Errorf("window %v: the NaN and Inf rows were stored", last)
	}
}
