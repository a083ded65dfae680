package fingerprint

import (
	"math"
	"slices"
	"testing"
)

// TestWordBoundaries checks every difference against Oculus's table,
// including its asymmetry.
func TestWordBoundaries(t *testing.T) {
	cases := map[int]Word{
		-25: SharpInc, -6: SharpInc, -5: SharpInc,
		-4: Inc, -3: Inc, -2: Inc,
		-1: Flat, 0: Flat,
		1: Dec, 2: Dec, 3: Dec,
		4: SharpDec, 5: SharpDec, 25: SharpDec,
	}
	for d, want := range cases {
		if got := WordOf(d); got != want {
			t.Errorf("WordOf(%d) = %v, want %v", d, got, want)
		}
	}
}

func TestScaleInts(t *testing.T) {
	// (v-min)/(max-min)*25, ceil: 0, 2.5->3, 25, 12.5->13.
	got := ScaleInts(nil, []float64{10, 11, 20, 15})
	if want := []int{0, 3, 25, 13}; !slices.Equal(got, want) {
		t.Errorf("ScaleInts = %v, want %v", got, want)
	}
	if got := ScaleInts(nil, []float64{7, 7, 7}); !slices.Equal(got, []int{0, 0, 0}) {
		t.Errorf("flat series scales to %v, want zeros", got)
	}
	if got := ScaleInts(nil, []float64{0, math.NaN(), 5, math.Inf(1)}); !slices.Equal(got, []int{0, 0, 25, 0}) {
		t.Errorf("NaN/Inf: %v", got)
	}
}

func TestString(t *testing.T) {
	// scaled: 0 25 24 20 25 0 -> d: -25 1 4 -5 25 -> sinc dec sdec sinc sdec
	got := String([]float64{0, 100, 96, 80, 100, 0})
	if want := "sinc dec sdec sinc sdec"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	// A rise of one scaled unit is flat, a fall of one is dec.
	// 0..25 over values 0..25: scaled = values.
	if got := String([]float64{0, 1, 0, 25}); got != "dec sinc" {
		t.Errorf("asymmetry: %q, want %q", got, "dec sinc")
	}
	// A fall of 4 is sdec, a rise of 4 is inc.
	if got := String([]float64{25, 21, 25, 0}); got != "sdec inc sdec" {
		t.Errorf("asymmetry at 4: %q", got)
	}
	if got := String([]float64{3, 3, 3}); got != "" {
		t.Errorf("flat: %q", got)
	}
	if got := String(nil); got != "" {
		t.Errorf("empty: %q", got)
	}
}

func TestParseRoundTrip(t *testing.T) {
	w := Words(nil, []float64{0, 100, 96, 80, 100, 0, 3, 50})
	back, err := Parse(Join(w))
	if err != nil || !slices.Equal(back, w) {
		t.Fatalf("Parse(Join(w)) = %v, %v; want %v", back, err, w)
	}
	if _, err := Parse("inc s dec"); err == nil {
		t.Error("Parse accepted the flat word, which never appears in a fingerprint")
	}
	if _, err := Parse("inc up"); err == nil {
		t.Error("Parse accepted an unknown word")
	}
}

func TestShingles(t *testing.T) {
	w := []Word{Inc, Dec, Inc, Dec, SharpInc}
	got := Shingles(w, 2)
	want := []string{"inc_dec", "dec_inc", "dec_sinc"}
	if !slices.Equal(got, want) {
		t.Errorf("Shingles = %v, want %v", got, want)
	}
	if got := Shingles(w[:1], 3); !slices.Equal(got, []string{"inc"}) {
		t.Errorf("short: %v", got)
	}
	if got := Shingles(nil, 3); got != nil {
		t.Errorf("none: %v", got)
	}
}

func TestPositional(t *testing.T) {
	p := Positional{Segments: 4, Levels: 4}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	// A ramp 0..7 in 4 pieces: means 0.5, 2.5, 4.5, 6.5 over span 7.
	got := p.Encode(nil, []float64{0, 1, 2, 3, 4, 5, 6, 7})
	if want := []int{0, 1, 2, 3}; !slices.Equal(got, want) {
		t.Errorf("ramp levels = %v, want %v", got, want)
	}
	if got := p.Encode(nil, []float64{5, 5, 5, 5}); !slices.Equal(got, []int{2, 2, 2, 2}) {
		t.Errorf("flat levels = %v, want the middle level", got)
	}
	// Shorter than the pieces: each piece takes at least one point.
	if got := p.Encode(nil, []float64{0, 10}); !slices.Equal(got, []int{0, 0, 3, 3}) {
		t.Errorf("short series: %v", got)
	}
	if got := p.Tokens([]float64{0, 1, 2, 3, 4, 5, 6, 7}); !slices.Equal(got, []string{"p00l0", "p01l1", "p02l2", "p03l3"}) {
		t.Errorf("Tokens = %v", got)
	}
	q := p.QueryTokens([]float64{0, 1, 2, 3, 4, 5, 6, 7}, 1)
	want := []string{"p00l0", "p00l1", "p01l0", "p01l1", "p01l2", "p02l1", "p02l2", "p02l3", "p03l2", "p03l3"}
	if !slices.Equal(q, want) {
		t.Errorf("QueryTokens = %v, want %v", q, want)
	}
	if (Positional{Segments: 0, Levels: 8}).Validate() == nil {
		t.Error("0 segments validated")
	}
}

func FuzzString(f *testing.F) {
	f.Add(1.0, 2.0, 3.0, 0.5)
	f.Add(math.NaN(), math.Inf(1), -1e308, 1e308)
	f.Fuzz(func(t *testing.T, a, b, c, d float64) {
		v := []float64{a, b, c, d}
		for _, s := range ScaleInts(nil, v) {
			if s < 0 || s > Scale {
				t.Fatalf("scaled %v out of 0..25: %v", v, s)
			}
		}
		w, err := Parse(String(v))
		if err != nil || len(w) > 3 {
			t.Fatalf("fingerprint of %v does not parse back: %v %v", v, w, err)
		}
		for _, l := range DefaultPositional.Encode(nil, v) {
			if l < 0 || l >= DefaultPositional.Levels {
				t.Fatalf("level %d out of range for %v", l, v)
			}
		}
	})
}
