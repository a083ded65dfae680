package algorithms

import "math"

// Vote is a detector's verdict on the newest point.
type Vote int8

// The three votes. Skyline's consensus counts only No votes, so a None (a
// detector that returned nothing: Etsy's median_absolute_deviation below its
// threshold, or an error) acts as a yes vote in the classic profile.
const (
	No   Vote = 0
	Yes  Vote = 1
	None Vote = -1
)

func (v Vote) String() string {
	switch v {
	case No:
		return "false"
	case Yes:
		return "true"
	}
	return "null"
}

// Outcome is one detector's result.
type Outcome struct {
	Vote Vote
	// Ratio is the detector's test statistic divided by its threshold, so
	// that Ratio > 1 is what made it vote Yes (for two-sided tests, the
	// absolute value). It grades how anomalous the point is, for the
	// ensemble's score. NaN when the statistic is undefined (too short,
	// constant series).
	Ratio float64
}

// no and yes build Outcomes.
func no(ratio float64) Outcome  { return Outcome{Vote: No, Ratio: ratio} }
func yes(ratio float64) Outcome { return Outcome{Vote: Yes, Ratio: ratio} }

// undefined is the Outcome of a detector that cannot judge the series.
var undefined = Outcome{Vote: No, Ratio: math.NaN()}
