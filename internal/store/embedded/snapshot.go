package embedded

// Snapshot format. snap-<seq>.bin holds every series of one shard as it
// was when segment seq started, so it replaces all segments before seq:
//
//	"KALESNP1"
//	uvarint series count
//	series*:
//	  uvarint len(name), name
//	  uvarint chunk count
//	  chunk*: varint minT, varint maxT, uvarint n, uvarint skip, uvarint len(data), data
//	  uvarint head length
//	  head point*: varint ts, 8 bytes LE value bits
//	uint32 LE CRC-32C of every byte before it
//	"KALESEND"
//
// It is written to a .tmp file, fsync'd and renamed, so a snapshot file
// either is complete or does not exist; the CRC catches later damage.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"

	"github.com/go-kale/kale/internal/fsutil"
	"github.com/go-kale/kale/internal/series"
)

const (
	snapMagic    = "KALESNP1"
	snapEndMagic = "KALESEND"
)

// errBadSnapshot is wrapped by every snapshot decoding error.
var errBadSnapshot = errors.New("bad snapshot")

// snapEntry is one series as a snapshot stores it. chunks share their
// immutable data with the live series.
type snapEntry struct {
	name   string
	chunks []chunk
	head   []series.Point
}

// writeSnapshot writes entries to path atomically (tmp, fsync, rename,
// fsync of the directory) and returns the file size.
func writeSnapshot(dir, name string, entries []snapEntry) (int64, error) {
	path := dir + string(os.PathSeparator) + name
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return 0, fmt.Errorf("cannot create snapshot: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	crc := crc32.New(castagnoli)
	var size int64
	buf := make([]byte, 0, 4096)
	emit := func() error {
		crc.Write(buf)
		n, err := bw.Write(buf)
		size += int64(n)
		buf = buf[:0]
		return err
	}
	buf = append(buf, snapMagic...)
	buf = binary.AppendUvarint(buf, uint64(len(entries)))
	for i := range entries {
		e := &entries[i]
		buf = binary.AppendUvarint(buf, uint64(len(e.name)))
		buf = append(buf, e.name...)
		buf = binary.AppendUvarint(buf, uint64(len(e.chunks)))
		for j := range e.chunks {
			c := &e.chunks[j]
			buf = binary.AppendVarint(buf, c.minT)
			buf = binary.AppendVarint(buf, c.maxT)
			buf = binary.AppendUvarint(buf, uint64(c.n))
			buf = binary.AppendUvarint(buf, uint64(c.skip))
			buf = binary.AppendUvarint(buf, uint64(len(c.data)))
			buf = append(buf, c.data...)
		}
		buf = binary.AppendUvarint(buf, uint64(len(e.head)))
		for _, p := range e.head {
			buf = binary.AppendVarint(buf, p.Timestamp)
			buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(p.Value))
		}
		if len(buf) >= 64<<10 {
			if err := emit(); err != nil {
				return 0, fmt.Errorf("cannot write snapshot: %w", err)
			}
		}
	}
	if err := emit(); err != nil {
		return 0, fmt.Errorf("cannot write snapshot: %w", err)
	}
	buf = binary.LittleEndian.AppendUint32(buf, crc.Sum32())
	buf = append(buf, snapEndMagic...)
	n, err := bw.Write(buf)
	size += int64(n)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("cannot write snapshot: %w", err)
	}
	ok = true
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return 0, fmt.Errorf("cannot rename snapshot: %w", err)
	}
	if err := fsutil.SyncDir(dir); err != nil {
		return 0, fmt.Errorf("cannot sync snapshot directory: %w", err)
	}
	return size, nil
}

// snapReader decodes snapshot bytes.
type snapReader struct {
	p   []byte
	err error
}

func (r *snapReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s at %d bytes from the end", errBadSnapshot, what, len(r.p))
	}
	r.p = nil
}

func (r *snapReader) uvarint(what string) uint64 {
	v, k := binary.Uvarint(r.p)
	if k <= 0 {
		r.fail(what)
		return 0
	}
	r.p = r.p[k:]
	return v
}

func (r *snapReader) varint(what string) int64 {
	v, k := binary.Varint(r.p)
	if k <= 0 {
		r.fail(what)
		return 0
	}
	r.p = r.p[k:]
	return v
}

func (r *snapReader) bytes(n uint64, what string) []byte {
	if n > uint64(len(r.p)) {
		r.fail(what)
		return nil
	}
	b := r.p[:n]
	r.p = r.p[n:]
	return b
}

// readSnapshot checks and decodes the snapshot bytes data. Every chunk is
// decoded once to check it against its header, so that a snapshot that
// passes holds only chunks Fetch can read. It returns no entry on error.
func readSnapshot(data []byte) ([]snapEntry, error) {
	if len(data) < len(snapMagic)+4+len(snapEndMagic) ||
		string(data[:len(snapMagic)]) != snapMagic ||
		string(data[len(data)-len(snapEndMagic):]) != snapEndMagic {
		return nil, fmt.Errorf("%w: missing magic", errBadSnapshot)
	}
	body := data[:len(data)-len(snapEndMagic)-4]
	want := binary.LittleEndian.Uint32(data[len(body):])
	if crc32.Checksum(body, castagnoli) != want {
		return nil, fmt.Errorf("%w: checksum mismatch", errBadSnapshot)
	}
	r := &snapReader{p: body[len(snapMagic):]}
	count := r.uvarint("series count")
	if count > uint64(len(r.p)) {
		r.fail("series count")
	}
	var entries []snapEntry
	if r.err == nil {
		entries = make([]snapEntry, 0, count)
	}
	var scratch []series.Point
	for i := uint64(0); i < count && r.err == nil; i++ {
		var e snapEntry
		e.name = string(r.bytes(r.uvarint("name length"), "name"))
		nc := r.uvarint("chunk count")
		if nc > uint64(len(r.p)) {
			r.fail("chunk count")
		}
		if nc > 0 && r.err == nil {
			e.chunks = make([]chunk, 0, nc)
		}
		prevMax := int64(math.MinInt64)
		for j := uint64(0); j < nc && r.err == nil; j++ {
			c := chunk{minT: r.varint("chunk minT"), maxT: r.varint("chunk maxT")}
			n, skip := r.uvarint("chunk n"), r.uvarint("chunk skip")
			data := r.bytes(r.uvarint("chunk length"), "chunk data")
			if r.err != nil {
				break
			}
			if n == 0 || n > maxChunkLen || skip >= n {
				r.fail("chunk counts")
				break
			}
			c.n, c.skip = uint16(n), uint16(skip)
			c.data = append([]byte(nil), data...)
			var err error
			scratch, err = decodeChunk(scratch[:0], c.data)
			if err != nil || len(scratch) != int(n) || !strictlyIncreasing(scratch) ||
				scratch[skip].Timestamp != c.minT || scratch[n-1].Timestamp != c.maxT ||
				(j > 0 && c.minT <= prevMax) {
				r.fail(fmt.Sprintf("chunk %d of %q does not match its header", j, e.name))
				break
			}
			prevMax = c.maxT
			e.chunks = append(e.chunks, c)
		}
		nh := r.uvarint("head length")
		if nh > uint64(len(r.p)) {
			r.fail("head length")
		}
		if nh > 0 && r.err == nil {
			e.head = make([]series.Point, 0, nh)
		}
		for j := uint64(0); j < nh && r.err == nil; j++ {
			ts := r.varint("head timestamp")
			v := r.bytes(8, "head value")
			if r.err == nil {
				e.head = append(e.head, series.Point{Timestamp: ts, Value: math.Float64frombits(binary.LittleEndian.Uint64(v))})
			}
		}
		if r.err != nil {
			break
		}
		entries = append(entries, e)
	}
	if r.err == nil && len(r.p) != 0 {
		r.fail("trailing bytes")
	}
	if r.err != nil {
		return nil, r.err
	}
	return entries, nil
}

func strictlyIncreasing(pts []series.Point) bool {
	for i := 1; i < len(pts); i++ {
		if pts[i].Timestamp <= pts[i-1].Timestamp {
			return false
		}
	}
	return true
}
