package embedded

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/go-kale/kale/internal/fsutil"
	"github.com/go-kale/kale/internal/series"
)

const layoutPrefix = "shards-"

func layoutName(shards int) string { return layoutPrefix + strconv.Itoa(shards) }

func shardDirName(i int) string { return fmt.Sprintf("%03d", i) }

// openDir locks cfg.Dir, loads its layout (migrating it when the number of
// shards changed) and starts a new log segment in every shard.
func (s *Store) openDir() error {
	dir := s.cfg.Dir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot create directory: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return err
	}
	s.lock = lock
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("cannot list directory: %w", err)
	}
	want := layoutName(s.cfg.Shards)
	var others []string
	haveWant := false
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || !strings.HasPrefix(name, layoutPrefix) {
			continue
		}
		if strings.HasSuffix(name, ".tmp") { // an interrupted migration
			if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
				return fmt.Errorf("cannot remove %s: %w", name, err)
			}
			continue
		}
		if _, err := strconv.Atoi(name[len(layoutPrefix):]); err != nil {
			continue
		}
		if name == want {
			haveWant = true
		} else {
			others = append(others, name)
		}
	}
	switch {
	case haveWant:
		// A migration writes the new layout completely before it removes the
		// old one, so any other layout next to it is a leftover.
		for _, o := range others {
			s.log.Warn("removing a leftover store layout", "dir", filepath.Join(dir, o), "layout", want)
			if err := os.RemoveAll(filepath.Join(dir, o)); err != nil {
				return fmt.Errorf("cannot remove %s: %w", o, err)
			}
		}
		if err := s.loadLayout(filepath.Join(dir, want)); err != nil {
			return err
		}
	case len(others) == 0:
		for _, sh := range s.shards {
			sh.dir = filepath.Join(dir, want, shardDirName(sh.idx))
			if err := os.MkdirAll(sh.dir, 0o755); err != nil {
				return fmt.Errorf("cannot create shard directory: %w", err)
			}
		}
		if err := fsutil.SyncDir(dir); err != nil {
			return fmt.Errorf("cannot sync directory: %w", err)
		}
	case len(others) == 1:
		if err := s.migrate(filepath.Join(dir, others[0]), want); err != nil {
			return err
		}
	default:
		return fmt.Errorf("cannot choose among layouts %s (none has %d shards): keep only the newest",
			strings.Join(others, ", "), s.cfg.Shards)
	}
	for _, sh := range s.shards {
		sh.seg++
		f, w, err := openSegment(sh.dir, sh.seg)
		if err != nil {
			return err
		}
		sh.f, sh.w = f, w
	}
	return nil
}

// loadLayout loads every shard directory of a layout with the current
// number of shards, in parallel.
func (s *Store) loadLayout(dir string) error {
	errs := make([]error, len(s.shards))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for _, sh := range s.shards {
		sh.dir = filepath.Join(dir, shardDirName(sh.idx))
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := os.MkdirAll(sh.dir, 0o755); err != nil {
				errs[sh.idx] = fmt.Errorf("cannot create shard directory: %w", err)
				return
			}
			l := &loader{s: s, dir: sh.dir, seen: sh.series, target: func(string) *shard { return sh }}
			errs[sh.idx] = l.load()
			sh.seg, sh.lastSnap = l.maxSeq, l.snapSeq
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// migrate loads the layout in old (another number of shards) into memory,
// writes it as snapshots in the layout want (into want.tmp, renamed when
// complete) and removes old.
func (s *Store) migrate(old, want string) error {
	s.log.Info("changing the number of shards: rewriting the store", "from", old, "to", want)
	shardDirs, err := os.ReadDir(old)
	if err != nil {
		return fmt.Errorf("cannot list %s: %w", old, err)
	}
	for _, e := range shardDirs {
		if !e.IsDir() {
			continue
		}
		l := &loader{s: s, dir: filepath.Join(old, e.Name()), seen: make(map[string]*memSeries), target: s.shardFor}
		if err := l.load(); err != nil {
			return err
		}
	}
	tmp := filepath.Join(s.cfg.Dir, want+".tmp")
	final := filepath.Join(s.cfg.Dir, want)
	for _, sh := range s.shards {
		d := filepath.Join(tmp, shardDirName(sh.idx))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("cannot create shard directory: %w", err)
		}
		entries := make([]snapEntry, 0, len(sh.series))
		for _, ms := range sh.series {
			entries = append(entries, snapEntry{name: ms.name, chunks: ms.chunks, head: ms.head})
		}
		if _, err := writeSnapshot(d, snapshotName(1), entries); err != nil {
			return err
		}
		sh.dir = filepath.Join(final, shardDirName(sh.idx))
		sh.seg, sh.lastSnap = 1, 1
	}
	if err := fsutil.SyncDir(tmp); err != nil {
		return fmt.Errorf("cannot sync %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("cannot rename %s: %w", tmp, err)
	}
	if err := fsutil.SyncDir(s.cfg.Dir); err != nil {
		return fmt.Errorf("cannot sync directory: %w", err)
	}
	if err := os.RemoveAll(old); err != nil {
		return fmt.Errorf("cannot remove %s: %w", old, err)
	}
	return nil
}

// loader replays one shard directory into memory.
type loader struct {
	s       *Store
	dir     string
	target  func(name string) *shard // the shard that holds a series in memory
	seen    map[string]*memSeries    // the series loaded from dir (trim records apply to them)
	ids     map[uint64]*declared     // the series ids of the segment being replayed
	maxSeq  uint64                   // highest sequence number among dir's files
	snapSeq uint64                   // sequence of the snapshot loaded, 0 for none
}

// declared is a series id of a segment; ms is created at its first point,
// so a declaration cut off from its points creates nothing.
type declared struct {
	name string
	ms   *memSeries
}

// load loads the newest readable snapshot of l.dir and replays the
// segments from it on.
func (l *loader) load() error {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return fmt.Errorf("cannot list %s: %w", l.dir, err)
	}
	var snaps, segs []uint64
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") {
			_ = os.Remove(filepath.Join(l.dir, name))
			continue
		}
		if seq, ok := parseSeq(name, "snap-", ".bin"); ok {
			snaps = append(snaps, seq)
			l.maxSeq = max(l.maxSeq, seq)
		} else if seq, ok := parseSeq(name, "wal-", ".log"); ok {
			segs = append(segs, seq)
			l.maxSeq = max(l.maxSeq, seq)
		}
	}
	slices.Sort(snaps)
	slices.Sort(segs)
	for i := len(snaps) - 1; i >= 0; i-- {
		path := filepath.Join(l.dir, snapshotName(snaps[i]))
		data, err := os.ReadFile(path)
		var ents []snapEntry
		if err == nil {
			ents, err = readSnapshot(data)
		}
		if err != nil {
			l.s.m.corruptRecords.Inc()
			l.s.log.Error("cannot load snapshot; trying an older one with the segments after it", "file", path, "err", err)
			continue
		}
		for _, e := range ents {
			ms := l.series(e.name)
			ms.chunks, ms.head = e.chunks, e.head
			if err := l.sealIfFull(ms); err != nil {
				return err
			}
		}
		l.snapSeq = snaps[i]
		break
	}
	if len(snaps) > 0 && l.snapSeq == 0 {
		l.s.log.Error("no readable snapshot: replaying every segment left, older data is lost", "dir", l.dir)
	}
	for _, seq := range segs {
		if seq >= l.snapSeq {
			if err := l.replay(seq); err != nil {
				return err
			}
		}
	}
	return nil
}

// series returns the loaded series name, creating it.
func (l *loader) series(name string) *memSeries {
	if ms := l.seen[name]; ms != nil {
		return ms
	}
	ms := l.target(name).create(name)
	l.seen[ms.name] = ms
	return ms
}

func (l *loader) sealIfFull(ms *memSeries) error {
	sh := l.target(ms.name)
	if len(ms.head) < sh.headPoints {
		return nil
	}
	_, err := sh.sl.seal(ms)
	return err
}

// replay applies segment seq. Damage is logged and counted, never fatal:
// only a failure to read the file or a failure to seal is returned.
func (l *loader) replay(seq uint64) error {
	path := filepath.Join(l.dir, segmentName(seq))
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cannot read segment: %w", err)
	}
	l.ids = make(map[uint64]*declared)
	var fatal error
	sc := scanSegment(data, func(typ byte, body []byte) error {
		err := l.apply(typ, body)
		if err != nil && !errors.Is(err, errBadRecord) {
			fatal = err
		}
		return err
	})
	if fatal != nil {
		return fatal
	}
	if sc.err == nil {
		return nil
	}
	l.s.m.corruptRecords.Inc()
	lost := sc.size - sc.good
	if sc.torn {
		l.s.log.Warn("write-ahead log segment ends with an incomplete record, as a crash leaves; truncating it",
			"file", path, "offset", sc.good, "bytes_lost", lost, "records_replayed", sc.records, "err", sc.err)
		if err := os.Truncate(path, sc.good); err != nil {
			l.s.log.Error("cannot truncate segment", "file", path, "err", err)
		}
		return nil
	}
	l.s.log.Error("write-ahead log segment is corrupt: the rest of it is skipped and the points in it are lost",
		"file", path, "offset", sc.good, "bytes_skipped", lost, "records_replayed", sc.records, "err", sc.err)
	return nil
}

// apply replays one record.
func (l *loader) apply(typ byte, body []byte) error {
	switch typ {
	case recSeries:
		id, k := binary.Uvarint(body)
		if k <= 0 {
			return fmt.Errorf("%w: series id", errBadRecord)
		}
		l.ids[id] = &declared{name: string(body[k:])}
		return nil
	case recPoints:
		return parsePoints(body, func(p walPoint) error {
			d := l.ids[p.id]
			if d == nil {
				return fmt.Errorf("%w: undeclared series id %d", errBadRecord, p.id)
			}
			if d.ms == nil {
				d.ms = l.series(d.name)
			}
			d.ms.head = append(d.ms.head, series.Point{Timestamp: p.ts, Value: p.v})
			return l.sealIfFull(d.ms)
		})
	case recTrim:
		cutoff, k := binary.Varint(body)
		if k <= 0 || k != len(body) {
			return fmt.Errorf("%w: trim cutoff", errBadRecord)
		}
		for name, ms := range l.seen {
			sh := l.target(name)
			if _, err := sh.sl.trim(ms, cutoff); err != nil {
				return err
			}
			if ms.empty() {
				delete(l.seen, name)
				delete(sh.series, name)
			}
		}
		for _, d := range l.ids {
			if d.ms != nil && d.ms.empty() { // deleted: a later point recreates it
				d.ms = nil
			}
		}
		return nil
	default:
		return fmt.Errorf("%w: unknown record type %d", errBadRecord, typ)
	}
}
