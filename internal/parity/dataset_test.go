package parity

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// writeCorpus generates p into a temporary file and returns its path and
// digests.
func writeCorpus(t testing.TB, p Params) (string, Sums) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "corpus.bin")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Generate(f, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, s
}

func TestOpen(t *testing.T) {
	p := Params{Metrics: 40, Points: 500, T0: 1700000000, Step: 60, Seed: 9, AnomalyFraction: 0.3}
	path, sums := writeCorpus(t, p)
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if diff := cmp.Diff(p, d.Params); diff != "" {
		t.Fatalf("params (-want +got):\n%s", diff)
	}
	wantT := make([]int64, p.Points)
	for i := range wantT {
		wantT[i] = p.T0 + int64(i)*p.Step
	}
	if diff := cmp.Diff(wantT, d.Times()); diff != "" {
		t.Errorf("times (-want +got):\n%s", diff)
	}

	it := d.Iter()
	if it.Metric() != -1 {
		t.Errorf("Metric before Next = %d, want -1", it.Metric())
	}
	var seen, tails int
	for it.Next() {
		m := it.Metric()
		if m != seen {
			t.Fatalf("metric %d after %d metrics", m, seen)
		}
		if diff := cmp.Diff(GenerateMetric(nil, p, m), it.Values()); diff != "" {
			t.Fatalf("metric %d values (-want +got):\n%s", m, diff)
		}
		if len(it.Times()) != p.Points {
			t.Fatalf("metric %d: %d times", m, len(it.Times()))
		}
		if it.Tail() != p.Tail(m) || d.Tail(m) != p.Tail(m) {
			t.Errorf("metric %d: tail flags disagree", m)
		}
		if it.Tail() {
			tails++
		}
		seen++
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if seen != p.Metrics {
		t.Errorf("iterated %d metrics, want %d", seen, p.Metrics)
	}
	if tails == 0 || tails == p.Metrics {
		t.Errorf("%d of %d metrics have a tail at fraction 0.3", tails, p.Metrics)
	}

	got, err := d.Sums()
	if err != nil {
		t.Fatal(err)
	}
	if got != sums {
		t.Errorf("Sums = %s/%s, Generate gave %s/%s", got.ValuesHex(), got.FileHex(), sums.ValuesHex(), sums.FileHex())
	}
}

func TestIterRangeSeek(t *testing.T) {
	p := NewParams(10, 50, 60, 3)
	path, _ := writeCorpus(t, p)
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	collect := func(it *Iter) []int {
		var ms []int
		for it.Next() {
			ms = append(ms, it.Metric())
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		return ms
	}
	if diff := cmp.Diff([]int{3, 4, 5}, collect(d.Range(3, 6))); diff != "" {
		t.Errorf("Range(3, 6) (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{8, 9}, collect(d.Range(8, 99))); diff != "" {
		t.Errorf("Range(8, 99) (-want +got):\n%s", diff)
	}
	if got := collect(d.Range(7, 2)); len(got) != 0 {
		t.Errorf("Range(7, 2) = %v, want nothing", got)
	}
	it := d.Range(0, 5)
	if err := it.Seek(7); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(GenerateMetric(nil, p, 7), it.Values()); diff != "" {
		t.Errorf("Seek(7) values (-want +got):\n%s", diff)
	}
	if got := collect(it); len(got) != 0 {
		t.Errorf("Next after Seek(7) in range [0, 5) = %v, want nothing", got)
	}
	for _, m := range []int{-1, 10} {
		if err := it.Seek(m); err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("Seek(%d): error %v, want out of range", m, err)
		}
	}
}

func TestIterNoAlloc(t *testing.T) {
	p := NewParams(4, 1000, 10, 5)
	path, _ := writeCorpus(t, p)
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	it := d.Iter()
	allocs := testing.AllocsPerRun(100, func() {
		if !it.Next() {
			if err := it.Seek(0); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per metric read, want 0", allocs)
	}
}

func TestOpen_Failure(t *testing.T) {
	good := NewParams(2, 10, 60, 1)
	var buf bytes.Buffer
	if _, err := Generate(&buf, good); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := func(name string, content []byte, want error, wantMsg string) {
		t.Helper()
		path := filepath.Join(dir, name)
		if content != nil {
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		d, err := Open(path)
		if err == nil {
			d.Close()
			t.Fatalf("%s: no error", name)
		}
		if !errors.Is(err, want) {
			t.Errorf("%s: error %v, want %v", name, err, want)
		}
		if !strings.Contains(err.Error(), wantMsg) {
			t.Errorf("%s: error %q, want it to mention %q", name, err, wantMsg)
		}
	}
	b := buf.Bytes()
	f("missing", nil, fs.ErrNotExist, "cannot open dataset")
	f("empty", []byte{}, ErrFormat, "file is 0 bytes, shorter than the 64-byte header")
	f("short", b[:40], ErrFormat, "file is 40 bytes")
	f("magic", append([]byte("SKYBNCH2"), b[8:]...), ErrFormat, `magic "SKYBNCH2"`)
	f("truncated", b[:len(b)-1], ErrFormat, "truncated or trailing data")
	f("trailing", append(bytes.Clone(b), 0), ErrFormat, "truncated or trailing data")
	bad := bytes.Clone(b)
	bad[12] = 1 // N = 1
	f("params", bad, ErrParams, "points 1")
}
