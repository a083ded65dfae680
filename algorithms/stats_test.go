package algorithms

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// pyFloat is a float64 from the Python generator: a JSON number, or the
// strings "NaN", "Inf", "-Inf".
type pyFloat float64

func (f *pyFloat) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		switch s {
		case "NaN":
			*f = pyFloat(math.NaN())
		case "Inf":
			*f = pyFloat(math.Inf(1))
		case "-Inf":
			*f = pyFloat(math.Inf(-1))
		default:
			return fmt.Errorf("cannot decode float %q", s)
		}
		return nil
	}
	var x float64
	if err := json.Unmarshal(b, &x); err != nil {
		return err
	}
	*f = pyFloat(x)
	return nil
}

func floats(p []pyFloat) []float64 {
	out := make([]float64, len(p))
	for i, x := range p {
		out[i] = float64(x)
	}
	return out
}

// loadTestdata decodes testdata/skyline/name (written by gen.py) into
// cases and checks the generator recorded its library versions.
func loadTestdata(t testing.TB, name string, cases any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "skyline", name))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Versions map[string]string `json:"versions"`
		Cases    json.RawMessage   `json:"cases"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if doc.Versions["numpy"] == "" || doc.Versions["pandas"] == "" {
		t.Fatalf("%s: generator versions missing: %v", name, doc.Versions)
	}
	if err := json.Unmarshal(doc.Cases, cases); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// sameFloat reports whether got equals want exactly (NaN equal to NaN).
func sameFloat(got, want float64) bool {
	return got == want || (math.IsNaN(got) && math.IsNaN(want))
}

// closeFloat reports |got−want| ≤ tol·max(1,|want|), NaN equal to NaN,
// infinities equal to themselves.
func closeFloat(got, want, tol float64) bool {
	if sameFloat(got, want) {
		return true
	}
	if math.IsNaN(got) || math.IsNaN(want) || math.IsInf(got, 0) || math.IsInf(want, 0) {
		return false
	}
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

// TestStatsReference checks Mean, Std, Median and EWMMeanStd against
// numpy/pandas (testdata/skyline/stats.json), bit for bit where the
// operation order is reproduced (sums, variances, EWM) and exactly for
// medians.
func TestStatsReference(t *testing.T) {
	var cases []struct {
		V        []pyFloat `json:"v"`
		Mean     pyFloat   `json:"mean"`
		Std0     pyFloat   `json:"std0"`
		Std1     pyFloat   `json:"std1"`
		Median   pyFloat   `json:"median"`
		EWMMean  pyFloat   `json:"ewm_mean_50"`
		EWMStd   pyFloat   `json:"ewm_std_50"`
		EWMMean2 pyFloat   `json:"ewm_mean_15"`
		EWMStd2  pyFloat   `json:"ewm_std_15"`
	}
	loadTestdata(t, "stats.json", &cases)
	if len(cases) < 20 {
		t.Fatalf("only %d cases", len(cases))
	}
	for i, c := range cases {
		v := floats(c.V)
		name := fmt.Sprintf("case%d_n%d", i, len(v))
		t.Run(name, func(t *testing.T) {
			nan := slices.ContainsFunc(v, math.IsNaN)
			if !nan {
				// numpy/pandas skip nothing here; with a NaN pandas' std skips
				// and numpy's does not, so those are checked via Median/EWM.
				if got := Mean(v); !sameFloat(got, float64(c.Mean)) {
					t.Errorf("Mean = %v, numpy %v", got, c.Mean)
				}
				if got := Std(v, 0); !sameFloat(got, float64(c.Std0)) {
					t.Errorf("Std(0) = %v, numpy %v", got, c.Std0)
				}
				if got := Std(v, 1); !sameFloat(got, float64(c.Std1)) {
					t.Errorf("Std(1) = %v, pandas %v", got, c.Std1)
				}
			}
			if got := Median(v, nil); !sameFloat(got, float64(c.Median)) {
				t.Errorf("Median = %v, pandas %v", got, c.Median)
			}
			m, s := EWMMeanStd(v, 50)
			if !sameFloat(m, float64(c.EWMMean)) || !sameFloat(s, float64(c.EWMStd)) {
				t.Errorf("EWMMeanStd(50) = %v, %v; pandas %v, %v", m, s, c.EWMMean, c.EWMStd)
			}
			m, s = EWMMeanStd(v, 15)
			if !sameFloat(m, float64(c.EWMMean2)) || !sameFloat(s, float64(c.EWMStd2)) {
				t.Errorf("EWMMeanStd(15) = %v, %v; pandas %v, %v", m, s, c.EWMMean2, c.EWMStd2)
			}
		})
	}
}

// TestMedianMatchesSort checks the quickselect median against sorting on
// random, duplicate-heavy and adversarial (sorted, reversed, organ-pipe)
// inputs.
func TestMedianMatchesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var inputs [][]float64
	for _, n := range []int{1, 2, 3, 4, 5, 16, 17, 100, 1001, 8640} {
		a := make([]float64, n)
		for i := range a {
			a[i] = rng.NormFloat64()
		}
		inputs = append(inputs, a)
		d := make([]float64, n)
		for i := range d {
			d[i] = float64(rng.IntN(3))
		}
		inputs = append(inputs, d)
		s := make([]float64, n)
		for i := range s {
			s[i] = float64(i)
		}
		inputs = append(inputs, s)
		r := make([]float64, n)
		for i := range r {
			r[i] = float64(n - i)
		}
		inputs = append(inputs, r)
		o := make([]float64, n)
		for i := range o {
			o[i] = float64(min(i, n-i))
		}
		inputs = append(inputs, o)
	}
	for i, a := range inputs {
		sorted := slices.Clone(a)
		slices.Sort(sorted)
		n := len(sorted)
		want := sorted[n/2]
		if n%2 == 0 {
			want = (sorted[n/2-1] + sorted[n/2]) / 2
		}
		orig := slices.Clone(a)
		if got := Median(a, make([]float64, n)); got != want {
			t.Errorf("input %d (n=%d): Median = %v, want %v", i, n, got, want)
		}
		if !slices.Equal(a, orig) {
			t.Errorf("input %d: Median modified its input", i)
		}
	}
}

// TestStatsDegenerate states the empty and too-short answers.
func TestStatsDegenerate(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  float64
	}{
		{"Mean(empty)", Mean(nil)},
		{"Std(empty,0)", Std(nil, 0)},
		{"Std(one,1)", Std([]float64{3}, 1)},
		{"Median(empty)", Median(nil, nil)},
		{"Median(all NaN)", Median([]float64{math.NaN(), math.NaN()}, nil)},
	} {
		if !math.IsNaN(tc.got) {
			t.Errorf("%s = %v, want NaN", tc.name, tc.got)
		}
	}
	if got := Std([]float64{3}, 0); got != 0 {
		t.Errorf("Std(one,0) = %v, want 0", got)
	}
	m, s := EWMMeanStd([]float64{4}, 50)
	if m != 4 || !math.IsNaN(s) {
		t.Errorf("EWMMeanStd(one) = %v, %v; want 4, NaN", m, s)
	}
}
