package parity

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCompare(t *testing.T) {
	v := func(m int, anom bool, votes ...Vote) Verdict {
		return Verdict{Metric: m, Anomalous: anom, Votes: votes}
	}
	want := []Verdict{
		v(0, false, No, No, None),
		v(1, true, Yes, Yes, Yes),
		v(2, false, No, Yes, None),
		v(3, true, Yes, Yes, None), // absent from got
	}
	got := []Verdict{
		v(2, false, No, Yes, Yes), // vote differs only when None is not read as Yes
		v(1, false, Yes, No, Yes), // decision and one vote differ
		v(0, false, No, No, None),
		v(9, true, Yes, Yes, Yes), // absent from want
	}
	r := Compare(want, got)
	wantR := Report{
		Metrics:        3,
		MetricAgree:    2,
		Votes:          9,
		VoteAgree:      7,
		EffectiveAgree: 8,
		Algorithms: []AlgorithmAgreement{
			{Votes: 3, Agree: 3, EffectiveAgree: 3, Confusion: [3][3]int{{2, 0, 0}, {0, 1, 0}}},
			{Votes: 3, Agree: 2, EffectiveAgree: 2, Confusion: [3][3]int{{1, 0, 0}, {1, 1, 0}}},
			{Votes: 3, Agree: 2, EffectiveAgree: 3, Confusion: [3][3]int{{}, {0, 1, 0}, {0, 1, 1}}},
		},
		Disagreements: []Disagreement{
			{Metric: 1, Decision: true, Want: want[1], Got: got[1]},
			{Metric: 2, Decision: false, Want: want[2], Got: got[0]},
		},
		Missing: []int{3},
		Extra:   []int{9},
	}
	if diff := cmp.Diff(wantR, r); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	if r.MetricRate() != 2.0/3 || r.VoteRate() != 7.0/9 || r.EffectiveVoteRate() != 8.0/9 {
		t.Errorf("rates %v %v %v", r.MetricRate(), r.VoteRate(), r.EffectiveVoteRate())
	}
	var out bytes.Buffer
	if err := r.Format(&out, []string{"x", "y"}, 1); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"metrics: 2/3 agree (66.67%)",
		"votes:   7/9 agree (77.78%); 88.89% with null read as true",
		"  x ", "  y ", "  vote 2 ",
		"missing from got: 1 metrics [3]",
		"extra in got: 1 metrics [9]",
		"metric 1 (DECISION): want true [true true true], got false [true false true]",
		"... 1 more disagreeing metrics",
	} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("Format output lacks %q:\n%s", s, out.String())
		}
	}
}

func TestCompareLengths(t *testing.T) {
	want := []Verdict{{Metric: 0, Votes: []Vote{No, No}}}
	got := []Verdict{{Metric: 0, Votes: []Vote{No}}}
	r := Compare(want, got)
	if r.Votes != 2 || r.VoteAgree != 1 || len(r.Disagreements) != 1 || r.MetricAgree != 1 {
		t.Errorf("report %+v: want 1 of 2 votes agreeing and the metric listed", r)
	}
	if r := Compare(nil, nil); r.MetricRate() != 1 || r.VoteRate() != 1 {
		t.Errorf("empty report rates %v %v, want 1", r.MetricRate(), r.VoteRate())
	}
}

// TestCompareSharedSelf compares each shared verdict file with itself and
// with a copy whose first algorithm's votes are all flipped.
func TestCompareSharedSelf(t *testing.T) {
	for _, c := range sharedCorpora(t) {
		b, err := os.ReadFile(c.VerdictsPath())
		if err != nil {
			t.Fatal(err)
		}
		_, vs, err := ReadVerdicts(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if r := Compare(vs, vs); r.MetricAgree != len(vs) || r.VoteAgree != r.Votes || len(r.Disagreements) != 0 {
			t.Errorf("%s: self comparison %+v", c.Name(), r)
		}
		flipped := make([]Verdict, len(vs))
		for i, v := range vs {
			v.Votes = append([]Vote(nil), v.Votes...)
			if v.Votes[0] == No {
				v.Votes[0] = Yes
			} else {
				v.Votes[0] = No
			}
			flipped[i] = v
		}
		r := Compare(vs, flipped)
		if r.Algorithms[0].Agree != 0 || r.Algorithms[1].Agree != len(vs) || len(r.Disagreements) != len(vs) {
			t.Errorf("%s: flipped first vote: %+v", c.Name(), r.Algorithms[:2])
		}
	}
}
