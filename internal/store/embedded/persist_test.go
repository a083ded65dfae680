package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/store"
	"github.com/go-kale/kale/internal/store/storetest"
)

const t0 int64 = 1_700_000_000

// crash simulates kill -9 right after a sync: every log buffer is flushed
// to its file, then the files are closed with no snapshot and the lock is
// released. The store is unusable afterwards.
func (s *Store) crash(t *testing.T) {
	t.Helper()
	s.closed.Store(true)
	close(s.stop)
	<-s.done
	for _, sh := range s.shards {
		sh.mu.Lock()
		sh.closed = true
		if err := sh.w.Flush(); err != nil {
			t.Fatalf("flush: %v", err)
		}
		if err := sh.f.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		sh.mu.Unlock()
	}
	if err := s.lock.Close(); err != nil {
		t.Fatalf("unlock: %v", err)
	}
}

// dump returns everything s holds.
func dump(t *testing.T, s *Store) map[string][]series.Point {
	t.Helper()
	ctx := context.Background()
	names, err := s.Names(ctx, "")
	if err != nil {
		t.Fatalf("Names: %v", err)
	}
	out := map[string][]series.Point{}
	for _, n := range names {
		pts, err := s.Fetch(ctx, n, math.MinInt64, math.MaxInt64)
		if err != nil {
			t.Fatalf("Fetch(%q): %v", n, err)
		}
		out[n] = pts
	}
	return out
}

func checkDump(t *testing.T, want, got map[string][]series.Point) {
	t.Helper()
	if diff := cmp.Diff(want, got, bitExact, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("store content mismatch (-want +got):\n%s", diff)
	}
}

// workload appends a mix of in-order, out-of-order, rewritten and sparse
// data to s and m, trimming now and then.
func workload(t *testing.T, s *Store, m storetest.Model, rng *rand.Rand, rounds int) {
	t.Helper()
	ctx := context.Background()
	ret := s.cfg.Retention
	for r := range rounds {
		var batch []series.Sample
		for k := range 20 + rng.IntN(40) {
			name := fmt.Sprintf("w.m%02d", rng.IntN(25))
			var ts int64
			switch k % 5 {
			case 0: // an old point: out of order
				ts = t0 + int64(rng.IntN(r+1))*60
			case 1: // a rewrite of a recent point
				ts = t0 + int64(max(0, r-rng.IntN(5)))*60
			default:
				ts = t0 + int64(r)*60 + int64(rng.IntN(60))
			}
			var v float64
			switch rng.IntN(4) {
			case 0:
				v = rng.NormFloat64() * 1e3
			case 1:
				v = float64(rng.IntN(100)) / 4
			case 2:
				v = math.Copysign(0, -1)
			default:
				v = float64(r)
			}
			batch = append(batch, series.Sample{Name: name, Point: series.Point{Timestamp: ts, Value: v}})
		}
		if err := s.Append(ctx, batch); err != nil {
			t.Fatalf("Append: %v", err)
		}
		m.Write(batch)
		if r%37 == 36 {
			now := t0 + int64(r)*60 + int64((ret.FullDuration+ret.Grace)/time.Second) - 20*60
			if _, err := s.Trim(ctx, now); err != nil {
				t.Fatalf("Trim: %v", err)
			}
			m.Trim(ret.Cutoff(now))
		}
	}
}

func persistConfig(t *testing.T) Config {
	cfg := testConfig(t, store.Retention{FullDuration: time.Hour, Grace: 10 * time.Minute})
	cfg.SyncInterval = time.Hour // the tests sync by hand
	return cfg
}

func TestReopenAfterClose(t *testing.T) {
	cfg := persistConfig(t)
	s := openTest(t, cfg)
	m := storetest.Model{}
	workload(t, s, m, rand.New(rand.NewPCG(1, 1)), 200)
	before := dump(t, s)
	checkDump(t, m.All(), before)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = openTest(t, cfg)
	defer s.Close()
	checkDump(t, before, dump(t, s))
	// Open after a Close replays nothing: the segments from the newest
	// snapshot on hold no record.
	for _, sh := range s.shards {
		files, _ := os.ReadDir(sh.dir)
		for _, f := range files {
			if seq, ok := parseSeq(f.Name(), "wal-", ".log"); ok && seq >= sh.lastSnap {
				if info, _ := f.Info(); info.Size() > int64(len(walMagic)) {
					t.Errorf("shard %d: segment %s after the snapshot holds %d bytes", sh.idx, f.Name(), info.Size())
				}
			}
		}
	}
}

func TestReopenAfterCrash(t *testing.T) {
	cfg := persistConfig(t)
	s := openTest(t, cfg)
	m := storetest.Model{}
	rng := rand.New(rand.NewPCG(2, 2))
	// Snapshots between the rounds, so that Open combines snapshots and
	// segments, and reopen several times.
	for round := range 3 {
		workload(t, s, m, rng, 80)
		for _, sh := range s.shards[:2] {
			if err := s.snapshot(sh, false); err != nil {
				t.Fatalf("snapshot: %v", err)
			}
		}
		workload(t, s, m, rng, 50)
		want := dump(t, s)
		checkDump(t, m.All(), want)
		s.crash(t)
		s = openTest(t, cfg)
		checkDump(t, want, dump(t, s))
		t.Logf("round %d: %d series", round, len(want))
	}
	s.Close()
}

func TestTrimPersists(t *testing.T) {
	for _, crash := range []bool{false, true} {
		t.Run(fmt.Sprintf("crash=%v", crash), func(t *testing.T) {
			cfg := persistConfig(t)
			s := openTest(t, cfg)
			ctx := context.Background()
			var batch []series.Sample
			for i := range 100 {
				batch = append(batch,
					series.Sample{Name: "trim.a", Point: series.Point{Timestamp: t0 + int64(i)*60, Value: float64(i)}},
					series.Sample{Name: "trim.gone", Point: series.Point{Timestamp: t0 + int64(i), Value: 1}})
			}
			if err := s.Append(ctx, batch); err != nil {
				t.Fatal(err)
			}
			now := t0 + 50*60 + 4200 // cutoff: t0 + 3000
			if _, err := s.Trim(ctx, now); err != nil {
				t.Fatal(err)
			}
			// New data after the trim, for the deleted metric too, and an old
			// point that the trim would have removed.
			late := []series.Sample{
				{Name: "trim.gone", Point: series.Point{Timestamp: t0 + 10, Value: 2}},
				{Name: "trim.a", Point: series.Point{Timestamp: t0, Value: 3}},
			}
			if err := s.Append(ctx, late); err != nil {
				t.Fatal(err)
			}
			want := dump(t, s)
			if got := len(want["trim.a"]); got != 49+1 {
				t.Fatalf("trim.a has %d points after Trim, want 50", got)
			}
			if crash {
				s.crash(t)
			} else if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openTest(t, cfg)
			defer s.Close()
			checkDump(t, want, dump(t, s))
		})
	}
}

// frameEnds parses a segment independently of scanSegment and returns the
// end offset and type of each record.
func frameEnds(t *testing.T, data []byte) (ends []int, types []byte) {
	t.Helper()
	off := len(walMagic)
	for off < len(data) {
		n := int(binary.LittleEndian.Uint32(data[off:]))
		types = append(types, data[off+frameHeaderLen])
		off += frameHeaderLen + n
		ends = append(ends, off)
	}
	if off != len(data) {
		t.Fatalf("segment does not end on a record boundary")
	}
	return ends, types
}

// singleSegment returns the path of the only log segment in a one-shard
// store directory.
func singleSegment(t *testing.T, dir string) string {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(dir, "shards-1", "000", "wal-*.log"))
	if err != nil || len(segs) != 1 {
		t.Fatalf("segments = %v, %v; want one", segs, err)
	}
	return segs[0]
}

func TestTornTail(t *testing.T) {
	cfg := persistConfig(t)
	cfg.Shards = 1
	s := openTest(t, cfg)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 3))
	var samples []series.Sample // one per Append: one points record each
	for i := range 150 {
		smp := series.Sample{
			Name:  fmt.Sprintf("torn.%d", rng.IntN(4)),
			Point: series.Point{Timestamp: t0 + int64(rng.IntN(100))*60, Value: float64(i) + 0.25},
		}
		if err := s.Append(ctx, []series.Sample{smp}); err != nil {
			t.Fatal(err)
		}
		samples = append(samples, smp)
	}
	s.crash(t)
	seg := singleSegment(t, cfg.Dir)
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	ends, types := frameEnds(t, data)
	// pointEnds[k] is the end of the points record of samples[k].
	var pointEnds []int
	for i, typ := range types {
		if typ == recPoints {
			pointEnds = append(pointEnds, ends[i])
		}
	}
	if len(pointEnds) != len(samples) {
		t.Fatalf("%d points records, want %d", len(pointEnds), len(samples))
	}
	cuts := []int{0, 3, len(walMagic), len(walMagic) + 1, len(data) - 1}
	for _, e := range ends[:20] {
		cuts = append(cuts, e-1, e, e+1)
	}
	for range 30 {
		cuts = append(cuts, len(walMagic)+rng.IntN(len(data)-len(walMagic)))
	}
	for _, cut := range cuts {
		dir := t.TempDir()
		if err := os.CopyFS(dir, os.DirFS(cfg.Dir)); err != nil {
			t.Fatal(err)
		}
		path := singleSegment(t, dir)
		if err := os.Truncate(path, int64(cut)); err != nil {
			t.Fatal(err)
		}
		m := storetest.Model{}
		for k, e := range pointEnds {
			if e <= cut {
				m.Write(samples[k : k+1])
			}
		}
		c := cfg
		c.Dir = dir
		s, err := Open(c, nil, nil)
		if err != nil {
			t.Fatalf("cut at %d: Open: %v", cut, err)
		}
		checkDump(t, m.All(), dump(t, s))
		atBoundary := slices.Contains(ends, cut) || cut == len(walMagic)
		if got := testutil.ToFloat64(s.m.corruptRecords); (got == 0) != atBoundary {
			t.Errorf("cut at %d: %v corrupt records counted, at a record boundary: %v", cut, got, atBoundary)
		}
		// The torn tail was truncated to the last whole record.
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if wantSize := lastBoundary(ends, cut); st.Size() != int64(wantSize) {
			t.Errorf("cut at %d: segment is %d bytes after Open, want %d", cut, st.Size(), wantSize)
		}
		s.Close()
	}
}

func lastBoundary(ends []int, cut int) int {
	if cut < len(walMagic) {
		return 0
	}
	b := len(walMagic)
	for _, e := range ends {
		if e <= cut {
			b = e
		}
	}
	return b
}

func TestCorruptMiddle(t *testing.T) {
	cfg := persistConfig(t)
	cfg.Shards = 1
	ctx := context.Background()
	appendOne := func(s *Store, name string, i int, models ...storetest.Model) {
		smp := []series.Sample{{Name: name, Point: series.Point{Timestamp: t0 + int64(i)*60, Value: float64(i)}}}
		if err := s.Append(ctx, smp); err != nil {
			t.Fatal(err)
		}
		for _, m := range models {
			m.Write(smp)
		}
	}
	// Segment 1: 40 points of "a"; crash. Segment 2: 40 points of "b"; crash.
	s := openTest(t, cfg)
	before, all := storetest.Model{}, storetest.Model{}
	seg1 := singleSegment(t, cfg.Dir)
	for i := range 40 {
		if i < 20 {
			appendOne(s, "a", i, all, before)
		} else {
			appendOne(s, "a", i, all)
		}
	}
	s.crash(t)
	data, err := os.ReadFile(seg1)
	if err != nil {
		t.Fatal(err)
	}
	s = openTest(t, cfg)
	for i := range 40 {
		appendOne(s, "b", i, all, before)
	}
	s.crash(t)
	checkCorrupt := func(s *Store) {
		t.Helper()
		if got := testutil.ToFloat64(s.m.corruptRecords); got != 1 {
			t.Errorf("corrupt records = %v, want 1", got)
		}
	}
	// Flip one byte in the value of the 21st points record of segment 1.
	ends, types := frameEnds(t, data)
	k := 0
	for i, typ := range types {
		if typ == recPoints {
			if k == 20 {
				data[ends[i]-2] ^= 0x40
				break
			}
			k++
		}
	}
	if err := os.WriteFile(seg1, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cfg2 := cfg
	s, err = Open(cfg2, slog.New(slog.NewTextHandler(&logs, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	checkDump(t, before.All(), dump(t, s))
	checkCorrupt(s)
	if !strings.Contains(logs.String(), "segment is corrupt") || !strings.Contains(logs.String(), "bytes_skipped=") {
		t.Errorf("log does not report the corruption:\n%s", logs.String())
	}
	// Middle corruption is not truncated away.
	if st, _ := os.Stat(seg1); st.Size() != int64(len(data)) {
		t.Errorf("corrupt segment was changed: %d bytes, want %d", st.Size(), len(data))
	}
	s.Close()
}

func TestSnapshotFallback(t *testing.T) {
	cfg := persistConfig(t)
	cfg.Shards = 1
	ctx := context.Background()
	s := openTest(t, cfg)
	sh := s.shards[0]
	m := storetest.Model{}
	add := func(name string, n int) {
		var b []series.Sample
		for i := range n {
			b = append(b, series.Sample{Name: name, Point: series.Point{Timestamp: t0 + int64(i)*60, Value: float64(i) / 8}})
		}
		if err := s.Append(ctx, b); err != nil {
			t.Fatal(err)
		}
		m.Write(b)
	}
	add("a", 100)
	if err := s.snapshot(sh, false); err != nil {
		t.Fatal(err)
	}
	add("b", 100)
	if err := s.snapshot(sh, false); err != nil {
		t.Fatal(err)
	}
	add("c", 100)
	newest := filepath.Join(sh.dir, snapshotName(sh.lastSnap))
	s.crash(t)
	data, err := os.ReadFile(newest)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 1
	if err := os.WriteFile(newest, data, 0o644); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, cfg)
	defer s.Close()
	checkDump(t, m.All(), dump(t, s))
	if got := testutil.ToFloat64(s.m.corruptRecords); got != 1 {
		t.Errorf("corrupt records = %v, want 1 (the snapshot)", got)
	}
}

func TestShardsChange(t *testing.T) {
	for _, crash := range []bool{false, true} {
		t.Run(fmt.Sprintf("crash=%v", crash), func(t *testing.T) {
			cfg := persistConfig(t)
			s := openTest(t, cfg)
			m := storetest.Model{}
			workload(t, s, m, rand.New(rand.NewPCG(4, 4)), 100)
			want := dump(t, s)
			if crash {
				s.crash(t)
			} else if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			for _, n := range []int{7, 1, 4} {
				cfg.Shards = n
				s = openTest(t, cfg)
				checkDump(t, want, dump(t, s))
				layouts, _ := filepath.Glob(filepath.Join(cfg.Dir, "shards-*"))
				if diff := cmp.Diff([]string{filepath.Join(cfg.Dir, layoutName(n))}, layouts); diff != "" {
					t.Errorf("layouts mismatch (-want +got):\n%s", diff)
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestLocked(t *testing.T) {
	cfg := persistConfig(t)
	s := openTest(t, cfg)
	if _, err := Open(cfg, nil, nil); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Errorf("second Open: err = %v, want a lock error", err)
	}
	s.Close()
	s = openTest(t, cfg)
	s.Close()
}

func TestWALFailureRecovers(t *testing.T) {
	cfg := persistConfig(t)
	cfg.Shards = 1
	ctx := context.Background()
	s := openTest(t, cfg)
	sh := s.shards[0]
	smp := func(i int) []series.Sample {
		return []series.Sample{{Name: "wal.fail", Point: series.Point{Timestamp: t0 + int64(i), Value: float64(i)}}}
	}
	if err := s.Append(ctx, smp(0)); err != nil {
		t.Fatal(err)
	}
	sh.mu.Lock()
	_ = sh.f.Close() // the disk goes away under the log
	sh.mu.Unlock()
	s.sync(sh)
	if err := s.Append(ctx, smp(1)); err == nil {
		t.Error("Append after a log failure succeeded")
	}
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping after a log failure succeeded")
	}
	if got := testutil.ToFloat64(s.m.walFailures); got < 1 {
		t.Errorf("wal failures = %v, want >= 1", got)
	}
	// A snapshot holds everything in memory and starts a new segment.
	if err := s.snapshot(sh, false); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping after the snapshot: %v", err)
	}
	if err := s.Append(ctx, smp(2)); err != nil {
		t.Errorf("Append after the snapshot: %v", err)
	}
	s.crash(t)
	s = openTest(t, cfg)
	defer s.Close()
	checkDump(t, map[string][]series.Point{"wal.fail": {{Timestamp: t0, Value: 0}, {Timestamp: t0 + 2, Value: 2}}}, dump(t, s))
}

func TestConfigValidate(t *testing.T) {
	f := func(mod func(*Config), want string) {
		t.Helper()
		cfg := DefaultConfig()
		mod(&cfg)
		_, err := Open(cfg, nil, nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open: err = %v, want it to mention %q", err, want)
		}
	}
	f(func(c *Config) { c.Shards = 0 }, "shards")
	f(func(c *Config) { c.Shards = 5000 }, "shards")
	f(func(c *Config) { c.ChunkPoints = 4 }, "chunk_points")
	f(func(c *Config) { c.ChunkPoints = 70000 }, "chunk_points")
	f(func(c *Config) { c.HeadPoints = 0 }, "head_points")
	f(func(c *Config) { c.HeadPoints = c.ChunkPoints + 1 }, "head_points")
	f(func(c *Config) { c.SyncInterval = 0 }, "sync_interval")
	f(func(c *Config) { c.SnapshotInterval = -time.Second }, "snapshot_interval")
	f(func(c *Config) { c.SnapshotWALBytes = -1 }, "snapshot_wal_bytes")
	f(func(c *Config) { c.Retention = store.Retention{} }, "retention")
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("DefaultConfig is invalid: %v", err)
	}
}

func TestMetrics(t *testing.T) {
	cfg := persistConfig(t)
	reg := prometheus.NewPedanticRegistry()
	s, err := Open(cfg, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	var b []series.Sample
	for i := range 100 {
		b = append(b, series.Sample{Name: fmt.Sprintf("m%d", i%10), Point: series.Point{Timestamp: t0 + int64(i), Value: 1}})
	}
	if err := s.Append(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	for _, sh := range s.shards {
		s.sync(sh)
	}
	if _, err := Open(cfg, nil, reg); err == nil {
		t.Error("a second store registered the same metrics")
	}
	want := `
# HELP kale_store_embedded_points Points held.
# TYPE kale_store_embedded_points gauge
kale_store_embedded_points 100
# HELP kale_store_embedded_series Series held.
# TYPE kale_store_embedded_series gauge
kale_store_embedded_series 10
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "kale_store_embedded_points", "kale_store_embedded_series"); err != nil {
		t.Error(err)
	}
	if got := testutil.ToFloat64(s.m.walBytes); got <= 0 {
		t.Errorf("wal bytes = %v, want > 0", got)
	}
	if n, err := testutil.GatherAndCount(reg, "kale_store_embedded_wal_fsync_duration_seconds"); err != nil || n != 1 {
		t.Errorf("fsync histogram: %d, %v", n, err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Close unregisters: the store opens again on the same registry.
	s, err = Open(cfg, nil, reg)
	if err != nil {
		t.Fatalf("reopen on the same registry: %v", err)
	}
	s.Close()
}

func TestOpenNotADirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := persistConfig(t)
	cfg.Dir = file
	if _, err := Open(cfg, nil, nil); err == nil {
		t.Error("Open on a file succeeded")
	}
}

func readFile(path string) ([]byte, error) { return os.ReadFile(path) }

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// TestConcurrentSnapshots runs appends, fetches and trims while the
// background goroutine syncs and snapshots every few milliseconds, then
// checks that a reopened store holds exactly what the store held.
func TestConcurrentSnapshots(t *testing.T) {
	cfg := testConfig(t, store.Retention{FullDuration: time.Hour, Grace: 10 * time.Minute})
	cfg.SyncInterval = 2 * time.Millisecond
	cfg.SnapshotInterval = 5 * time.Millisecond
	s := openTest(t, cfg)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 4 {
		wg.Go(func() {
			for i := range 300 {
				b := []series.Sample{
					{Name: fmt.Sprintf("snap.own%d", w), Point: series.Point{Timestamp: t0 + int64(i)*60, Value: float64(i)}},
					{Name: "snap.shared", Point: series.Point{Timestamp: t0 + int64(w*300+i), Value: float64(w)}},
					{Name: fmt.Sprintf("snap.old%d", w), Point: series.Point{Timestamp: t0 - 100_000 + int64(i), Value: 1}},
				}
				if err := s.Append(ctx, b); err != nil {
					errs <- err
					return
				}
				if i%50 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			if _, err := s.Trim(ctx, t0-100_000+4200+150); err != nil {
				errs <- err
				return
			}
			if _, err := s.Fetch(ctx, "snap.shared", math.MinInt64, math.MaxInt64); err != nil && !errors.Is(err, store.ErrNotFound) {
				errs <- err
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := dump(t, s)
	if got := len(want["snap.shared"]); got != 1200 {
		t.Errorf("snap.shared holds %d points, want 1200", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, cfg)
	defer s.Close()
	checkDump(t, want, dump(t, s))
}
