package embedded

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/testserver"
)

// crashChildEnv makes TestCrashKill9 run as the child: the value is the
// store directory.
const crashChildEnv = "KALE_EMBEDDED_CRASH_CHILD_DIR"

const (
	crashSeries       = 8
	crashSyncInterval = 50 * time.Millisecond
	// crashMargin is how long after SyncInterval the child waits before it
	// calls a point durable. It only needs to cover a late sync tick (a
	// snapshot in the same goroutine, a loaded machine).
	crashMargin = time.Second
)

func crashConfig(dir string) Config {
	cfg := DefaultConfig()
	cfg.Dir = dir
	cfg.Shards = 4
	cfg.SyncInterval = crashSyncInterval
	cfg.SnapshotInterval = 300 * time.Millisecond // crash around snapshots too
	return cfg
}

// crashPoint is point idx of the child's stream: series idx%8, one point
// per second.
func crashPoint(idx int) series.Sample {
	return series.Sample{
		Name:  fmt.Sprintf("crash.m%d", idx%crashSeries),
		Point: series.Point{Timestamp: t0 + int64(idx), Value: float64(idx)*0.5 + 0.125},
	}
}

// runCrashChild appends numbered points until it is killed, printing
// "durable N" when every point up to N was appended more than SyncInterval
// plus a margin ago.
func runCrashChild(dir string) {
	s, err := Open(crashConfig(dir), nil, nil)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	type mark struct {
		last int
		at   time.Time
	}
	var marks []mark
	reported := -1
	const batch = 100
	for next := 0; ; next += batch {
		b := make([]series.Sample, batch)
		for i := range b {
			b[i] = crashPoint(next + i)
		}
		if err := s.Append(context.Background(), b); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		marks = append(marks, mark{last: next + batch - 1, at: time.Now()})
		durableBefore := time.Now().Add(-(crashSyncInterval + crashMargin))
		k := 0
		for k < len(marks) && marks[k].at.Before(durableBefore) {
			k++
		}
		if k > 0 {
			if d := marks[k-1].last; d > reported {
				fmt.Printf("durable %d\n", d)
				reported = d
			}
			marks = marks[k:]
		}
		time.Sleep(time.Millisecond)
	}
}

// TestCrashKill9 runs a child process that appends continuously, kills it
// with SIGKILL, reopens its store and checks that every point the child
// called durable is there, bit for bit.
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
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	durable := -1
	parse := func(line string) {
		v, ok := strings.CutPrefix(line, "durable ")
		if !ok {
			t.Fatalf("child: %s", line)
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("child: %s", line)
		}
		durable = max(durable, n)
	}
	// Let the child run through a few snapshots after its first durable
	// point, then kill it.
	var killAt <-chan time.Time
	deadline := time.After(60 * time.Second)
wait:
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatal("child exited before it was killed")
			}
			parse(line)
			if killAt == nil {
				killAt = time.After(700 * time.Millisecond)
			}
		case <-killAt:
			break wait
		case <-deadline:
			t.Fatal("child reported no durable point in 60 s")
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for line := range lines { // printed before the kill
		parse(line)
	}
	_ = cmd.Wait()

	s, err := Open(crashConfig(dir), nil, nil)
	if err != nil {
		t.Fatalf("Open after kill -9: %v", err)
	}
	defer s.Close()
	recovered := 0
	for k := range crashSeries {
		name := fmt.Sprintf("crash.m%d", k)
		pts, err := s.Fetch(context.Background(), name, math.MinInt64, math.MaxInt64)
		if err != nil {
			t.Fatalf("Fetch(%q): %v", name, err)
		}
		// The series holds exactly its points k, k+8, k+16, ... up to some
		// index at least as far as the durable one.
		for i, p := range pts {
			want := crashPoint(k + i*crashSeries)
			if p != want.Point || math.Float64bits(p.Value) != math.Float64bits(want.Value) {
				t.Fatalf("%s point %d = %+v, want %+v", name, i, p, want.Point)
			}
		}
		if len(pts) == 0 || k+(len(pts)-1)*crashSeries < durable-crashSeries+1 {
			t.Errorf("%s: recovered %d points, up to index %d; the child called %d durable", name, len(pts), k+(len(pts)-1)*crashSeries, durable)
		}
		recovered += len(pts)
	}
	t.Logf("durable index %d, %d points recovered", durable, recovered)
}
