package anomalies

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-kale/kale/internal/testserver"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const t0 int64 = 1_700_000_000

var bg = context.Background()

// clock is a settable claim clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func rec(metric string, ts int64) Record {
	return Record{Metric: metric, Timestamp: ts, Value: float64(ts%100) / 8, Score: 0.75,
		Detectors: []string{"grubbs", "first_hour_average"}, Profile: "skyline"}
}

// open opens dir with clk, failing the test on error.
func open(t testing.TB, dir string, clk *clock, logger *slog.Logger) *Embedded {
	t.Helper()
	s, err := OpenEmbeddedOptions(dir, time.Hour, logger, Options{Now: clk.Now})
	if err != nil {
		t.Fatalf("OpenEmbedded(%s): %v", dir, err)
	}
	return s
}

func mustAdd(t testing.TB, s Store, recs ...Record) {
	t.Helper()
	if err := s.Add(bg, recs); err != nil {
		t.Fatalf("Add: %v", err)
	}
}

func all(t testing.TB, s Store) []Record {
	t.Helper()
	got, err := s.Since(bg, math.MinInt64, 0)
	if err != nil {
		t.Fatalf("Since: %v", err)
	}
	return got
}

func mustClose(t testing.TB, s Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// dump is everything a store holds that its API shows, claims excepted.
type dump struct {
	Records   []Record
	PerMetric map[string][]Record
	Incidents []Incident
}

func dumpOf(t testing.TB, s Store) dump {
	t.Helper()
	d := dump{Records: all(t, s), PerMetric: map[string][]Record{}}
	for _, r := range d.Records {
		if _, ok := d.PerMetric[r.Metric]; ok {
			continue
		}
		got, err := s.Metric(bg, r.Metric, math.MinInt64, 0)
		if err != nil {
			t.Fatal(err)
		}
		d.PerMetric[r.Metric] = got
	}
	var err error
	if d.Incidents, err = s.Incidents(bg); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestPersistence checks that every kind of change survives Close and
// Open, claims included.
func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: time.Unix(t0, 0)}
	s := open(t, dir, clk, nil)
	mustAdd(t, s, rec("a", t0-7200), rec("a", t0), rec("b", t0+60), rec("名前 {x}:y", t0+60))
	mustAdd(t, s, rec("a", t0)) // replaced by itself
	r := rec("b", t0+60)
	r.Value = 42
	mustAdd(t, s, r)
	if n, err := s.Trim(bg, t0+100); err != nil || n != 1 {
		t.Fatalf("Trim = %d, %v", n, err)
	}
	for _, m := range []string{"live", "released", "short"} {
		exp := time.Hour
		if m == "short" {
			exp = time.Minute
		}
		if ok, err := s.Claim(bg, "smtp", m, t0, exp); err != nil || !ok {
			t.Fatalf("Claim(%s) = %v, %v", m, ok, err)
		}
	}
	if err := s.Release(bg, "smtp", "released"); err != nil {
		t.Fatal(err)
	}
	for _, in := range []Incident{{Key: "k1", Metric: "a", Opened: t0}, {Key: "k2", Metric: "b"}, {Key: "k1", Metric: "a", Opened: t0, LastAnomalous: t0 + 60}} {
		if err := s.PutIncident(bg, in); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CloseIncident(bg, "k2"); err != nil {
		t.Fatal(err)
	}
	before := dumpOf(t, s)
	mustClose(t, s)

	clk.Advance(2 * time.Minute) // "short" expires while the store is closed
	s = open(t, dir, clk, nil)
	defer s.Close()
	if diff := cmp.Diff(before, dumpOf(t, s), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("state after reopen (-before +after):\n%s", diff)
	}
	want := dump{
		Records: []Record{rec("名前 {x}:y", t0+60), r, rec("a", t0)},
		PerMetric: map[string][]Record{
			"a": {rec("a", t0)}, "b": {r}, "名前 {x}:y": {rec("名前 {x}:y", t0+60)},
		},
		Incidents: []Incident{{Key: "k1", Metric: "a", Opened: t0, LastAnomalous: t0 + 60}},
	}
	if diff := cmp.Diff(want, before, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		metric string
		want   bool
	}{{"live", false}, {"released", true}, {"short", true}} {
		if ok, err := s.Claim(bg, "smtp", tc.metric, t0, time.Hour); err != nil || ok != tc.want {
			t.Errorf("Claim(%s) after reopen = %v, %v; want %v", tc.metric, ok, err, tc.want)
		}
	}
}

// logFile returns the path of the log in dir.
func logFile(dir string) string { return filepath.Join(dir, logName) }

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestTornTail cuts the log at every byte of its last entries and checks
// that Open keeps what came before, truncates the rest with a warning,
// and that the store then works and persists.
func TestTornTail(t *testing.T) {
	src := t.TempDir()
	clk := &clock{t: time.Unix(t0, 0)}
	s := open(t, src, clk, nil)
	first := []Record{rec("a", t0), rec("b", t0)}
	mustAdd(t, s, first...)
	good := fileSize(t, logFile(src))
	mustAdd(t, s, rec("c", t0+1), rec("d", t0+2)) // the entries to tear
	if _, err := s.Claim(bg, "smtp", "c", t0, time.Hour); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	data, err := os.ReadFile(logFile(src))
	if err != nil {
		t.Fatal(err)
	}
	// The store then holds first plus the entries that end before the cut.
	ends := entryEnds(t, data)
	// Every byte of each torn entry's header, the middle of its body, its
	// last byte and its end.
	var cuts []int64
	for start, i := good, len(ends)-3; i < len(ends); start, i = ends[i], i+1 {
		for c := start + 1; c <= start+headerLen+1; c++ {
			cuts = append(cuts, c)
		}
		cuts = append(cuts, (start+ends[i])/2, ends[i]-1, ends[i])
	}
	for _, cut := range cuts {
		want := append([]Record(nil), first...)
		for _, e := range ends {
			if e <= cut && e > good {
				switch e {
				case ends[len(ends)-3]:
					want = append(want, rec("c", t0+1))
				case ends[len(ends)-2]:
					want = append(want, rec("d", t0+2))
				}
			}
		}
		wantSize := good
		for _, e := range ends {
			if e <= cut {
				wantSize = e
			}
		}
		t.Run(strconv.FormatInt(cut, 10), func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(logFile(dir), data[:cut], 0o644); err != nil {
				t.Fatal(err)
			}
			var logs testserver.SyncBuffer
			s := open(t, dir, clk, slog.New(slog.NewTextHandler(&logs, nil)))
			if got := fileSize(t, logFile(dir)); got != wantSize {
				t.Errorf("log size after Open = %d, want %d", got, wantSize)
			}
			if wantSize < cut && !strings.Contains(logs.String(), "torn tail") {
				t.Errorf("no torn-tail warning; logs: %s", logs.String())
			}
			if diff := cmp.Diff(newestFirstRecs(want), all(t, s)); diff != "" {
				t.Errorf("records after Open (-want +got):\n%s", diff)
			}
			mustAdd(t, s, rec("z", t0+9))
			mustClose(t, s)
			s = open(t, dir, clk, nil)
			defer s.Close()
			if diff := cmp.Diff(newestFirstRecs(append(want, rec("z", t0+9))), all(t, s)); diff != "" {
				t.Errorf("records after a write and reopen (-want +got):\n%s", diff)
			}
		})
	}
}

// entryEnds returns the file offset at which each entry of a log ends.
func entryEnds(t testing.TB, data []byte) []int64 {
	t.Helper()
	var ends []int64
	off := len(logMagic)
	for off < len(data) {
		_, n, err := nextEntry(data[off:])
		if err != nil {
			t.Fatalf("entry at %d: %v", off, err)
		}
		off += n
		ends = append(ends, int64(off))
	}
	return ends
}

func newestFirstRecs(recs []Record) []Record {
	out := append([]Record(nil), recs...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && compareNewest(&out[j], &out[j-1]) < 0; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// TestTornHeaderAndGarbage covers a log cut inside its magic, and random
// bytes after the last entry.
func TestTornHeaderAndGarbage(t *testing.T) {
	clk := &clock{t: time.Unix(t0, 0)}
	for cut := range len(logMagic) {
		dir := t.TempDir()
		if err := os.WriteFile(logFile(dir), []byte(logMagic[:cut]), 0o644); err != nil {
			t.Fatal(err)
		}
		s := open(t, dir, clk, nil)
		if got := all(t, s); len(got) != 0 {
			t.Errorf("cut %d: records %+v", cut, got)
		}
		mustClose(t, s)
		if got := fileSize(t, logFile(dir)); got != int64(len(logMagic)) {
			t.Errorf("cut %d: log size %d after Open, want %d", cut, got, len(logMagic))
		}
	}
	dir := t.TempDir()
	s := open(t, dir, clk, nil)
	mustAdd(t, s, rec("a", t0))
	mustClose(t, s)
	f, err := os.OpenFile(logFile(dir), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("\x10\x00\x00\x00garbage that is not an entry")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	s = open(t, dir, clk, nil)
	defer s.Close()
	if diff := cmp.Diff([]Record{rec("a", t0)}, all(t, s)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// TestCorruptEntry checks that an entry that passes its CRC but does not
// parse fails Open with ErrCorrupt and the offset, leaving the file alone.
func TestCorruptEntry(t *testing.T) {
	tests := []struct {
		name    string
		kind    byte
		body    any
		wantErr string
	}{
		{"UnknownKind", 99, map[string]int{"x": 1}, "unknown entry kind 99"},
		{"BadJSON", kindRecord, rawJSON("[1,2]"), "not a JSON object"},
		{"EmptyMetric", kindRecord, Record{Timestamp: 5}, "metric is empty"},
		{"BadClaim", kindClaim, claimBody{Alerter: "a.b", Metric: "m"}, "holds a '.'"},
		{"EmptyIncident", kindIncident, Incident{}, "key is empty"},
		{"EmptyClose", kindClose, closeBody{}, "empty key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := appendEntry([]byte(logMagic), kindRecord, rec("a", t0))
			if err != nil {
				t.Fatal(err)
			}
			off := len(data)
			if data, err = appendEntry(data, tc.kind, tc.body); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := os.WriteFile(logFile(dir), data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = OpenEmbedded(dir, time.Hour, nil)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.wantErr) ||
				!strings.Contains(err.Error(), fmt.Sprintf("offset %d", off)) {
				t.Errorf("Open = %v, want ErrCorrupt at offset %d with %q", err, off, tc.wantErr)
			}
			if got := fileSize(t, logFile(dir)); got != int64(len(data)) {
				t.Errorf("file size %d after a failed Open, want %d", got, len(data))
			}
			// The lock was released: the folder opens once the entry is gone.
			if err := os.WriteFile(logFile(dir), data[:off], 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := OpenEmbedded(dir, time.Hour, nil)
			if err != nil {
				t.Fatalf("Open after repair: %v", err)
			}
			s.Close()
		})
	}
	t.Run("BadMagic", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(logFile(dir), []byte("NOTALOG!and more"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenEmbedded(dir, time.Hour, nil); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Open = %v, want ErrCorrupt", err)
		}
	})
}

// rawJSON is a raw JSON body for appendEntry.
type rawJSON string

func (j rawJSON) MarshalJSON() ([]byte, error) { return []byte(j), nil }

// TestCompaction checks that a log of overwrites, trims, expired claims
// and closed incidents stays within twice its live size, and that the
// compacted log holds the same state.
func TestCompaction(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: time.Unix(t0, 0)}
	const compactMin = 4 << 10
	s, err := OpenEmbeddedOptions(dir, time.Hour, nil, Options{Now: clk.Now, CompactMin: compactMin})
	if err != nil {
		t.Fatal(err)
	}
	keep := []Record{rec("keep", t0), rec("keep", t0+1)}
	mustAdd(t, s, keep...)
	maxSize := int64(0)
	const steps = 500
	for i := range steps {
		r := rec("same", t0+5) // overwritten again and again
		r.Value = float64(i)
		mustAdd(t, s, r, rec("old", t0-int64(7200+i)))
		if _, err := s.Trim(bg, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Claim(bg, "smtp", fmt.Sprintf("m%d", i), t0, time.Second); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
		if err := s.PutIncident(bg, Incident{Key: fmt.Sprintf("k%d", i)}); err != nil {
			t.Fatal(err)
		}
		if err := s.CloseIncident(bg, fmt.Sprintf("k%d", i)); err != nil {
			t.Fatal(err)
		}
		maxSize = max(maxSize, fileSize(t, logFile(dir)))
	}
	// The live state is three records; the file never got far past the
	// threshold (one iteration writes under 1 KB).
	if maxSize > compactMin+1<<10 {
		t.Errorf("the log grew to %d bytes; compaction should keep it near %d", maxSize, compactMin)
	}
	last := rec("same", t0+5)
	last.Value = steps - 1
	want := newestFirstRecs(append(keep, last))
	if diff := cmp.Diff(want, all(t, s)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	mustClose(t, s)
	if _, err := os.Stat(logFile(dir) + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file left behind: %v", err)
	}
	s = open(t, dir, clk, nil)
	defer s.Close()
	if diff := cmp.Diff(want, all(t, s)); diff != "" {
		t.Errorf("records after reopen (-want +got):\n%s", diff)
	}
	if n := len(s.claims); n > 1 {
		t.Errorf("%d claims in memory after reopen; expired ones should be gone", n)
	}
}

// TestCompactionKeepsLiveClaims checks that a compaction carries live
// claims and incidents over.
func TestCompactionKeepsLiveClaims(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: time.Unix(t0, 0)}
	s, err := OpenEmbeddedOptions(dir, time.Hour, nil, Options{Now: clk.Now, CompactMin: 1})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Claim(bg, "pagerduty", "m", t0, time.Hour); err != nil || !ok {
		t.Fatal(ok, err)
	}
	in := Incident{Key: "pagerduty.m", Metric: "m", Alerter: "pagerduty", Opened: t0}
	if err := s.PutIncident(bg, in); err != nil {
		t.Fatal(err)
	}
	for i := range 50 { // overwrites that force compactions
		r := rec("m", t0)
		r.Score = float64(i)
		mustAdd(t, s, r)
	}
	if err := s.compact(); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	s = open(t, dir, clk, nil)
	defer s.Close()
	if ok, err := s.Claim(bg, "pagerduty", "m", t0, time.Hour); err != nil || ok {
		t.Errorf("Claim after compaction and reopen = %v, %v; want false", ok, err)
	}
	if got, err := s.Incidents(bg); err != nil || cmp.Diff([]Incident{in}, got) != "" {
		t.Errorf("Incidents = %+v, %v", got, err)
	}
}

func TestLockedFolder(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenEmbedded(dir, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenEmbedded(dir, time.Hour, nil); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Errorf("second Open = %v, want a lock error", err)
	}
	mustClose(t, s)
	s, err = OpenEmbedded(dir, time.Hour, nil)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s.Close()
}

func TestOpenInvalid(t *testing.T) {
	if _, err := OpenEmbedded(t.TempDir(), 0, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("retention 0: %v, want ErrInvalid", err)
	}
	if _, err := OpenEmbedded("", time.Hour, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty folder: %v, want ErrInvalid", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenEmbedded(file, time.Hour, nil); err == nil {
		t.Error("Open of a regular file succeeded")
	}
}

// crashChildEnv makes TestCrashKill9 run as the child; the value is the
// store folder.
const crashChildEnv = "KALE_ANOMALIES_CRASH_CHILD_DIR"

// crashClock is the fixed claim clock of the crash test: claims taken by
// the child are live when the parent reopens.
var crashClock = &clock{t: time.Unix(t0, 0)}

// runCrashChild adds a record, claims and opens an incident per step,
// printing "done N" after step N returned, until it is killed.
func runCrashChild(dir string) {
	s, err := OpenEmbeddedOptions(dir, time.Hour, nil, Options{Now: crashClock.Now, CompactMin: 4 << 10})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	for i := 0; ; i++ {
		m := fmt.Sprintf("m%d", i)
		err := s.Add(bg, []Record{rec(m, t0+int64(i))})
		if err == nil {
			_, err = s.Claim(bg, "smtp", m, t0, time.Hour)
		}
		if err == nil {
			err = s.PutIncident(bg, Incident{Key: m, Metric: m, Opened: t0 + int64(i)})
		}
		if err == nil && i%3 == 0 {
			err = s.CloseIncident(bg, m)
		}
		if err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		fmt.Printf("done %d\n", i)
	}
}

// TestCrashKill9 kills a child process that writes continuously and
// checks that every step it reported done is in the reopened store.
func TestCrashKill9(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		runCrashChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	cmd, out := testserver.StartChild(t, "TestCrashKill9", crashChildEnv+"="+dir)
	done := -1
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "done ")
		if !ok {
			t.Fatalf("child: %s", sc.Text())
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("child: %s", sc.Text())
		}
		done = n
		if done == 200 { // past a few compactions
			break
		}
	}
	if done < 200 {
		t.Fatalf("child stopped after step %d", done)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() { // printed before the kill
		if v, ok := strings.CutPrefix(sc.Text(), "done "); ok {
			done, _ = strconv.Atoi(v)
		}
	}
	_ = cmd.Wait()

	s := open(t, dir, crashClock, nil)
	defer s.Close()
	for i := 0; i <= done; i++ {
		m := fmt.Sprintf("m%d", i)
		got, err := s.Metric(bg, m, math.MinInt64, 0)
		if err != nil || cmp.Diff([]Record{rec(m, t0+int64(i))}, got) != "" {
			t.Fatalf("step %d: Metric(%s) = %+v, %v", i, m, got, err)
		}
		if ok, err := s.Claim(bg, "smtp", m, t0, time.Hour); err != nil || ok {
			t.Fatalf("step %d: Claim after the crash = %v, %v; want false (still claimed)", i, ok, err)
		}
	}
	ins, err := s.Incidents(bg)
	if err != nil {
		t.Fatal(err)
	}
	opened := map[string]bool{}
	for _, in := range ins {
		opened[in.Key] = true
	}
	for i := 0; i <= done; i++ {
		if m := fmt.Sprintf("m%d", i); opened[m] != (i%3 != 0) {
			t.Errorf("step %d: incident open = %v", i, opened[m])
		}
	}
	t.Logf("%d steps done before the kill", done+1)
}

// compareNewest orders records as Since returns them: newest first,
// then by Metric descending.
func compareNewest(a, b *Record) int {
	switch {
	case a.Timestamp > b.Timestamp:
		return -1
	case a.Timestamp < b.Timestamp:
		return 1
	}
	return -strings.Compare(a.Metric, b.Metric)
}
