package anomalies

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-kale/kale/internal/fsutil"
)

// Options tunes the embedded store. The zero value is the default.
type Options struct {
	// Now is the clock of claim expiry (default time.Now). Tests pass a
	// fake clock so that they need no sleeping.
	Now func() time.Time
	// CompactMin is the log size in bytes below which the log is never
	// compacted (default 1 MiB). Above it, the log is rewritten when it
	// is more than twice the size of the live state.
	CompactMin int64
}

const defaultCompactMin = 1 << 20

// Embedded is the Store kept in one folder of the data dir: the state in
// memory, every change appended to the log anomalies.log (format in
// log.go) and fsync'd before the method returns, so that what a method
// reported done survives a crash (kill -9 included).
//
// Records are held sorted by (Timestamp, Metric), with a per-metric
// index, so Since and Metric cost O(log n + returned). The log is
// compacted (rewritten with the live state only, to a temporary file
// renamed over it) after a write leaves it larger than Options.CompactMin
// and twice the live size. On Open a torn tail is truncated with a
// warning. A folder is locked (flock of LOCK) by one process at a time.
type Embedded struct {
	dir        string
	path       string
	retention  time.Duration
	log        *slog.Logger
	now        func() time.Time
	compactMin int64

	mu        sync.RWMutex
	closed    bool
	broken    error    // set when the file may not match memory any more
	f         *os.File // the log, written at size
	lock      *os.File
	size      int64 // bytes in the log
	live      int64 // bytes of the live state's entries, magic included
	recs      []*recEntry
	byMetric  map[string][]*recEntry
	claims    map[claimKey]claimState
	incidents map[string]incEntry
}

var _ Store = (*Embedded)(nil)

// recEntry is a stored record and the size of its log entry.
type recEntry struct {
	rec  Record
	size int64
}

type claimKey struct{ alerter, metric string }

type claimState struct {
	ts, expires int64 // expires in UNIX ns
	size        int64
}

type incEntry struct {
	in   Incident
	size int64
}

// OpenEmbedded opens (creating it when missing) the embedded store in dir
// with the default Options. retention (at least 1s) is how long Trim
// keeps records. logger nil discards logs.
func OpenEmbedded(dir string, retention time.Duration, logger *slog.Logger) (*Embedded, error) {
	return OpenEmbeddedOptions(dir, retention, logger, Options{})
}

// OpenEmbeddedOptions is OpenEmbedded with Options. It replays the log,
// truncates a torn tail (logging a warning with the bytes dropped), and
// fails with ErrCorrupt when an entry passes its CRC but does not parse,
// or when another process holds the folder.
func OpenEmbeddedOptions(dir string, retention time.Duration, logger *slog.Logger, opts Options) (*Embedded, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if retention < time.Second {
		return nil, fmt.Errorf("cannot open anomaly store: %w: retention %v is shorter than 1s", ErrInvalid, retention)
	}
	if dir == "" {
		return nil, fmt.Errorf("cannot open anomaly store: %w: folder is empty", ErrInvalid)
	}
	s := &Embedded{
		dir:        dir,
		path:       filepath.Join(dir, logName),
		retention:  retention,
		log:        logger,
		now:        opts.Now,
		compactMin: opts.CompactMin,
		byMetric:   map[string][]*recEntry{},
		claims:     map[claimKey]claimState{},
		incidents:  map[string]incEntry{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.compactMin <= 0 {
		s.compactMin = defaultCompactMin
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create anomaly store folder: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot open anomaly store: %w", err)
	}
	s.lock = lock
	if err := s.load(); err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("cannot open anomaly store %s: %w", s.path, err)
	}
	s.maybeCompact()
	return s, nil
}

// load replays the log into memory and opens it for appending.
func (s *Embedded) load() error {
	_ = os.Remove(s.path + ".tmp") // a compaction cut short
	data, err := os.ReadFile(s.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	s.live = int64(len(logMagic))
	good, err := scanLog(data, s.replay)
	if err != nil {
		return err
	}
	if good < int64(len(logMagic)) {
		// New, or cut before its magic was whole: start it afresh.
		if len(data) > 0 {
			s.log.Warn("anomaly log cut inside its header; starting it afresh", "path", s.path, "bytes", len(data))
		}
		if err := writeFileSync(s.path, []byte(logMagic)); err != nil {
			return err
		}
		good = int64(len(logMagic))
	} else if good < int64(len(data)) {
		s.log.Warn("anomaly log has a torn tail; truncating it",
			"path", s.path, "offset", good, "bytes_dropped", int64(len(data))-good)
		if err := truncateSync(s.path, good); err != nil {
			return err
		}
	}
	if err := fsutil.SyncDir(s.dir); err != nil {
		return err
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	s.f, s.size = f, good
	s.sweepClaims()
	return nil
}

// replay applies one entry read from the log.
func (s *Embedded) replay(e *entry) error {
	switch e.kind {
	case kindRecord:
		s.putRecord(e.record, e.size)
	case kindTrim:
		s.trimBefore(e.trim.Before)
	case kindClaim:
		c := e.claim
		s.putClaim(claimKey{c.Alerter, c.Metric}, claimState{ts: c.TS, expires: c.Expires, size: e.size})
	case kindRelease:
		s.dropClaim(claimKey{e.release.Alerter, e.release.Metric})
	case kindIncident:
		s.putIncident(e.incident, e.size)
	case kindClose:
		s.closeIncident(e.close.Key)
	}
	return nil
}

// begin is the entry of every method: ErrClosed after Close, then ctx's
// error. It is called with s.mu held.
func (s *Embedded) begin(ctx context.Context) error {
	if s.closed {
		return ErrClosed
	}
	return ctx.Err()
}

// Add stores recs (see Store.Add and the package doc). The records are in
// the log and fsync'd when it returns nil.
func (s *Embedded) Add(ctx context.Context, recs []Record) error {
	if err := checkRecords(recs); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(ctx); err != nil {
		return err
	}
	if len(recs) == 0 {
		return nil
	}
	var buf []byte
	sizes := make([]int64, len(recs))
	for i := range recs {
		before := len(buf)
		var err error
		if buf, err = appendEntry(buf, kindRecord, &recs[i]); err != nil {
			return fmt.Errorf("cannot add anomalies: record %d (metric %q): %w: %v", i, recs[i].Metric, ErrInvalid, err)
		}
		sizes[i] = int64(len(buf) - before)
	}
	if err := s.write(buf); err != nil {
		return fmt.Errorf("cannot add anomalies: %w", err)
	}
	for i := range recs {
		s.putRecord(clone(recs[i]), sizes[i])
	}
	s.maybeCompact()
	return nil
}

// Since returns records with Timestamp >= since, newest first, at most
// limit (0 = all).
func (s *Embedded) Since(ctx context.Context, since int64, limit int) ([]Record, error) {
	if err := checkLimit("list anomalies", limit); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	return newest(s.recs, since, limit), nil
}

// Metric returns metric's records with Timestamp >= since, newest first,
// at most limit (0 = all).
func (s *Embedded) Metric(ctx context.Context, metric string, since int64, limit int) ([]Record, error) {
	if err := checkLimit("list anomalies of "+metric, limit); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	return newest(s.byMetric[metric], since, limit), nil
}

// newest returns copies of the records of es (sorted by Timestamp, then
// Metric) with Timestamp >= since, from the last, at most limit (0 = all).
func newest(es []*recEntry, since int64, limit int) []Record {
	lo, _ := slices.BinarySearchFunc(es, since, func(e *recEntry, ts int64) int { return cmp.Compare(e.rec.Timestamp, ts) })
	n := len(es) - lo
	if limit > 0 && limit < n {
		n = limit
	}
	out := make([]Record, 0, n)
	for i := len(es) - 1; i >= lo && len(out) < n; i-- {
		out = append(out, clone(es[i].rec))
	}
	return out
}

// Trim drops records with Timestamp < now - retention and forgets expired
// claims. It returns how many records it dropped.
func (s *Embedded) Trim(ctx context.Context, now int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	before := cutoff(now, s.retention)
	n, _ := slices.BinarySearchFunc(s.recs, before, func(e *recEntry, ts int64) int { return cmp.Compare(e.rec.Timestamp, ts) })
	if n > 0 {
		buf, err := appendEntry(nil, kindTrim, trimBody{Before: before})
		if err != nil {
			return 0, fmt.Errorf("cannot trim anomalies: %w", err)
		}
		if err := s.write(buf); err != nil {
			return 0, fmt.Errorf("cannot trim anomalies: %w", err)
		}
		s.trimBefore(before)
	}
	s.sweepClaims()
	s.maybeCompact()
	return n, nil
}

// Claim takes the claim (alerter, metric) until Options.Now() +
// expiration unless a live one exists. A true answer is in the log and
// fsync'd.
func (s *Embedded) Claim(ctx context.Context, alerter, metric string, ts int64, expiration time.Duration) (bool, error) {
	if err := checkClaimKey("claim", alerter, metric); err != nil {
		return false, err
	}
	if err := checkExpiration(expiration); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(ctx); err != nil {
		return false, err
	}
	k := claimKey{alerter, metric}
	now := s.now().UnixNano()
	if c, ok := s.claims[k]; ok && now < c.expires {
		return false, nil
	}
	expires := int64(math.MaxInt64)
	if now <= math.MaxInt64-int64(expiration) {
		expires = now + int64(expiration)
	}
	body := claimBody{Alerter: alerter, Metric: metric, TS: ts, Expires: expires}
	buf, err := appendEntry(nil, kindClaim, body)
	if err != nil {
		return false, fmt.Errorf("cannot claim %s.%s: %w", alerter, metric, err)
	}
	if err := s.write(buf); err != nil {
		return false, fmt.Errorf("cannot claim %s.%s: %w", alerter, metric, err)
	}
	s.putClaim(k, claimState{ts: ts, expires: expires, size: int64(len(buf))})
	s.maybeCompact()
	return true, nil
}

// Release drops the claim (alerter, metric), if any.
func (s *Embedded) Release(ctx context.Context, alerter, metric string) error {
	if err := checkClaimKey("release", alerter, metric); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(ctx); err != nil {
		return err
	}
	k := claimKey{alerter, metric}
	if _, ok := s.claims[k]; !ok {
		return nil
	}
	buf, err := appendEntry(nil, kindRelease, releaseBody{Alerter: alerter, Metric: metric})
	if err != nil {
		return fmt.Errorf("cannot release %s.%s: %w", alerter, metric, err)
	}
	if err := s.write(buf); err != nil {
		return fmt.Errorf("cannot release %s.%s: %w", alerter, metric, err)
	}
	s.dropClaim(k)
	s.maybeCompact()
	return nil
}

// PutIncident inserts or replaces the incident in.Key.
func (s *Embedded) PutIncident(ctx context.Context, in Incident) error {
	if err := checkIncident(&in); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(ctx); err != nil {
		return err
	}
	buf, err := appendEntry(nil, kindIncident, in)
	if err != nil {
		return fmt.Errorf("cannot put incident %q: %w", in.Key, err)
	}
	if err := s.write(buf); err != nil {
		return fmt.Errorf("cannot put incident %q: %w", in.Key, err)
	}
	s.putIncident(in, int64(len(buf)))
	s.maybeCompact()
	return nil
}

// Incidents returns the open incidents sorted by Key.
func (s *Embedded) Incidents(ctx context.Context) ([]Incident, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	out := make([]Incident, 0, len(s.incidents))
	for _, e := range s.incidents {
		out = append(out, e.in)
	}
	slices.SortFunc(out, func(a, b Incident) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// CloseIncident removes the incident key, if open.
func (s *Embedded) CloseIncident(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(ctx); err != nil {
		return err
	}
	if _, ok := s.incidents[key]; !ok {
		return nil
	}
	buf, err := appendEntry(nil, kindClose, closeBody{Key: key})
	if err != nil {
		return fmt.Errorf("cannot close incident %q: %w", key, err)
	}
	if err := s.write(buf); err != nil {
		return fmt.Errorf("cannot close incident %q: %w", key, err)
	}
	s.closeIncident(key)
	s.maybeCompact()
	return nil
}

// Close closes the log and unlocks the folder. A second Close returns
// ErrClosed.
func (s *Embedded) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.closed = true
	var errs []error
	if err := s.f.Close(); err != nil {
		errs = append(errs, fmt.Errorf("cannot close %s: %w", s.path, err))
	}
	if err := s.lock.Close(); err != nil {
		errs = append(errs, fmt.Errorf("cannot unlock %s: %w", s.dir, err))
	}
	return errors.Join(errs...)
}

// write appends buf to the log and fsyncs it. On a failed write the file
// is cut back to its previous size; when that or the fsync fails, the
// store refuses every later write (memory and file may differ) until it
// is reopened.
func (s *Embedded) write(buf []byte) error {
	if s.broken != nil {
		return s.broken
	}
	if _, err := s.f.WriteAt(buf, s.size); err != nil {
		if terr := s.f.Truncate(s.size); terr != nil {
			s.broken = fmt.Errorf("anomaly log %s is unusable after a failed write (%v, then %v): reopen the store", s.path, err, terr)
		}
		return fmt.Errorf("cannot write %s: %w", s.path, err)
	}
	if err := s.f.Sync(); err != nil {
		s.broken = fmt.Errorf("anomaly log %s is unusable after a failed fsync (%v): reopen the store", s.path, err)
		return fmt.Errorf("cannot fsync %s: %w", s.path, err)
	}
	s.size += int64(len(buf))
	return nil
}

// maybeCompact compacts the log when it is larger than compactMin and
// twice the live size. A failed compaction is logged; the old log stays
// in use.
func (s *Embedded) maybeCompact() {
	if s.broken != nil || s.size <= s.compactMin || s.size <= 2*s.live {
		return
	}
	if err := s.compact(); err != nil {
		s.log.Warn("cannot compact the anomaly log; it keeps growing", "path", s.path, "err", err)
	}
}

// compact rewrites the log with the live state: records in time order,
// unexpired claims, open incidents.
func (s *Embedded) compact() error {
	s.sweepClaims()
	tmp := s.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if f != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	w := bufio.NewWriterSize(f, 256<<10)
	size, err := s.writeState(w)
	if err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	f = nil
	if err := os.Rename(tmp, s.path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	// From here the file on disk is the compacted one: the old handle
	// must not be written to any more.
	old := s.f
	nf, err := os.OpenFile(s.path, os.O_WRONLY, 0)
	if err != nil {
		s.broken = fmt.Errorf("cannot reopen the anomaly log %s after compaction (%v): reopen the store", s.path, err)
		return s.broken
	}
	_ = old.Close()
	s.f, s.size, s.live = nf, size, size
	if err := fsutil.SyncDir(s.dir); err != nil {
		return fmt.Errorf("cannot fsync folder %s after compaction: %w", s.dir, err)
	}
	s.log.Debug("compacted the anomaly log", "path", s.path, "bytes", size)
	return nil
}

// writeState writes the live state as a log (magic included) to w:
// records in time order, claims and incidents sorted by key. It returns
// the bytes written, and sets the size of every entry in memory to the
// size it has in w.
func (s *Embedded) writeState(w io.Writer) (int64, error) {
	size := int64(len(logMagic))
	if _, err := io.WriteString(w, logMagic); err != nil {
		return 0, err
	}
	var buf []byte
	put := func(kind byte, v any) (int64, error) {
		var err error
		if buf, err = appendEntry(buf[:0], kind, v); err != nil {
			return 0, err
		}
		size += int64(len(buf))
		_, err = w.Write(buf)
		return int64(len(buf)), err
	}
	for _, e := range s.recs {
		n, err := put(kindRecord, &e.rec)
		if err != nil {
			return 0, err
		}
		e.size = n
	}
	keys := slices.SortedFunc(maps.Keys(s.claims), func(a, b claimKey) int {
		return cmp.Or(strings.Compare(a.alerter, b.alerter), strings.Compare(a.metric, b.metric))
	})
	for _, k := range keys {
		c := s.claims[k]
		n, err := put(kindClaim, claimBody{Alerter: k.alerter, Metric: k.metric, TS: c.ts, Expires: c.expires})
		if err != nil {
			return 0, err
		}
		c.size = n
		s.claims[k] = c
	}
	for _, key := range slices.Sorted(maps.Keys(s.incidents)) {
		e := s.incidents[key]
		n, err := put(kindIncident, e.in)
		if err != nil {
			return 0, err
		}
		e.size = n
		s.incidents[key] = e
	}
	return size, nil
}

// putRecord inserts or replaces a record in memory.
func (s *Embedded) putRecord(r Record, size int64) {
	i, found := slices.BinarySearchFunc(s.recs, &r, compareKey)
	if found {
		e := s.recs[i]
		s.live += size - e.size
		e.rec, e.size = r, size
		return
	}
	e := &recEntry{rec: r, size: size}
	s.live += size
	s.recs = slices.Insert(s.recs, i, e)
	m := s.byMetric[r.Metric]
	j, _ := slices.BinarySearchFunc(m, r.Timestamp, func(e *recEntry, ts int64) int { return cmp.Compare(e.rec.Timestamp, ts) })
	s.byMetric[r.Metric] = slices.Insert(m, j, e)
}

// compareKey orders record entries by (Timestamp, Metric).
func compareKey(e *recEntry, r *Record) int {
	return cmp.Or(cmp.Compare(e.rec.Timestamp, r.Timestamp), strings.Compare(e.rec.Metric, r.Metric))
}

// trimBefore drops the records with Timestamp < before from memory and
// returns how many.
func (s *Embedded) trimBefore(before int64) int {
	n, _ := slices.BinarySearchFunc(s.recs, before, func(e *recEntry, ts int64) int { return cmp.Compare(e.rec.Timestamp, ts) })
	if n == 0 {
		return 0
	}
	per := map[string]int{}
	for _, e := range s.recs[:n] {
		per[e.rec.Metric]++
		s.live -= e.size
	}
	// Each metric's oldest records are the ones dropped.
	for m, k := range per {
		if rest := s.byMetric[m]; len(rest) == k {
			delete(s.byMetric, m)
		} else {
			s.byMetric[m] = slices.Delete(rest, 0, k)
		}
	}
	s.recs = slices.Delete(s.recs, 0, n)
	return n
}

func (s *Embedded) putClaim(k claimKey, c claimState) {
	if old, ok := s.claims[k]; ok {
		s.live -= old.size
	}
	s.claims[k] = c
	s.live += c.size
}

func (s *Embedded) dropClaim(k claimKey) {
	if old, ok := s.claims[k]; ok {
		s.live -= old.size
		delete(s.claims, k)
	}
}

// sweepClaims forgets the claims that have expired.
func (s *Embedded) sweepClaims() {
	now := s.now().UnixNano()
	for k, c := range s.claims {
		if now >= c.expires {
			s.dropClaim(k)
		}
	}
}

func (s *Embedded) putIncident(in Incident, size int64) {
	if old, ok := s.incidents[in.Key]; ok {
		s.live -= old.size
	}
	s.incidents[in.Key] = incEntry{in: in, size: size}
	s.live += size
}

func (s *Embedded) closeIncident(key string) {
	if old, ok := s.incidents[key]; ok {
		s.live -= old.size
		delete(s.incidents, key)
	}
}

// writeFileSync writes data to path (replacing it) and fsyncs it.
func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// truncateSync cuts path to size and fsyncs it.
func truncateSync(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
