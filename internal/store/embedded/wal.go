package embedded

// Write-ahead log format. Each shard writes its own log as a sequence of
// segment files named wal-<seq as 16 hex digits>.log. A segment is:
//
//	"KALEWAL1"                     8-byte magic
//	record*
//
//	record  = uint32 LE len | uint32 LE crc | payload      (len = len(payload), 1 <= len <= maxRecordLen)
//	          crc is CRC-32C (Castagnoli) of payload
//	payload = type byte, then by type:
//	  1 series: uvarint id, name bytes (the rest of the payload)
//	  2 points: varint base, then until the end: uvarint id, varint ts-base, 8 bytes LE value bits
//	  3 trim:   varint cutoff (every series of the shard loses its points with ts <= cutoff)
//
// A series record comes before the first points record that uses its id in
// the same segment, so every segment replays alone. The order of records is
// the order in which the shard applied them in memory.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

const (
	walMagic       = "KALEWAL1"
	recSeries      = 1
	recPoints      = 2
	recTrim        = 3
	frameHeaderLen = 8
	maxRecordLen   = 64 << 20
	// maxPointsPayload is where Append starts a new points record.
	maxPointsPayload = 1 << 20
	walBufferSize    = 256 << 10
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errBadRecord is wrapped by the errors of records that pass their CRC but
// do not parse.
var errBadRecord = errors.New("bad record")

func segmentName(seq uint64) string  { return fmt.Sprintf("wal-%016x.log", seq) }
func snapshotName(seq uint64) string { return fmt.Sprintf("snap-%016x.bin", seq) }

// parseSeq returns the sequence number in a file name made by segmentName
// or snapshotName.
func parseSeq(name, prefix, suffix string) (uint64, bool) {
	if !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, suffix) {
		return 0, false
	}
	hex := name[len(prefix) : len(name)-len(suffix)]
	if len(hex) != 16 {
		return 0, false
	}
	seq, err := strconv.ParseUint(hex, 16, 64)
	return seq, err == nil
}

// frame fills the 8-byte header reserved at the start of rec for the
// payload rec[8:].
func frame(rec []byte) {
	payload := rec[frameHeaderLen:]
	binary.LittleEndian.PutUint32(rec[0:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(rec[4:], crc32.Checksum(payload, castagnoli))
}

// appendSeriesRecord appends a framed series record to dst.
func appendSeriesRecord(dst []byte, id uint64, name string) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, frameHeaderLen)...)
	dst = append(dst, recSeries)
	dst = binary.AppendUvarint(dst, id)
	dst = append(dst, name...)
	frame(dst[start:])
	return dst
}

// appendTrimRecord appends a framed trim record to dst.
func appendTrimRecord(dst []byte, cutoff int64) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, frameHeaderLen)...)
	dst = append(dst, recTrim)
	dst = binary.AppendVarint(dst, cutoff)
	frame(dst[start:])
	return dst
}

// pointsRecord builds one points record.
type pointsRecord struct {
	buf  []byte
	base int64
}

func (r *pointsRecord) begin(base int64) {
	r.buf = append(r.buf[:0], make([]byte, frameHeaderLen)...)
	r.buf = append(r.buf, recPoints)
	r.buf = binary.AppendVarint(r.buf, base)
	r.base = base
}

func (r *pointsRecord) add(id uint64, ts int64, v float64) {
	r.buf = binary.AppendUvarint(r.buf, id)
	r.buf = binary.AppendVarint(r.buf, ts-r.base)
	r.buf = binary.LittleEndian.AppendUint64(r.buf, math.Float64bits(v))
}

// empty reports whether no point was added since begin.
func (r *pointsRecord) empty(headerLen int) bool { return len(r.buf) <= headerLen }

// finish frames the record and returns its bytes.
func (r *pointsRecord) finish() []byte {
	frame(r.buf)
	return r.buf
}

// walPoint is one tuple of a points record.
type walPoint struct {
	id uint64
	ts int64
	v  float64
}

// parsePoints calls fn for each tuple of a points payload (after the type
// byte).
func parsePoints(p []byte, fn func(walPoint) error) error {
	base, k := binary.Varint(p)
	if k <= 0 {
		return fmt.Errorf("%w: points base", errBadRecord)
	}
	p = p[k:]
	for len(p) > 0 {
		id, k := binary.Uvarint(p)
		if k <= 0 {
			return fmt.Errorf("%w: point id", errBadRecord)
		}
		p = p[k:]
		dts, k := binary.Varint(p)
		if k <= 0 {
			return fmt.Errorf("%w: point timestamp", errBadRecord)
		}
		p = p[k:]
		if len(p) < 8 {
			return fmt.Errorf("%w: point value", errBadRecord)
		}
		v := math.Float64frombits(binary.LittleEndian.Uint64(p))
		p = p[8:]
		if err := fn(walPoint{id: id, ts: base + dts, v: v}); err != nil {
			return err
		}
	}
	return nil
}

// segmentScan is what scanSegment found.
type segmentScan struct {
	records int   // records replayed
	good    int64 // offset just past the last good record
	size    int64
	err     error // why the scan stopped early; nil at a clean end
	torn    bool  // err is at the tail: an incomplete or zero-filled end, as a crash leaves
}

// scanSegment calls fn with the type and body of each record of the
// segment data, in order, until the end or the first record that is cut
// short, fails its CRC or that fn rejects.
func scanSegment(data []byte, fn func(typ byte, body []byte) error) segmentScan {
	sc := segmentScan{size: int64(len(data))}
	if len(data) < len(walMagic) {
		sc.err, sc.torn = errors.New("segment shorter than its magic"), true
		return sc
	}
	if string(data[:len(walMagic)]) != walMagic {
		sc.err = errors.New("bad segment magic")
		sc.torn = allZero(data)
		return sc
	}
	off := int64(len(walMagic))
	sc.good = off
	for off < int64(len(data)) {
		rest := data[off:]
		if len(rest) < frameHeaderLen {
			sc.err, sc.torn = fmt.Errorf("record header cut at offset %d", off), true
			return sc
		}
		n := int64(binary.LittleEndian.Uint32(rest))
		crc := binary.LittleEndian.Uint32(rest[4:])
		if n == 0 || n > maxRecordLen {
			sc.err = fmt.Errorf("bad record length %d at offset %d", n, off)
			sc.torn = allZero(rest)
			return sc
		}
		if int64(len(rest)) < frameHeaderLen+n {
			sc.err, sc.torn = fmt.Errorf("record of %d bytes cut at offset %d", n, off), true
			return sc
		}
		payload := rest[frameHeaderLen : frameHeaderLen+n]
		if crc32.Checksum(payload, castagnoli) != crc {
			sc.err = fmt.Errorf("record checksum mismatch at offset %d", off)
			// A torn last record: nothing valid can follow it.
			sc.torn = off+frameHeaderLen+n == int64(len(data)) || allZero(rest[frameHeaderLen+n:])
			return sc
		}
		if err := fn(payload[0], payload[1:]); err != nil {
			sc.err = fmt.Errorf("record at offset %d: %w", off, err)
			return sc
		}
		sc.records++
		off += frameHeaderLen + n
		sc.good = off
	}
	return sc
}

func allZero(b []byte) bool {
	return len(bytes.TrimLeft(b, "\x00")) == 0
}

// openSegment creates segment seq in dir and writes its magic.
func openSegment(dir string, seq uint64) (*os.File, *bufio.Writer, error) {
	f, err := os.OpenFile(filepath.Join(dir, segmentName(seq)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot create segment: %w", err)
	}
	w := bufio.NewWriterSize(f, walBufferSize)
	if _, err := w.WriteString(walMagic); err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("cannot write segment magic: %w", err)
	}
	return f, w, nil
}
