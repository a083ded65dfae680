package parity

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzReadVerdicts: no panic, and whatever reads writes back to a file that
// reads the same.
func FuzzReadVerdicts(f *testing.F) {
	f.Add([]byte(`{"algorithms": ["a", "b"], "consensus": 1, "full_duration": 60, "now": 0}
{"metric": 0, "anomalous": true, "ensemble": [true, null]}
`))
	f.Add([]byte(`{"algorithms": ["\u00e9\n"], "consensus": 1, "full_duration": -1, "now": 5}`))
	f.Add([]byte("{}\n{}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, vs, err := ReadVerdicts(bytes.NewReader(b))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := WriteVerdicts(&out, h, vs); err != nil {
			t.Fatalf("cannot write what was read: %v", err)
		}
		h2, vs2, err := ReadVerdicts(bytes.NewReader(out.Bytes()))
		if err != nil {
			t.Fatalf("cannot read what was written: %v\n%s", err, out.Bytes())
		}
		if diff := cmp.Diff(h, h2); diff != "" {
			t.Errorf("header changed (-read +reread):\n%s", diff)
		}
		if diff := cmp.Diff(vs, vs2); diff != "" {
			t.Errorf("verdicts changed (-read +reread):\n%s", diff)
		}
	})
}

// FuzzParseHeader: no panic, and a header that parses re-encodes to itself.
func FuzzParseHeader(f *testing.F) {
	f.Add(NewParams(1000, 8640, 10, 42).AppendHeader(nil))
	f.Add(make([]byte, 64))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseHeader(b)
		if err != nil {
			return
		}
		if got := p.AppendHeader(nil); !bytes.Equal(got, b[:HeaderSize]) {
			t.Errorf("header %x re-encodes as %x", b[:HeaderSize], got)
		}
	})
}
