package series

// Skyline's Redis value format (skyline-spec 1.6): the value of key
// metrics.<name> is a concatenation of MessagePack arrays [ts, value], one
// per datapoint, in the order they were APPENDed. There is no outer array
// and no length: a reader decodes objects until the bytes run out.
//
// The codec is written by hand rather than with a general MessagePack
// library because the analyzer decodes every series of the store every
// cycle (10 s in Skyline): a day of 10-s points is 8640 points and about
// 160 KB per metric, and the hand-written loop decodes it without
// reflection, without an allocation per point, and with a fast path for the
// two layouts seen in practice ([float64, float64] from Skyline's Python
// Horizon, [int, float64] from Kale). It is checked against
// vmihailenco/msgpack and against bytes written by Python's msgpack.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Sentinel errors, checked with errors.Is.
var (
	// ErrMalformed is wrapped by every error DecodePoints returns.
	ErrMalformed = errors.New("malformed msgpack point")
)

// DecodeError reports where and why DecodePoints stopped. It wraps
// ErrMalformed.
type DecodeError struct {
	Offset int    // byte offset of the start of the element ([ts, value] array) that failed
	Reason string // what was wrong, naming the byte offset of the bad byte when it differs from Offset
}

// Error implements error.
func (e *DecodeError) Error() string {
	return fmt.Sprintf("cannot decode msgpack point at byte offset %d: %s", e.Offset, e.Reason)
}

// Unwrap returns ErrMalformed.
func (e *DecodeError) Unwrap() error { return ErrMalformed }

// MaxPointSize is the largest number of bytes AppendPoint writes for one
// point: 1 (array header) + 9 (int64) + 9 (float64).
const MaxPointSize = 19

// PointSize returns the number of bytes AppendPoint writes for p.
func PointSize(p Point) int {
	return 1 + intSize(p.Timestamp) + 9
}

// intSize is the length of the smallest msgpack encoding of n.
func intSize(n int64) int {
	switch {
	case n >= 0 && n <= 127, n < 0 && n >= -32:
		return 1
	case n >= 0 && n <= math.MaxUint8, n < 0 && n >= math.MinInt8:
		return 2
	case n >= 0 && n <= math.MaxUint16, n < 0 && n >= math.MinInt16:
		return 3
	case n >= 0 && n <= math.MaxUint32, n < 0 && n >= math.MinInt32:
		return 5
	default:
		return 9
	}
}

// AppendPoint appends the msgpack encoding of [ts, value] to dst and
// returns the extended slice: 0x92 (fixarray of 2), then ts in the smallest
// msgpack integer form, as Python's msgpack writes an int (positive fixint,
// uint8 0xcc, uint16 0xcd, uint32 0xce or uint64 0xcf when ts >= 0;
// negative fixint, int8 0xd0, int16 0xd1, int32 0xd2 or int64 0xd3 when
// ts < 0), then value as float64 (0xcb and 8 big-endian IEEE-754 bytes, bit
// exact: -0, subnormals and NaN payloads are kept). A point of today is 15
// bytes: 92 ce <4 bytes> cb <8 bytes>.
func AppendPoint(dst []byte, p Point) []byte {
	dst = append(dst, 0x92)
	dst = appendInt(dst, p.Timestamp)
	dst = append(dst, 0xcb)
	return binary.BigEndian.AppendUint64(dst, math.Float64bits(p.Value))
}

// appendInt appends the smallest msgpack encoding of n.
func appendInt(dst []byte, n int64) []byte {
	if n >= 0 {
		switch {
		case n <= 127:
			return append(dst, byte(n))
		case n <= math.MaxUint8:
			return append(dst, 0xcc, byte(n))
		case n <= math.MaxUint16:
			return binary.BigEndian.AppendUint16(append(dst, 0xcd), uint16(n))
		case n <= math.MaxUint32:
			return binary.BigEndian.AppendUint32(append(dst, 0xce), uint32(n))
		default:
			return binary.BigEndian.AppendUint64(append(dst, 0xcf), uint64(n))
		}
	}
	switch {
	case n >= -32:
		return append(dst, byte(n))
	case n >= math.MinInt8:
		return append(dst, 0xd0, byte(n))
	case n >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(dst, 0xd1), uint16(n))
	case n >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(dst, 0xd2), uint32(n))
	default:
		return binary.BigEndian.AppendUint64(append(dst, 0xd3), uint64(n))
	}
}

// DecodePoints decodes b, a concatenation of msgpack arrays [ts, value],
// appends the points to dst in the order they appear, and returns the
// extended slice.
//
// Each array may be a fixarray, array16 or array32 with at least 2 items.
// ts and value may each be any msgpack number: positive or negative fixint,
// uint8/16/32/64, int8/16/32/64, float32 or float64. A float ts is truncated
// toward zero to whole seconds (as Kale's parsers do); a ts that is NaN,
// infinite or outside int64 is an error, as is a uint64 above MaxInt64. A
// value is converted to float64 (integers above 2^53 round to the nearest
// float64; float32 widens exactly). Items after the first two are skipped,
// whatever their type, as Skyline's webapp keeps only the first two.
//
// Anything else (another type, a truncated element, an array of fewer than
// 2 items) stops decoding: DecodePoints returns the points decoded before
// the bad element together with a *DecodeError (wrapping ErrMalformed) whose
// Offset is where that element starts, so b[:Offset] is the well-formed
// prefix. An empty b gives dst unchanged and nil.
func DecodePoints(dst []Point, b []byte) ([]Point, error) {
	// Room for every point, guessing the size of one from the first.
	if est := len(b) / pointSizeGuess(b); cap(dst)-len(dst) < est {
		dst = growPoints(dst, est)
	}
	i := 0
	for i < len(b) {
		// Fast paths: [float64, float64] (19 bytes, Skyline's Horizon) and
		// [uint32, float64] (15 bytes, Kale for any date 1970-2106).
		if b[i] == 0x92 && len(b)-i >= 15 {
			switch b[i+1] {
			case 0xce:
				if b[i+6] == 0xcb {
					ts := int64(binary.BigEndian.Uint32(b[i+2:]))
					v := math.Float64frombits(binary.BigEndian.Uint64(b[i+7:]))
					dst = append(dst, Point{Timestamp: ts, Value: v})
					i += 15
					continue
				}
			case 0xcb:
				if len(b)-i >= 19 && b[i+10] == 0xcb {
					f := math.Float64frombits(binary.BigEndian.Uint64(b[i+2:]))
					if f >= 0 && f < 1<<62 {
						v := math.Float64frombits(binary.BigEndian.Uint64(b[i+11:]))
						dst = append(dst, Point{Timestamp: int64(f), Value: v})
						i += 19
						continue
					}
				}
			}
		}
		p, n, err := decodeElement(b, i)
		if err != nil {
			return dst, err
		}
		dst = append(dst, p)
		i = n
	}
	return dst, nil
}

// pointSizeGuess is the size of one point if b holds points laid out like
// the first one: 19 bytes for Skyline's [float64, float64], else 15.
func pointSizeGuess(b []byte) int {
	if len(b) >= 2 && b[0] == 0x92 && b[1] == 0xcb {
		return 19
	}
	return 15
}

// growPoints returns dst with room for at least n more points.
func growPoints(dst []Point, n int) []Point {
	out := make([]Point, len(dst), len(dst)+n)
	copy(out, dst)
	return out
}

// decodeElement decodes the array that starts at b[start] and returns the
// point and the offset just past the array.
func decodeElement(b []byte, start int) (Point, int, error) {
	bad := func(format string, args ...any) (Point, int, error) {
		return Point{}, 0, &DecodeError{Offset: start, Reason: fmt.Sprintf(format, args...)}
	}
	i := start
	c := b[i]
	var n uint64
	switch {
	case c >= 0x90 && c <= 0x9f:
		n = uint64(c & 0x0f)
		i++
	case c == 0xdc:
		if len(b)-i < 3 {
			return bad("truncated array16 header")
		}
		n = uint64(binary.BigEndian.Uint16(b[i+1:]))
		i += 3
	case c == 0xdd:
		if len(b)-i < 5 {
			return bad("truncated array32 header")
		}
		n = uint64(binary.BigEndian.Uint32(b[i+1:]))
		i += 5
	default:
		return bad("type byte 0x%02x is not an array", c)
	}
	if n < 2 {
		return bad("array of %d items, want at least 2", n)
	}
	tsNum, i, err := decodeNumber(b, i)
	if err != nil {
		return bad("timestamp: %v", err)
	}
	ts, err := tsNum.timestamp()
	if err != nil {
		return bad("timestamp: %v", err)
	}
	valNum, i, err := decodeNumber(b, i)
	if err != nil {
		return bad("value: %v", err)
	}
	if n > 2 {
		i, err = skipObjects(b, i, n-2)
		if err != nil {
			return bad("extra item: %v", err)
		}
	}
	return Point{Timestamp: ts, Value: valNum.float()}, i, nil
}

// number is a decoded msgpack number in the form it was written.
type number struct {
	kind byte // 'i' int64, 'u' uint64, 'f' float64
	i    int64
	u    uint64
	f    float64
}

// timestamp converts n to whole seconds, truncating a float toward zero.
func (n number) timestamp() (int64, error) {
	switch n.kind {
	case 'i':
		return n.i, nil
	case 'u':
		if n.u > math.MaxInt64 {
			return 0, fmt.Errorf("%d is beyond int64", n.u)
		}
		return int64(n.u), nil
	default:
		// -2^63 is exact in float64; 2^63 is the first value past MaxInt64.
		if !(n.f >= -(1<<63) && n.f < 1<<63) {
			return 0, fmt.Errorf("%v is not a finite number within int64", n.f)
		}
		return int64(n.f), nil
	}
}

// float converts n to float64.
func (n number) float() float64 {
	switch n.kind {
	case 'i':
		return float64(n.i)
	case 'u':
		return float64(n.u)
	default:
		return n.f
	}
}

// decodeNumber decodes the msgpack number at b[i] and returns it and the
// offset just past it.
func decodeNumber(b []byte, i int) (number, int, error) {
	if i >= len(b) {
		return number{}, 0, fmt.Errorf("truncated at byte offset %d", i)
	}
	c := b[i]
	switch {
	case c <= 0x7f:
		return number{kind: 'i', i: int64(c)}, i + 1, nil
	case c >= 0xe0:
		return number{kind: 'i', i: int64(int8(c))}, i + 1, nil
	}
	size := 0
	switch c {
	case 0xcc, 0xd0:
		size = 1
	case 0xcd, 0xd1:
		size = 2
	case 0xce, 0xd2, 0xca:
		size = 4
	case 0xcf, 0xd3, 0xcb:
		size = 8
	default:
		return number{}, 0, fmt.Errorf("type byte 0x%02x at byte offset %d is not a number", c, i)
	}
	if len(b)-i-1 < size {
		return number{}, 0, fmt.Errorf("truncated number at byte offset %d", i)
	}
	p := b[i+1:]
	var n number
	switch c {
	case 0xcc:
		n = number{kind: 'i', i: int64(p[0])}
	case 0xcd:
		n = number{kind: 'i', i: int64(binary.BigEndian.Uint16(p))}
	case 0xce:
		n = number{kind: 'i', i: int64(binary.BigEndian.Uint32(p))}
	case 0xcf:
		n = number{kind: 'u', u: binary.BigEndian.Uint64(p)}
	case 0xd0:
		n = number{kind: 'i', i: int64(int8(p[0]))}
	case 0xd1:
		n = number{kind: 'i', i: int64(int16(binary.BigEndian.Uint16(p)))}
	case 0xd2:
		n = number{kind: 'i', i: int64(int32(binary.BigEndian.Uint32(p)))}
	case 0xd3:
		n = number{kind: 'i', i: int64(binary.BigEndian.Uint64(p))}
	case 0xca:
		n = number{kind: 'f', f: float64(math.Float32frombits(binary.BigEndian.Uint32(p)))}
	case 0xcb:
		n = number{kind: 'f', f: math.Float64frombits(binary.BigEndian.Uint64(p))}
	}
	return n, i + 1 + size, nil
}

// skipObjects skips count msgpack objects of any type starting at b[i] and
// returns the offset just past them. It does not recurse: a container adds
// its items to the count, so deep nesting cannot exhaust the stack.
func skipObjects(b []byte, i int, count uint64) (int, error) {
	for ; count > 0; count-- {
		if i >= len(b) {
			return 0, fmt.Errorf("truncated at byte offset %d", i)
		}
		c := b[i]
		var skip, lenBytes int // fixed payload size, or size of a length prefix
		var items uint64       // items a container adds
		switch {
		case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
			skip = 0 // fixint, nil, false, true
		case c >= 0x80 && c <= 0x8f:
			items = 2 * uint64(c&0x0f)
		case c >= 0x90 && c <= 0x9f:
			items = uint64(c & 0x0f)
		case c >= 0xa0 && c <= 0xbf:
			skip = int(c & 0x1f)
		default:
			switch c {
			case 0xcc, 0xd0:
				skip = 1
			case 0xcd, 0xd1:
				skip = 2
			case 0xca, 0xce, 0xd2:
				skip = 4
			case 0xcb, 0xcf, 0xd3:
				skip = 8
			case 0xd4:
				skip = 2 // fixext 1: type + 1
			case 0xd5:
				skip = 3
			case 0xd6:
				skip = 5
			case 0xd7:
				skip = 9
			case 0xd8:
				skip = 17
			case 0xc4, 0xd9, 0xc7: // bin8, str8, ext8
				lenBytes = 1
			case 0xc5, 0xda, 0xc8, 0xdc, 0xde: // bin16, str16, ext16, array16, map16
				lenBytes = 2
			case 0xc6, 0xdb, 0xc9, 0xdd, 0xdf: // bin32, str32, ext32, array32, map32
				lenBytes = 4
			default:
				return 0, fmt.Errorf("type byte 0x%02x at byte offset %d is not valid msgpack", c, i)
			}
		}
		at := i
		i++
		if lenBytes > 0 {
			if len(b)-i < lenBytes {
				return 0, fmt.Errorf("truncated length at byte offset %d", at)
			}
			var l uint64
			switch lenBytes {
			case 1:
				l = uint64(b[i])
			case 2:
				l = uint64(binary.BigEndian.Uint16(b[i:]))
			case 4:
				l = uint64(binary.BigEndian.Uint32(b[i:]))
			}
			i += lenBytes
			switch c {
			case 0xdc, 0xdd:
				items = l
			case 0xde, 0xdf:
				items = 2 * l
			case 0xc7, 0xc8, 0xc9:
				l++ // the ext type byte
				fallthrough
			default:
				if uint64(len(b)-i) < l {
					return 0, fmt.Errorf("truncated payload at byte offset %d", at)
				}
				skip = int(l)
			}
		}
		if len(b)-i < skip {
			return 0, fmt.Errorf("truncated at byte offset %d", at)
		}
		i += skip
		// Every item takes at least one byte: a count beyond what is left
		// is truncated input, and checking here keeps count from overflowing.
		if items > uint64(len(b)-i) {
			return 0, fmt.Errorf("container at byte offset %d holds more items than bytes left", at)
		}
		count += items
	}
	return i, nil
}
