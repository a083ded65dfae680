// Package progress draws a one-line progress report with an ETA for long
// commands, on a terminal only: when the output is not a terminal it stays
// quiet.
package progress

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"
)

// Bar reports progress towards a known total.
type Bar struct {
	w     io.Writer
	label string
	total int64
	start time.Time
	last  time.Time
	tty   bool
}

// New returns a Bar writing to w, which draws only if w is a terminal.
func New(w io.Writer, label string, total int64) *Bar {
	return &Bar{w: w, label: label, total: total, start: time.Now(), tty: IsTerminal(w)}
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Printf writes to w only if w is a terminal: human commentary that
// scripts reading the output do not want.
func Printf(w io.Writer, format string, args ...any) {
	if IsTerminal(w) {
		fmt.Fprintf(w, format, args...)
	}
}

// Update redraws the line (at most ten times a second) with done of total.
func (b *Bar) Update(done int64) {
	if !b.tty {
		return
	}
	now := time.Now()
	if now.Sub(b.last) < 100*time.Millisecond {
		return
	}
	b.last = now
	b.draw(done, now)
}

// Done draws the final state and ends the line.
func (b *Bar) Done(done int64) {
	if !b.tty {
		return
	}
	b.draw(done, time.Now())
	fmt.Fprintln(b.w)
}

func (b *Bar) draw(done int64, now time.Time) {
	elapsed := now.Sub(b.start).Seconds()
	pct := 100 * float64(done) / float64(max(b.total, 1))
	eta := "?"
	if done > 0 && done < b.total {
		eta = time.Duration(elapsed * float64(b.total-done) / float64(done) * float64(time.Second)).Round(time.Second).String()
	} else if done >= b.total {
		eta = "0s"
	}
	rate := float64(done) / max(elapsed, 1e-9)
	fmt.Fprintf(b.w, "\r%s %d/%d (%.1f%%) %.0f/s ETA %s   ", b.label, done, b.total, pct, rate, eta)
}

// Follow redraws b with done() every interval until finished is closed,
// then draws the final state: for work done by other goroutines.
func (b *Bar) Follow(finished <-chan struct{}, interval time.Duration, done func() int64) {
	for {
		select {
		case <-finished:
			b.Done(done())
			return
		case <-time.After(interval):
			b.Update(done())
		}
	}
}
