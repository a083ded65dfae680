package elastic

import (
	"context"
	"testing"
	"time"

	"github.com/go-kale/kale/internal/testserver"
	"github.com/go-kale/kale/oculus"
)

// benchIndex commits the 1,000-metric recall corpus into a fresh ZincSearch.
func benchIndex(b *testing.B) (*Index, []oculus.Doc) {
	z := testserver.StartZinc(b)
	x := open(b, z, "kb")
	docs, _ := recallCorpus(b)
	now := time.Now().Unix()
	commit(b, x, oculus.Window{From: now - 3600, Until: now}, 120, docs)
	return x, docs
}

// BenchmarkCandidates: one candidate search for 500 (Kale's default
// oculus.candidates) among 1,000 metrics of 120 points, answer decoded.
func BenchmarkCandidates(b *testing.B) {
	x, docs := benchIndex(b)
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		q := docs[i%len(docs)]
		if _, err := x.Candidates(ctx, oculus.Query{Values: q.Values, Fingerprint: q.Fingerprint, Exclude: q.Metric}, 500); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGet: one metric's document.
func BenchmarkGet(b *testing.B) {
	x, docs := benchIndex(b)
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		if _, err := x.Get(ctx, docs[i%len(docs)].Metric); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkImport: a whole generation of 1,000 metrics (Build, Add in
// batches of 500, Commit with its wait until searchable, drop of the
// previous generation).
func BenchmarkImport(b *testing.B) {
	x, docs := benchIndex(b)
	ctx := context.Background()
	now := time.Now().Unix()
	for i := 0; b.Loop(); i++ {
		bl, err := x.Build(ctx, oculus.Window{From: now - 3600 + int64(i), Until: now + int64(i)}, 120)
		if err != nil {
			b.Fatal(err)
		}
		for lo := 0; lo < len(docs); lo += 500 {
			if err := bl.Add(ctx, docs[lo:min(lo+500, len(docs))]); err != nil {
				b.Fatal(err)
			}
		}
		if err := bl.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
