package elastic

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-kale/kale/fingerprint"
	"github.com/go-kale/kale/oculus"
)

// Answers as the servers send them: Elasticsearch 8 (from its reference
// documentation) and ZincSearch v0.4.10 (captured from the test server).
const (
	esSearch = `{"took":5,"timed_out":false,"_shards":{"total":1,"successful":1,"skipped":0,"failed":0},
 "hits":{"total":{"value":2,"relation":"eq"},"max_score":1.3,"hits":[
  {"_index":"kale-metrics-1","_id":"a","_score":1.3,"_source":{"metric":"a","fingerprint":"inc dec","values":[1.5,2.25,3],"flat":false}},
  {"_index":"kale-metrics-1","_id":"b","_score":0.2,"_source":{"metric":"b","fingerprint":"","values":[0,0,0],"flat":true}}]}}`
	zincSearch = `{"took":0,"timed_out":false,"_shards":{"total":1,"successful":1,"skipped":0,"failed":0},
 "hits":{"total":{"value":1},"max_score":0.77,"hits":[{"_index":"kx-metrics-1","_type":"_doc","_id":"b","_score":0.77,
 "@timestamp":"2026-11-21T10:05:09.21292544Z","_source":{"@timestamp":"2026-11-21T10:05:09.21292544Z","fingerprint":"dec","flat":true,
 "metric":"b","shingles":["dec"],"tokens":["p00l3","p01l2"],"values":[0,0.1,0.2]}}]}}`
	esBulkFailure = `{"took":30,"errors":true,"items":[
  {"index":{"_index":"kale-metrics-1","_id":"a","_version":1,"result":"created","status":201}},
  {"index":{"_index":"kale-metrics-1","_id":"b","status":400,"error":{"type":"document_parsing_exception","reason":"failed to parse field [values]","caused_by":{"type":"number_format_exception","reason":"For input string"}}}},
  {"index":{"_index":"kale-metrics-1","_id":"c","status":429,"error":{"type":"es_rejected_execution_exception","reason":"rejected execution"}}}]}`
	// ZincSearch stops at the first failing document: it lists it as
	// created and adds a top-level error; later documents have no item.
	zincBulkFailure = `{"took":0,"errors":false,"error":"field [flat] was set type to [bool] but the value [x] can't convert to boolean","items":[
  {"index":{"_index":"kx","_type":"_doc","_id":"a","_version":1,"result":"created","status":200,"_seq_no":1,"_primary_term":1}},
  {"index":{"_index":"kx","_type":"_doc","_id":"b","_version":1,"result":"created","status":200,"_seq_no":2,"_primary_term":1}}]}`
	zincDeleteMissing = `{"took":0,"errors":false,"items":[{"delete":{"_index":"kx","_type":"_doc","_id":"z","_version":1,"result":"deleted","status":200,"error":{}}}]}`
	esAliases         = `{"kale-metrics-2":{"aliases":{"kale-metrics":{}}},"kale-metrics-1":{"aliases":{"kale-metrics":{},"other":{}}},"x":{"aliases":{"other":{}}}}`
)

func TestDecodeSearch(t *testing.T) {
	r, err := decodeSearch([]byte(esSearch))
	if err != nil || r.Total != 2 || len(r.Hits) != 2 || r.Hits[1].ID != "b" || r.Hits[0].Index != "kale-metrics-1" {
		t.Fatalf("Elasticsearch answer: %+v, %v", r, err)
	}
	d, err := decodeDoc(r.Hits[0].Source, 3)
	if err != nil || d.Metric != "a" || d.Fingerprint != "inc dec" || !slices.Equal(d.Values, []float32{1.5, 2.25, 3}) || d.Flat {
		t.Errorf("decodeDoc = %+v, %v", d, err)
	}
	if _, err := decodeDoc(r.Hits[0].Source, 4); err == nil {
		t.Error("a document of 3 values was accepted for a generation of 4")
	}

	r, err = decodeSearch([]byte(zincSearch))
	if err != nil || r.Total != 1 || len(r.Hits) != 1 {
		t.Fatalf("ZincSearch answer: %+v, %v", r, err)
	}
	if d, err := decodeDoc(r.Hits[0].Source, 3); err != nil || !d.Flat || d.Metric != "b" {
		t.Errorf("ZincSearch document: %+v, %v", d, err)
	}

	if r, err := decodeSearch([]byte(`{"hits":{"total":7,"hits":[]}}`)); err != nil || r.Total != 7 {
		t.Errorf("a numeric total (Elasticsearch 6): %+v, %v", r, err)
	}
	if r, err := decodeSearch([]byte(`{"hits":{"hits":[]}}`)); err != nil || r.Total != 0 {
		t.Errorf("no total (track_total_hits false): %+v, %v", r, err)
	}
	for _, bad := range []string{
		``, `[]`, `{}`, `{"hits":{"total":-1,"hits":[]}}`, `{"hits":{"total":{"relation":"eq"},"hits":[]}}`,
		`{"timed_out":true,"hits":{"hits":[]}}`, `{"_shards":{"failed":2},"hits":{"hits":[]}}`,
		`{"hits":{"hits":[{"_id":"a"}]}}`, `{"hits":{"hits":[{"_id":"a","_source":[1]}]}}`,
		`{"hits":{"total":1.5,"hits":[]}}`,
	} {
		if r, err := decodeSearch([]byte(bad)); err == nil {
			t.Errorf("decodeSearch(%s) = %+v, want an error", bad, r)
		}
	}
	for _, bad := range []string{`{"values":[1,2]}`, `{"metric":"a","values":[1e39,0]}`, `{"metric":"a","values":"1 2"}`} {
		if d, err := decodeDoc([]byte(bad), 2); err == nil {
			t.Errorf("decodeDoc(%s) = %+v, want an error", bad, d)
		}
	}
}

func TestDecodeBulk(t *testing.T) {
	items, err := decodeBulk([]byte(esBulkFailure), 3)
	if err != nil {
		t.Fatal(err)
	}
	if items[0].Failed || !items[1].Failed || !items[2].Failed {
		t.Errorf("Elasticsearch items = %+v; want the 2nd and 3rd failed", items)
	}
	if !strings.Contains(items[1].Reason, "document_parsing_exception: failed to parse field [values]") ||
		!strings.Contains(items[1].Reason, "caused by number_format_exception") {
		t.Errorf("reason = %q", items[1].Reason)
	}

	items, err = decodeBulk([]byte(zincBulkFailure), 4)
	if err != nil {
		t.Fatal(err)
	}
	if items[0].Failed || !items[1].Failed || items[1].Skipped || !items[2].Skipped || !items[3].Skipped ||
		!strings.Contains(items[1].Reason, "can't convert to boolean") {
		t.Errorf("ZincSearch items = %+v; want the 2nd (listed, then failed) failed and the later ones skipped", items)
	}

	items, err = decodeBulk([]byte(zincDeleteMissing), 1)
	if err != nil || !items[0].Failed || items[0].Reason == "" {
		t.Errorf("a ZincSearch item with an empty error object: %+v, %v; want failed", items, err)
	}
	items, err = decodeBulk([]byte(`{"errors":false,"items":[]}`), 2)
	if err != nil || !items[0].Skipped || !items[1].Skipped || !items[0].Failed {
		t.Errorf("actions without items: %+v, %v; want failed", items, err)
	}
	for _, bad := range []string{`x`, `{"items":[{}]}`, `{"items":[{"index":{},"delete":{}}]}`, `{"items":[{"index":[]}]}`,
		`{"items":[{"index":{"status":200}},{"index":{"status":200}}]}`} {
		if items, err := decodeBulk([]byte(bad), 1); err == nil {
			t.Errorf("decodeBulk(%s) = %+v, want an error", bad, items)
		}
	}
}

func TestDecodeError(t *testing.T) {
	for body, want := range map[string]string{
		`{"error":{"root_cause":[],"type":"index_not_found_exception","reason":"no such index [x]"},"status":404}`: "index_not_found_exception: no such index [x]",
		`{"error":"index x does not exists"}`:                            "index x does not exists",
		`{"error":{"reason":"only a reason"}}`:                           "only a reason",
		`{"error":{"type":"t","caused_by":{"type":"c","reason":"why"}}}`: "t (caused by c: why)",
		`{"error":{"something":"else"}}`:                                 `{"something":"else"}`,
		`{"error":{}}`:                                                   "failed (the server gave no reason)",
	} {
		if got, ok := decodeError([]byte(body)); !ok || got != want {
			t.Errorf("decodeError(%s) = %q, %v; want %q", body, got, ok, want)
		}
	}
	for _, body := range []string{"404 page not found", ``, `{}`, `{"error":null}`, `[1]`} {
		if got, ok := decodeError([]byte(body)); ok {
			t.Errorf("decodeError(%q) = %q, ok; want not an Elasticsearch error", body, got)
		}
	}
}

func TestDecodeAliases(t *testing.T) {
	got, err := decodeAliases([]byte(esAliases), "kale-metrics")
	slices.Sort(got)
	if err != nil || !slices.Equal(got, []string{"kale-metrics-1", "kale-metrics-2"}) {
		t.Errorf("decodeAliases = %v, %v", got, err)
	}
	if got, err := decodeAliases([]byte(`{}`), "kale-metrics"); err != nil || len(got) != 0 {
		t.Errorf("ZincSearch's answer for no alias: %v, %v", got, err)
	}
	if _, err := decodeAliases([]byte(`{"a":[]}`), "x"); err == nil {
		t.Error("a malformed alias answer was accepted")
	}
}

func TestStateAndCollectionRoundTrip(t *testing.T) {
	g := generation{index: "kale-metrics-5", window: oculus.Window{From: 100, Until: 3700}, points: 120, docs: 42,
		built: time.Date(2026, 11, 21, 10, 5, 9, 212925440, time.UTC)}
	src, _ := json.Marshal(g.source())
	back, err := decodeGeneration(src)
	if err != nil || back != g {
		t.Errorf("decodeGeneration(%s) = %+v, %v; want %+v", src, back, err, g)
	}
	for _, bad := range []string{`{"index":"a","from":5,"until":5,"points":3,"built":"2026-01-01T00:00:00Z"}`,
		`{"index":"a","from":1,"until":5,"points":3,"built":"yesterday"}`, `{"index":"","from":1,"until":5,"points":3,"built":"2026-01-01T00:00:00Z"}`} {
		if g, err := decodeGeneration([]byte(bad)); err == nil {
			t.Errorf("decodeGeneration(%s) = %+v, want an error", bad, g)
		}
	}

	c := oculus.Collection{ID: "c1", Name: "n", Members: []oculus.Member{{Metric: "m", Values: []float32{1, 2}}}}
	whole, _ := json.Marshal(c)
	src, _ = json.Marshal(collectionSource{ID: "c1", Name: "n", Collection: string(whole)})
	if got, err := decodeCollection(src); err != nil || got.ID != "c1" || len(got.Members) != 1 || !slices.Equal(got.Members[0].Values, c.Members[0].Values) {
		t.Errorf("decodeCollection = %+v, %v", got, err)
	}
	src, _ = json.Marshal(collectionSource{ID: "c2", Name: "n", Collection: string(whole)})
	if _, err := decodeCollection(src); err == nil {
		t.Error("a document holding another collection's ID was accepted")
	}
}

// TestCandidateQueryTokens: without grading, the token clauses are exactly
// fingerprint.DefaultPositional.QueryTokens, and minimum_should_match is
// an absolute share of the 16 segments.
func TestCandidateQueryTokens(t *testing.T) {
	values := make([]float32, 60)
	v64 := make([]float64, 60)
	for i := range values {
		values[i] = float32(i % 17)
		v64[i] = float64(values[i])
	}
	for _, slack := range []int{0, 1, 2} {
		q, err := candidateQuery(oculus.Query{Values: values, Exclude: "me"}, 20, candidateParams{Tokens: true, Slack: slack, MinMatch: 0.75})
		if err != nil {
			t.Fatal(err)
		}
		b := q["query"].(map[string]any)["bool"].(map[string]any)
		var got []string
		for _, c := range b["should"].([]any) {
			got = append(got, c.(map[string]any)["term"].(map[string]any)["tokens"].(string))
		}
		if want := fingerprint.DefaultPositional.QueryTokens(v64, slack); !slices.Equal(got, want) {
			t.Errorf("slack %d: tokens %v, want %v", slack, got, want)
		}
		if msm := b["minimum_should_match"]; msm != 12 {
			t.Errorf("minimum_should_match = %v, want 12 of 16 segments", msm)
		}
		if b["must_not"] == nil {
			t.Error("no must_not for the excluded metric")
		}
	}
	if _, err := candidateQuery(oculus.Query{Values: values, Fingerprint: "up"}, 5, defaultCandidateParams); err == nil {
		t.Error("a query fingerprint with unknown words was accepted")
	}
	if _, err := candidateQuery(oculus.Query{Values: values}, 5, candidateParams{Shingles: true}); err == nil {
		t.Error("a query without any clause was accepted")
	}
}

// FuzzDecoders feeds arbitrary bytes to every decoder of server answers:
// none may panic, and what they accept must be consistent.
func FuzzDecoders(f *testing.F) {
	for _, s := range []string{esSearch, zincSearch, esBulkFailure, zincBulkFailure, zincDeleteMissing, esAliases,
		`{"hits":{"total":3,"hits":[{"_id":"x","_source":{"metric":"x","values":[1,2]}}]}}`,
		`{"index":"a","from":1,"until":5,"points":3,"docs":2,"built":"2026-01-01T00:00:00Z"}`,
		`{"id":"c","name":"n","collection":"{\"id\":\"c\"}"}`, `{"error":{"type":"t","reason":"r"}}`} {
		f.Add([]byte(s), 3)
	}
	f.Fuzz(func(t *testing.T, data []byte, n int) {
		n = min(max(n, 0), 1000)
		if r, err := decodeSearch(data); err == nil {
			if r.Total < 0 {
				t.Fatalf("negative total %d", r.Total)
			}
			for _, h := range r.Hits {
				if len(h.Source) == 0 || h.Source[0] != '{' {
					t.Fatalf("hit %q accepted without a _source object", h.ID)
				}
			}
		}
		if d, err := decodeDoc(data, n); err == nil && (d.Metric == "" || len(d.Values) != n) {
			t.Fatalf("decodeDoc accepted %+v for %d points", d, n)
		}
		if items, err := decodeBulk(data, n); err == nil {
			if len(items) != n {
				t.Fatalf("decodeBulk returned %d items for %d actions", len(items), n)
			}
			for _, it := range items {
				if it.Failed && it.Reason == "" {
					t.Fatalf("a failed item without a reason: %+v", it)
				}
			}
		}
		_, _ = decodeAliases(data, "kale-metrics")
		if g, err := decodeGeneration(data); err == nil && (g.index == "" || !g.window.Valid() || g.points < 2 || g.docs < 0) {
			t.Fatalf("decodeGeneration accepted %+v", g)
		}
		if c, err := decodeCollection(data); err == nil && c.ID == "" {
			t.Fatalf("decodeCollection accepted a collection without an ID: %+v", c)
		}
		if reason, ok := decodeError(data); ok && reason == "" {
			t.Fatal("decodeError reported an error without a reason")
		}
		_ = excerpt(data)
	})
}
