package nab

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2014-04-01 00:00:00", "2014-04-10 07:15:00.000000", "2016-02-29 23:59:59", "2015-02-29 00:00:00", "2014-04-01T00:00:00", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := ParseTime(s)
		if err != nil {
			return
		}
		// Whatever parses formats back to its first 19 characters.
		if got := FormatTime(ts); got != s[:19] {
			t.Errorf("ParseTime(%q) = %d, formats as %q", s, ts, got)
		}
	})
}

func FuzzReadData(f *testing.F) {
	f.Add([]byte("timestamp,value\n2014-04-01 00:00:00,1.5\n2014-04-01 00:05:00,-2\n"))
	f.Add([]byte("value,timestamp\r\n3,2014-04-01 00:00:00"))
	f.Add([]byte("timestamp,value\n\"2014-04-01 00:00:00\",1e3\n"))
	f.Add([]byte("timestamp,value\n2014-04-01 00:00:00,Inf\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, vs, err := ReadData(bytes.NewReader(data))
		if err != nil {
			return
		}
		if len(ts) != len(vs) {
			t.Fatalf("%d timestamps, %d values", len(ts), len(vs))
		}
		for _, v := range vs {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("non-finite value %v accepted", v)
			}
		}
	})
}

func FuzzReadScores(f *testing.F) {
	f.Add([]byte("timestamp,anomaly_score\n2014-04-01 00:00:00,0.5\n"))
	f.Add([]byte("timestamp,value,anomaly_score,label\n2014-04-01 00:00:00,3,1,0\n"))
	f.Add([]byte("anomaly_score\n0\n1\n"))
	f.Add([]byte("anomaly_score\nNaN\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, scores, err := ReadScores(bytes.NewReader(data))
		if err != nil {
			return
		}
		if ts != nil && len(ts) != len(scores) {
			t.Fatalf("%d timestamps, %d scores", len(ts), len(scores))
		}
		for _, s := range scores {
			if !(s >= 0 && s <= 1) {
				t.Fatalf("score %v outside [0, 1] accepted", s)
			}
		}
		if ts == nil {
			return
		}
		// What was read writes and reads back unchanged.
		var buf bytes.Buffer
		if err := WriteScores(&buf, ts, scores); err != nil {
			t.Fatal(err)
		}
		ts2, scores2, err := ReadScores(&buf)
		if err != nil {
			t.Fatalf("cannot read back: %v", err)
		}
		if len(ts2) != len(ts) || len(scores2) != len(scores) {
			t.Fatalf("read back %d/%d rows, want %d", len(ts2), len(scores2), len(ts))
		}
		for i := range ts {
			if ts2[i] != ts[i] || scores2[i] != scores[i] {
				t.Fatalf("row %d: read back %d,%v want %d,%v", i, ts2[i], scores2[i], ts[i], scores[i])
			}
		}
	})
}

func FuzzParseWindows(f *testing.F) {
	f.Add(`{"a/b.csv": [["2014-04-10 07:15:00.000000", "2014-04-11 16:45:00.000000"]], "a/c.csv": []}`)
	f.Add(`{"a/b.csv": [["2014-04-10 07:15:00"]]}`)
	f.Add(`[]`)
	f.Add(`null`)
	f.Fuzz(func(t *testing.T, s string) {
		ws, err := ParseWindows(strings.NewReader(s))
		if err != nil {
			return
		}
		for name, list := range ws {
			for _, w := range list {
				if w.End < w.Start {
					t.Fatalf("%s: window %v ends before it starts", name, w)
				}
			}
		}
	})
}

// FuzzOptimize scores fuzzed anomaly scores on the toy file and checks the
// sweep against brute force: Optimize's threshold scores at least as well as
// every candidate, and the highest of the best candidates is the one chosen.
func FuzzOptimize(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 200, 0, 0, 180, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, uint8(0))
	f.Add([]byte{9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9}, uint8(2))
	c := toy(f)
	f.Fuzz(func(t *testing.T, raw []byte, pi uint8) {
		if len(raw) < 20 {
			return
		}
		s := make([]float64, 20)
		for i := range s {
			s[i] = float64(raw[i]) / 255
		}
		p := Profiles()[int(pi)%3]
		r := Results{"cat/toy.csv": s}
		got, err := Optimize(c, r, p)
		if err != nil {
			t.Fatal(err)
		}
		bestThr, bestRaw := startThreshold, c.NullScore(p)
		for _, thr := range s[3:] {
			rep, err := Score(c, r, p, thr)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Raw > bestRaw+1e-12 || math.Abs(rep.Raw-bestRaw) <= 1e-12 && thr > bestThr {
				bestThr, bestRaw = thr, rep.Raw
			}
		}
		if math.Abs(got.Raw-bestRaw) > 1e-12 {
			t.Errorf("Optimize: raw %v at %v, brute force %v at %v", got.Raw, got.Threshold, bestRaw, bestThr)
		}
	})
}
