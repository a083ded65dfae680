package elastic

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-kale/kale/internal/shapegen"
	"github.com/go-kale/kale/internal/testserver"
	"github.com/go-kale/kale/oculus"
)

var (
	recallShift = flag.Int("recall.shift", 3, "TestCandidateRecall: largest time shift of a planted copy, in points of 120")
	recallNoise = flag.Float64("recall.noise", 0.05, "TestCandidateRecall: largest noise of a planted copy, as a share of its range")
)

var recallSweep = flag.Bool("recall.sweep", false, "TestCandidateRecall: also measure other token mixes and minimum_should_match shares, and log the table")

// recallCorpus is harder than the conformance suite's: planted groups of
// 10 metrics, each member a copy of its group's incident-like shape shifted
// by up to 3 points, scaled, offset and noisy (up to 5 % of its range),
// among unrelated walks, sines, steps and spikes (internal/shapegen).
func recallCorpus(t testing.TB) (docs []oculus.Doc, groups [][]string) {
	spec := shapegen.Spec{Metrics: 1000, Groups: 10, GroupSize: 10, Points: 120, Step: 30,
		End: 1_700_000_000, Seed: 1, MaxShift: *recallShift, Noise: *recallNoise}
	groups = make([][]string, spec.Groups)
	err := spec.Each(func(i int, m shapegen.Metric) error {
		docs = append(docs, shape(t, m.Name, m.Values, spec.Points))
		if m.Group >= 0 {
			groups[m.Group] = append(groups[m.Group], m.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return docs, groups
}

// recall is the share of planted neighbours found when each member of
// every group asks for n candidates, and the mean number of documents
// that matched the query (the engine's work).
type recall struct {
	found, want int
	matched     float64
}

func (r recall) share() float64 { return float64(r.found) / float64(r.want) }

// measureRecall asks cands for every group member.
func measureRecall(t testing.TB, groups [][]string, byName map[string]oculus.Doc,
	cands func(q oculus.Doc) (names []string, matched int, err error)) recall {
	var r recall
	queries := 0
	for _, g := range groups {
		for _, member := range g {
			names, matched, err := cands(byName[member])
			if err != nil {
				t.Fatalf("candidates for %s: %v", member, err)
			}
			for _, other := range g {
				if other == member {
					continue
				}
				r.want++
				if slices.Contains(names, other) {
					r.found++
				}
			}
			r.matched += float64(matched)
			queries++
		}
	}
	r.matched /= float64(queries)
	return r
}

// TestCandidateRecall measures on 1,000 metrics which share of each
// planted metric's 9 relatives the candidate query returns, and checks
// that the default query keeps nearly all of them. With -recall.sweep it
// also logs the figures of other token mixes and minimum_should_match
// shares, and of the embedded index's LB_Keogh scan for comparison (the
// package doc quotes them).
func TestCandidateRecall(t *testing.T) {
	z := testserver.StartZinc(t)
	x := open(t, z, prefixFor(t.Name()))
	ctx := context.Background()
	docs, groups := recallCorpus(t)
	byName := map[string]oculus.Doc{}
	for _, d := range docs {
		byName[d.Metric] = d
	}
	now := time.Now().Unix()
	start := time.Now()
	commit(t, x, oculus.Window{From: now - 3600, Until: now}, 120, docs)
	t.Logf("indexed %d documents in %v", len(docs), time.Since(start).Round(time.Millisecond))

	esCands := func(p candidateParams, n int) func(q oculus.Doc) ([]string, int, error) {
		return func(q oculus.Doc) ([]string, int, error) {
			g, _, err := x.current(ctx)
			if err != nil {
				return nil, 0, err
			}
			query := oculus.Query{Values: q.Values, Fingerprint: q.Fingerprint, Exclude: q.Metric}
			body, err := candidateQuery(query, n, p)
			if err != nil {
				return nil, 0, err
			}
			body["track_total_hits"] = true
			r, err := x.search(ctx, g.index, body)
			if err != nil {
				return nil, 0, err
			}
			var names []string
			for _, h := range r.Hits {
				names = append(names, h.ID)
			}
			return names, r.Total, nil
		}
	}

	// The default query, through Candidates.
	for _, c := range []struct {
		n    int
		want float64
	}{{20, 0.95}, {50, 0.99}} {
		r := measureRecall(t, groups, byName, func(q oculus.Doc) ([]string, int, error) {
			cs, err := x.Candidates(ctx, oculus.Query{Values: q.Values, Fingerprint: q.Fingerprint, Exclude: q.Metric, Band: 12}, c.n)
			var names []string
			for _, d := range cs {
				names = append(names, d.Metric)
			}
			return names, 0, err
		})
		t.Logf("default query %+v: recall of planted relatives with %d candidates: %d/%d = %.3f",
			x.cand, c.n, r.found, r.want, r.share())
		if r.share() < c.want {
			t.Errorf("with %d candidates the default query finds %.3f of the planted relatives, want at least %.2f", c.n, r.share(), c.want)
		}
	}
	// Oculus's way (elasticsearch.query: shingles), through Candidates.
	sh, err := New(ctx, oculus.ElasticConfig{URLs: []string{z.URL}, Index: prefixFor(t.Name()), Username: z.User, Password: z.Password,
		Timeout: testTimeout, Query: oculus.QueryShingles}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	r := measureRecall(t, groups, byName, func(q oculus.Doc) ([]string, int, error) {
		cs, err := sh.Candidates(ctx, oculus.Query{Values: q.Values, Fingerprint: q.Fingerprint, Exclude: q.Metric, Band: 12}, 20)
		var names []string
		for _, d := range cs {
			names = append(names, d.Metric)
		}
		if err == nil && len(cs) != 20 {
			err = fmt.Errorf("%d candidates, want 20", len(cs))
		}
		return names, 0, err
	})
	t.Logf("query shingles %+v: recall of planted relatives with 20 candidates: %d/%d = %.3f", sh.cand, r.found, r.want, r.share())
	if !*recallSweep {
		return
	}

	emb, err := oculus.NewEmbedded(oculus.EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	commit(t, emb, oculus.Window{From: now - 3600, Until: now}, 120, docs)
	var table strings.Builder
	fmt.Fprintf(&table, "\n%-34s %8s %8s %8s\n", "query", "rec@20", "rec@50", "matched")
	row := func(name string, at func(n int) recall) {
		r20, r50 := at(20), at(50)
		fmt.Fprintf(&table, "%-34s %8.3f %8.3f %8.0f\n", name, r20.share(), r50.share(), r50.matched)
	}
	row("embedded LB_Keogh (band 12)", func(n int) recall {
		return measureRecall(t, groups, byName, func(q oculus.Doc) ([]string, int, error) {
			cs, err := emb.Candidates(ctx, oculus.Query{Values: q.Values, Fingerprint: q.Fingerprint, Exclude: q.Metric}, n)
			var names []string
			for _, d := range cs {
				names = append(names, d.Metric)
			}
			return names, len(docs) - 1, err
		})
	})
	for _, mix := range []candidateParams{
		{Tokens: true, Slack: 0}, {Tokens: true, Slack: 1}, {Tokens: true, Slack: 2},
		{Tokens: true, Slack: 1, Graded: true}, {Tokens: true, Slack: 2, Graded: true},
		{Tokens: true, Slack: 3, Graded: true},
		{Shingles: true},
		{Tokens: true, Slack: 1, Shingles: true},
		{Tokens: true, Slack: 2, Graded: true, Shingles: true, ShingleBoost: 0.25},
		{Tokens: true, Slack: 2, Graded: true, Shingles: true, ShingleBoost: 1},
	} {
		for _, share := range []float64{0, 0.5, 0.625, 0.75, 0.875} {
			p := mix
			p.MinMatch = share
			row(p.String(), func(n int) recall { return measureRecall(t, groups, byName, esCands(p, n)) })
		}
	}
	t.Log(table.String())
}
