package horizon

import (
	"bytes"
	"errors"
	"io"
	"math"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"

	"github.com/go-kale/kale/internal/series"
)

// DecodeMsgpack decodes one UDP datagram of Skyline's MessagePack protocol
// (skyline-spec 1.3): exactly one MessagePack object, the 2-array
// [name, [timestamp, value]], with nothing after it. It returns a
// *RejectError for anything else:
//
//   - name must be a msgpack str or bin (any length form); its bytes are taken
//     as they are (empty, non-UTF-8 or control characters are the filters'
//     business). Anything else there, a different outer or inner array length,
//     nil, a map, a truncated object or trailing bytes is ReasonMalformed.
//   - timestamp may be any msgpack number (positive/negative fixint, int8..64,
//     uint8..64, float32, float64); Python senders use the smallest int type.
//     A float is truncated toward zero to whole seconds. A timestamp that is
//     not a number, not finite, or outside int64 is ReasonBadTimestamp. -1 has
//     no special meaning here (unlike the plaintext protocol).
//   - value may be any msgpack number; integers are converted to the nearest
//     float64, float32 is widened exactly, float64 is kept bit-exact (NaN and
//     ±Inf included: the filters reject those, with their own reasons).
//     Anything else, numeric strings included, is ReasonNonNumeric: msgpack
//     is typed, Skyline's readers expect msgpack numbers in Redis, and Go's
//     and Python's float syntaxes differ (carbon's float("…") is not ours).
//
// It is safe for concurrent use and does not retain datagram.
func DecodeMsgpack(datagram []byte) (series.Sample, error) {
	m := msgpackDecoders.Get().(*msgpackDecoder)
	s, err := m.decode(datagram)
	m.r.Reset(nil) // do not keep the caller's buffer alive in the pool
	msgpackDecoders.Put(m)
	return s, err
}

// msgpackDecoder is a pooled msgpack.Decoder reading from a bytes.Reader.
// The decoder does not buffer (bytes.Reader is an io.ByteScanner), so
// r.Len() is always the exact number of bytes not yet decoded.
type msgpackDecoder struct {
	r bytes.Reader
	d *msgpack.Decoder
}

var msgpackDecoders = sync.Pool{New: func() any {
	return &msgpackDecoder{d: msgpack.NewDecoder(nil)}
}}

func (m *msgpackDecoder) decode(b []byte) (series.Sample, error) {
	m.r.Reset(b)
	m.d.Reset(&m.r)
	if len(b) == 0 {
		return series.Sample{}, reject(ReasonMalformed, "empty datagram")
	}
	if err := m.pair("datagram"); err != nil {
		return series.Sample{}, err
	}
	name, err := m.name(b)
	if err != nil {
		return series.Sample{}, err
	}
	if err := m.pair("datapoint"); err != nil {
		return series.Sample{}, err
	}
	ts, err := m.timestamp()
	if err != nil {
		return series.Sample{}, err
	}
	v, err := m.value()
	if err != nil {
		return series.Sample{}, err
	}
	if n := m.r.Len(); n > 0 {
		return series.Sample{}, reject(ReasonMalformed, "%d trailing bytes after the datagram's object", n)
	}
	return series.Sample{Name: name, Point: series.Point{Timestamp: ts, Value: v}}, nil
}

// pair reads an array header and insists on two elements.
func (m *msgpackDecoder) pair(what string) error {
	c, err := m.d.PeekCode()
	if err != nil {
		return msgpackTruncated(err)
	}
	if !msgpackIsArray(c) {
		return reject(ReasonMalformed, "%s is a msgpack %s, not a 2-array", what, msgpackKind(c))
	}
	n, err := m.d.DecodeArrayLen()
	if err != nil {
		return msgpackTruncated(err)
	}
	if n != 2 {
		return reject(ReasonMalformed, "%s is a %d-array, not a 2-array", what, n)
	}
	return nil
}

// name reads a str or bin, copying its bytes straight from b (after checking
// the length against what is left, so a forged length allocates nothing).
func (m *msgpackDecoder) name(b []byte) (string, error) {
	c, err := m.d.PeekCode()
	if err != nil {
		return "", msgpackTruncated(err)
	}
	if !msgpcode.IsString(c) && !msgpcode.IsBin(c) {
		return "", reject(ReasonMalformed, "metric name is a msgpack %s, not a string", msgpackKind(c))
	}
	n, err := m.d.DecodeBytesLen()
	if err != nil {
		return "", msgpackTruncated(err)
	}
	left := m.r.Len()
	if n < 0 || n > left { // n < 0: a 32-bit length on a 32-bit platform
		return "", reject(ReasonMalformed, "truncated datagram: name of %d bytes, %d left", n, left)
	}
	off := len(b) - left
	if _, err := m.r.Seek(int64(n), io.SeekCurrent); err != nil {
		return "", msgpackTruncated(err)
	}
	return string(b[off : off+n]), nil
}

func (m *msgpackDecoder) timestamp() (int64, error) {
	c, err := m.d.PeekCode()
	if err != nil {
		return 0, msgpackTruncated(err)
	}
	switch {
	case c == msgpcode.Float || c == msgpcode.Double:
		f, err := m.d.DecodeFloat64()
		if err != nil {
			return 0, msgpackTruncated(err)
		}
		if !inInt64(f) {
			return 0, reject(ReasonBadTimestamp, "timestamp %g is not a finite number in int64 seconds", f)
		}
		return int64(f), nil // truncates toward zero
	case c == msgpcode.Uint64:
		u, err := m.d.DecodeUint64()
		if err != nil {
			return 0, msgpackTruncated(err)
		}
		if u > math.MaxInt64 {
			return 0, reject(ReasonBadTimestamp, "timestamp %d is outside int64", u)
		}
		return int64(u), nil
	case msgpackIsInt(c):
		i, err := m.d.DecodeInt64()
		if err != nil {
			return 0, msgpackTruncated(err)
		}
		return i, nil
	}
	return 0, reject(ReasonBadTimestamp, "timestamp is a msgpack %s, not a number", msgpackKind(c))
}

// inInt64 reports whether f is finite and truncates (toward zero) into
// int64, i.e. -2^63 <= f < 2^63: no float64 lies strictly between -2^63-1
// and -2^63, nor between 2^63-1 and 2^63. It is false for NaN.
func inInt64(f float64) bool { return f >= -0x1p63 && f < 0x1p63 }

func (m *msgpackDecoder) value() (float64, error) {
	c, err := m.d.PeekCode()
	if err != nil {
		return 0, msgpackTruncated(err)
	}
	switch {
	case c == msgpcode.Double:
		f, err := m.d.DecodeFloat64()
		if err != nil {
			return 0, msgpackTruncated(err)
		}
		return f, nil
	case c == msgpcode.Float:
		f, err := m.d.DecodeFloat32()
		if err != nil {
			return 0, msgpackTruncated(err)
		}
		return float64(f), nil
	case c == msgpcode.Uint64:
		u, err := m.d.DecodeUint64()
		if err != nil {
			return 0, msgpackTruncated(err)
		}
		return float64(u), nil
	case msgpackIsInt(c):
		i, err := m.d.DecodeInt64()
		if err != nil {
			return 0, msgpackTruncated(err)
		}
		return float64(i), nil
	}
	return 0, reject(ReasonNonNumeric, "value is a msgpack %s, not a number", msgpackKind(c))
}

// msgpackTruncated is the rejection for a read that ran off the end of the datagram
// (or, never in practice, any other decoder error).
func msgpackTruncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return reject(ReasonMalformed, "truncated datagram")
	}
	return reject(ReasonMalformed, "cannot decode msgpack: %v", err)
}

func msgpackIsArray(c byte) bool {
	return msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32
}

// msgpackIsInt reports whether c starts a msgpack integer other than uint64.
func msgpackIsInt(c byte) bool {
	return msgpcode.IsFixedNum(c) || (c >= msgpcode.Uint8 && c <= msgpcode.Int64 && c != msgpcode.Uint64)
}

// msgpackKind names the msgpack type that code c starts, for messages.
func msgpackKind(c byte) string {
	switch {
	case c == msgpcode.Nil:
		return "nil"
	case c == msgpcode.False || c == msgpcode.True:
		return "bool"
	case c == msgpcode.Float || c == msgpcode.Double || c == msgpcode.Uint64 || msgpackIsInt(c):
		return "number"
	case msgpcode.IsString(c):
		return "string"
	case msgpcode.IsBin(c):
		return "bin"
	case msgpackIsArray(c):
		return "array"
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		return "map"
	case msgpcode.IsExt(c):
		return "ext"
	}
	return "reserved code 0xc1"
}
