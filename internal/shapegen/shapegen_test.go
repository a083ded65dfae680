package shapegen

import (
	"slices"
	"strings"
	"testing"
)

func TestCorpus(t *testing.T) {
	s := DefaultSpec(3000)
	s.End = 1_700_000_000
	var first [][]float64
	groups := map[int]int{}
	err := s.Each(func(i int, m Metric) error {
		first = append(first, slices.Clone(m.Values))
		if len(m.Values) != s.Points {
			t.Fatalf("%s has %d values", m.Name, len(m.Values))
		}
		if m.Group >= 0 {
			groups[m.Group]++
			if !strings.HasPrefix(m.Name, "planted.") {
				t.Errorf("planted member named %s", m.Name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 3000 || len(groups) != 3 || groups[0] != 10 {
		t.Errorf("%d metrics, groups %v; want 3000 and 3 groups of 10", len(first), groups)
	}
	// The same spec gives the same corpus.
	s.Each(func(i int, m Metric) error {
		if !slices.Equal(first[i], m.Values) {
			t.Fatalf("metric %d differs between two runs", i)
		}
		return nil
	})
	// Members of a group are different series (scaled, shifted, noisy).
	if slices.Equal(first[0], first[1]) {
		t.Error("two members of a group are identical")
	}
	if err := (Spec{Metrics: 5, Groups: 1, GroupSize: 10, Points: 10, Step: 1}).Validate(); err == nil {
		t.Error("a group larger than the corpus validated")
	}
}
