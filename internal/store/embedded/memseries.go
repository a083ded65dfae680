package embedded

import (
	"fmt"
	"slices"
	"unsafe"

	"github.com/go-kale/kale/internal/series"
)

// chunk is a sealed run of points: sorted by strictly increasing
// timestamp, encoded by encoder.encode. data is never modified once the
// chunk exists (re-encoding makes a new slice), so a copy of the chunk
// struct can be decoded without the shard lock.
type chunk struct {
	data []byte
	minT int64  // timestamp of the first live point (index skip)
	maxT int64  // timestamp of the last point
	n    uint16 // points encoded in data
	skip uint16 // leading points removed by Trim, still in data
}

// live is the number of points of c that Fetch returns.
func (c *chunk) live() int { return int(c.n) - int(c.skip) }

// memSeries is one metric in memory: sealed chunks, sorted and not
// overlapping (chunks[i].maxT < chunks[i+1].minT), plus a head of points
// in arrival order, which may be out of order, repeat timestamps and overlap
// the chunks. Head points are newer writes than every chunk point, so they
// win on equal timestamps; within the head, the later one wins.
type memSeries struct {
	name    string
	id      uint64 // id in the shard's write-ahead log
	declSeg uint64 // WAL segment in which id was declared; 0 = none
	chunks  []chunk
	head    []series.Point
}

// Per-series memory overhead beyond its slices' backing arrays: the struct,
// the map entry (key, pointer, tophash and load factor, estimated) and the
// name.
const (
	seriesStructBytes = int64(unsafe.Sizeof(memSeries{}))
	mapEntryBytes     = 48
	chunkStructBytes  = int64(unsafe.Sizeof(chunk{}))
	pointBytes        = int64(unsafe.Sizeof(series.Point{}))
)

// memoryBytes estimates the bytes ms holds (see Stats.MemoryBytes).
func (ms *memSeries) memoryBytes() int64 {
	b := seriesStructBytes + mapEntryBytes + int64(len(ms.name))
	b += int64(cap(ms.chunks))*chunkStructBytes + int64(cap(ms.head))*pointBytes
	for i := range ms.chunks {
		b += int64(cap(ms.chunks[i].data))
	}
	return b
}

// points is the number of points ms holds (head duplicates included).
func (ms *memSeries) points() int {
	n := len(ms.head)
	for i := range ms.chunks {
		n += ms.chunks[i].live()
	}
	return n
}

// empty reports whether ms holds no point.
func (ms *memSeries) empty() bool {
	return len(ms.head) == 0 && len(ms.chunks) == 0
}

// mergeLWW appends to dst the union of the sorted, de-duplicated runs old
// and newer, newer winning on equal timestamps.
func mergeLWW(dst, old, newer []series.Point) []series.Point {
	if len(old) == 0 || len(newer) == 0 || old[len(old)-1].Timestamp < newer[0].Timestamp {
		dst = append(dst, old...)
		return append(dst, newer...)
	}
	i, j := 0, 0
	for i < len(old) && j < len(newer) {
		switch {
		case old[i].Timestamp < newer[j].Timestamp:
			dst = append(dst, old[i])
			i++
		case old[i].Timestamp > newer[j].Timestamp:
			dst = append(dst, newer[j])
			j++
		default:
			dst = append(dst, newer[j])
			i++
			j++
		}
	}
	dst = append(dst, old[i:]...)
	return append(dst, newer[j:]...)
}

// sealer seals heads into chunks. It holds scratch space and is used under
// the shard lock.
type sealer struct {
	enc         encoder
	chunkPoints int
	a, b        []series.Point
}

// decodeLive appends the live points of c to dst.
func decodeLive(dst []series.Point, c *chunk) ([]series.Point, error) {
	start := len(dst)
	dst, err := decodeChunk(dst, c.data)
	if err != nil {
		return dst[:start], err
	}
	if len(dst)-start != int(c.n) {
		return dst[:start], fmt.Errorf("%w: %d points, want %d", errCorruptChunk, len(dst)-start, c.n)
	}
	if c.skip > 0 {
		dst = append(dst[:start], dst[start+int(c.skip):]...)
	}
	return dst, nil
}

// chunkOf encodes the sorted, de-duplicated run pts (1 <= len(pts) <=
// maxChunkLen) into one chunk.
func (sl *sealer) chunkOf(pts []series.Point) chunk {
	return chunk{
		data: sl.enc.encode(pts),
		minT: pts[0].Timestamp,
		maxT: pts[len(pts)-1].Timestamp,
		n:    uint16(len(pts)),
	}
}

// growChunks returns cs with room for extra more chunks. It grows by an
// eighth rather than doubling: a day of data is a dozen chunks, and every
// spare slot costs a chunk struct per series.
func growChunks(cs []chunk, extra int) []chunk {
	if cap(cs)-len(cs) >= extra {
		return cs
	}
	grown := make([]chunk, len(cs), len(cs)+extra+1+len(cs)/8)
	copy(grown, cs)
	return grown
}

// chunksOf encodes the sorted, de-duplicated run pts into chunks of at most
// chunkPoints points and appends them to dst.
func (sl *sealer) chunksOf(dst []chunk, pts []series.Point) []chunk {
	dst = growChunks(dst, (len(pts)+sl.chunkPoints-1)/sl.chunkPoints)
	for len(pts) > 0 {
		k := min(len(pts), sl.chunkPoints)
		dst = append(dst, sl.chunkOf(pts[:k]))
		pts = pts[k:]
	}
	return dst
}

// seal moves the head of ms into its chunks. It returns the number of
// points dropped because a later write replaced them.
//
// The head is sorted and de-duplicated, then each head point goes to the
// first chunk whose maxT is >= its timestamp; points newer than every chunk
// go to the last chunk while it has fewer than chunkPoints points, and to
// new chunks after that. Each chunk that receives points is decoded, merged
// (the head wins) and re-encoded, split at chunkPoints. In the common case
// (in-order data) only the last, partly filled chunk is re-encoded.
func (sl *sealer) seal(ms *memSeries) (replaced int, err error) {
	if len(ms.head) == 0 {
		return 0, nil
	}
	h, _, replaced := series.SortDedup(ms.head)
	ms.head = ms.head[:0]
	i := 0
	for j := 0; j < len(ms.chunks) && i < len(h); j++ {
		c := &ms.chunks[j]
		k := i
		last := j == len(ms.chunks)-1
		if last && c.live() < sl.chunkPoints {
			k = len(h)
		} else {
			for k < len(h) && h[k].Timestamp <= c.maxT {
				k++
			}
		}
		if k == i {
			continue
		}
		sl.a, err = decodeLive(sl.a[:0], c)
		if err != nil {
			return replaced, fmt.Errorf("cannot seal %q: %w", ms.name, err)
		}
		before := len(sl.a) + (k - i)
		sl.b = mergeLWW(sl.b[:0], sl.a, h[i:k])
		replaced += before - len(sl.b)
		i = k
		if len(sl.b) <= sl.chunkPoints {
			ms.chunks[j] = sl.chunkOf(sl.b)
			continue
		}
		repl := sl.chunksOf(nil, sl.b)
		ms.chunks = slices.Replace(growChunks(ms.chunks, len(repl)-1), j, j+1, repl...)
		j += len(repl) - 1
	}
	if i < len(h) {
		ms.chunks = sl.chunksOf(ms.chunks, h[i:])
	}
	return replaced, nil
}

// trim removes the points with Timestamp <= cutoff, and de-duplicates the
// head. It returns the points removed (old ones plus head duplicates).
// Whole chunks go; in a chunk that is partly old, the old points are
// marked dead (skip) and stay in its bytes until the whole chunk is old.
func (sl *sealer) trim(ms *memSeries, cutoff int64) (removed int, err error) {
	h := ms.head[:0]
	for _, p := range ms.head {
		if p.Timestamp > cutoff {
			h = append(h, p)
		}
	}
	removed = len(ms.head) - len(h)
	h, _, dups := series.SortDedup(h)
	removed += dups
	ms.head = h

	drop := 0
	for drop < len(ms.chunks) && ms.chunks[drop].maxT <= cutoff {
		removed += ms.chunks[drop].live()
		drop++
	}
	if drop > 0 {
		ms.chunks = append(ms.chunks[:0], ms.chunks[drop:]...)
		clear(ms.chunks[len(ms.chunks):cap(ms.chunks)])
	}
	if len(ms.chunks) > 0 && ms.chunks[0].minT <= cutoff {
		c := &ms.chunks[0]
		sl.a, err = decodeChunk(sl.a[:0], c.data)
		if err != nil {
			return removed, fmt.Errorf("cannot trim %q: %w", ms.name, err)
		}
		dead := 0
		for dead < len(sl.a) && sl.a[dead].Timestamp <= cutoff {
			dead++
		}
		// maxT > cutoff, so dead < n.
		removed += dead - int(c.skip)
		c.skip = uint16(dead)
		c.minT = sl.a[dead].Timestamp
	}
	if len(ms.chunks) == 0 && cap(ms.chunks) > 0 {
		ms.chunks = nil
	}
	return removed, nil
}

// fetchView is what Fetch copies under the shard lock: the chunks that
// overlap the range (immutable data) and the head points in the range.
type fetchView struct {
	chunks []chunk
	head   []series.Point
}

// view fills v with the parts of ms that overlap [from, until].
func (ms *memSeries) view(v *fetchView, from, until int64) {
	for i := range ms.chunks {
		c := &ms.chunks[i]
		if c.maxT >= from && c.minT <= until {
			v.chunks = append(v.chunks, *c)
		}
	}
	for _, p := range ms.head {
		if p.Timestamp >= from && p.Timestamp <= until {
			v.head = append(v.head, p)
		}
	}
}

// size is the most points v decodes to.
func (v *fetchView) size() int {
	n := len(v.head)
	for i := range v.chunks {
		n += int(v.chunks[i].n)
	}
	return n
}

// points decodes v into the sorted, de-duplicated points in [from, until].
// It decodes the chunks into *buf and, when head points fall among the
// chunk points, merges the two into *merge (the head winning on equal
// timestamps); the result is in one of the two, which keep the capacity
// they grew to for the next call. It sorts v.head in place.
func (v *fetchView) points(buf, merge *[]series.Point, from, until int64) ([]series.Point, error) {
	out := (*buf)[:0]
	if n := v.size(); cap(out) < n {
		out = make([]series.Point, 0, n)
	}
	defer func() { *buf = out[:0] }()
	var err error
	for i := range v.chunks {
		c := &v.chunks[i]
		start := len(out)
		out, err = decodeLive(out, c)
		if err != nil {
			return nil, err
		}
		if c.minT < from || c.maxT > until {
			kept := out[:start]
			for _, p := range out[start:] {
				if p.Timestamp >= from && p.Timestamp <= until {
					kept = append(kept, p)
				}
			}
			out = kept
		}
	}
	if len(v.head) == 0 {
		return out, nil
	}
	h, _, _ := series.SortDedup(v.head)
	if len(out) == 0 || out[len(out)-1].Timestamp < h[0].Timestamp {
		out = append(out, h...)
		return out, nil
	}
	m := mergeLWW(slices.Grow((*merge)[:0], len(out)+len(h)), out, h)
	*merge = m[:0]
	return m, nil
}
