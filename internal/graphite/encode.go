// Package graphite encodes points the way Graphite senders do: pickle frames
// as carbon-relay sends them, plaintext lines, and Skyline's MessagePack
// datagrams. Kale's benchmarks and tests use it to play the sender.
package graphite

import (
	"encoding/binary"
	"math"
	"strconv"

	"github.com/go-kale/kale/internal/series"
)

// Pickle opcodes of protocol 2 used by AppendPickleFrame.
const (
	opProto     = 0x80
	opEmptyList = ']'
	opBinPut    = 'q'
	opLongPut   = 'r'
	opMark      = '('
	opBinUni    = 'X'
	opBinFloat  = 'G'
	opTuple2    = 0x86
	opAppends   = 'e'
	opStop      = '.'
)

// AppendPickleFrame appends one frame as carbon-relay writes it: a 4-byte
// big-endian length, then a protocol-2 pickle of
// [(name, (float(ts), float(value))), ...], with memo PUTs after every
// object and APPENDS every 1000 items, as Python's pickler does.
func AppendPickleFrame(dst []byte, samples []series.Sample) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, opProto, 2, opEmptyList)
	memo := uint32(0)
	put := func() {
		if memo < 256 {
			dst = append(dst, opBinPut, byte(memo))
		} else {
			dst = append(dst, opLongPut)
			dst = binary.LittleEndian.AppendUint32(dst, memo)
		}
		memo++
	}
	put()
	for i, s := range samples {
		if i%1000 == 0 {
			dst = append(dst, opMark)
		}
		dst = append(dst, opBinUni)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(s.Name)))
		dst = append(dst, s.Name...)
		put()
		dst = append(dst, opBinFloat)
		dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(float64(s.Timestamp)))
		dst = append(dst, opBinFloat)
		dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(s.Value))
		dst = append(dst, opTuple2)
		put()
		dst = append(dst, opTuple2)
		put()
		if i%1000 == 999 || i == len(samples)-1 {
			dst = append(dst, opAppends)
		}
	}
	dst = append(dst, opStop)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// AppendPlaintext appends "name value timestamp\n".
func AppendPlaintext(dst []byte, s series.Sample) []byte {
	dst = append(dst, s.Name...)
	dst = append(dst, ' ')
	dst = strconv.AppendFloat(dst, s.Value, 'g', -1, 64)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, s.Timestamp, 10)
	return append(dst, '\n')
}

// AppendMsgpack appends Skyline's UDP datagram [name, [ts, value]], with the
// timestamp as an integer and the value as a float64.
func AppendMsgpack(dst []byte, s series.Sample) []byte {
	dst = append(dst, 0x92)
	switch n := len(s.Name); {
	case n < 32:
		dst = append(dst, 0xa0|byte(n))
	case n < 256:
		dst = append(dst, 0xd9, byte(n))
	case n < 65536:
		dst = append(dst, 0xda, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0xdb)
		dst = binary.BigEndian.AppendUint32(dst, uint32(n))
	}
	dst = append(dst, s.Name...)
	return series.AppendPoint(dst, s.Point)
}
