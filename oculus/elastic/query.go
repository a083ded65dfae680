package elastic

import (
	"fmt"
	"math"
	"strings"

	"github.com/go-kale/kale/fingerprint"
	"github.com/go-kale/kale/oculus"
)

// shingleSize is the length of the Oculus-word shingles indexed and
// queried (fingerprint.Shingles).
const shingleSize = 3

// maxCandidates is the most documents one search may return
// (Elasticsearch's index.max_result_window and ZincSearch's
// ZINC_MAX_RESULTS both default to 10,000).
const maxCandidates = 10000

// candidateParams shape the candidate query (see the package doc).
type candidateParams struct {
	// Tokens adds one term clause per positional token of the query
	// (fingerprint.DefaultPositional.QueryTokens with Slack).
	Tokens bool
	Slack  int
	// Graded boosts a token by how close its level is to the query's:
	// Slack+1 for the query's own level down to 1 at ±Slack, so a
	// document's score grows as its levels approach the query's.
	Graded bool
	// Shingles adds one term clause per distinct shingle of the query's
	// Oculus words, boosted by ShingleBoost (1 when 0).
	Shingles     bool
	ShingleBoost float64
	// MinMatch is minimum_should_match as a share of the clauses a
	// document can match at most: one token per segment (or, without
	// tokens, every query shingle). 0 asks for one clause.
	MinMatch float64
	// Oversample: Candidates asks the engine for n×Oversample documents
	// and keeps the n nearest by exact banded DTW (1 or 0: n, ranked by
	// the engine's score alone).
	Oversample int
}

// defaultCandidateParams were chosen by TestCandidateRecall (see the
// package doc for the figures).
var defaultCandidateParams = candidateParams{Tokens: true, Slack: 2, Graded: true, Shingles: true, ShingleBoost: 0.25, MinMatch: 0.75, Oversample: 10}

// shinglesCandidateParams is Oculus's way (ElasticConfig.Query
// "shingles"): the query's fingerprint-word shingles alone, any one of
// which admits a document, ranked by the engine's score, oversampled and
// re-ranked by DTW as the default is.
var shinglesCandidateParams = candidateParams{Shingles: true, Oversample: 10}

// metricFields are the fields of a metric document a search returns.
var metricFields = []string{"metric", "fingerprint", "values", "flat"}

// docTokens are the positional tokens indexed for a document's values.
func docTokens(values []float32) []string {
	return fingerprint.DefaultPositional.Tokens(float64s(values))
}

// docShingles are the shingles indexed for a fingerprint.
func docShingles(fp string) ([]string, error) {
	words, err := fingerprint.Parse(fp)
	if err != nil {
		return nil, err
	}
	return fingerprint.Shingles(words, shingleSize), nil
}

// candidateQuery builds the search for up to n candidates resembling q
// (see the package doc): a bool query whose should clauses are term
// queries on the query's positional tokens, with minimum_should_match,
// and, when both tokens and shingles are asked for, the shingles as
// optional should clauses of an outer bool that only add to the score; a
// must_not term leaves out q.Exclude. The engine returns the n best
// scores; the caller re-ranks them by DTW.
func candidateQuery(q oculus.Query, n int, p candidateParams) (map[string]any, error) {
	var tokens, shingles []any
	if p.Tokens {
		pos := fingerprint.DefaultPositional
		for seg, level := range pos.Encode(nil, float64s(q.Values)) {
			for d := -p.Slack; d <= p.Slack; d++ { // the order of QueryTokens
				if l := level + d; l >= 0 && l < pos.Levels {
					boost := 1.0
					if p.Graded {
						boost = float64(p.Slack - abs(d) + 1)
					}
					tokens = append(tokens, boostedTerm("tokens", fingerprint.Token(seg, l), boost))
				}
			}
		}
	}
	if p.Shingles && q.Fingerprint != "" {
		sh, err := docShingles(q.Fingerprint)
		if err != nil {
			return nil, fmt.Errorf("oculus/elastic: bad query fingerprint: %w", err)
		}
		boost := p.ShingleBoost
		if boost == 0 {
			boost = 1
		}
		for _, s := range sh {
			shingles = append(shingles, boostedTerm("shingles", s, boost))
		}
	}
	var boolQ map[string]any
	switch {
	case len(tokens) > 0 && len(shingles) > 0:
		gate := map[string]any{"bool": map[string]any{
			"should":               tokens,
			"minimum_should_match": minShouldMatch(p.MinMatch, fingerprint.DefaultPositional.Segments),
		}}
		boolQ = map[string]any{"must": []any{gate}, "should": shingles}
	case len(tokens) > 0: // a document has one token per segment
		boolQ = map[string]any{"should": tokens, "minimum_should_match": minShouldMatch(p.MinMatch, fingerprint.DefaultPositional.Segments)}
	case len(shingles) > 0:
		boolQ = map[string]any{"should": shingles, "minimum_should_match": minShouldMatch(p.MinMatch, len(shingles))}
	default:
		return nil, fmt.Errorf("oculus/elastic: the candidate query has no clause (%v, fingerprint %q)", p, q.Fingerprint)
	}
	if q.Exclude != "" {
		boolQ["must_not"] = []any{term("metric", q.Exclude)}
	}
	return map[string]any{
		"size":    min(n, maxCandidates),
		"_source": metricFields,
		"query":   map[string]any{"bool": boolQ},
	}, nil
}

// minShouldMatch is the absolute minimum_should_match for a share of the
// attainable clauses, at least 1. An absolute number, because a
// percentage applies to the number of clauses, and the query has three
// token clauses per segment of which a document can match one.
func minShouldMatch(share float64, attainable int) int {
	return max(1, int(math.Floor(share*float64(attainable))))
}

func term(field, value string) map[string]any {
	return map[string]any{"term": map[string]any{field: value}}
}

// boostedTerm is a term query with a boost (plain when boost is 1).
func boostedTerm(field, value string, boost float64) map[string]any {
	if boost == 1 {
		return term(field, value)
	}
	return map[string]any{"term": map[string]any{field: map[string]any{"value": value, "boost": boost}}}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func float64s(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// String describes the parameters for logs and the recall table.
func (p candidateParams) String() string {
	var parts []string
	if p.Tokens {
		t := fmt.Sprintf("tokens±%d", p.Slack)
		if p.Graded {
			t += " graded"
		}
		parts = append(parts, t)
	}
	if p.Shingles {
		s := "shingles"
		if p.ShingleBoost != 0 && p.ShingleBoost != 1 {
			s += fmt.Sprintf("×%g", p.ShingleBoost)
		}
		parts = append(parts, s)
	}
	return fmt.Sprintf("%s msm=%.2f", strings.Join(parts, "+"), p.MinMatch)
}
