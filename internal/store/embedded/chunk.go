package embedded

// The chunk codec: a run of points compressed in the spirit of Facebook's
// Gorilla (Pelkonen et al., VLDB 2015), with one addition that matters for
// Graphite data: values that are short decimals are stored as integers.
//
// We write the codec ourselves rather than import one: it is a few hundred
// lines, it runs in the Append path (speed matters more than generality),
// the decimal mode is not in any Gorilla package, and the house rules ask
// for no large dependency.
//
// Layout of an encoded chunk (all varints are encoding/binary's):
//
//	uvarint n                  number of points, 1 <= n <= maxChunkLen
//	varint  t0                 first timestamp
//	byte    mode | exp<<2      value mode (0 xor, 1 delta, 2 delta-of-delta, 3 bits delta), decimal exponent
//	mode 0, 3: 8 bytes         bits of the first value, little endian
//	mode 1, 2: varint m0       first value times 10^exp, an integer
//	bit stream, most significant bit first, zero-padded to a whole byte:
//	  6 bits wT, then for i = 1..n-1 the timestamp code esc(wT, zigzag(D_i - D_{i-1}))
//	      where D_i = t_i - t_{i-1}, D_0 = 0 (wrapping int64 arithmetic)
//	  mode 0: for i = 1..n-1 the Gorilla XOR code of bits(v_i) ^ bits(v_{i-1}):
//	      '0'                                   same bits
//	      '10' + meaningful bits                 inside the previous leading/trailing window
//	      '11' + 5 bits leading zeros (<= 31) + 6 bits (length-1) + length bits
//	  mode 1: 6 bits wV, then esc(wV, zigzag(m_i - m_{i-1}))
//	  mode 2: 6 bits wV, then esc(wV, zigzag((m_i - m_{i-1}) - (m_{i-1} - m_{i-2}))), m_{-1} = m_0
//	  mode 3: 6 bits wV, then esc(wV, zigzag(int64(bits(v_i)) - int64(bits(v_{i-1}))))
//
// where esc(w, z) is '0' followed by z in w bits when z fits in w bits, else
// '1', 6 bits (bitlen(z)-1) and z in bitlen(z) bits. The encoder picks, per
// chunk, the width w that minimises the total size, so a regular series
// costs 1 bit per timestamp and a constant one 1 bit per value, and a spike
// costs a few bits more instead of widening every code.
//
// Decimal modes: a value v is decimal at exponent e when m = round(v*10^e)
// is an integer with |m| <= 2^53 and float64(m)/10^e has exactly the bits
// of v (IEEE division is correctly rounded, and both operands are exact, so
// decoding reproduces v bit for bit). The chunk uses the smallest e that
// works for all of its values; -0, NaN, ±Inf and values with more than 15-17
// significant digits are not decimal, and their chunks use mode 0 or 3,
// whichever is smaller; both are bit-exact for every float64 (NaN payloads
// included). Mode 3 (the difference of the IEEE bit patterns as integers)
// suits full-precision random walks: a step of 2^k ulps costs about k+2
// bits, where XOR pays for every bit a carry flips; Gorilla's XOR suits
// values with few mantissa bits.
//
// Timestamps and values may be in any order and repeat: the codec stores
// what it is given. The store only hands it sorted, de-duplicated runs.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"

	"github.com/go-kale/kale/internal/series"
)

const (
	modeXOR   = 0
	modeDelta = 1
	modeDoD   = 2
	modeBits  = 3

	maxDecimalExp = 22      // 10^22 is the largest power of ten a float64 holds exactly
	maxDecimalInt = 1 << 53 // largest integer magnitude a float64 holds exactly
	maxChunkLen   = 1<<16 - 1
)

// errCorruptChunk is wrapped by every decoding error.
var errCorruptChunk = errors.New("corrupt chunk")

// pow10 holds the exact powers of ten 10^0 .. 10^22.
var pow10 = func() (p [maxDecimalExp + 1]float64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

func zigzag(x int64) uint64   { return uint64(x<<1) ^ uint64(x>>63) }
func unzigzag(z uint64) int64 { return int64(z>>1) ^ -int64(z&1) }

// bitWriter appends bits, most significant first, to buf.
type bitWriter struct {
	buf []byte
	acc uint64 // pending bits in the low n bits
	n   uint
}

func (w *bitWriter) reset(buf []byte) {
	w.buf, w.acc, w.n = buf, 0, 0
}

// writeBits writes the low nb bits of v (nb <= 64).
func (w *bitWriter) writeBits(v uint64, nb uint) {
	if nb == 0 {
		return
	}
	if nb < 64 {
		v &= 1<<nb - 1
	}
	free := 64 - w.n
	if nb < free {
		w.acc = w.acc<<nb | v
		w.n += nb
		return
	}
	hi := nb - free // bits left over after filling acc
	if free == 64 {
		w.acc = v
	} else {
		w.acc = w.acc<<free | v>>hi
	}
	w.buf = binary.BigEndian.AppendUint64(w.buf, w.acc)
	w.n = hi
	if hi > 0 {
		w.acc = v & (1<<hi - 1)
	} else {
		w.acc = 0
	}
}

// finish pads the pending bits with zeros to a whole byte and returns the
// buffer.
func (w *bitWriter) finish() []byte {
	if w.n > 0 {
		v := w.acc << (64 - w.n)
		for i := uint(0); i < (w.n+7)/8; i++ {
			w.buf = append(w.buf, byte(v>>56))
			v <<= 8
		}
	}
	w.acc, w.n = 0, 0
	return w.buf
}

// bitReader reads bits, most significant first, from data.
type bitReader struct {
	data []byte
	pos  uint64 // next bit
	end  uint64 // len(data) * 8
}

func newBitReader(data []byte) bitReader {
	return bitReader{data: data, end: uint64(len(data)) * 8}
}

// load64 returns the 8 bytes at byte i, big endian, zero past the end.
func (r *bitReader) load64(i uint64) uint64 {
	if i+8 <= uint64(len(r.data)) {
		return binary.BigEndian.Uint64(r.data[i:])
	}
	var v uint64
	for k := uint64(0); k < 8; k++ {
		v <<= 8
		if i+k < uint64(len(r.data)) {
			v |= uint64(r.data[i+k])
		}
	}
	return v
}

// readBits reads nb bits (nb <= 64); ok is false past the end of data.
func (r *bitReader) readBits(nb uint) (v uint64, ok bool) {
	if nb == 0 {
		return 0, true
	}
	if r.pos+uint64(nb) > r.end {
		return 0, false
	}
	if nb > 56 {
		hi, _ := r.readBits(nb - 32)
		lo, _ := r.readBits(32)
		return hi<<32 | lo, true
	}
	x := r.load64(r.pos >> 3)
	v = (x << (r.pos & 7)) >> (64 - nb)
	r.pos += uint64(nb)
	return v, true
}

// escCost is the size in bits of esc(w, z) for z of bit length l.
func escCost(w, l uint) uint {
	if l <= w {
		return 1 + w
	}
	return 7 + l
}

// bestWidth returns the width w in [0, 63] that minimises the total size
// of the esc codes of values whose bit lengths are counted in hist, and that
// size.
func bestWidth(hist *[65]uint32) (best uint, cost uint64) {
	// cost(w) = (1+w) * #(l <= w) + sum over l > w of (7+l) * #l
	var above uint64 // sum over l > w of (7+l)*#l
	var total uint64
	for l := 0; l <= 64; l++ {
		total += uint64(hist[l])
		above += uint64(7+l) * uint64(hist[l])
	}
	top := uint(64) // cost(w) only grows past the longest length
	for top > 0 && hist[top] == 0 {
		top--
	}
	var below uint64 // #(l <= w)
	cost = math.MaxUint64
	for w := uint(0); w <= min(top, 63); w++ {
		below += uint64(hist[w])
		above -= uint64(7+w) * uint64(hist[w])
		c := uint64(1+w)*below + above
		if c < cost {
			best, cost = w, c
		}
	}
	return best, cost
}

func writeEsc(w *bitWriter, width uint, z uint64) {
	l := uint(bits.Len64(z))
	if l <= width {
		w.writeBits(z, width+1) // leading '0' then width bits
		return
	}
	w.writeBits(1, 1)
	w.writeBits(uint64(l-1), 6)
	w.writeBits(z, l)
}

func readEsc(r *bitReader, width uint) (uint64, bool) {
	// Fast path: the flag and a short value in one load.
	if width <= 56 && r.pos+uint64(width)+1 <= r.end {
		x := r.load64(r.pos>>3) << (r.pos & 7) // at least 57 valid bits
		if x>>63 == 0 {
			r.pos += uint64(width) + 1
			if width == 0 {
				return 0, true
			}
			return (x << 1) >> (64 - width), true
		}
	}
	flag, ok := r.readBits(1)
	if !ok {
		return 0, false
	}
	if flag == 0 {
		return r.readBits(width)
	}
	l, ok := r.readBits(6)
	if !ok {
		return 0, false
	}
	return r.readBits(uint(l) + 1)
}

// encoder holds the scratch space of encodeChunk so that sealing a chunk
// allocates only the returned bytes. It is not safe for concurrent use.
type encoder struct {
	tsZ       []uint64
	ms        []int64
	vZ        []uint64
	w, w2, w3 bitWriter
}

// decimalExp returns the smallest e >= e0 at which v is decimal, or false.
func decimalExp(v float64, e0 int) (int, bool) {
	for e := e0; e <= maxDecimalExp; e++ {
		if _, ok := decimalAt(v, e); ok {
			return e, true
		}
	}
	return 0, false
}

// decimalAt returns m with float64(m)/10^e == v bit for bit, or false.
func decimalAt(v float64, e int) (int64, bool) {
	f := v * pow10[e]
	if !(f >= -maxDecimalInt && f <= maxDecimalInt) { // also rejects NaN
		return 0, false
	}
	// Round half away from zero; a wrong rounding only fails the check.
	var m int64
	if f >= 0 {
		m = int64(f + 0.5)
	} else {
		m = int64(f - 0.5)
	}
	if math.Float64bits(float64(m)/pow10[e]) != math.Float64bits(v) {
		return 0, false
	}
	return m, true
}

// encode returns the encoding of pts (1 <= len(pts) <= maxChunkLen) in a
// new slice of exactly its length.
func (enc *encoder) encode(pts []series.Point) []byte {
	n := len(pts)
	if n == 0 || n > maxChunkLen {
		panic(fmt.Sprintf("embedded: encode of %d points", n)) // programmer error: callers split runs
	}
	// Timestamps.
	var tsHist [65]uint32
	enc.tsZ = enc.tsZ[:0]
	var prevD int64
	for i := 1; i < n; i++ {
		d := pts[i].Timestamp - pts[i-1].Timestamp
		z := zigzag(d - prevD)
		prevD = d
		enc.tsZ = append(enc.tsZ, z)
		tsHist[bits.Len64(z)]++
	}
	wT, _ := bestWidth(&tsHist)

	// Values: try the decimal modes first.
	mode, exp := modeXOR, 0
	var wV uint
	var decCost uint64 = math.MaxUint64
	if e, ok := enc.decimalMs(pts); ok {
		var dHist, ddHist [65]uint32
		enc.vZ = enc.vZ[:0]
		var prev int64
		for i := 1; i < n; i++ {
			d := enc.ms[i] - enc.ms[i-1]
			dHist[bits.Len64(zigzag(d))]++
			ddHist[bits.Len64(zigzag(d-prev))]++
			prev = d
		}
		w1, c1 := bestWidth(&dHist)
		w2, c2 := bestWidth(&ddHist)
		exp = e
		if c2 < c1 {
			mode, wV, decCost = modeDoD, w2, c2
		} else {
			mode, wV, decCost = modeDelta, w1, c1
		}
	}

	hdr := make([]byte, 0, 32)
	hdr = binary.AppendUvarint(hdr, uint64(n))
	hdr = binary.AppendVarint(hdr, pts[0].Timestamp)
	w := &enc.w

	writeTS := func(w *bitWriter) {
		w.writeBits(uint64(wT), 6)
		for _, z := range enc.tsZ {
			writeEsc(w, wT, z)
		}
	}
	var decimal []byte
	if mode != modeXOR {
		w.reset(append(w.buf[:0], hdr...))
		w.buf = append(w.buf, byte(mode|exp<<2))
		w.buf = binary.AppendVarint(w.buf, enc.ms[0])
		writeTS(w)
		w.writeBits(uint64(wV), 6)
		var prev int64
		for i := 1; i < n; i++ {
			d := enc.ms[i] - enc.ms[i-1]
			if mode == modeDelta {
				writeEsc(w, wV, zigzag(d))
			} else {
				writeEsc(w, wV, zigzag(d-prev))
			}
			prev = d
		}
		decimal = w.finish()
		// A decimal chunk needing more than 40 bits per value may lose to
		// XOR (big random integers); otherwise it always wins.
		if decCost <= 40*uint64(n) {
			return append([]byte(nil), decimal...)
		}
	}

	// Not decimal, or poorly so: the smaller of the bits-delta and the XOR
	// encodings (and the decimal one, if any).
	var bHist [65]uint32
	for i := 1; i < n; i++ {
		d := int64(math.Float64bits(pts[i].Value)) - int64(math.Float64bits(pts[i-1].Value))
		bHist[bits.Len64(zigzag(d))]++
	}
	wB, _ := bestWidth(&bHist)
	x := &enc.w2
	x.reset(append(x.buf[:0], hdr...))
	x.buf = append(x.buf, modeBits)
	x.buf = binary.LittleEndian.AppendUint64(x.buf, math.Float64bits(pts[0].Value))
	writeTS(x)
	x.writeBits(uint64(wB), 6)
	for i := 1; i < n; i++ {
		d := int64(math.Float64bits(pts[i].Value)) - int64(math.Float64bits(pts[i-1].Value))
		writeEsc(x, wB, zigzag(d))
	}
	best := x.finish()
	if decimal != nil && len(decimal) <= len(best) {
		best = decimal
	}
	x = &enc.w3
	x.reset(append(x.buf[:0], hdr...))
	x.buf = append(x.buf, modeXOR)
	x.buf = binary.LittleEndian.AppendUint64(x.buf, math.Float64bits(pts[0].Value))
	writeTS(x)
	prev := math.Float64bits(pts[0].Value)
	leading, trailing := uint(0xff), uint(0)
	for i := 1; i < n && len(x.buf) < len(best); i++ {
		b := math.Float64bits(pts[i].Value)
		v := b ^ prev
		prev = b
		if v == 0 {
			x.writeBits(0, 1)
			continue
		}
		lz := uint(bits.LeadingZeros64(v))
		tz := uint(bits.TrailingZeros64(v))
		if lz > 31 {
			lz = 31
		}
		if leading != 0xff && lz >= leading && tz >= trailing {
			x.writeBits(0b10, 2)
			x.writeBits(v>>trailing, 64-leading-trailing)
			continue
		}
		leading, trailing = lz, tz
		sig := 64 - lz - tz
		x.writeBits(0b11, 2)
		x.writeBits(uint64(lz), 5)
		x.writeBits(uint64(sig-1), 6)
		x.writeBits(v>>tz, sig)
	}
	if xor := x.finish(); len(xor) < len(best) {
		best = xor
	}
	return append([]byte(nil), best...)
}

// decimalMs fills enc.ms with the integers of pts' values at the smallest
// exponent at which they are all decimal.
func (enc *encoder) decimalMs(pts []series.Point) (int, bool) {
	e := 0
	ms := enc.ms[:0]
	for i, p := range pts {
		m, ok := decimalAt(p.Value, e)
		if !ok {
			// A larger exponent: redo the values before (rare).
			if e, ok = decimalExp(p.Value, e+1); !ok {
				return 0, false
			}
			for j := range i {
				if ms[j], ok = decimalAt(pts[j].Value, e); !ok {
					return 0, false
				}
			}
			m, _ = decimalAt(p.Value, e)
		}
		ms = append(ms, m)
	}
	enc.ms = ms
	return e, true
}

// chunkLen returns the number of points of an encoded chunk (its first
// field) without decoding it.
func chunkLen(data []byte) (int, error) {
	n, k := binary.Uvarint(data)
	if k <= 0 || n == 0 || n > maxChunkLen {
		return 0, fmt.Errorf("%w: bad point count", errCorruptChunk)
	}
	return int(n), nil
}

// decodeChunk appends the points of the encoded chunk data to dst. It
// returns an error wrapping errCorruptChunk, and never panics, on any input
// that encode did not produce.
func decodeChunk(dst []series.Point, data []byte) ([]series.Point, error) {
	bad := func(what string) ([]series.Point, error) {
		return dst, fmt.Errorf("%w: %s", errCorruptChunk, what)
	}
	n64, k := binary.Uvarint(data)
	if k <= 0 || n64 == 0 || n64 > maxChunkLen {
		return bad("bad point count")
	}
	data = data[k:]
	n := int(n64)
	t0, k := binary.Varint(data)
	if k <= 0 {
		return bad("bad first timestamp")
	}
	data = data[k:]
	if len(data) < 1 {
		return bad("no mode byte")
	}
	mode, exp := int(data[0]&3), int(data[0]>>2)
	data = data[1:]
	var v0 uint64
	var m0 int64
	switch mode {
	case modeXOR, modeBits:
		if exp != 0 || len(data) < 8 {
			return bad("bad float header")
		}
		v0 = binary.LittleEndian.Uint64(data)
		data = data[8:]
	case modeDelta, modeDoD:
		if exp > maxDecimalExp {
			return bad("bad decimal exponent")
		}
		m0, k = binary.Varint(data)
		if k <= 0 {
			return bad("bad first value")
		}
		data = data[k:]
	default:
		return bad("unknown value mode")
	}
	// Every point after the first takes at least 2 bits.
	if uint64(n-1)*2 > uint64(len(data))*8 {
		return bad("too short for its point count")
	}
	// Every point of out is written below. (Not append(dst, make(n)...):
	// the race detector's build allocates for that.)
	start := len(dst)
	dst = slices.Grow(dst, n)[:start+n]
	out := dst[start:]

	r := newBitReader(data)
	wT, ok := r.readBits(6)
	if !ok {
		return dst[:start], fmt.Errorf("%w: truncated", errCorruptChunk)
	}
	t, d := t0, int64(0)
	out[0].Timestamp = t0
	for i := 1; i < n; i++ {
		z, ok := readEsc(&r, uint(wT))
		if !ok {
			return dst[:start], fmt.Errorf("%w: truncated timestamps", errCorruptChunk)
		}
		d += unzigzag(z)
		t += d
		out[i].Timestamp = t
	}
	if mode == modeXOR {
		prev := v0
		out[0].Value = math.Float64frombits(v0)
		leading, trailing := uint(0xff), uint(0)
		for i := 1; i < n; i++ {
			c, ok := r.readBits(1)
			if !ok {
				return dst[:start], fmt.Errorf("%w: truncated values", errCorruptChunk)
			}
			if c == 1 {
				c2, ok := r.readBits(1)
				if !ok {
					return dst[:start], fmt.Errorf("%w: truncated values", errCorruptChunk)
				}
				if c2 == 1 {
					lz, ok1 := r.readBits(5)
					sig, ok2 := r.readBits(6)
					if !ok1 || !ok2 {
						return dst[:start], fmt.Errorf("%w: truncated values", errCorruptChunk)
					}
					sig++
					if lz+sig > 64 {
						return dst[:start], fmt.Errorf("%w: bad xor window", errCorruptChunk)
					}
					leading, trailing = uint(lz), uint(64-lz-sig)
				} else if leading == 0xff {
					return dst[:start], fmt.Errorf("%w: xor window reused before set", errCorruptChunk)
				}
				v, ok := r.readBits(64 - leading - trailing)
				if !ok {
					return dst[:start], fmt.Errorf("%w: truncated values", errCorruptChunk)
				}
				prev ^= v << trailing
			}
			out[i].Value = math.Float64frombits(prev)
		}
		return dst, nil
	}
	wV, ok := r.readBits(6)
	if !ok {
		return dst[:start], fmt.Errorf("%w: truncated", errCorruptChunk)
	}
	if mode == modeBits {
		b := v0
		out[0].Value = math.Float64frombits(b)
		for i := 1; i < n; i++ {
			z, ok := readEsc(&r, uint(wV))
			if !ok {
				return dst[:start], fmt.Errorf("%w: truncated values", errCorruptChunk)
			}
			b = uint64(int64(b) + unzigzag(z))
			out[i].Value = math.Float64frombits(b)
		}
		return dst, nil
	}
	m, dm := m0, int64(0)
	for i := 1; i < n; i++ {
		z, ok := readEsc(&r, uint(wV))
		if !ok {
			return dst[:start], fmt.Errorf("%w: truncated values", errCorruptChunk)
		}
		if mode == modeDelta {
			m += unzigzag(z)
		} else {
			dm += unzigzag(z)
			m += dm
		}
		out[i].Value = float64(m) // the integer for now, scaled below
	}
	out[0].Value = float64(m0)
	if exp > 0 {
		scale := pow10[exp]
		for i := range out {
			out[i].Value /= scale
		}
	}
	return dst, nil
}
