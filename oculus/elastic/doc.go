// Package elastic is the Elasticsearch backend of oculus.Index: Oculus's
// own storage (it kept shapes and collections in Elasticsearch), behind
// the same conformance suite as the embedded index (oculus/oculustest).
// New connects to a cluster given by oculus.ElasticConfig.
//
// # Indexes
//
// With the prefix P (oculus.elasticsearch.index, "kale"):
//
//   - P-metrics-<unix nanos>: one concrete index per generation (an
//     import), one document per metric, id = metric name:
//     metric (keyword), fingerprint (text, whitespace analyzer: Oculus's
//     words), shingles (keyword array: fingerprint.Shingles of the words,
//     n = 3), tokens (keyword array: fingerprint.DefaultPositional.Tokens of
//     the values), values (float array, in _source only: not indexed, no
//     doc values) and flat (boolean).
//   - P-metrics: the alias naming the current generation.
//   - P-state: one document per generation, id = its concrete index:
//     window, points, document count, build time. Build registers the
//     generation there ("building": true) and Commit completes the
//     document. Stats reads it, so it survives a restart of Kale or of
//     the cluster.
//   - P-collections: one document per collection, id = Collection.ID: the
//     name (keyword, for the uniqueness check) and the whole collection as
//     a JSON string that is stored but not indexed, so no member's values
//     become search fields (ZincSearch ignores "enabled": false and would
//     index them).
//
// # Generations
//
// Build creates a concrete index with an explicit mapping. Add bulk-indexes
// (_bulk); a failed action is retried once, then Add fails naming the
// first failure. Commit polls a size-0 search with track_total_hits until
// the concrete index counts every metric added (writes are not visible at
// once: Elasticsearch shows them after its refresh interval, ZincSearch
// after its write-ahead log is consumed), writes the state document,
// repoints the alias in one _aliases request (remove from the old index,
// add to the new), and deletes the old concrete index and its state,
// logging a warning if that fails. Abort deletes the new index.
//
// A Kale that stops between Build and Commit leaves a generation the alias
// never named, and one that stops between the swap and the deletion
// leaves the previous one; and a bulk write that an aborted import gave up
// on can still reach the server after Abort deleted the index, which the
// write then creates again. Each Build first sweeps such leftovers: every
// generation registered in P-state, not behind the alias, and created
// (the nanoseconds in its name) more than an hour ago, far longer than an
// import takes, so that a generation another Kale is filling is never
// deleted (TestSweep).
//
// Every read resolves the alias (GET /_alias/P-metrics, taking the newest
// index when it briefly names two), reads the generation's state (cached:
// state documents never change) and searches that concrete index. When
// that search fails, or misses the metric, while a Commit has meanwhile
// replaced the generation, the read is made once more on the new one, so
// a metric present in both generations is never reported missing during
// a swap (TestSwap, TestReadDuringSwap).
//
// # Candidates
//
// Candidates is one search for ten times the n candidates asked for
// (candidateParams.Oversample), of which it returns the n nearest by exact
// DTW within the query's band (oculus.Nearest); the caller
// (oculus.Searcher) ranks those by FastDTW. A shape is cut into 16 equal segments whose means are
// quantised to 8 levels of its min-max range (fingerprint.Positional): a
// document is indexed under the 16 tokens "pSSlL". The query asks, in
// each segment, for the query's level L and its neighbours L±1 and L±2
// (QueryTokens with slack 2), boosted by closeness: 3 for L, 2 for L±1, 1
// for L±2. A document's score is then, roughly, Σ over segments of
// (3 − |level difference|)⁺ weighted by BM25's rarity of each token: a
// coarse similarity of piecewise means, the quantity LB_Keogh and DTW
// refine. minimum_should_match is 12 (75 % of the 16 segments, the most a
// document can match): a candidate must be within two levels in 12
// segments. The query's distinct Oculus-word shingles are optional should
// clauses of an outer bool with boost 0.25: they only break ties, because
// noise turns flats into inc/dec and makes shingles a poor filter. A
// must_not term on metric leaves the query's own metric out.
//
// These choices come from TestCandidateRecall (go test -run
// TestCandidateRecall ./oculus/elastic/ -args -recall.sweep, 2 cores,
// ZincSearch v0.4.10): 1,000 metrics of 120 points, 10 planted groups of
// 10 (internal/shapegen: each member shifted by up to 3 points, scaled,
// offset, noise up to 5 % of range); every member asks for n candidates;
// recall is the share of its 9 relatives returned, "matched" the mean
// number of documents passing minimum_should_match (the engine's work).
// Rows vary by about 0.01 between runs: the engine orders tied scores
// arbitrarily.
//
//	query                              rec@20  rec@50  matched
//	embedded LB_Keogh (band 12)         0.983   1.000      999
//	tokens±0                            0.813   0.867      857
//	tokens±1 (as QueryTokens(v, 1))     0.948   0.983      992
//	tokens±1, msm 0.75                  0.936   0.944       49
//	tokens±2                            0.809   1.000      998
//	tokens±2 graded, msm 0.75           0.981   0.998      232
//	shingles only                       0.276   0.447      992
//	tokens±1 + shingles                 0.934   0.970      992
//	tokens±2 graded + shingles×0.25:
//	  msm 0                             0.983   0.998      998
//	  msm 0.75 (the default)            0.983   0.998      232
//	  msm 0.875                         0.988   0.998      106
//
// On harder data (-recall.shift=6 -recall.noise=0.15) the default keeps
// 0.799 / 0.889 against LB_Keogh's 0.767 / 0.948, and minimum_should_match
// 0.75 loses nothing against 0 while it skips 72 % of the documents; 0.875
// still loses nothing there but leaves less margin for shifted shapes.
// The embedded index's LB_Keogh scan stays the better candidate filter;
// this backend is for sites that want Oculus's data in their cluster.
//
// The table measures the engine's ranking alone (no oversampling). At
// 1,000 metrics the default, oversampled and re-ranked by DTW, finds every
// planted relative among 20 candidates. At 100,000 metrics (kale bench
// oculus --metrics 100000 --backend elasticsearch, ZincSearch v0.4.10 on
// the same 2 cores): without oversampling, recall@20 0.812 and top-20
// overlap with exact DTW 0.505; with it, 0.902 and 0.811 (the embedded
// index: 0.927 and 0.963). The engine's scores order shapes only coarsely,
// so among 100,000 the nearest by DTW are often beyond its first 40.
//
// # Verified only against ZincSearch
//
// Real Elasticsearch cannot be installed where Kale is built, so every
// test runs against ZincSearch v0.4.10 (internal/testserver.StartZinc),
// which serves an Elasticsearch-compatible subset under /es. The requests
// are written to the Elasticsearch 8 API and kept to what both engines
// honour, but these were verified only against ZincSearch: index creation
// with the mappings above (ZincSearch ignores "dynamic": false and
// "doc_values"), _bulk with index and delete actions and refresh=wait_for
// (ignored by ZincSearch), bool/should/must/must_not with an absolute
// minimum_should_match and term boosts, ids and term queries, _source
// filtering, track_total_hits, GET /_alias/<alias>, POST /_aliases, HEAD
// /<index>, DELETE /<index>, and the relevance scoring the recall figures
// depend on (bluge's BM25 there, Lucene's BM25 in Elasticsearch: the
// ranking may differ). Where ZincSearch differs, the code does what works
// on both:
//
//   - _refresh: not called. ZincSearch answers it by closing and reopening
//     the index, which races with its write-ahead-log consumer (the
//     consumer can drop the reopened shard, and the index never shows its
//     documents); writes are awaited by polling a search instead.
//   - DELETE /<index> answers a bare 404 on ZincSearch: deleteIndex then
//     uses ZincSearch's own DELETE /api/index/<index> on the configured URL
//     without its /es suffix.
//   - GET /<alias>/_doc/<id> is not routed through aliases by ZincSearch:
//     reads are searches (term on metric, ids on collections and state).
//   - _aliases applies its add actions before its remove actions on
//     ZincSearch, not atomically: the alias briefly names both indexes, and
//     reads take the newest.
//   - A failing _bulk action stops ZincSearch's whole request, answered as
//     a top-level "error" string with the failing item listed as created:
//     that item and the following ones count as failed and are retried.
//   - _count and DELETE by document path are avoided (404 on ZincSearch).
//
// # Unfinished
//
//   - PutCollection checks that a name is free and then writes: a lock
//     makes that atomic within one Kale process, not between two.
//   - Collections lists at most 10,000 collections and Candidates returns
//     at most 10,000 documents (the engines' default result window).
//   - oculus.Query.Band is not used: the positional tokens' slack is fixed
//     at two levels whatever DTW band the caller ranks with.
package elastic
