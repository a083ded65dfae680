package parity

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestVerdictsRoundTripShared reads each shared Skyline verdict file and
// writes it back byte for byte.
func TestVerdictsRoundTripShared(t *testing.T) {
	for _, c := range sharedCorpora(t) {
		t.Run(c.Name(), func(t *testing.T) {
			b, err := os.ReadFile(c.VerdictsPath())
			if err != nil {
				t.Fatal(err)
			}
			h, vs, err := ReadVerdicts(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if len(vs) != c.Metrics {
				t.Errorf("%d verdicts, want %d", len(vs), c.Metrics)
			}
			if h.Now != c.T0+int64(c.Points-1)*c.Step || h.FullDuration != int64(c.Points)*c.Step {
				t.Errorf("header %+v: want now = last timestamp and full_duration = N*STEP", h)
			}
			var out bytes.Buffer
			if err := WriteVerdicts(&out, h, vs); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), b) {
				t.Errorf("written file differs from %s", c.VerdictsPath())
			}
		})
	}
}

func TestReadVerdicts(t *testing.T) {
	in := `{"algorithms": ["a", "b", "c"], "consensus": 2, "full_duration": 3600, "now": 1700002740}
{"metric": 4, "anomalous": true, "ensemble": [true, null, false]}

{"metric":0,"anomalous":false,"ensemble":[false,false,false]}
`
	h, vs, err := ReadVerdicts(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	wantH := Header{Algorithms: []string{"a", "b", "c"}, Consensus: 2, FullDuration: 3600, Now: 1700002740}
	wantV := []Verdict{
		{Metric: 4, Anomalous: true, Votes: []Vote{Yes, None, No}},
		{Metric: 0, Anomalous: false, Votes: []Vote{No, No, No}},
	}
	if diff := cmp.Diff(wantH, h); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantV, vs); diff != "" {
		t.Errorf("verdicts (-want +got):\n%s", diff)
	}
	var out bytes.Buffer
	if err := WriteVerdicts(&out, h, vs); err != nil {
		t.Fatal(err)
	}
	want := `{"algorithms": ["a", "b", "c"], "consensus": 2, "full_duration": 3600, "now": 1700002740}
{"metric": 4, "anomalous": true, "ensemble": [true, null, false]}
{"metric": 0, "anomalous": false, "ensemble": [false, false, false]}
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("written (-want +got):\n%s", diff)
	}
}

func TestReadVerdicts_Failure(t *testing.T) {
	const hdr = `{"algorithms": ["a", "b"], "consensus": 1, "full_duration": 60, "now": 0}` + "\n"
	f := func(in, wantMsg string) {
		t.Helper()
		_, _, err := ReadVerdicts(strings.NewReader(in))
		if !errors.Is(err, ErrVerdicts) {
			t.Fatalf("%q: error %v, want ErrVerdicts", in, err)
		}
		if !strings.Contains(err.Error(), wantMsg) {
			t.Errorf("%q: error %q, want it to mention %q", in, err, wantMsg)
		}
	}
	f("", "empty file")
	f("\n\n", "empty file")
	f("not json\n", "line 1: header")
	f(`{"algorithms": [], "consensus": 1, "full_duration": 60, "now": 0}`, "no algorithms")
	f(`{"algorithms": ["a"], "full_duration": 60, "now": 0}`, "want algorithms, consensus")
	f(`{"algorithms": ["a"], "consensus": 2, "full_duration": 60, "now": 0}`, "consensus 2 with 1 algorithms")
	f(`{"algorithms": ["a"], "consensus": 1, "full_duration": 60, "now": 0, "x": 1}`, `unknown field "x"`)
	f(`{"algorithms": ["a"], "consensus": 1, "full_duration": 60, "now": 1.5}`, "line 1")
	f(hdr+`{"metric": 0, "anomalous": false, "ensemble": [false]}`, "line 2: metric 0 has 1 votes for 2 algorithms")
	f(hdr+`{"metric": 0, "anomalous": null, "ensemble": [false, false]}`, "want metric, anomalous")
	f(hdr+`{"metric": 0, "ensemble": [false, false]}`, "want metric, anomalous")
	f(hdr+`{"anomalous": true, "ensemble": [false, false]}`, "want metric, anomalous")
	f(hdr+`{"metric": 0, "anomalous": true}`, "want metric, anomalous")
	f(hdr+`{"metric": -1, "anomalous": true, "ensemble": [false, false]}`, "metric -1 is negative")
	f(hdr+`{"metric": 0, "anomalous": true, "ensemble": [false, 1]}`, "line 2")
	f(hdr+`{"metric": 0, "anomalous": true, "ensemble": [false, false]} {}`, "trailing data")
	f(hdr+`{"metric": 0, "anomalous": true, "ensemble": [false, false]}`+"\n"+
		`{"metric": 0, "anomalous": false, "ensemble": [false, false]}`, "line 3: metric 0 repeats line 2")
}

func TestWriteVerdicts_Failure(t *testing.T) {
	f := func(h Header, vs []Verdict, wantMsg string) {
		t.Helper()
		var out bytes.Buffer
		err := WriteVerdicts(&out, h, vs)
		if !errors.Is(err, ErrVerdicts) || !strings.Contains(err.Error(), wantMsg) {
			t.Errorf("error %v, want ErrVerdicts mentioning %q", err, wantMsg)
		}
		if out.Len() != 0 {
			t.Errorf("wrote %q before failing", out.String())
		}
	}
	h := Header{Algorithms: []string{"a", "b"}, Consensus: 1}
	f(Header{}, nil, "no algorithms")
	f(h, []Verdict{{Metric: 1, Votes: []Vote{No}}}, "metric 1 has 1 votes for 2 algorithms")
	f(h, []Verdict{{Metric: -2, Votes: []Vote{No, No}}}, "metric -2 is negative")
	f(h, []Verdict{{Metric: 3, Votes: []Vote{No, 7}}}, "metric 3 has vote Vote(7)")
}

// TestAppendPyString checks string escaping against Python's json.dumps;
// the wanted strings are the output of /usr/bin/python3 -c
// 'import json; print(json.dumps(s))' (Python 3.11) for each input.
func TestAppendPyString(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := string(appendPyString(nil, in)); got != want {
			t.Errorf("%q: got %s, want %s", in, got, want)
		}
	}
	f("ks_test", `"ks_test"`)
	f(`a"b\c`, `"a\"b\\c"`)
	f("tab\there\nnl\r\b\f\x01\x1f\x7f", `"tab\there\nnl\r\b\f\u0001\u001f\u007f"`)
	f("é ü €", `"\u00e9 \u00fc \u20ac"`)
	f("😀x", `"\ud83d\ude00x"`)
	f("", `""`)
	f("\xff", `"\ufffd"`) // invalid UTF-8: Go's replacement character
	h := Header{Algorithms: []string{"a", "é"}, Consensus: 1, FullDuration: -5}
	want := `{"algorithms": ["a", "\u00e9"], "consensus": 1, "full_duration": -5, "now": 0}`
	if got := string(h.AppendJSON(nil)); got != want {
		t.Errorf("header: got %s, want %s", got, want)
	}
}

func TestSharedDir(t *testing.T) {
	dir := t.TempDir()
	par := filepath.Join(dir, "parity")
	if err := os.Mkdir(par, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(SharedEnv, dir)
	if _, err := SharedDir(); !errors.Is(err, ErrNoShared) {
		t.Errorf("empty shared dir: error %v, want ErrNoShared", err)
	}
	info := `{"metrics": 3, "points": 60, "t0": 1699999200, "step": 60, "seed": 42, "anomaly_fraction": 0.05,
	 "sha256_values": "x", "sha256_file": "y", "tail_anomalous_metrics": []}`
	if err := os.WriteFile(filepath.Join(par, "ds_m3.json"), []byte(info), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := SharedDir()
	if err != nil || got != par {
		t.Fatalf("SharedDir() = %q, %v; want %q", got, err, par)
	}
	c, ok, err := FindCorpus(got, NewParams(3, 60, 60, 42))
	if err != nil || !ok {
		t.Fatalf("FindCorpus: %v, %v", ok, err)
	}
	if c.Name() != "ds_m3" || c.VerdictsPath() != filepath.Join(par, "ds_m3.skyline.jsonl") {
		t.Errorf("corpus %q, verdicts %q", c.Name(), c.VerdictsPath())
	}
	if err := c.Check(Sums{}); err == nil || !strings.Contains(err.Error(), "sha256_values") || !strings.Contains(err.Error(), "sha256_file") {
		t.Errorf("Check: error %v, want both digests named", err)
	}
	if _, ok, err := FindCorpus(got, NewParams(3, 60, 60, 43)); err != nil || ok {
		t.Errorf("FindCorpus(seed 43) = %v, %v; want not found", ok, err)
	}
	t.Setenv(SharedEnv, par) // the parity directory itself is accepted too
	if got, err := SharedDir(); err != nil || got != par {
		t.Errorf("SharedDir() = %q, %v; want %q", got, err, par)
	}
}
