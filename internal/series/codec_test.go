package series

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/vmihailenco/msgpack/v5"
)

// bitExact compares float64 values by their bits (-0 != +0, NaN == NaN of
// the same payload).
var bitExact = cmp.Comparer(func(a, b float64) bool {
	return math.Float64bits(a) == math.Float64bits(b)
})

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func TestAppendPoint(t *testing.T) {
	f := func(ts int64, v float64, want string) {
		t.Helper()
		got := AppendPoint([]byte{0xaa}, Point{Timestamp: ts, Value: v})
		if diff := cmp.Diff(mustHex(t, "aa"+want), got); diff != "" {
			t.Errorf("AppendPoint(%d, %v) mismatch (-want +got):\n%s", ts, v, diff)
		}
		if n := PointSize(Point{Timestamp: ts, Value: v}); n != len(got)-1 {
			t.Errorf("PointSize(%d) = %d, AppendPoint wrote %d", ts, n, len(got)-1)
		}
	}
	// The example of servers.md, with an int timestamp instead of a float.
	f(1700000000, 1.5, "92 ce6553f100 cb3ff8000000000000")
	f(0, 0, "92 00 cb0000000000000000")
	f(127, math.Copysign(0, -1), "92 7f cb8000000000000000")
	f(128, 1, "92 cc80 cb3ff0000000000000")
	f(255, 1, "92 ccff cb3ff0000000000000")
	f(256, 1, "92 cd0100 cb3ff0000000000000")
	f(65535, 1, "92 cdffff cb3ff0000000000000")
	f(65536, 1, "92 ce00010000 cb3ff0000000000000")
	f(math.MaxUint32, 1, "92 ceffffffff cb3ff0000000000000")
	f(math.MaxUint32+1, 1, "92 cf0000000100000000 cb3ff0000000000000")
	f(math.MaxInt64, 1, "92 cf7fffffffffffffff cb3ff0000000000000")
	f(-1, 1, "92 ff cb3ff0000000000000")
	f(-32, 1, "92 e0 cb3ff0000000000000")
	f(-33, 1, "92 d0df cb3ff0000000000000")
	f(-128, 1, "92 d080 cb3ff0000000000000")
	f(-129, 1, "92 d1ff7f cb3ff0000000000000")
	f(math.MinInt16, 1, "92 d18000 cb3ff0000000000000")
	f(math.MinInt16-1, 1, "92 d2ffff7fff cb3ff0000000000000")
	f(math.MinInt32, 1, "92 d280000000 cb3ff0000000000000")
	f(math.MinInt32-1, 1, "92 d3ffffffff7fffffff cb3ff0000000000000")
	f(math.MinInt64, math.Inf(-1), "92 d38000000000000000 cbfff0000000000000")
	f(1, math.SmallestNonzeroFloat64, "92 01 cb0000000000000001")
}

// TestAppendPointOracle checks AppendPoint byte for byte against
// vmihailenco/msgpack writing [int64, float64] with its smallest int form.
func TestAppendPointOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	for range 20000 {
		p := Point{Timestamp: randInt64(r), Value: math.Float64frombits(r.Uint64())}
		buf.Reset()
		if err := errors.Join(enc.EncodeArrayLen(2), enc.EncodeInt(p.Timestamp), enc.EncodeFloat64(p.Value)); err != nil {
			t.Fatal(err)
		}
		if got := AppendPoint(nil, p); !bytes.Equal(got, buf.Bytes()) {
			t.Fatalf("AppendPoint(%+v) = %x, msgpack wrote %x", p, got, buf.Bytes())
		}
	}
}

// randInt64 draws integers of every msgpack width about equally often.
func randInt64(r *rand.Rand) int64 {
	bits := []uint{5, 7, 8, 15, 16, 31, 32, 63}[r.IntN(8)]
	n := int64(r.Uint64() >> (64 - bits))
	if r.IntN(2) == 0 {
		n = -n - 1
	}
	return n
}

// TestDecodePointsOracle encodes random elements with vmihailenco/msgpack,
// each number in one of the msgpack numeric types, sometimes with extra
// items, and checks that DecodePoints reads them back as Go's conversions
// of the encoded numbers.
func TestDecodePointsOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	// encodeNum writes a random number of a random msgpack type and
	// returns it as a timestamp (truncated) and as a float64.
	encodeNum := func(forTS bool) (int64, float64) {
		for {
			switch r.IntN(12) {
			case 0:
				n := r.Uint64() & 0x7f
				check(t, enc.EncodeUint(n)) // positive fixint
				return int64(n), float64(n)
			case 1:
				n := -int64(r.IntN(32)) - 1
				check(t, enc.EncodeInt(n)) // negative fixint
				return n, float64(n)
			case 2:
				n := uint8(r.Uint32())
				check(t, enc.EncodeUint8(n))
				return int64(n), float64(n)
			case 3:
				n := uint16(r.Uint32())
				check(t, enc.EncodeUint16(n))
				return int64(n), float64(n)
			case 4:
				n := r.Uint32()
				check(t, enc.EncodeUint32(n))
				return int64(n), float64(n)
			case 5:
				n := r.Uint64()
				if forTS {
					n >>= 1 // beyond MaxInt64 is an error for a timestamp
				}
				check(t, enc.EncodeUint64(n))
				return int64(n), float64(n)
			case 6:
				n := int8(r.Uint32())
				check(t, enc.EncodeInt8(n))
				return int64(n), float64(n)
			case 7:
				n := int16(r.Uint32())
				check(t, enc.EncodeInt16(n))
				return int64(n), float64(n)
			case 8:
				n := int32(r.Uint32())
				check(t, enc.EncodeInt32(n))
				return int64(n), float64(n)
			case 9:
				n := int64(r.Uint64())
				check(t, enc.EncodeInt64(n))
				return n, float64(n)
			case 10:
				var x float32
				if forTS {
					x = float32(r.Float64()*4e9 - 2e9)
				} else {
					x = math.Float32frombits(r.Uint32())
					if x != x {
						continue // NaN: compared below by bits, keep it simple
					}
				}
				check(t, enc.EncodeFloat32(x))
				return int64(x), float64(x)
			default:
				var x float64
				if forTS {
					x = (r.Float64() - 0.5) * 1e12
				} else {
					x = math.Float64frombits(r.Uint64())
				}
				check(t, enc.EncodeFloat64(x))
				return int64(x), x
			}
		}
	}
	extras := []any{nil, true, false, "", "abc", strings.Repeat("s", 300), []byte{1, 2, 3},
		map[string]any{"k": []any{1, 2.5, "x"}}, []any{}, []any{[]any{[]any{1}}}, int64(-1 << 40), 3.5,
		msgpack.RawMessage{0xd4, 0x01, 0x02}, msgpack.RawMessage{0xc7, 0x03, 0x05, 1, 2, 3}}
	for round := range 200 {
		buf.Reset()
		var want []Point
		for range 1 + r.IntN(50) {
			extra := 0
			if r.IntN(4) == 0 {
				extra = 1 + r.IntN(3)
			}
			if r.IntN(10) == 0 {
				extra = 16 + r.IntN(5) // array16 header
			}
			check(t, enc.EncodeArrayLen(2+extra))
			ts, _ := encodeNum(true)
			_, v := encodeNum(false)
			for range extra {
				check(t, enc.Encode(extras[r.IntN(len(extras))]))
			}
			want = append(want, Point{Timestamp: ts, Value: v})
		}
		got, err := DecodePoints(nil, buf.Bytes())
		if err != nil {
			t.Fatalf("round %d: DecodePoints: %v\nbytes: %x", round, err, buf.Bytes())
		}
		if diff := cmp.Diff(want, got, bitExact); diff != "" {
			t.Fatalf("round %d: DecodePoints mismatch (-want +got):\n%s\nbytes: %x", round, diff, buf.Bytes())
		}
	}
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestDecodePointsPython decodes a value written by Python's msgpack as
// Skyline writes it (testdata/gen_skyline_msgpack.py made both files).
func TestDecodePointsPython(t *testing.T) {
	b, err := os.ReadFile("testdata/skyline_msgpack.bin")
	if err != nil {
		t.Fatal(err)
	}
	want := readWantFile(t, "testdata/skyline_msgpack.want")
	got, err := DecodePoints(nil, b)
	if err != nil {
		t.Fatalf("DecodePoints: %v", err)
	}
	if diff := cmp.Diff(want, got, bitExact); diff != "" {
		t.Errorf("DecodePoints mismatch (-want +got):\n%s", diff)
	}
	// Re-encoded by AppendPoint, the points decode to themselves.
	var re []byte
	for _, p := range got {
		re = AppendPoint(re, p)
	}
	again, err := DecodePoints(nil, re)
	if err != nil {
		t.Fatalf("DecodePoints of AppendPoint output: %v", err)
	}
	if diff := cmp.Diff(got, again, bitExact); diff != "" {
		t.Errorf("re-encoded points mismatch (-want +got):\n%s", diff)
	}
}

// readWantFile reads the "ts value_bits_hex" lines of a .want file.
func readWantFile(t testing.TB, path string) []Point {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Point
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		tsText, bitsText, ok := strings.Cut(line, " ")
		ts, err1 := strconv.ParseInt(tsText, 10, 64)
		bits, err2 := strconv.ParseUint(bitsText, 16, 64)
		if !ok || err1 != nil || err2 != nil {
			t.Fatalf("%s: bad line %q", path, line)
		}
		out = append(out, Point{Timestamp: ts, Value: math.Float64frombits(bits)})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDecodePointsErrors(t *testing.T) {
	good := "92 01 cb3ff0000000000000" // [1, 1.0]: 11 bytes
	one := []Point{{Timestamp: 1, Value: 1}}
	f := func(in string, want []Point, offset int, reason string) {
		t.Helper()
		got, err := DecodePoints(nil, mustHex(t, in))
		var de *DecodeError
		if !errors.As(err, &de) || !errors.Is(err, ErrMalformed) {
			t.Fatalf("DecodePoints(%s): err = %v, want a *DecodeError wrapping ErrMalformed", in, err)
		}
		if de.Offset != offset || !strings.Contains(de.Reason, reason) {
			t.Errorf("DecodePoints(%s): err = %v, want offset %d and a reason containing %q", in, err, offset, reason)
		}
		if diff := cmp.Diff(want, got, bitExact); diff != "" {
			t.Errorf("DecodePoints(%s): points before the error mismatch (-want +got):\n%s", in, diff)
		}
	}
	f("c0", nil, 0, "0xc0 is not an array")
	f(good+"c0", one, 11, "not an array")
	f(good+"91 01", one, 11, "array of 1 items")
	f(good+"90", one, 11, "array of 0 items")
	f(good+"92", one, 11, "truncated at byte offset 12")
	f(good+"92 01", one, 11, "truncated at byte offset 13")
	f(good+"92 01 cb3ff0", one, 11, "truncated number at byte offset 13")
	f(good+"92 ce6553f1", one, 11, "truncated number")
	f(good+"92 cb41d954fc40000000 cb3ff00000000000", one, 11, "truncated number at byte offset 21")
	f(good+"92 c0 01", one, 11, "timestamp: type byte 0xc0 at byte offset 12 is not a number")
	f(good+"92 01 a161", one, 11, "value: type byte 0xa1")
	f(good+"92 01 c3", one, 11, "value: type byte 0xc3")
	f("92 cfffffffffffffffff 01", nil, 0, "beyond int64")
	f("92 cb7ff8000000000000 01", nil, 0, "not a finite number") // NaN
	f("92 cb7ff0000000000000 01", nil, 0, "not a finite number") // +Inf
	f("92 cb43e0000000000000 01", nil, 0, "not a finite number") // 2^63
	f("92 ca7f800000 01", nil, 0, "not a finite number")         // float32 +Inf
	f("dc00", nil, 0, "truncated array16 header")
	f("dd000000", nil, 0, "truncated array32 header")
	f("dc0001 01", nil, 0, "array of 1 items")
	f(good+"93 01 01", one, 11, "extra item: truncated at byte offset 14")
	f("93 01 01 c1", nil, 0, "0xc1 at byte offset 3 is not valid msgpack")
	f("93 01 01 a3 6162", nil, 0, "truncated at byte offset 3")
	f("93 01 01 d9", nil, 0, "truncated length at byte offset 3")
	f("93 01 01 dbffffffff", nil, 0, "truncated payload")
	f("93 01 01 ddffffffff", nil, 0, "more items than bytes left")
	f("93 01 01 95 01", nil, 0, "more items than bytes left")
	f("93 01 01 92 cd 01", nil, 0, "truncated at byte offset 4")
	f("ddffffffff 01 01", nil, 0, "extra item: truncated")
}

func TestDecodePointsEdges(t *testing.T) {
	f := func(in string, want []Point) {
		t.Helper()
		got, err := DecodePoints([]Point{{Timestamp: -9, Value: -9}}, mustHex(t, in))
		if err != nil {
			t.Fatalf("DecodePoints(%s): %v", in, err)
		}
		want = append([]Point{{Timestamp: -9, Value: -9}}, want...)
		if diff := cmp.Diff(want, got, bitExact); diff != "" {
			t.Errorf("DecodePoints(%s) mismatch (-want +got):\n%s", in, diff)
		}
	}
	f("", nil)
	// servers.md: [1700000000.0, 1.5] as Python and Go both write it.
	f("92cb41d954fc40000000cb3ff8000000000000", []Point{{Timestamp: 1700000000, Value: 1.5}})
	f("92 cbc1d954fc40000000 cb3ff8000000000000", []Point{{Timestamp: -1700000000, Value: 1.5}})
	f("92 cbbff8000000000000 01", []Point{{Timestamp: -1, Value: 1}})            // -1.5 truncates to -1
	f("92 cbc3e0000000000000 01", []Point{{Timestamp: math.MinInt64, Value: 1}}) // -2^63 fits
	f("92 cb43dfffffffffffff 01", []Point{{Timestamp: 1<<63 - 1024, Value: 1}})  // largest float below 2^63
	f("92 cf7fffffffffffffff cf ffffffffffffffff", []Point{{Timestamp: math.MaxInt64, Value: 1 << 64}})
	f("92 ca4f800000 ca3fc00000", []Point{{Timestamp: 1 << 32, Value: 1.5}})
	f("dc0002 01 02 dd00000002 03 04", []Point{{Timestamp: 1, Value: 2}, {Timestamp: 3, Value: 4}})
	f("94 01 02 c7020501 02 d8"+strings.Repeat("00", 17), []Point{{Timestamp: 1, Value: 2}})
	f("95 01 02 dc0001 81a16190 de0000 c0", []Point{{Timestamp: 1, Value: 2}})
	// The fast paths hand anything unusual to the general decoder.
	f("92 ce6553f100 ca3fc00000 92 ce6553f100 cb3ff8000000000000", []Point{{Timestamp: 1700000000, Value: 1.5}, {Timestamp: 1700000000, Value: 1.5}})
}

// FuzzDecodePoints checks that no input panics, that errors name an offset
// inside the input and keep the prefix decodable, and that AppendPoint of
// whatever decodes re-decodes to the same points.
func FuzzDecodePoints(f *testing.F) {
	f.Add([]byte{})
	f.Add(AppendPoint(AppendPoint(nil, Point{Timestamp: 1700000000, Value: 1.5}), Point{Timestamp: -5, Value: -0.25}))
	f.Add(mustHex(f, "92cb41d954fc40000000cb3ff8000000000000"))
	f.Add(mustHex(f, "95 01 02 dc0001 81a16190 de0000 c0"))
	f.Add(mustHex(f, "93 01 01 ddffffffff"))
	if b, err := os.ReadFile("testdata/skyline_msgpack.bin"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pts, err := DecodePoints(nil, b)
		prefix := b
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || de.Offset < 0 || de.Offset >= len(b) {
				t.Fatalf("DecodePoints(%x): err = %v, want a *DecodeError with an offset inside the input", b, err)
			}
			prefix = b[:de.Offset]
			again, err := DecodePoints(nil, prefix)
			if err != nil {
				t.Fatalf("the prefix before the error does not decode: %v", err)
			}
			if diff := cmp.Diff(pts, again, bitExact, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("prefix points differ (-first +prefix):\n%s", diff)
			}
		}
		var re []byte
		for _, p := range pts {
			re = AppendPoint(re, p)
		}
		if len(re) > len(prefix)*MaxPointSize/3 {
			t.Fatalf("re-encoding grew from %d to %d bytes", len(prefix), len(re))
		}
		again, err := DecodePoints(nil, re)
		if err != nil {
			t.Fatalf("DecodePoints(AppendPoint(...)): %v", err)
		}
		if diff := cmp.Diff(pts, again, bitExact, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("re-decoded points differ (-first +again):\n%s", diff)
		}
	})
}

// benchValue returns a day of 10-s points (8640) in Kale's encoding, or in
// Skyline's (float timestamps and values, 19 bytes a point).
func benchValue(skyline bool) []byte {
	var b []byte
	for i := range 8640 {
		p := Point{Timestamp: 1700000000 + int64(i)*10, Value: float64(i%1000) * 0.37}
		if skyline {
			b = append(b, 0x92, 0xcb)
			b = binary.BigEndian.AppendUint64(b, math.Float64bits(float64(p.Timestamp)))
			b = append(b, 0xcb)
			b = binary.BigEndian.AppendUint64(b, math.Float64bits(p.Value))
		} else {
			b = AppendPoint(b, p)
		}
	}
	return b
}

func BenchmarkDecodePoints(b *testing.B) {
	for _, bc := range []struct {
		name    string
		skyline bool
	}{{"kale", false}, {"skyline_float_ts", true}} {
		b.Run(bc.name, func(b *testing.B) {
			v := benchValue(bc.skyline)
			dst := make([]Point, 0, 8640)
			b.SetBytes(int64(len(v)))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				dst, err = DecodePoints(dst[:0], v)
				if err != nil || len(dst) != 8640 {
					b.Fatalf("DecodePoints: %d points, %v", len(dst), err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*8640), "ns/point")
		})
	}
}

func BenchmarkAppendPoint(b *testing.B) {
	dst := make([]byte, 0, 8640*MaxPointSize)
	b.SetBytes(15 * 8640)
	b.ReportAllocs()
	for b.Loop() {
		dst = dst[:0]
		for i := range 8640 {
			dst = AppendPoint(dst, Point{Timestamp: 1700000000 + int64(i)*10, Value: float64(i)})
		}
	}
}
