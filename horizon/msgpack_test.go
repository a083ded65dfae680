package horizon

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/go-kale/kale/internal/series"
)

// cmpFloatBits compares floats by their IEEE-754 bits, so NaN equals the same NaN
// and 0 differs from -0.
var cmpFloatBits = cmp.Comparer(func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) })

// msgpackVector is one line of testdata/msgpack/vectors.jsonl, written by
// testdata/msgpack/gen.py with Debian's python3-msgpack.
type msgpackVector struct {
	Case      string `json:"case"`
	Hex       string `json:"hex"`
	Name      string `json:"name"`
	TS        int64  `json:"ts"`
	ValueBits string `json:"value_bits"`
	Reject    Reason `json:"reject"`
}

func readMsgpackVectors(tb testing.TB) []msgpackVector {
	tb.Helper()
	f, err := os.Open(filepath.Join("testdata", "msgpack", "vectors.jsonl"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []msgpackVector
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var v msgpackVector
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			tb.Fatalf("cannot decode vector %q: %v", sc.Text(), err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(out) == 0 {
		tb.Fatal("no vectors in testdata/msgpack/vectors.jsonl")
	}
	return out
}

func (v msgpackVector) datagram(tb testing.TB) []byte {
	tb.Helper()
	b, err := hex.DecodeString(v.Hex)
	if err != nil {
		tb.Fatalf("%s: bad hex: %v", v.Case, err)
	}
	return b
}

// rejectReasonOf returns the Reason of a *RejectError, failing on any other error.
func rejectReasonOf(tb testing.TB, err error) Reason {
	tb.Helper()
	if err == nil {
		return ""
	}
	var re *RejectError
	if !errors.As(err, &re) {
		tb.Fatalf("error %v (%T) is not a *RejectError", err, err)
	}
	if re.Msg == "" {
		tb.Errorf("RejectError %q has no message", re.Reason)
	}
	return re.Reason
}

// TestDecodeMsgpackGolden decodes datagrams produced by Python's msgpack (the
// encoder Skyline's senders use) and hand-built edge cases.
func TestDecodeMsgpackGolden(t *testing.T) {
	for _, v := range readMsgpackVectors(t) {
		t.Run(v.Case, func(t *testing.T) {
			got, err := DecodeMsgpack(v.datagram(t))
			if reason := rejectReasonOf(t, err); reason != v.Reject {
				t.Fatalf("reason = %q (%v), want %q", reason, err, v.Reject)
			}
			if v.Reject != "" {
				return
			}
			bits, err := strconv.ParseUint(v.ValueBits, 0, 64)
			if err != nil {
				t.Fatal(err)
			}
			want := series.Sample{Name: v.Name, Point: series.Point{Timestamp: v.TS, Value: math.Float64frombits(bits)}}
			if diff := cmp.Diff(want, got, cmpFloatBits); diff != "" {
				t.Errorf("sample mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecodeMsgpackKnownVector checks servers.md's cross-checked pair
// [1700000000.0, 1.5] = 92cb41d954fc40000000cb3ff8000000000000.
func TestDecodeMsgpackKnownVector(t *testing.T) {
	pair, err := hex.DecodeString("92cb41d954fc40000000cb3ff8000000000000")
	if err != nil {
		t.Fatal(err)
	}
	datagram := append([]byte{0x92, 0xa1, 'x'}, pair...)
	got, err := DecodeMsgpack(datagram)
	if err != nil {
		t.Fatal(err)
	}
	want := series.Sample{Name: "x", Point: series.Point{Timestamp: 1700000000, Value: 1.5}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestDecodeMsgpackGoEncoder decodes what the Go msgpack library produces
// for various Go types, compact or not.
func TestDecodeMsgpackGoEncoder(t *testing.T) {
	tests := []struct {
		name    string
		in      any
		compact bool
		want    series.Sample
	}{
		{"int64 ts float64 value", []any{"a.b", []any{int64(1700000000), 2.5}}, false,
			series.Sample{Name: "a.b", Point: series.Point{Timestamp: 1700000000, Value: 2.5}}},
		{"compact ints", []any{"a.b", []any{int64(1700000000), int64(-3)}}, true,
			series.Sample{Name: "a.b", Point: series.Point{Timestamp: 1700000000, Value: -3}}},
		{"compact floats", []any{"a.b", []any{1700000000.0, 4.0}}, true,
			series.Sample{Name: "a.b", Point: series.Point{Timestamp: 1700000000, Value: 4}}},
		{"bin name, uint64 ts, float32 value", []any{[]byte("c"), []any{uint64(42), float32(0.5)}}, false,
			series.Sample{Name: "c", Point: series.Point{Timestamp: 42, Value: 0.5}}},
		{"struct as array", struct {
			_msgpack struct{} `msgpack:",as_array"`
			Name     string
			Pair     [2]float64
		}{Name: "s", Pair: [2]float64{-7.5, 1e300}}, false,
			series.Sample{Name: "s", Point: series.Point{Timestamp: -7, Value: 1e300}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			enc := msgpack.NewEncoder(&buf)
			enc.UseCompactInts(tt.compact)
			enc.UseCompactFloats(tt.compact)
			if err := enc.Encode(tt.in); err != nil {
				t.Fatal(err)
			}
			got, err := DecodeMsgpack(buf.Bytes())
			if err != nil {
				t.Fatalf("%x: %v", buf.Bytes(), err)
			}
			if diff := cmp.Diff(tt.want, got, cmpFloatBits); diff != "" {
				t.Errorf("%x (-want +got):\n%s", buf.Bytes(), diff)
			}
		})
	}
}

// TestDecodeMsgpackCopiesName checks that the sample does not alias the
// datagram, which a listener reuses for the next read.
func TestDecodeMsgpackCopiesName(t *testing.T) {
	datagram, err := msgpack.Marshal([]any{"keep.me", []any{1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeMsgpack(datagram)
	if err != nil {
		t.Fatal(err)
	}
	for i := range datagram {
		datagram[i] = 'X'
	}
	if got.Name != "keep.me" {
		t.Errorf("name = %q after the datagram was overwritten, want %q", got.Name, "keep.me")
	}
}

// TestDecodeMsgpackConcurrent shares the decoder pool between goroutines
// (meaningful under -race).
func TestDecodeMsgpackConcurrent(t *testing.T) {
	vectors := readMsgpackVectors(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			for range 20 {
				for _, v := range vectors {
					b, _ := hex.DecodeString(v.Hex)
					s, err := DecodeMsgpack(b)
					var re *RejectError
					switch {
					case v.Reject == "" && err != nil:
						errs <- err
						return
					case v.Reject != "" && (!errors.As(err, &re) || re.Reason != v.Reject):
						errs <- fmt.Errorf("%s: wrong rejection: %v", v.Case, err)
						return
					case v.Reject == "" && (s.Name != v.Name || s.Timestamp != v.TS):
						errs <- errors.New(v.Case + ": wrong sample " + s.Name)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// FuzzDecodeMsgpack: DecodeMsgpack never panics, refuses only with a
// *RejectError of a parser reason, and every sample it returns survives a
// re-encode/decode round trip unchanged.
func FuzzDecodeMsgpack(f *testing.F) {
	for _, v := range readMsgpackVectors(f) {
		f.Add(v.datagram(f))
	}
	f.Fuzz(func(t *testing.T, datagram []byte) {
		got, err := DecodeMsgpack(datagram)
		if err != nil {
			switch r := rejectReasonOf(t, err); r {
			case ReasonMalformed, ReasonBadTimestamp, ReasonNonNumeric:
			default:
				t.Fatalf("unexpected reason %q", r)
			}
			return
		}
		again, err := msgpack.Marshal([]any{got.Name, []any{got.Timestamp, got.Value}})
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeMsgpack(again)
		if err != nil {
			t.Fatalf("re-encoded %x: %v", again, err)
		}
		if diff := cmp.Diff(got, back, cmpFloatBits); diff != "" {
			t.Errorf("round trip of %x via %x (-first +second):\n%s", datagram, again, diff)
		}
	})
}

// BenchmarkDecodeMsgpack decodes a typical Python-encoded datagram
// (str name, uint32 ts, float64 value).
func BenchmarkDecodeMsgpack(b *testing.B) {
	datagram, err := hex.DecodeString("92af746573742e7564702e6d657472696392ce6553f100cb4045400000000000")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(datagram)))
	for b.Loop() {
		if _, err := DecodeMsgpack(datagram); err != nil {
			b.Fatal(err)
		}
	}
}
