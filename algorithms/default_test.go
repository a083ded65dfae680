package algorithms

import (
	"math"
	"testing"
)

// With ShortHistory, the evidence score loses D·(1 - span/ShortHistory)
// while the series spans less than ShortHistory (span = now - oldest
// timestamp), never going below 0, and the verdict follows the discounted
// score.
func TestEnsembleShortHistory(t *testing.T) {
	t.Parallel()
	one := Detector{Name: "one", Run: func([]int64, []float64, int64, *Scratch) Outcome { return no(1) }} // evidence 0.5
	e := &Ensemble{Name: "t", Detectors: []Detector{one}, Consensus: 1, ScoreCap: 2, Threshold: 0.5,
		ShortHistory: 300, ShortHistoryDiscount: 0.25}
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	var s Scratch
	var out Verdict
	f := func(first int64, wantScore float64, wantAnomalous bool) {
		t.Helper()
		ts, v := []int64{first, 300}, []float64{1, 2}
		e.Analyze(ts, v, 300, &s, &out)
		if math.Abs(out.Score-wantScore) > 1e-12 || out.Anomalous != wantAnomalous || out.Err != nil {
			t.Errorf("span %d: score %v anomalous %v err %v, want %v %v", 300-first, out.Score, out.Anomalous, out.Err, wantScore, wantAnomalous)
		}
	}
	f(0, 0.5, true)                 // a whole ShortHistory: no discount
	f(-600, 0.5, true)              // more than that: none either
	f(150, 0.5-0.125, false)        // half of it: half the discount
	f(299, 0.5-0.25*299/300, false) // one second: almost all of it
	e.ShortHistoryDiscount = 1
	f(299, 0, false) // never below 0
}

func TestEnsembleValidateShortHistory(t *testing.T) {
	t.Parallel()
	d := Detector{Name: "d", Run: ThreeSigma}
	for _, e := range []*Ensemble{
		{Name: "negative span", Detectors: []Detector{d}, Consensus: 1, ScoreCap: 2, Threshold: 0.5, ShortHistory: -1},
		{Name: "discount above 1", Detectors: []Detector{d}, Consensus: 1, ScoreCap: 2, Threshold: 0.5, ShortHistory: 1, ShortHistoryDiscount: 1.5},
		{Name: "nan discount", Detectors: []Detector{d}, Consensus: 1, ScoreCap: 2, Threshold: 0.5, ShortHistory: 1, ShortHistoryDiscount: math.NaN()},
	} {
		if err := e.Validate(); err == nil {
			t.Errorf("%s: no error", e.Name)
		}
	}
	c := Classic(86400)
	c.ShortHistory = 86400
	if err := c.Validate(); err == nil {
		t.Error("classic with a short history: no error")
	}
}
