package algorithms

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// envelopeSeries is days+1 days of hourly points whose value is the hour of
// day (0..23), with the newest point's value replaced by last.
func envelopeSeries(days int, last float64) ([]int64, []float64) {
	n := days*24 + 1
	t, v := make([]int64, n), make([]float64, n)
	for i := range t {
		t[i] = int64(i) * 3600
		v[i] = float64(i % 24)
	}
	v[n-1] = last
	return t, v
}

func TestSeasonalEnvelope(t *testing.T) {
	t.Parallel()
	nan := math.NaN()
	// The newest point is at hour 0 of day `days`; ±1 h on previous days
	// covers hours 23, 0 and 1, so the envelope is [0, 23] with a full
	// window, and [0, 1] when only hour 0 and 1 are in reach.
	for _, tc := range []struct {
		name string
		days int
		last float64
		opt  SeasonalEnvelopeOptions
		want Outcome
	}{
		{"inside", 4, 5, SeasonalEnvelopeOptions{}, no(0)},
		{"on the edge", 4, 23, SeasonalEnvelopeOptions{}, no(0)},
		{"above", 4, 46, SeasonalEnvelopeOptions{}, yes(1 + 23.0/23)},
		{"below", 4, -2.3, SeasonalEnvelopeOptions{}, yes(1 + 0.1)},
		{"narrow window", 4, 3, SeasonalEnvelopeOptions{HalfWidth: 1}, yes(math.Inf(1))}, // only hour 0: hi = lo
		{"too few days", 3, 5, SeasonalEnvelopeOptions{}, undefined},                     // day 3's window starts before t_0
		{"fewer days asked", 3, 5, SeasonalEnvelopeOptions{MinDays: 2}, no(0)},
		{"nan newest", 4, nan, SeasonalEnvelopeOptions{}, undefined},
		{"bad options", 4, 5, SeasonalEnvelopeOptions{Days: 2, MinDays: 3}, Outcome{Vote: None, Ratio: nan}},
	} {
		ts, v := envelopeSeries(tc.days, tc.last)
		got := SeasonalEnvelope(ts, v, ts[len(ts)-1], nil, tc.opt)
		if diff := cmp.Diff(tc.want, got, cmpopts.EquateNaNs(), cmpopts.EquateApprox(0, 1e-12)); diff != "" {
			t.Errorf("%s: (-want +got)\n%s", tc.name, diff)
		}
	}
	if got := SeasonalEnvelope([]int64{1}, nil, 1, nil, SeasonalEnvelopeOptions{}); got.Vote != None {
		t.Errorf("mismatched lengths: %+v, want Vote None", got)
	}
}

// A seasonally explained point loses SeasonalDiscount of its score and
// the verdict says so; an unexplained one or too short a history keeps it.
func TestEnsembleSeasonal(t *testing.T) {
	t.Parallel()
	one := Detector{Name: "one", Run: func([]int64, []float64, int64, *Scratch) Outcome { return no(2) }} // evidence 1
	e := &Ensemble{Name: "t", Detectors: []Detector{one}, Consensus: 1, ScoreCap: 2, Threshold: 0.6,
		Seasonal: &SeasonalEnvelopeOptions{}, SeasonalDiscount: 0.5}
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	type res struct {
		Score               float64
		Anomalous, Seasonal bool
	}
	var s Scratch
	var out Verdict
	for _, tc := range []struct {
		name string
		days int
		last float64
		want res
	}{
		{"explained", 4, 5, res{0.5, false, true}},
		{"outside", 4, 50, res{1, true, false}},
		{"short history", 2, 5, res{1, true, false}},
	} {
		ts, v := envelopeSeries(tc.days, tc.last)
		e.Analyze(ts, v, ts[len(ts)-1], &s, &out)
		if diff := cmp.Diff(tc.want, res{out.Score, out.Anomalous, out.Seasonal}); diff != "" {
			t.Errorf("%s: (-want +got)\n%s", tc.name, diff)
		}
	}
	d := Detector{Name: "d", Run: ThreeSigma}
	for _, bad := range []*Ensemble{
		{Name: "discount above 1", Detectors: []Detector{d}, Consensus: 1, ScoreCap: 2, Threshold: 0.5, SeasonalDiscount: 1.5},
		{Name: "bad options", Detectors: []Detector{d}, Consensus: 1, ScoreCap: 2, Threshold: 0.5, Seasonal: &SeasonalEnvelopeOptions{Days: -1}},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%s: no error", bad.Name)
		}
	}
	c := Classic(86400)
	c.Seasonal = &SeasonalEnvelopeOptions{}
	if err := c.Validate(); err == nil {
		t.Error("classic with a seasonal envelope: no error")
	}
}

// BenchmarkSeasonalEnvelope is the default envelope on 30 days at a 5 min
// step (8640 points; all 7 days contribute).
func BenchmarkSeasonalEnvelope(b *testing.B) {
	_, v, _ := benchSeries(b)
	t := make([]int64, len(v))
	for i := range t {
		t[i] = int64(i) * 300
	}
	b.SetBytes(int64(16 * len(v)))
	b.ReportAllocs()
	for b.Loop() {
		SeasonalEnvelope(t, v, t[len(t)-1], nil, SeasonalEnvelopeOptions{})
	}
}
