package algorithms

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

// TestADFullerReference checks ADFuller against statsmodels' adfuller(x, 10)
// (testdata/skyline/adf.json): same lag choice, statistic and p-value to
// 1e-8 relative, and an error exactly where statsmodels raises (maxlag too
// large) or returns NaN (constant series).
func TestADFullerReference(t *testing.T) {
	var doc struct {
		ADF []struct {
			X       []pyFloat `json:"x"`
			Maxlag  int       `json:"maxlag"`
			Stat    pyFloat   `json:"stat"`
			P       pyFloat   `json:"p"`
			UsedLag int       `json:"usedlag"`
			Error   string    `json:"error"`
		} `json:"adf"`
		Mackinnon []struct {
			Stat float64 `json:"stat"`
			P    pyFloat `json:"p"`
		} `json:"mackinnon"`
	}
	loadTestdata(t, "adf.json", &doc)
	for i, c := range doc.ADF {
		x := floats(c.X)
		t.Run(fmt.Sprintf("case%d_n%d", i, len(x)), func(t *testing.T) {
			stat, p, lag, err := ADFuller(x, c.Maxlag, nil)
			switch {
			case c.Error != "":
				if !strings.Contains(c.Error, "maxlag") || !errors.Is(err, ErrADFTooShort) {
					t.Errorf("err = %v; statsmodels raised %q", err, c.Error)
				}
			case math.IsNaN(float64(c.P)):
				if !errors.Is(err, ErrADFConstant) {
					t.Errorf("err = %v; statsmodels returned NaN (constant series)", err)
				}
			default:
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if lag != c.UsedLag {
					t.Errorf("used lag = %d, statsmodels %d", lag, c.UsedLag)
				}
				if !closeFloat(stat, float64(c.Stat), 1e-8) || !closeFloat(p, float64(c.P), 1e-8) {
					t.Errorf("stat, p = %v, %v; statsmodels %v, %v", stat, p, c.Stat, c.P)
				}
			}
		})
	}
	for _, c := range doc.Mackinnon {
		if got := MacKinnonP(c.Stat); !closeFloat(got, float64(c.P), 1e-14) {
			t.Errorf("MacKinnonP(%v) = %v, statsmodels %v", c.Stat, got, c.P)
		}
	}
}

// TestADFullerDegenerate: an exact arithmetic progression has constant
// differences, which statsmodels would take for the constant column.
func TestADFullerDegenerate(t *testing.T) {
	x := make([]float64, 100)
	for i := range x {
		x[i] = 3 + 2*float64(i)
	}
	if _, _, _, err := ADFuller(x, 10, nil); !errors.Is(err, ErrADFDegenerate) {
		t.Errorf("ADFuller(progression) err = %v, want ErrADFDegenerate", err)
	}
	x[50] = math.NaN()
	if _, _, _, err := ADFuller(x, 10, nil); !errors.Is(err, ErrADFNotFinite) {
		t.Errorf("ADFuller(NaN) err = %v, want ErrADFNotFinite", err)
	}
}
