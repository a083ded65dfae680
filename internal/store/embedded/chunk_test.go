package embedded

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/go-kale/kale/internal/series"
)

// bitExact compares float64 values by their bits (so -0 != 0 and NaN
// payloads count).
var bitExact = cmp.Comparer(func(a, b float64) bool {
	return math.Float64bits(a) == math.Float64bits(b)
})

func regularPoints(n int, start, step int64, f func(i int) float64) []series.Point {
	pts := make([]series.Point, n)
	for i := range pts {
		pts[i] = series.Point{Timestamp: start + int64(i)*step, Value: f(i)}
	}
	return pts
}

// roundTrip encodes and decodes pts and fails on any difference. It
// returns the encoding.
func roundTrip(t *testing.T, pts []series.Point) []byte {
	t.Helper()
	var enc encoder
	data := enc.encode(pts)
	got, err := decodeChunk(nil, data)
	if err != nil {
		t.Fatalf("decodeChunk: %v", err)
	}
	if diff := cmp.Diff(pts, got, bitExact); diff != "" {
		t.Fatalf("round trip mismatch (-want +got):\n%s", diff)
	}
	if n, err := chunkLen(data); err != nil || n != len(pts) {
		t.Fatalf("chunkLen = %d, %v; want %d", n, err, len(pts))
	}
	return data
}

func chunkMode(data []byte) int {
	_, k := binary.Uvarint(data)
	_, k2 := binary.Varint(data[k:])
	return int(data[k+k2] & 3)
}

func TestChunkRoundTrip(t *testing.T) {
	const t0 = 1_700_000_000
	rng := rand.New(rand.NewPCG(1, 2))
	nan1 := math.Float64frombits(0x7ff8000000000001)
	nan2 := math.Float64frombits(0xfff4000000000abc) // signalling, negative
	f := func(name string, pts []series.Point, wantMode int) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			data := roundTrip(t, pts)
			if got := chunkMode(data); wantMode >= 0 && got != wantMode {
				t.Errorf("mode = %d, want %d", got, wantMode)
			}
		})
	}
	f("single", []series.Point{{Timestamp: t0, Value: 1.5}}, modeDelta)
	f("single-float", []series.Point{{Timestamp: -5, Value: math.Nextafter(1, 2)}}, -1)
	f("constant", regularPoints(120, t0, 60, func(int) float64 { return 0 }), modeDelta)
	f("counter", regularPoints(120, t0, 60, func(i int) float64 { return float64(1000 + 37*i) }), modeDoD)
	f("decimals", regularPoints(120, t0, 60, func(i int) float64 { return float64(int(rng.IntN(100000))-50000) / 100 }), modeDelta)
	f("random-floats", regularPoints(120, t0, 60, func(int) float64 { return rng.NormFloat64() }), -1)
	walk := 100.0
	f("random-walk-floats", regularPoints(120, t0, 60, func(int) float64 { walk += rng.NormFloat64(); return walk }), modeBits)
	f("binary-fractions-xor", regularPoints(120, t0, 60, func(i int) float64 { return math.Ldexp(1, -30-i%7) * 3 }), modeXOR)
	f("negative-zero", regularPoints(10, t0, 60, func(i int) float64 { return math.Copysign(0, -1) }), modeXOR)
	f("zero-then-negative-zero", []series.Point{{Timestamp: 1, Value: 0}, {Timestamp: 2, Value: math.Copysign(0, -1)}, {Timestamp: 3, Value: 0}}, modeXOR)
	f("subnormals", []series.Point{
		{Timestamp: 1, Value: math.SmallestNonzeroFloat64},
		{Timestamp: 2, Value: -math.SmallestNonzeroFloat64},
		{Timestamp: 3, Value: math.Float64frombits(0x000fffffffffffff)},
		{Timestamp: 4, Value: 1e-320},
	}, modeXOR)
	f("huge", []series.Point{
		{Timestamp: 1, Value: math.MaxFloat64},
		{Timestamp: 2, Value: -math.MaxFloat64},
		{Timestamp: 3, Value: 1e308},
		{Timestamp: 4, Value: 9007199254740993},
	}, modeXOR)
	f("nan-inf", []series.Point{
		{Timestamp: 1, Value: math.NaN()},
		{Timestamp: 2, Value: nan1},
		{Timestamp: 3, Value: nan2},
		{Timestamp: 4, Value: math.Inf(1)},
		{Timestamp: 5, Value: math.Inf(-1)},
		{Timestamp: 6, Value: 1},
	}, modeXOR)
	f("decimal-limit", []series.Point{{Timestamp: 1, Value: 1 << 53}, {Timestamp: 2, Value: -(1 << 53)}, {Timestamp: 3, Value: 0.000001}}, modeXOR)
	f("tiny-decimals", regularPoints(50, t0, 60, func(i int) float64 { return float64(i) / 1e9 }), modeDoD)
	f("irregular-ts", []series.Point{
		{Timestamp: t0, Value: 1}, {Timestamp: t0 + 1, Value: 2}, {Timestamp: t0 + 61, Value: 3},
		{Timestamp: t0 + 3661, Value: 4}, {Timestamp: t0 + 3662, Value: 5}, {Timestamp: t0 + 1e9, Value: 6},
	}, modeDoD)
	f("extreme-ts", []series.Point{
		{Timestamp: math.MinInt64, Value: 1}, {Timestamp: -1, Value: 2}, {Timestamp: 0, Value: 3},
		{Timestamp: math.MaxInt64 - 1, Value: 4}, {Timestamp: math.MaxInt64, Value: 5},
	}, modeDelta)
	f("unsorted-dups", []series.Point{{Timestamp: 5, Value: 1}, {Timestamp: 5, Value: 2}, {Timestamp: 1, Value: 3}, {Timestamp: math.MinInt64, Value: 4}}, modeDelta)
	f("jitter", func() []series.Point {
		pts := regularPoints(120, t0, 60, func(i int) float64 { return float64(i % 7) })
		for i := range pts {
			pts[i].Timestamp += int64(rng.IntN(3)) - 1
		}
		return pts
	}(), -1)
	f("spike", regularPoints(120, t0, 60, func(i int) float64 {
		if i == 60 {
			return 1e12
		}
		return 5
	}), modeDelta)
	f("max-len", regularPoints(maxChunkLen, 0, 1, func(i int) float64 { return float64(i) / 8 }), modeDoD)
}

func TestChunkRoundTripRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var enc encoder // reused across chunks, as the store does
	for iter := range 500 {
		n := 1 + rng.IntN(300)
		pts := make([]series.Point, n)
		ts := rng.Int64N(1 << 40)
		for i := range pts {
			switch iter % 4 {
			case 0:
				ts += 60
			case 1:
				ts += rng.Int64N(100)
			default:
				ts = int64(rng.Uint64())
			}
			var v float64
			switch rng.IntN(5) {
			case 0:
				v = math.Float64frombits(rng.Uint64())
			case 1:
				v = float64(rng.IntN(1000))
			case 2:
				v = float64(rng.IntN(100000)) / 1000
			case 3:
				v = rng.NormFloat64() * 1e6
			default:
				if i > 0 {
					v = pts[i-1].Value
				}
			}
			pts[i] = series.Point{Timestamp: ts, Value: v}
		}
		data := enc.encode(pts)
		got, err := decodeChunk(nil, data)
		if err != nil {
			t.Fatalf("iteration %d: decodeChunk: %v", iter, err)
		}
		if diff := cmp.Diff(pts, got, bitExact); diff != "" {
			t.Fatalf("iteration %d: round trip mismatch (-want +got):\n%s", iter, diff)
		}
	}
}

// TestChunkSize checks the compression the store relies on, in bytes per
// point for 120 points every 60 s.
func TestChunkSize(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	f := func(name string, vals func(i int) float64, maxBytesPerPoint float64) {
		t.Helper()
		var enc encoder
		pts := regularPoints(120, 1_700_000_000, 60, vals)
		got := float64(len(enc.encode(pts))) / 120
		if got > maxBytesPerPoint {
			t.Errorf("%s: %.2f bytes/point, want <= %.2f", name, got, maxBytesPerPoint)
		}
	}
	f("constant", func(int) float64 { return 42 }, 0.35)
	f("counter", func(i int) float64 { return float64(1e6 + 100*i) }, 0.4)
	walk := 500.0
	f("random-walk-2-decimals", func(int) float64 { walk = math.Round((walk+rng.NormFloat64())*100) / 100; return walk }, 1.5)
	f("small-integers", func(int) float64 { return float64(rng.IntN(16)) }, 1.0)
	full := 0.0
	f("random-walk-full-precision", func(int) float64 { full += rng.NormFloat64(); return full }, 7.5)
}

func TestDecodeChunkCorrupt(t *testing.T) {
	var enc encoder
	good := enc.encode(regularPoints(100, 1_700_000_000, 60, func(i int) float64 { return float64(i) * 0.5 }))
	xor := enc.encode(regularPoints(100, 1_700_000_000, 60, func(i int) float64 { return math.Sqrt(float64(i)) }))
	f := func(name string, data []byte) {
		t.Helper()
		if _, err := decodeChunk(nil, data); !errors.Is(err, errCorruptChunk) {
			t.Errorf("%s: err = %v, want errCorruptChunk", name, err)
		}
	}
	f("empty", nil)
	f("zero count", []byte{0})
	f("huge count", binary.AppendUvarint(nil, maxChunkLen+1))
	f("no timestamp", []byte{1})
	f("no mode", []byte{1, 2})
	f("bad mode", []byte{1, 2, 3})
	f("bad exponent", []byte{1, 2, 1 | 23<<2, 0})
	f("xor with exponent", append([]byte{1, 2, 0 | 1<<2}, make([]byte, 9)...))
	f("short xor header", []byte{1, 2, 0, 1, 2})
	for _, cut := range []int{len(good) / 2, len(good) - 2} {
		f("truncated decimal", good[:cut])
	}
	for _, cut := range []int{12, len(xor) / 2, len(xor) - 1} {
		f("truncated xor", xor[:cut])
	}
	// An xor stream reusing a window that was never set.
	w := bitWriter{}
	w.reset(append([]byte{2, 0, 0}, make([]byte, 8)...))
	w.writeBits(0, 7)    // wT = 0, then '0': dod 0
	w.writeBits(0b10, 2) // reuse of an unset window
	w.writeBits(0, 64)
	f("unset window", w.finish())
}

func TestBitsRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	type item struct {
		v  uint64
		nb uint
	}
	var items []item
	var w bitWriter
	for range 10000 {
		nb := uint(rng.IntN(65))
		v := rng.Uint64()
		if nb < 64 {
			v &= 1<<nb - 1
		}
		items = append(items, item{v, nb})
		w.writeBits(v, nb)
	}
	r := newBitReader(w.finish())
	for i, it := range items {
		got, ok := r.readBits(it.nb)
		if !ok || got != it.v {
			t.Fatalf("item %d: readBits(%d) = %#x, %v; want %#x", i, it.nb, got, ok, it.v)
		}
	}
	if _, ok := r.readBits(8); ok {
		t.Error("readBits past the end succeeded")
	}
}

func TestBestWidth(t *testing.T) {
	f := func(lens []int, want uint) {
		t.Helper()
		var h [65]uint32
		brute := uint64(math.MaxUint64)
		for _, l := range lens {
			h[l]++
		}
		for w := uint(0); w <= 63; w++ {
			var c uint64
			for _, l := range lens {
				c += uint64(escCost(w, uint(l)))
			}
			brute = min(brute, c)
		}
		got, cost := bestWidth(&h)
		if got != want || cost != brute {
			t.Errorf("bestWidth(%v) = %d, %d; want %d, %d", lens, got, cost, want, brute)
		}
	}
	f([]int{0, 0, 0}, 0)
	f([]int{7, 7, 7, 7}, 7)
	f([]int{3, 3, 3, 3, 3, 3, 3, 3, 40}, 3)
	f([]int{64, 64}, 0)
	f(nil, 0)
}

// FuzzChunk checks that decoding arbitrary bytes never panics, and that
// points built from the input round-trip bit for bit.
func FuzzChunk(f *testing.F) {
	var enc encoder
	f.Add(enc.encode(regularPoints(20, 1_700_000_000, 60, func(i int) float64 { return float64(i) })))
	f.Add(enc.encode(regularPoints(20, 1_700_000_000, 60, func(i int) float64 { return math.Sqrt(float64(i)) })))
	f.Add(enc.encode(regularPoints(20, 1_700_000_000, 60, func(i int) float64 { return float64(i*i) / 100 })))
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17})
	f.Fuzz(func(t *testing.T, data []byte) {
		if pts, err := decodeChunk(nil, data); err == nil {
			// Whatever decodes re-encodes to the same points.
			var enc encoder
			got, err := decodeChunk(nil, enc.encode(pts))
			if err != nil {
				t.Fatalf("re-decode: %v", err)
			}
			if diff := cmp.Diff(pts, got, bitExact); diff != "" {
				t.Fatalf("re-encode mismatch (-want +got):\n%s", diff)
			}
		}
		// Points from the input: 16 bytes each.
		var pts []series.Point
		for len(data) >= 16 && len(pts) < maxChunkLen {
			pts = append(pts, series.Point{
				Timestamp: int64(binary.LittleEndian.Uint64(data)),
				Value:     math.Float64frombits(binary.LittleEndian.Uint64(data[8:])),
			})
			data = data[16:]
		}
		if len(pts) == 0 {
			return
		}
		var enc encoder
		got, err := decodeChunk(nil, enc.encode(pts))
		if err != nil {
			t.Fatalf("decode of an encoding: %v", err)
		}
		if diff := cmp.Diff(pts, got, bitExact); diff != "" {
			t.Fatalf("round trip mismatch (-want +got):\n%s", diff)
		}
	})
}
