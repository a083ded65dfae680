package parity

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// sharedCorpora returns the shared corpus descriptions, or skips the test
// when the shared directory is absent.
func sharedCorpora(t *testing.T) []CorpusInfo {
	t.Helper()
	dir, err := SharedDir()
	if err != nil {
		t.Skipf("no shared parity corpora (set %s to the shared directory, e.g. /work/shared): %v", SharedEnv, err)
	}
	cs, err := Corpora(dir)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// TestGenerateShared checks the generator bit for bit against the digests
// recorded in ../shared/parity/*.json (produced by the Python generator
// that Skyline's verdicts were computed on). The day and week corpora (69
// and 80 MB) are skipped with -short.
func TestGenerateShared(t *testing.T) {
	cs := sharedCorpora(t)
	if len(cs) == 0 {
		t.Fatal("the shared parity directory has no corpora")
	}
	for _, c := range cs {
		t.Run(c.Name(), func(t *testing.T) {
			if testing.Short() && c.Params().Size() > 1<<20 {
				t.Skipf("%d MB corpus skipped in -short mode", c.Params().Size()>>20)
			}
			s, err := Generate(io.Discard, c.Params())
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Check(s); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestTailMetricsShared checks the ground truth against the shared lists.
func TestTailMetricsShared(t *testing.T) {
	for _, c := range sharedCorpora(t) {
		if diff := cmp.Diff(c.TailAnomalousMetrics, c.Params().TailMetrics()); diff != "" {
			t.Errorf("%s: tail metrics (-shared +got):\n%s", c.Name(), diff)
		}
	}
}

// reference is testdata/reference.json.
type reference struct {
	Source  string `json:"source"`
	Corpora []struct {
		CorpusInfo
		FirstValuesHex []string `json:"first_values_hex"`
	} `json:"corpora"`
}

// TestGenerateReference checks small corpora that the shared ones do not
// cover (spikes at N = 20, negative T0, seed wrap-around, fractions 0 and 1)
// against testdata/reference.json, written by testdata/reference.py, an
// independent pure-Python port of the recipe (which also reproduces the
// shared hour corpus's digests).
func TestGenerateReference(t *testing.T) {
	b, err := os.ReadFile("testdata/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref reference
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Corpora) == 0 {
		t.Fatal("testdata/reference.json has no corpora")
	}
	for _, c := range ref.Corpora {
		p := c.Params()
		var buf bytes.Buffer
		s, err := Generate(&buf, p)
		if err != nil {
			t.Fatalf("%+v: %v", p, err)
		}
		if err := c.Check(s); err != nil {
			t.Errorf("%+v: %v", p, err)
		}
		if int64(buf.Len()) != p.Size() {
			t.Errorf("%+v: wrote %d bytes, want %d", p, buf.Len(), p.Size())
		}
		if diff := cmp.Diff(c.TailAnomalousMetrics, p.TailMetrics(), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%+v: tails (-want +got):\n%s", p, diff)
		}
		for m, h := range c.FirstValuesHex {
			want, err := strconv.ParseFloat(h, 64)
			if err != nil {
				t.Fatal(err)
			}
			if got := GenerateMetric(nil, p, m)[0]; got != want {
				t.Errorf("%+v: metric %d value 0 = %x, want %x", p, m, got, want)
			}
		}
	}
}

// TestGenerateMetricReuse checks that dst is reused and that a metric
// does not depend on what dst held.
func TestGenerateMetricReuse(t *testing.T) {
	p := NewParams(3, 2000, 60, 1)
	want := GenerateMetric(nil, p, 2)
	dst := make([]float64, 5000)
	for i := range dst {
		dst[i] = math.NaN()
	}
	got := GenerateMetric(dst, p, 2)
	if &got[0] != &dst[0] {
		t.Error("GenerateMetric did not reuse dst")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metric differs with a dirty dst (-want +got):\n%s", diff)
	}
}

func TestValidate_Failure(t *testing.T) {
	f := func(p Params, wantMsg string) {
		t.Helper()
		err := p.Validate()
		if !errors.Is(err, ErrParams) {
			t.Fatalf("%+v: error %v, want ErrParams", p, err)
		}
		if !strings.Contains(err.Error(), wantMsg) {
			t.Errorf("%+v: error %q, want it to mention %q", p, err, wantMsg)
		}
		if _, err := Generate(io.Discard, p); !errors.Is(err, ErrParams) {
			t.Errorf("Generate(%+v): error %v, want ErrParams", p, err)
		}
	}
	ok := NewParams(10, 60, 60, 42)
	with := func(mod func(*Params)) Params { p := ok; mod(&p); return p }
	f(with(func(p *Params) { p.Metrics = 0 }), "metrics 0")
	f(with(func(p *Params) { p.Metrics = 1 << 32 }), "metrics")
	f(with(func(p *Params) { p.Points = 2 }), "points 2")
	f(with(func(p *Params) { p.Points = 1 << 32 }), "points")
	f(with(func(p *Params) { p.Step = 0 }), "step 0")
	f(with(func(p *Params) { p.Step = -60 }), "step -60")
	f(with(func(p *Params) { p.AnomalyFraction = math.NaN() }), "anomaly fraction")
	f(with(func(p *Params) { p.AnomalyFraction = 1.5 }), "anomaly fraction")
	f(with(func(p *Params) { p.AnomalyFraction = -0.1 }), "anomaly fraction")
	f(with(func(p *Params) { p.T0 = math.MaxInt64 - 100 }), "overflows")
	f(with(func(p *Params) { p.Step = math.MaxInt64 / 2 }), "overflows")
	f(with(func(p *Params) { p.Points = 19; p.Step = 3600 }), "spikes need at least 20 points")
	f(Params{Metrics: math.MaxUint32, Points: math.MaxUint32, Step: 1}, "do not fit")
}

func TestValidate_Success(t *testing.T) {
	f := func(p Params) {
		t.Helper()
		if err := p.Validate(); err != nil {
			t.Errorf("%+v: %v", p, err)
		}
	}
	f(NewParams(1000, 60, 60, 42))
	f(NewParams(1, 3, 1, 0))
	f(NewParams(1, 20, 28800, 0)) // 3 spikes at position 0
	f(NewParams(1, 19, 1500, 0))  // 19*1500 < 28800: no spikes
	f(Params{Metrics: 1, Points: 3, T0: math.MinInt64 / 2, Step: 1, AnomalyFraction: 1})
}

func TestHeader(t *testing.T) {
	p := Params{Metrics: 1000, Points: 8640, T0: -5, Step: 10, Seed: math.MaxUint64, AnomalyFraction: 0.25}
	b := p.AppendHeader(nil)
	if len(b) != HeaderSize {
		t.Fatalf("header is %d bytes, want %d", len(b), HeaderSize)
	}
	got, err := ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestParseHeader_Failure(t *testing.T) {
	f := func(b []byte, want error, wantMsg string) {
		t.Helper()
		_, err := ParseHeader(b)
		if !errors.Is(err, want) {
			t.Fatalf("error %v, want %v", err, want)
		}
		if !strings.Contains(err.Error(), wantMsg) {
			t.Errorf("error %q, want it to mention %q", err, wantMsg)
		}
	}
	good := NewParams(3, 60, 60, 1).AppendHeader(nil)
	mod := func(i int, c byte) []byte { b := bytes.Clone(good); b[i] = c; return b }
	f(nil, ErrFormat, "header is 0 bytes")
	f(good[:63], ErrFormat, "header is 63 bytes")
	f(mod(0, 'X'), ErrFormat, "magic")
	f(mod(63, 1), ErrFormat, "padding byte 63")
	f(mod(8, 0), ErrParams, "metrics 0")   // M = 0 (3 -> 0)
	f(mod(12, 2), ErrParams, "points 2")   // N = 2
	f(mod(24, 0), ErrParams, "step 0")     // STEP = 0
	f(mod(47, 0x7f), ErrParams, "anomaly") // fraction bits -> NaN
}
