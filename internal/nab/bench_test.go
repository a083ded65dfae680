package nab

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// numentaResults loads the shipped numenta results (28,873 distinct scores,
// the hardest sweep of the three reference detectors).
func numentaResults(b *testing.B) (*Corpus, Results) {
	b.Helper()
	c, dir := sharedCorpus(b)
	r, err := LoadResults(filepath.Join(dir, "results", "numenta"), "numenta", c)
	if err != nil {
		b.Fatal(err)
	}
	return c, r
}

// BenchmarkOptimizeAll is the whole scoreboard for one detector: threshold
// sweep and final scoring for NAB's three profiles over the 58 files.
func BenchmarkOptimizeAll(b *testing.B) {
	c, r := numentaResults(b)
	b.ReportAllocs()
	b.SetBytes(int64(c.Rows()) * 8)
	for b.Loop() {
		if _, err := OptimizeAll(c, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScore scores one detector at a fixed threshold under one profile.
func BenchmarkScore(b *testing.B) {
	c, r := numentaResults(b)
	b.ReportAllocs()
	b.SetBytes(int64(c.Rows()) * 8)
	for b.Loop() {
		if _, err := Score(c, r, Standard, 0.5); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadResults reads one detector's 58 result files.
func BenchmarkLoadResults(b *testing.B) {
	c, dir := sharedCorpus(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LoadResults(filepath.Join(dir, "results", "numenta"), "numenta", c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadData parses NAB's largest data file.
func BenchmarkReadData(b *testing.B) {
	dir := sharedNAB(b)
	raw, err := os.ReadFile(filepath.Join(dir, "data", "realTweets", "Twitter_volume_AAPL.csv"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, _, err := ReadData(bytes.NewReader(raw)); err != nil {
			b.Fatal(err)
		}
	}
}
