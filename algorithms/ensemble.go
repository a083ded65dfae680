package algorithms

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// The pre-check exceptions, Skyline's names: an ensemble that raises one did
// not judge the metric. Counted by reason by the analyzer.
var (
	// ErrTooShort: fewer points than Checks.MinLength (Skyline's
	// MIN_TOLERABLE_LENGTH).
	ErrTooShort = errors.New("TooShort")
	// ErrStale: the newest point is older than now - Checks.StalePeriod
	// (Skyline's STALE_PERIOD).
	ErrStale = errors.New("Stale")
	// ErrBoring: the last Checks.BoredomPoints values take exactly
	// Checks.BoredomSetSize distinct values (Skyline's MAX_TOLERABLE_BOREDOM
	// and BOREDOM_SET_SIZE; with set size 1, a flat series).
	ErrBoring = errors.New("Boring")
	// ErrMismatch: the timestamps and values given to Analyze differ in
	// length (a caller's bug; never judged).
	ErrMismatch = errors.New("Mismatch")
)

// Detector is a named detector bound to its options.
type Detector struct {
	Name string
	Run  func(t []int64, v []float64, now int64, s *Scratch) Outcome
}

// Checks are the pre-checks run before any detector, in Skyline's order.
type Checks struct {
	MinLength      int   // TooShort below this many points; 0 = off
	StalePeriod    int64 // Stale when now - newest timestamp exceeds this (seconds); 0 = off
	BoredomPoints  int   // Boring looks at this many newest values; 0 = off
	BoredomSetSize int   // ... and fires when they take exactly this many distinct values
}

// Ensemble is a set of detectors with a consensus rule: a profile.
type Ensemble struct {
	Name      string
	Detectors []Detector
	// Consensus is how many detectors must agree. Skyline's rule, kept in
	// both modes: anomalous iff the No votes are at most
	// len(Detectors) - Consensus, so a None vote counts as yes.
	Consensus int
	Checks    Checks
	// Classic is Etsy Skyline's Analyzer: a detector on which Etsy's Python
	// raises makes the whole ensemble "not anomalous" with no votes, and
	// the nine detectors are run as SkylineRun does. With Classic, the
	// Detectors must be the nine classic Skyline detectors.
	Classic bool
	// Skyline holds the options of the classic run.
	Skyline SkylineOptions
	// ScoreCap > 0 makes a non-classic ensemble decide by graded evidence
	// instead of votes. With ρ_i the Ratio of detector i (its statistic over
	// its threshold, so ρ_i > 1 is its Yes), N = len(Detectors) and C =
	// ScoreCap:
	//
	//	Score = (1/N) Σ_i min(max(ρ_i, 0), C) / C     (ρ_i NaN counts 0)
	//	Anomalous iff Score >= Threshold
	//
	// so each detector contributes in proportion to how far past (or short
	// of) its own threshold the point is, saturating at C times it: one
	// detector far out cannot carry the verdict alone, and several
	// detectors just short of their thresholds can. A detector that cannot
	// judge (NaN Ratio, e.g. too short) adds no evidence. Consensus is not
	// used to decide then (it must still be valid: verdict files record it).
	ScoreCap float64
	// Threshold is the alert threshold on Score when ScoreCap > 0, in
	// (0, 1].
	Threshold float64
	// ShortHistory > 0 (seconds) with ScoreCap > 0 discounts the evidence
	// of a series that spans less history: with span = now - t[0] (the
	// oldest point the ensemble is given) and D = ShortHistoryDiscount,
	//
	//	Score = max(0, evidence - D·max(0, 1 - span/ShortHistory))
	//
	// so a series with a whole ShortHistory behind it is judged on its
	// evidence alone and one with a single day asks for up to D more: few
	// points and no full cycle make every detector's statistic noisier.
	// It needs no state: the span is read off the window.
	ShortHistory int64
	// ShortHistoryDiscount is D above, in [0, 1].
	ShortHistoryDiscount float64
	// Seasonal, when non-nil with ScoreCap > 0, discounts a seasonally
	// explained point: when SeasonalEnvelope(t, v, now, s, *Seasonal)
	// gives Ratio 0 (the newest value lies within the range its time of
	// day took on enough previous days), after the short-history discount
	//
	//	Score = Score · (1 - SeasonalDiscount)
	//
	// and Verdict.Seasonal is set. An undefined envelope (too little
	// history) changes nothing; a Score already 0 is left alone without
	// consulting the envelope (Verdict.Seasonal stays false). Not allowed
	// with Classic.
	Seasonal *SeasonalEnvelopeOptions
	// SeasonalDiscount is the fraction of the score a seasonally explained
	// point loses, in [0, 1].
	SeasonalDiscount float64
}

// AlertThreshold is the Score at and above which the ensemble alerts:
// Threshold with ScoreCap > 0, otherwise Consensus/len(Detectors) (the vote
// share). Score >= AlertThreshold() exactly when the verdict is Anomalous.
func (e *Ensemble) AlertThreshold() float64 {
	if e.ScoreCap > 0 {
		return e.Threshold
	}
	return float64(e.Consensus) / float64(len(e.Detectors))
}

// Verdict is an ensemble's judgement of a series' newest point.
type Verdict struct {
	Anomalous bool
	// Err is a pre-check exception (ErrTooShort, ErrStale, ErrBoring),
	// ErrMismatch, or, for a classic ensemble, ErrSkylineRaised; the votes
	// are then not meaningful and Anomalous is false.
	Err error
	// Votes and Ratios are the detectors' outcomes, in Detectors order.
	Votes  []Vote
	Ratios []float64
	// Score grades the verdict in [0, 1]: with Ensemble.ScoreCap > 0 the
	// mean capped Ratio (see ScoreCap), otherwise the share of detectors
	// voting yes (None counting as yes, as in the consensus). Either way,
	// Score >= the ensemble's AlertThreshold() exactly when Anomalous (a
	// verdict with Err has Score 0).
	Score float64
	// Seasonal reports that the ensemble's Seasonal envelope explained
	// the point, so its Score was discounted (see Ensemble.Seasonal).
	Seasonal bool
	// Timestamp and Value are the judged (newest) point.
	Timestamp int64
	Value     float64
}

// Fired returns the names of the detectors that voted Yes.
func (e *Ensemble) Fired(v *Verdict) []string {
	var out []string
	for i, vote := range v.Votes {
		if vote == Yes {
			out = append(out, e.Detectors[i].Name)
		}
	}
	return out
}

// Validate reports a malformed ensemble.
func (e *Ensemble) Validate() error {
	n := len(e.Detectors)
	switch {
	case n == 0:
		return fmt.Errorf("ensemble %q: no detectors", e.Name)
	case e.Consensus < 1 || e.Consensus > n:
		return fmt.Errorf("ensemble %q: consensus %d must be 1 to %d", e.Name, e.Consensus, n)
	case e.Classic && n != len(SkylineNames):
		return fmt.Errorf("ensemble %q: a classic ensemble runs Skyline's nine detectors", e.Name)
	case e.Classic && e.ScoreCap != 0:
		return fmt.Errorf("ensemble %q: a classic ensemble decides by votes: score cap must be 0", e.Name)
	case !(e.ScoreCap >= 0) || math.IsInf(e.ScoreCap, 0):
		return fmt.Errorf("ensemble %q: score cap %v must be a finite value >= 0", e.Name, e.ScoreCap)
	case e.ScoreCap > 0 && !(e.Threshold > 0 && e.Threshold <= 1):
		return fmt.Errorf("ensemble %q: threshold %v must be in (0, 1]", e.Name, e.Threshold)
	case e.ShortHistory < 0:
		return fmt.Errorf("ensemble %q: short history %d s must be >= 0", e.Name, e.ShortHistory)
	case !(e.ShortHistoryDiscount >= 0 && e.ShortHistoryDiscount <= 1):
		return fmt.Errorf("ensemble %q: short-history discount %v must be in [0, 1]", e.Name, e.ShortHistoryDiscount)
	case e.Classic && e.ShortHistory != 0:
		return fmt.Errorf("ensemble %q: a classic ensemble decides by votes: short history must be 0", e.Name)
	case e.Classic && e.Seasonal != nil:
		return fmt.Errorf("ensemble %q: a classic ensemble decides by votes: no seasonal envelope", e.Name)
	case !(e.SeasonalDiscount >= 0 && e.SeasonalDiscount <= 1):
		return fmt.Errorf("ensemble %q: seasonal discount %v must be in [0, 1]", e.Name, e.SeasonalDiscount)
	}
	if e.Seasonal != nil {
		if err := e.Seasonal.Validate(); err != nil {
			return fmt.Errorf("ensemble %q: %w", e.Name, err)
		}
	}
	return nil
}

// Analyze judges the newest point of the series (t ascending, v of the same
// length) at time now into out, reusing out's slices. s is the caller's
// scratch space (one per goroutine).
func (e *Ensemble) Analyze(t []int64, v []float64, now int64, s *Scratch, out *Verdict) {
	n := len(e.Detectors)
	out.Anomalous, out.Err, out.Score, out.Seasonal = false, nil, 0, false
	out.Votes = slices.Grow(out.Votes[:0], n)[:n]
	out.Ratios = slices.Grow(out.Ratios[:0], n)[:n]
	clear(out.Votes)
	for i := range out.Ratios {
		out.Ratios[i] = math.NaN()
	}
	out.Timestamp, out.Value = 0, math.NaN()
	if len(t) != len(v) {
		out.Err = ErrMismatch
		return
	}
	if len(t) > 0 {
		out.Timestamp, out.Value = t[len(t)-1], v[len(v)-1]
	}
	if out.Err = e.Checks.check(t, v, now, s); out.Err != nil {
		return
	}
	if e.Classic {
		var oc [9]Outcome
		if err := SkylineRun(t, v, now, e.Skyline, s, &oc); err != nil {
			out.Err = err
			for i := range oc {
				out.Votes[i], out.Ratios[i] = oc[i].Vote, oc[i].Ratio
			}
			return
		}
		for i := range oc {
			out.Votes[i], out.Ratios[i] = oc[i].Vote, oc[i].Ratio
		}
	} else {
		for i, d := range e.Detectors {
			oc := d.Run(t, v, now, s)
			out.Votes[i], out.Ratios[i] = oc.Vote, oc.Ratio
		}
	}
	nos := 0
	for _, vote := range out.Votes {
		if vote == No {
			nos++
		}
	}
	if e.ScoreCap > 0 && !e.Classic {
		out.Score = evidence(out.Ratios, e.ScoreCap)
		if e.ShortHistory > 0 {
			out.Score = shortHistory(out.Score, now-t[0], e.ShortHistory, e.ShortHistoryDiscount)
		}
		if e.Seasonal != nil && out.Score > 0 {
			if oc := SeasonalEnvelope(t, v, now, s, *e.Seasonal); oc.Ratio == 0 {
				out.Score *= 1 - e.SeasonalDiscount
				out.Seasonal = true
			}
		}
		out.Anomalous = out.Score >= e.Threshold
		return
	}
	out.Anomalous = nos <= n-e.Consensus
	out.Score = float64(n-nos) / float64(n)
}

// evidence is the mean of the ratios clamped to [0, c] and divided by c,
// NaN counting 0 (see Ensemble.ScoreCap). The result is in [0, 1].
func evidence(ratios []float64, c float64) float64 {
	sum := 0.0
	for _, r := range ratios {
		if r > 0 { // false for NaN
			sum += min(r, c) / c
		}
	}
	return min(1, sum/float64(len(ratios)))
}

// shortHistory discounts score by d·max(0, 1 - span/ref), not below 0
// (see Ensemble.ShortHistory).
func shortHistory(score float64, span, ref int64, d float64) float64 {
	lack := 1 - float64(span)/float64(ref)
	if lack <= 0 {
		return score
	}
	return max(0, score-d*min(lack, 1))
}

// check runs the pre-checks in Skyline's order.
func (c Checks) check(t []int64, v []float64, now int64, s *Scratch) error {
	if len(t) == 0 || len(t) < c.MinLength {
		return ErrTooShort
	}
	if c.StalePeriod > 0 && now-t[len(t)-1] > c.StalePeriod {
		return ErrStale
	}
	if c.BoredomPoints > 0 {
		tail := v[max(0, len(v)-c.BoredomPoints):]
		if distinctUpTo(tail, c.BoredomSetSize+1, s) == c.BoredomSetSize {
			return ErrBoring
		}
	}
	return nil
}

// distinctUpTo counts the distinct values of v, all NaNs counting as one
// value, stopping at limit. It uses Scratch Floats slot 7.
func distinctUpTo(v []float64, limit int, s *Scratch) int {
	seen := s.Floats(7, 0)
	for _, x := range v {
		found := false
		for _, y := range seen {
			if x == y || (x != x && y != y) {
				found = true
				break
			}
		}
		if !found {
			seen = append(seen, x)
			if len(seen) >= limit {
				break
			}
		}
	}
	s.floats[7] = seen[:0]
	return len(seen)
}

// skylineDetector binds one of the nine to its options.
func skylineDetector(i int, o SkylineOptions) Detector {
	f := SkylineDetectors[i]
	return Detector{Name: SkylineNames[i], Run: func(t []int64, v []float64, now int64, s *Scratch) Outcome {
		return f(t, v, now, o, s)
	}}
}

// Classic returns Etsy Skyline's Analyzer: the nine algorithms in
// settings.py order, CONSENSUS 6, MIN_TOLERABLE_LENGTH 1, STALE_PERIOD
// 500, MAX_TOLERABLE_BOREDOM 100 with BOREDOM_SET_SIZE 1, quirks included
// (see the Skyline detectors). fullDuration is FULL_DURATION in seconds.
func Classic(fullDuration int64) *Ensemble {
	o := SkylineOptions{Classic: true, FullDuration: fullDuration}
	e := &Ensemble{
		Name:      "classic",
		Consensus: 6,
		Checks:    Checks{MinLength: 1, StalePeriod: 500, BoredomPoints: 100, BoredomSetSize: 1},
		Classic:   true,
		Skyline:   o,
	}
	for i := range SkylineNames {
		e.Detectors = append(e.Detectors, skylineDetector(i, o))
	}
	return e
}

// Settings are the analyzer settings a profile was designed and measured
// with: the history it is given and how long an alert silences the next
// one for the same metric.
type Settings struct {
	// History is the span of data the analyzer gives the profile
	// (store.full_duration, Skyline's FULL_DURATION).
	History time.Duration
	// AlertExpiration is how long after an alert the same metric is not
	// alerted again (an alert rule's expiration). Anomalies inside it are
	// still recorded; only the notification is held back.
	AlertExpiration time.Duration
}

// ProfileSettings returns the settings the named profile is meant for:
//
//   - classic: Skyline's, 24 h of history and a 1 h expiration;
//   - default: 7 days of history (a daily cycle is judged against the
//     same hours of the previous days, and a weekly one is seen once) and
//     a 12 h expiration (one notification per metric per half day).
//
// Measured on NAB v1.1 (kale bench nab, standard profile, optimised /
// fixed threshold), default profile: 60.8 / 60.0 at these settings; 7 days
// and 1 h 51.5 / 48.4; 7 days and 6 h 57.4 / 56.4; 24 h and 1 h 37.2 /
// 33.4; 30 days and 12 h 63.2 / 62.6. Most of NAB's false alarms at short
// expirations are repeat alerts after a change of level, while the
// history still holds the old level; most at 24 h of history are ordinary
// daily peaks. A recovery rule (re-arm once the metric has been normal for
// R) instead of a long expiration scored lower: 7 days, 1 h expiration
// and R = 6 h gave 57.6 / 56.8.
func ProfileSettings(name string) (Settings, error) {
	switch name {
	case "classic":
		return Settings{History: 24 * time.Hour, AlertExpiration: time.Hour}, nil
	case "default":
		return Settings{History: 7 * 24 * time.Hour, AlertExpiration: 12 * time.Hour}, nil
	}
	return Settings{}, fmt.Errorf("unknown profile %q: want classic or default", name)
}

// Profile returns the named profile: "classic" or "default".
func Profile(name string, fullDuration int64) (*Ensemble, error) {
	switch name {
	case "classic":
		return Classic(fullDuration), nil
	case "default":
		return Default(fullDuration), nil
	}
	return nil, fmt.Errorf("unknown profile %q: want classic or default", name)
}

// The default profile's evidence rule (see Ensemble.ScoreCap and
// Ensemble.ShortHistory).
const (
	DefaultScoreCap             = 2.0
	DefaultThreshold            = 0.5
	DefaultShortHistory         = 3 * 86400 // seconds
	DefaultShortHistoryDiscount = 0.25
	DefaultSeasonalDiscount     = 0.5
)

// Default returns Kale's ensemble: Skyline's nine detectors with Etsy's
// defects fixed, three-sigma, Holt-Winters and the EWMA, CUSUM and Western
// Electric charts (14 detectors), deciding by graded evidence: Score is the
// mean of the detectors' Ratios each capped at DefaultScoreCap = 2 (twice
// its own threshold) and scaled to [0, 1], less a short-history discount
// of up to DefaultShortHistoryDiscount = 0.25 while the series spans less
// than DefaultShortHistory = 3 days (see Ensemble.ShortHistory), then
// halved (DefaultSeasonalDiscount = 1/2) when the newest value lies within
// the range its time of day (±1 h) took on the previous days (at least 3
// of the last 7; see SeasonalEnvelope and Ensemble.Seasonal); the point is
// anomalous when Score >= DefaultThreshold = 1/2, i.e. when the
// detectors' capped statistics average at least their thresholds (plus
// the discounts; a seasonally explained point alerts only if every
// detector is at twice its threshold). Compared with counting votes, near
// misses count, and the score is continuous, so an alert threshold can be
// chosen on it. The envelope needs 3 days and 1 hour of history, so with
// a 24 h store it never applies.
//
// Measured on NAB v1.1 (kale bench nab --profile default, standard
// profile, optimised / fixed threshold) at its settings (ProfileSettings:
// 7 days of history, 12 h alert expiration): 60.8 / 60.0 (53.9 / 53.6
// without the seasonal envelope). With 24 h of history and a 1 h
// expiration, Skyline's settings, 37.2 / 33.4 (34.3 / 0.7 without the
// short-history discount: at 0.5 the undiscounted score alerted too often
// on a day of history); 30 days and 12 h 63.2 / 62.6 (57.5 / 57.2
// without the envelope). History matters most: 24 hours cannot show a
// daily cycle, and most of NAB's false alarms at 24 h are ordinary daily
// peaks.
//
// Consensus (8) is kept for the verdict files' header only.
func Default(fullDuration int64) *Ensemble {
	o := SkylineOptions{FullDuration: fullDuration}
	e := &Ensemble{
		Name:   "default",
		Checks: Checks{MinLength: 30, StalePeriod: 500, BoredomPoints: 100, BoredomSetSize: 1},
	}
	for i := range SkylineNames {
		e.Detectors = append(e.Detectors, skylineDetector(i, o))
	}
	e.Detectors = append(e.Detectors,
		Detector{Name: "three_sigma", Run: ThreeSigma},
		Detector{Name: "holt_winters", Run: func(t []int64, v []float64, now int64, s *Scratch) Outcome {
			return HoltWinters(t, v, now, s, HoltWintersOptions{})
		}},
		Detector{Name: "ewma_chart", Run: func(t []int64, v []float64, now int64, s *Scratch) Outcome {
			return EWMAChart(t, v, now, s, EWMAOptions{})
		}},
		Detector{Name: "cusum", Run: func(t []int64, v []float64, now int64, s *Scratch) Outcome {
			return CUSUM(t, v, now, s, CUSUMOptions{})
		}},
		Detector{Name: "western_electric", Run: func(t []int64, v []float64, now int64, s *Scratch) Outcome {
			return WesternElectric(t, v, now, s, WesternElectricOptions{})
		}},
	)
	e.Consensus = 8
	e.ScoreCap, e.Threshold = DefaultScoreCap, DefaultThreshold
	e.ShortHistory, e.ShortHistoryDiscount = DefaultShortHistory, DefaultShortHistoryDiscount
	e.Seasonal, e.SeasonalDiscount = &SeasonalEnvelopeOptions{}, DefaultSeasonalDiscount
	return e
}
