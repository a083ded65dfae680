package parity

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Report compares two sets of verdicts metric by metric (matched by their
// Metric index) and vote by vote (matched by position).
type Report struct {
	// Metrics is the number of metrics present in both sets.
	Metrics int
	// MetricAgree counts those on which the decisions (Anomalous) agree.
	MetricAgree int
	// Votes counts the vote positions compared: the sum over common
	// metrics of the longer ensemble's length.
	Votes int
	// VoteAgree counts votes that are equal (None equals only None).
	VoteAgree int
	// EffectiveAgree counts votes equal once None is read as Yes, as
	// Skyline's consensus reads them (it counts only No votes).
	EffectiveAgree int
	// Algorithms has one entry per vote position.
	Algorithms []AlgorithmAgreement
	// Disagreements lists, by ascending metric, every common metric whose
	// decision or any vote differs.
	Disagreements []Disagreement
	// Missing lists the metrics of want absent from got; Extra those of
	// got absent from want. Both ascending.
	Missing, Extra []int
}

// AlgorithmAgreement is the vote agreement of one vote position.
type AlgorithmAgreement struct {
	Votes, Agree, EffectiveAgree int
	// Confusion[w][g] counts votes where want voted w and got voted g, in
	// the order No, Yes, None (absent votes are not counted).
	Confusion [3][3]int
}

// Rate returns Agree/Votes (NaN-free: 1 when there are no votes).
func (a AlgorithmAgreement) Rate() float64 { return rate(a.Agree, a.Votes) }

// Disagreement is a metric on which two sets of verdicts differ.
type Disagreement struct {
	Metric int
	// Decision reports whether the decisions differ (else only votes do).
	Decision  bool
	Want, Got Verdict
}

// MetricRate returns MetricAgree/Metrics (1 when there are none).
func (r Report) MetricRate() float64 { return rate(r.MetricAgree, r.Metrics) }

// VoteRate returns VoteAgree/Votes (1 when there are none).
func (r Report) VoteRate() float64 { return rate(r.VoteAgree, r.Votes) }

// EffectiveVoteRate returns EffectiveAgree/Votes (1 when there are none).
func (r Report) EffectiveVoteRate() float64 { return rate(r.EffectiveAgree, r.Votes) }

func rate(n, d int) float64 {
	if d == 0 {
		return 1
	}
	return float64(n) / float64(d)
}

// Compare compares got with the reference want. Metrics missing from
// either side are listed in Missing or Extra and not counted; when two
// ensembles differ in length, the positions beyond the shorter one count
// as disagreeing votes. If a side repeats a metric, its last verdict wins.
func Compare(want, got []Verdict) Report {
	var r Report
	gotBy := make(map[int]Verdict, len(got))
	for _, v := range got {
		gotBy[v.Metric] = v
	}
	wantBy := make(map[int]Verdict, len(want))
	for _, v := range want {
		wantBy[v.Metric] = v
	}
	ms := make([]int, 0, len(wantBy))
	for m := range wantBy {
		ms = append(ms, m)
	}
	slices.Sort(ms)
	for _, m := range ms {
		w := wantBy[m]
		g, ok := gotBy[m]
		if !ok {
			r.Missing = append(r.Missing, m)
			continue
		}
		r.Metrics++
		same := w.Anomalous == g.Anomalous
		if same {
			r.MetricAgree++
		}
		n := max(len(w.Votes), len(g.Votes))
		for len(r.Algorithms) < n {
			r.Algorithms = append(r.Algorithms, AlgorithmAgreement{})
		}
		votesSame := true
		for i := range n {
			a := &r.Algorithms[i]
			a.Votes++
			r.Votes++
			if i >= len(w.Votes) || i >= len(g.Votes) {
				votesSame = false
				continue
			}
			wv, gv := w.Votes[i], g.Votes[i]
			if wi, gi := confIndex(wv), confIndex(gv); wi >= 0 && gi >= 0 {
				a.Confusion[wi][gi]++
			}
			if wv == gv {
				a.Agree++
				r.VoteAgree++
			} else {
				votesSame = false
			}
			if effective(wv) == effective(gv) {
				a.EffectiveAgree++
				r.EffectiveAgree++
			}
		}
		if !same || !votesSame {
			r.Disagreements = append(r.Disagreements, Disagreement{Metric: m, Decision: !same, Want: w, Got: g})
		}
	}
	for m := range gotBy {
		if _, ok := wantBy[m]; !ok {
			r.Extra = append(r.Extra, m)
		}
	}
	slices.Sort(r.Extra)
	return r
}

func confIndex(v Vote) int {
	switch v {
	case No:
		return 0
	case Yes:
		return 1
	case None:
		return 2
	}
	return -1
}

// effective maps None to Yes, as Skyline's consensus counts votes.
func effective(v Vote) Vote {
	if v == None {
		return Yes
	}
	return v
}

// Format writes the report for people: overall agreement, each
// algorithm's (named by names, in vote order, when given), and at most
// maxList disagreeing metrics with both sides' votes (all when maxList < 0).
func (r Report) Format(w io.Writer, names []string, maxList int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "metrics: %d/%d agree (%.2f%%)\n", r.MetricAgree, r.Metrics, 100*r.MetricRate())
	fmt.Fprintf(&b, "votes:   %d/%d agree (%.2f%%); %.2f%% with null read as true\n",
		r.VoteAgree, r.Votes, 100*r.VoteRate(), 100*r.EffectiveVoteRate())
	for i, a := range r.Algorithms {
		name := fmt.Sprintf("vote %d", i)
		if i < len(names) {
			name = names[i]
		}
		fmt.Fprintf(&b, "  %-28s %d/%d (%.2f%%)\n", name, a.Agree, a.Votes, 100*a.Rate())
	}
	if len(r.Missing) > 0 {
		fmt.Fprintf(&b, "missing from got: %d metrics %v\n", len(r.Missing), head(r.Missing, 20))
	}
	if len(r.Extra) > 0 {
		fmt.Fprintf(&b, "extra in got: %d metrics %v\n", len(r.Extra), head(r.Extra, 20))
	}
	for i, d := range r.Disagreements {
		if maxList >= 0 && i >= maxList {
			fmt.Fprintf(&b, "... %d more disagreeing metrics\n", len(r.Disagreements)-i)
			break
		}
		kind := "votes"
		if d.Decision {
			kind = "DECISION"
		}
		fmt.Fprintf(&b, "metric %d (%s): want %t %v, got %t %v\n", d.Metric, kind, d.Want.Anomalous, d.Want.Votes, d.Got.Anomalous, d.Got.Votes)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func head(xs []int, n int) []int {
	if len(xs) > n {
		return xs[:n]
	}
	return xs
}
