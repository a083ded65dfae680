package parity

import (
	"bytes"
	"io"
	"testing"
)

// BenchmarkGenerate generates 10 metrics of the day corpus's shape (8640
// points at 10 s) with both digests; bytes are those of the values.
func BenchmarkGenerate(b *testing.B) {
	p := NewParams(10, 8640, 10, 42)
	b.SetBytes(8 * int64(p.Metrics) * int64(p.Points))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Generate(io.Discard, p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGenerateMetric is the generator alone: one 8640-point metric.
func BenchmarkGenerateMetric(b *testing.B) {
	p := NewParams(1000, 8640, 10, 42)
	v := make([]float64, p.Points)
	b.SetBytes(8 * int64(p.Points))
	b.ReportAllocs()
	m := 0
	for b.Loop() {
		v = GenerateMetric(v, p, m)
		m = (m + 1) % p.Metrics
	}
}

// BenchmarkIter reads 8640-point metrics from a file (in the page cache).
func BenchmarkIter(b *testing.B) {
	p := NewParams(20, 8640, 10, 42)
	path, _ := writeCorpus(b, p)
	d, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	it := d.Iter()
	b.SetBytes(8 * int64(p.Points))
	b.ReportAllocs()
	for b.Loop() {
		if !it.Next() {
			if err := it.Seek(0); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkReadVerdicts decodes a 1000-metric verdict file.
func BenchmarkReadVerdicts(b *testing.B) {
	h := Header{Algorithms: []string{"a", "b", "c", "d", "e", "f", "g", "h", "i"}, Consensus: 6, FullDuration: 86400, Now: 1700085590}
	vs := make([]Verdict, 1000)
	for i := range vs {
		vs[i] = Verdict{Metric: i, Votes: []Vote{No, No, No, No, No, No, Yes, None, No}}
	}
	var buf bytes.Buffer
	if err := WriteVerdicts(&buf, h, vs); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ReadVerdicts(bytes.NewReader(buf.Bytes())); err != nil {
			b.Fatal(err)
		}
	}
}
