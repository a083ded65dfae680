// Package embedded is Kale's default series store: in process, compressed
// in memory, durable on local disk. It implements store.Store and passes
// the conformance suite in internal/store/storetest.
//
// # Memory
//
// Series are spread over Config.Shards shards by a fixed hash of their
// name; each shard has its own mutex, map and write-ahead log, so appends to
// different shards never contend and the log order of a series is the
// order in which it was applied. A series is a list of sealed chunks (see
// chunk.go: Gorilla-style delta-of-delta timestamps, and values either
// XOR-ed or, when they are short decimals, stored as integers) plus an
// uncompressed head of up to Config.HeadPoints points. A full head is
// sorted, de-duplicated (last write wins) and merged into the last chunk,
// which is re-encoded and split at Config.ChunkPoints; out-of-order points
// older than the last chunk are merged into the chunk they fall in (the
// rare path). Trim drops whole chunks that are older than the cutoff; in the
// one chunk per series that is partly old it marks the old points dead
// (Fetch skips them) instead of re-encoding it, because Roomba runs every
// minute and would otherwise re-encode the oldest chunk of every series on
// each pass; their bytes go when the whole chunk is old.
//
// # Disk
//
// Dir holds a LOCK file and one layout directory, shards-<N>, with one
// directory per shard (000, 001, ...) of write-ahead log segments and
// snapshots (formats in wal.go and snapshot.go). Every Append writes its
// points to the shard's log through a buffer; every Config.SyncInterval the
// buffers are flushed and fsync'd, so a crash or kill -9 loses at most the
// points of the last interval. Every Config.SnapshotInterval, and on Close,
// each shard starts a new segment and writes a snapshot of its series; the
// snapshot before it and the segments from that one on are kept as a
// fallback, older files are removed. Open loads the newest readable
// snapshot of each shard and replays the segments after it. A record cut
// short at the end of a segment (what a crash leaves) is logged, counted and
// truncated away; a corrupt record inside a segment is logged with what was
// lost, and replay goes on with the next segment. Trim is logged too, so a
// reopened store holds exactly what it held, trimmed points included.
package embedded

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/go-kale/kale/internal/fsutil"
	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/store"
)

// Store is the embedded store. Its methods are safe for concurrent use.
type Store struct {
	cfg    Config
	log    *slog.Logger
	reg    prometheus.Registerer
	m      *metrics
	shards []*shard
	lock   *os.File
	closed atomic.Bool
	pool   sync.Pool // *appendScratch
	stop   chan struct{}
	done   chan struct{}
}

var _ store.Store = (*Store)(nil)

// Stats describes what the store holds.
type Stats struct {
	Metrics    int // series
	Points     int // points (a head point rewritten but not yet sealed counts twice)
	Chunks     int // sealed chunks
	HeadPoints int // points in heads, not yet compressed
	// MemoryBytes estimates the bytes the store holds for its points: the
	// capacity of chunk data and head buffers, chunk and series structs, the
	// map entries (estimated at 48 bytes each) and the names. It leaves out
	// the write-ahead log buffers (256 KiB per shard) and Go's allocator
	// and GC overhead.
	MemoryBytes int64
}

// shard is one partition of the store. Every field is guarded by mu,
// except lastSnap, synced and reported, which only the background goroutine
// (and Close, after it stopped) use.
type shard struct {
	mu         sync.RWMutex // read-locked by Fetch, FetchBatch, Names, Stats and Ping
	idx        int
	series     map[string]*memSeries
	nextID     uint64
	closed     bool
	sl         sealer
	headPoints int

	dir      string // "" in a memory-only store
	seg      uint64 // current segment
	f        *os.File
	w        *bufio.Writer
	walErr   error  // sticky error of the current segment
	errSeg   uint64 // segment in which walErr happened
	pts      pointsRecord
	ptsHdr   int // len(pts.buf) right after pts.begin
	tmp      []byte
	written  int64 // bytes written to the log since Open
	snapMark int64 // written when the last snapshot started

	lastSnap  uint64 // sequence of the last snapshot written or loaded
	synced    int64  // written at the last fsync
	dirSynced bool   // the directory entry of the current segment is durable
	reported  int64  // written already added to the wal bytes metric
}

// appendScratch partitions one Append by shard.
type appendScratch struct {
	which  []uint16
	order  []int32
	counts []int32
}

// hashName is the shard hash: a 64-bit multiply-xorshift hash over 8-byte
// words. Files on disk are laid out by it, so it must never change.
func hashName(s string) uint64 {
	const m = 0x9E3779B97F4A7C15
	h := uint64(len(s)) * m
	for len(s) >= 8 {
		w := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		h = (h ^ w) * m
		h ^= h >> 32
		s = s[8:]
	}
	var w uint64
	for i := len(s) - 1; i >= 0; i-- {
		w = w<<8 | uint64(s[i])
	}
	h = (h ^ w) * m
	h ^= h >> 29
	h *= 0xBF58476D1CE4E5B9
	h ^= h >> 32
	return h
}

func (s *Store) shardFor(name string) *shard {
	return s.shards[hashName(name)%uint64(len(s.shards))]
}

// Open opens (or creates) the store in cfg.Dir, loading what it holds, and
// starts the goroutine that syncs the logs and writes snapshots; Close
// stops it. A nil logger discards; a nil registerer registers no metric.
// With an empty cfg.Dir the store lives in memory only.
func Open(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cannot open store: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{cfg: cfg, log: logger}
	s.m = newMetrics(s)
	s.pool.New = func() any { return &appendScratch{counts: make([]int32, cfg.Shards)} }
	s.shards = make([]*shard, cfg.Shards)
	for i := range s.shards {
		s.shards[i] = &shard{
			idx:        i,
			series:     make(map[string]*memSeries),
			sl:         sealer{chunkPoints: cfg.ChunkPoints},
			headPoints: cfg.HeadPoints,
		}
	}
	if reg != nil {
		if err := s.m.register(reg); err != nil {
			return nil, fmt.Errorf("cannot register metrics: %w", err)
		}
		s.reg = reg
	}
	if cfg.Dir != "" {
		if err := s.openDir(); err != nil {
			s.abort()
			return nil, fmt.Errorf("cannot open store in %s: %w", cfg.Dir, err)
		}
		s.stop, s.done = make(chan struct{}), make(chan struct{})
		go s.loop()
	}
	return s, nil
}

// abort releases what a failed Open took.
func (s *Store) abort() {
	for _, sh := range s.shards {
		if sh.f != nil {
			_ = sh.f.Close()
		}
	}
	if s.lock != nil {
		_ = s.lock.Close()
	}
	if s.reg != nil {
		s.m.unregister(s.reg)
	}
}

// Append stores samples (see store.Store). Samples are partitioned by
// shard once and each shard is locked once. The samples are applied in
// memory before they are written to the log: an error from the log means
// they are visible but may not survive a crash.
func (s *Store) Append(ctx context.Context, samples []series.Sample) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	switch {
	case len(samples) == 0:
		return nil
	case len(samples) == 1:
		return s.shardFor(samples[0].Name).append(samples, nil)
	case len(s.shards) == 1:
		return s.shards[0].append(samples, nil)
	}
	sc := s.pool.Get().(*appendScratch)
	defer s.pool.Put(sc)
	nsh := uint64(len(s.shards))
	sc.which = slices.Grow(sc.which[:0], len(samples))[:len(samples)]
	counts := sc.counts
	clear(counts)
	for i := range samples {
		k := uint16(hashName(samples[i].Name) % nsh)
		sc.which[i] = k
		counts[k]++
	}
	// Counting sort of the sample indexes by shard; counts become the
	// start offsets.
	var off int32
	for k, c := range counts {
		counts[k] = off
		off += c
	}
	sc.order = slices.Grow(sc.order[:0], len(samples))[:len(samples)]
	for i, k := range sc.which {
		sc.order[counts[k]] = int32(i)
		counts[k]++
	}
	var firstErr error
	start := int32(0)
	for k, end := range counts { // counts[k] is now the end of shard k
		if end > start {
			if err := s.shards[k].append(samples, sc.order[start:end]); err != nil && firstErr == nil {
				firstErr = err
			}
		}
		start = end
	}
	return firstErr
}

// append applies samples[idx[...]] (all samples when idx is nil) to sh
// and writes them to its log.
func (sh *shard) append(samples []series.Sample, idx []int32) error {
	n := len(idx)
	if idx == nil {
		n = len(samples)
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.closed {
		return store.ErrClosed
	}
	if sh.walErr != nil {
		return fmt.Errorf("cannot append: write-ahead log of shard %d failed: %w", sh.idx, sh.walErr)
	}
	wal := sh.w != nil
	if wal {
		first := 0
		if idx != nil {
			first = int(idx[0])
		}
		sh.beginPoints(samples[first].Timestamp)
	}
	var ms *memSeries
	var sealErr error
	for k := 0; k < n; k++ {
		i := k
		if idx != nil {
			i = int(idx[k])
		}
		smp := &samples[i]
		if ms == nil || ms.name != smp.Name {
			ms = sh.get(smp.Name)
		}
		ms.head = append(ms.head, smp.Point)
		if len(ms.head) >= sh.headPoints {
			if _, err := sh.sl.seal(ms); err != nil && sealErr == nil {
				sealErr = err
			}
		}
		if wal {
			sh.pts.add(ms.id, smp.Timestamp, smp.Value)
			if len(sh.pts.buf) >= maxPointsPayload {
				sh.writeRecord(sh.pts.finish())
				sh.beginPoints(smp.Timestamp)
			}
		}
	}
	if wal && len(sh.pts.buf) > sh.ptsHdr {
		sh.writeRecord(sh.pts.finish())
	}
	if sealErr != nil {
		return fmt.Errorf("cannot append: %w", sealErr)
	}
	if sh.walErr != nil {
		return fmt.Errorf("cannot append: write-ahead log of shard %d failed: %w", sh.idx, sh.walErr)
	}
	return nil
}

func (sh *shard) beginPoints(base int64) {
	sh.pts.begin(base)
	sh.ptsHdr = len(sh.pts.buf)
}

// get returns the series name, creating it, and declares it in the
// current log segment if it is not yet.
func (sh *shard) get(name string) *memSeries {
	ms := sh.series[name]
	if ms == nil {
		ms = sh.create(name)
	}
	if sh.w != nil && ms.declSeg != sh.seg {
		sh.tmp = appendSeriesRecord(sh.tmp[:0], ms.id, ms.name)
		sh.writeRecord(sh.tmp)
		ms.declSeg = sh.seg
	}
	return ms
}

// create adds an empty series (the caller gives it a point).
func (sh *shard) create(name string) *memSeries {
	sh.nextID++
	ms := &memSeries{name: strings.Clone(name), id: sh.nextID}
	sh.series[ms.name] = ms
	return ms
}

// writeRecord writes a framed record to the log buffer; a failure sticks
// in walErr.
func (sh *shard) writeRecord(rec []byte) {
	if sh.walErr != nil {
		return
	}
	n, err := sh.w.Write(rec)
	sh.written += int64(n)
	if err != nil {
		sh.walErr, sh.errSeg = err, sh.seg
	}
}

// Names returns the sorted names that start with prefix.
func (s *Store) Names(ctx context.Context, prefix string) ([]string, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []string
	for _, sh := range s.shards {
		sh.mu.RLock()
		if sh.closed {
			sh.mu.RUnlock()
			return nil, store.ErrClosed
		}
		for name := range sh.series {
			if strings.HasPrefix(name, prefix) {
				out = append(out, name)
			}
		}
		sh.mu.RUnlock()
	}
	slices.Sort(out)
	return out, nil
}

// Fetch returns the points of name in [from, until] (see store.Store).
// Only the chunk headers and the head are copied under the shard's read
// lock; the chunks are decoded after it is released.
func (s *Store) Fetch(ctx context.Context, name string, from, until int64) ([]series.Point, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var v fetchView
	found, err := s.view(&v, name, from, until)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, store.ErrNotFound
	}
	var buf, merge []series.Point // points allocates buf exactly
	pts, err := v.points(&buf, &merge, from, until)
	if err != nil {
		return nil, fmt.Errorf("cannot fetch %q: %w: %w", name, store.ErrCorrupt, err)
	}
	return pts, nil
}

// FetchBatch reads names[i] for every i and calls fn with its points (see
// store.Store for the contract). Per metric it takes the shard's read lock
// only to look the series up and copy its chunk headers (the chunk bytes
// are immutable) and its head points in the range into scratch space;
// chunks outside [from, until] are skipped by their time bounds and never
// decoded. It decodes and calls fn with no lock held. The scratch space is
// allocated once per call and reused for every metric, so a batch makes a
// few allocations whatever its length. One call runs on one goroutine;
// callers wanting more cores run several calls on parts of the names.
func (s *Store) FetchBatch(ctx context.Context, names []string, from, until int64, fn func(i int, points []series.Point) error) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	done := ctx.Done()
	var (
		v          fetchView
		buf, merge []series.Point
		bad        int
		firstBad   error
	)
	for i, name := range names {
		found, err := s.view(&v, name, from, until)
		if err != nil {
			return err
		}
		if !found {
			continue
		}
		pts, err := v.points(&buf, &merge, from, until)
		if err != nil {
			if bad == 0 {
				firstBad = fmt.Errorf("cannot fetch %q: %w: %w", name, store.ErrCorrupt, err)
			}
			bad++
			continue
		}
		if done != nil {
			select {
			case <-done:
				return ctx.Err()
			default:
			}
		}
		if err := fn(i, pts); err != nil {
			return err
		}
	}
	if bad > 0 {
		return fmt.Errorf("cannot fetch %d of %d metrics: %w", bad, len(names), firstBad)
	}
	return nil
}

// view resets v and fills it, under the read lock of name's shard, with
// the parts of series name that overlap [from, until]. found is false when
// the store does not hold name.
func (s *Store) view(v *fetchView, name string, from, until int64) (found bool, err error) {
	v.chunks, v.head = v.chunks[:0], v.head[:0]
	sh := s.shardFor(name)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if sh.closed {
		return false, store.ErrClosed
	}
	ms := sh.series[name]
	if ms == nil {
		return false, nil
	}
	if from <= until {
		ms.view(v, from, until)
	}
	return true, nil
}

// Trim removes the points with Timestamp <= cfg.Retention.Cutoff(now)
// and the series left empty (see store.Store), one shard at a time, and
// logs the cutoff in each shard's write-ahead log so that the trim survives
// a restart. PointsRemoved counts the old points and the duplicates found
// in the heads; duplicates already resolved when a head was sealed are not
// counted again.
func (s *Store) Trim(ctx context.Context, now int64) (store.TrimStats, error) {
	var st store.TrimStats
	if s.closed.Load() {
		return st, store.ErrClosed
	}
	cutoff := s.cfg.Retention.Cutoff(now)
	var errs []error
	for _, sh := range s.shards {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if err := sh.trim(cutoff, &st); err != nil {
			if errors.Is(err, store.ErrClosed) {
				return st, err
			}
			errs = append(errs, err)
		}
	}
	return st, errors.Join(errs...)
}

func (sh *shard) trim(cutoff int64, st *store.TrimStats) error {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.closed {
		return store.ErrClosed
	}
	var firstErr error
	for name, ms := range sh.series {
		st.Metrics++
		removed, err := sh.sl.trim(ms, cutoff)
		st.PointsRemoved += removed
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if ms.empty() {
			delete(sh.series, name)
			st.Deleted++
		}
	}
	if sh.w != nil {
		sh.tmp = appendTrimRecord(sh.tmp[:0], cutoff)
		sh.writeRecord(sh.tmp)
	}
	return firstErr
}

// Ping returns nil while the store is open and every log is writable.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, sh := range s.shards {
		sh.mu.RLock()
		err := sh.walErr
		sh.mu.RUnlock()
		if err != nil {
			return fmt.Errorf("cannot write the log of shard %d: %w", sh.idx, err)
		}
	}
	return nil
}

// Stats returns what the store holds. It walks every series, one shard
// lock at a time.
func (s *Store) Stats() Stats {
	var st Stats
	for _, sh := range s.shards {
		sh.mu.RLock()
		st.Metrics += len(sh.series)
		for _, ms := range sh.series {
			st.Points += ms.points()
			st.Chunks += len(ms.chunks)
			st.HeadPoints += len(ms.head)
			st.MemoryBytes += ms.memoryBytes()
		}
		sh.mu.RUnlock()
	}
	return st
}

// Close stops the background goroutine, writes a snapshot of every shard
// (syncing and closing its log) and releases the directory. Later calls
// return store.ErrClosed. If a snapshot fails, the shard's log, fsync'd,
// still holds its data.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return store.ErrClosed
	}
	if s.stop != nil {
		close(s.stop)
		<-s.done
	}
	var errs []error
	for _, sh := range s.shards {
		if sh.dir == "" {
			sh.mu.Lock()
			sh.closed = true
			sh.mu.Unlock()
			continue
		}
		if err := s.snapshot(sh, true); err != nil {
			errs = append(errs, err)
		}
		s.reportWALBytes(sh)
	}
	if s.reg != nil {
		s.m.unregister(s.reg)
	}
	if s.lock != nil {
		if err := s.lock.Close(); err != nil {
			errs = append(errs, fmt.Errorf("cannot release lock: %w", err))
		}
	}
	return errors.Join(errs...)
}

// loop syncs the logs every SyncInterval and writes snapshots every
// SnapshotInterval (or when a shard's log grew past SnapshotWALBytes).
func (s *Store) loop() {
	defer close(s.done)
	syncT := time.NewTicker(s.cfg.SyncInterval)
	defer syncT.Stop()
	snapT := time.NewTicker(s.cfg.SnapshotInterval)
	defer snapT.Stop()
	lastSync := time.Now()
	syncAll := func() {
		lastSync = time.Now()
		for _, sh := range s.shards {
			s.sync(sh)
		}
	}
	for {
		select {
		case <-s.stop:
			return
		case <-syncT.C:
			syncAll()
			if s.cfg.SnapshotWALBytes > 0 {
				for _, sh := range s.shards {
					sh.mu.Lock()
					big := sh.written-sh.snapMark >= s.cfg.SnapshotWALBytes
					sh.mu.Unlock()
					if big {
						_ = s.snapshot(sh, false)
					}
				}
			}
		case <-snapT.C:
			for _, sh := range s.shards {
				_ = s.snapshot(sh, false)
				// Snapshots of big shards take a while: keep the other
				// shards' logs synced on time meanwhile.
				if time.Since(lastSync) >= s.cfg.SyncInterval {
					syncAll()
				}
			}
		}
	}
}

func (s *Store) reportWALBytes(sh *shard) {
	sh.mu.Lock()
	written := sh.written
	sh.mu.Unlock()
	if d := written - sh.reported; d > 0 {
		s.m.walBytes.Add(float64(d))
		sh.reported = written
	}
}

// sync flushes the log buffer of sh and fsyncs its segment, outside the
// lock so that appends go on meanwhile.
func (s *Store) sync(sh *shard) {
	sh.mu.Lock()
	if sh.closed || sh.w == nil || sh.written == sh.synced {
		sh.mu.Unlock()
		return
	}
	written := sh.written
	var err error
	if sh.walErr == nil {
		if err = sh.w.Flush(); err != nil {
			sh.walErr, sh.errSeg = err, sh.seg
		}
	}
	f, seg := sh.f, sh.seg
	sh.mu.Unlock()
	s.reportWALBytes(sh)
	if err != nil {
		s.m.walFailures.Inc()
		s.log.Error("cannot flush write-ahead log; appends to the shard fail until the next snapshot",
			"shard", sh.idx, "segment", segmentName(seg), "err", err)
		return
	}
	start := time.Now()
	if err := f.Sync(); err != nil {
		s.m.walFailures.Inc()
		s.log.Error("cannot fsync write-ahead log; appends to the shard fail until the next snapshot",
			"shard", sh.idx, "segment", segmentName(seg), "err", err)
		sh.mu.Lock()
		if sh.seg == seg && sh.walErr == nil {
			sh.walErr, sh.errSeg = err, seg
		}
		sh.mu.Unlock()
		return
	}
	if !sh.dirSynced { // a new segment's name is durable only once its directory is synced
		if err := fsutil.SyncDir(sh.dir); err != nil {
			s.m.walFailures.Inc()
			s.log.Error("cannot fsync shard directory", "shard", sh.idx, "err", err)
			return
		}
		sh.dirSynced = true
	}
	s.m.fsyncDuration.Observe(time.Since(start).Seconds())
	sh.synced = written
}

// snapshot starts a new log segment for sh (unless final, when it closes
// the shard instead) and writes a snapshot of its series, which replaces
// every earlier segment. It then removes the files the previous snapshot
// had replaced, keeping that snapshot and its segments as a fallback.
func (s *Store) snapshot(sh *shard, final bool) error {
	start := time.Now()
	sh.mu.Lock()
	if sh.w == nil || (sh.closed && !final) {
		sh.mu.Unlock()
		return nil
	}
	if sh.walErr == nil {
		if err := sh.w.Flush(); err != nil {
			sh.walErr, sh.errSeg = err, sh.seg
		}
	}
	if sh.written == sh.snapMark && sh.walErr == nil {
		// Nothing logged since the last snapshot or Open: the files already
		// hold what the shard holds.
		if !final {
			sh.mu.Unlock()
			return nil
		}
		f, dirty := sh.f, sh.written != sh.synced
		sh.closed = true
		sh.f, sh.w = nil, nil
		sh.mu.Unlock()
		var err error
		if dirty {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("cannot close the log of shard %d: %w", sh.idx, err)
		}
		return nil
	}
	oldF, oldSeg := sh.f, sh.seg
	newSeg := oldSeg + 1
	if final {
		sh.closed = true
		sh.f, sh.w = nil, nil
	} else {
		f, w, err := openSegment(sh.dir, newSeg)
		if err != nil {
			sh.mu.Unlock()
			s.m.snapshotFailures.Inc()
			s.log.Error("cannot start a new log segment; snapshot skipped", "shard", sh.idx, "err", err)
			return err
		}
		sh.f, sh.w, sh.seg = f, w, newSeg
		sh.dirSynced = false // until writeSnapshot or sync syncs the directory
	}
	sh.snapMark = sh.written
	entries := make([]snapEntry, 0, len(sh.series))
	for _, ms := range sh.series {
		entries = append(entries, snapEntry{name: ms.name, chunks: slices.Clone(ms.chunks), head: slices.Clone(ms.head)})
	}
	sh.mu.Unlock()

	// The old segment is synced: if the snapshot fails, it is what Open
	// replays.
	if err := oldF.Sync(); err != nil {
		s.m.walFailures.Inc()
		s.log.Error("cannot fsync write-ahead log", "shard", sh.idx, "segment", segmentName(oldSeg), "err", err)
	}
	if err := oldF.Close(); err != nil {
		s.log.Error("cannot close write-ahead log", "shard", sh.idx, "segment", segmentName(oldSeg), "err", err)
	}
	size, err := writeSnapshot(sh.dir, snapshotName(newSeg), entries)
	if err != nil {
		s.m.snapshotFailures.Inc()
		s.log.Error("cannot write snapshot; the write-ahead log keeps the data", "shard", sh.idx, "err", err)
		return fmt.Errorf("cannot snapshot shard %d: %w", sh.idx, err)
	}
	s.m.snapshotDuration.Observe(time.Since(start).Seconds())
	s.log.Debug("snapshot written", "shard", sh.idx, "snapshot", snapshotName(newSeg), "series", len(entries),
		"bytes", size, "duration", time.Since(start))
	sh.dirSynced = true // writeSnapshot synced the directory after creating the segment
	keep := sh.lastSnap
	sh.lastSnap = newSeg
	if keep > 0 {
		s.removeBefore(sh, keep)
	}
	if !final {
		sh.mu.Lock()
		if sh.walErr != nil && sh.errSeg < newSeg {
			s.log.Info("write-ahead log writable again after a snapshot", "shard", sh.idx)
			sh.walErr = nil
		}
		sh.mu.Unlock()
	}
	return nil
}

// removeBefore removes the segments and snapshots of sh older than seq.
func (s *Store) removeBefore(sh *shard, seq uint64) {
	entries, err := os.ReadDir(sh.dir)
	if err != nil {
		s.log.Error("cannot list shard directory", "shard", sh.idx, "err", err)
		return
	}
	for _, e := range entries {
		n, ok := parseSeq(e.Name(), "wal-", ".log")
		if !ok {
			n, ok = parseSeq(e.Name(), "snap-", ".bin")
		}
		if ok && n < seq {
			if err := os.Remove(sh.dir + string(os.PathSeparator) + e.Name()); err != nil {
				s.log.Error("cannot remove old file", "shard", sh.idx, "file", e.Name(), "err", err)
			}
		}
	}
}
