package nab

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors, checked with errors.Is.
var (
	// ErrFormat marks a data, windows or results file that does not follow
	// its format (bad header, bad timestamp, bad number, wrong field count).
	ErrFormat = errors.New("bad format")
	// ErrMismatch marks results that do not fit the corpus: a missing or
	// extra file, a different row count, a timestamp that differs from the
	// data row's, an anomaly score outside [0, 1].
	ErrMismatch = errors.New("results do not match the corpus")
	// ErrWindow marks an anomaly window that NAB's scorer could not use:
	// an end that is not a timestamp of the file, a window the row walk
	// never enters, a window narrower than two rows.
	ErrWindow = errors.New("bad anomaly window")
	// ErrUnknownProfile marks a profile name that is not one of NAB's.
	ErrUnknownProfile = errors.New("unknown profile")
)

// TimeLayout is the timestamp format of NAB's files ("YYYY-MM-DD HH:MM:SS",
// no time zone; read as UTC). On input an all-zero fractional part such as
// ".000000" (the windows file's form) is accepted.
const TimeLayout = "2006-01-02 15:04:05"

// ParseTime parses a NAB timestamp "YYYY-MM-DD HH:MM:SS" with an optional
// fractional part that must be zero, read as UTC, into UNIX seconds.
func ParseTime(s string) (int64, error) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':' {
		return 0, fmt.Errorf("cannot parse timestamp %q: want %s: %w", s, TimeLayout, ErrFormat)
	}
	if rest := s[19:]; rest != "" {
		if rest[0] != '.' || len(rest) == 1 || strings.Trim(rest[1:], "0") != "" {
			return 0, fmt.Errorf("cannot parse timestamp %q: only a zero fraction of a second is allowed: %w", s, ErrFormat)
		}
	}
	num := func(lo, hi int) int {
		v := 0
		for i := lo; i < hi; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return -1
			}
			v = v*10 + int(c-'0')
		}
		return v
	}
	y, mo, d, h, mi, se := num(0, 4), num(5, 7), num(8, 10), num(11, 13), num(14, 16), num(17, 19)
	if y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 59 {
		return 0, fmt.Errorf("cannot parse timestamp %q: want %s: %w", s, TimeLayout, ErrFormat)
	}
	t := time.Date(y, time.Month(mo), d, h, mi, se, 0, time.UTC)
	if t.Day() != d { // 31 April and the like
		return 0, fmt.Errorf("cannot parse timestamp %q: no such day: %w", s, ErrFormat)
	}
	return t.Unix(), nil
}

// FormatTime formats UNIX seconds as a NAB timestamp (TimeLayout, UTC).
func FormatTime(ts int64) string { return time.Unix(ts, 0).UTC().Format(TimeLayout) }

// table reads a CSV with a header row and calls row for every data row with
// the fields of the wanted columns; has[i] reports whether column want[i] is
// in the header (a required column that is absent is an error). Line numbers
// in errors count the header as line 1.
func table(r io.Reader, want []string, required []bool, row func(line int, f []string, has []bool) error) error {
	cr := csv.NewReader(bufio.NewReaderSize(r, 64<<10))
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("cannot read header: empty file: %w", ErrFormat)
		}
		return fmt.Errorf("cannot read header: %w: %w", err, ErrFormat)
	}
	idx := make([]int, len(want))
	has := make([]bool, len(want))
	for i, name := range want {
		idx[i] = -1
		for j, h := range header {
			if j == 0 {
				h = strings.TrimPrefix(h, "\ufeff")
			}
			if strings.TrimSpace(h) == name {
				if idx[i] >= 0 {
					return fmt.Errorf("cannot read header: column %q twice: %w", name, ErrFormat)
				}
				idx[i] = j
				has[i] = true
			}
		}
		if idx[i] < 0 && required[i] {
			return fmt.Errorf("cannot read header %q: no column %q: %w", strings.Join(header, ","), name, ErrFormat)
		}
	}
	f := make([]string, len(want))
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("cannot read row: %w: %w", err, ErrFormat)
		}
		for i, j := range idx {
			if j >= 0 {
				f[i] = rec[j]
			}
		}
		if err := row(line, f, has); err != nil {
			return err
		}
	}
}

// ReadData reads a NAB data file: a header naming the columns timestamp and
// value (others are ignored), then one row per point. Every row is kept, in
// file order, including repeated and backwards timestamps. Values must be
// finite numbers.
func ReadData(r io.Reader) (ts []int64, values []float64, err error) {
	err = table(r, []string{"timestamp", "value"}, []bool{true, true}, func(line int, f []string, _ []bool) error {
		t, err := ParseTime(f[0])
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(f[1]), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("line %d: cannot parse value %q: want a finite number: %w", line, f[1], ErrFormat)
		}
		ts = append(ts, t)
		values = append(values, v)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return ts, values, nil
}

// ReadScores reads a detector's result file: a header naming anomaly_score
// and optionally timestamp (other columns such as value, label or S(t)_* are
// ignored), then one row per data row. ts is nil when there is no timestamp
// column. Anomaly scores must be numbers in [0, 1].
func ReadScores(r io.Reader) (ts []int64, scores []float64, err error) {
	err = table(r, []string{"anomaly_score", "timestamp"}, []bool{true, false}, func(line int, f []string, has []bool) error {
		s, err := strconv.ParseFloat(strings.TrimSpace(f[0]), 64)
		if err != nil || !(s >= 0 && s <= 1) {
			return fmt.Errorf("line %d: cannot parse anomaly_score %q: want a number in [0, 1]: %w", line, f[0], ErrFormat)
		}
		scores = append(scores, s)
		if has[1] {
			t, err := ParseTime(f[1])
			if err != nil {
				return fmt.Errorf("line %d: %w", line, err)
			}
			ts = append(ts, t)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return ts, scores, nil
}

// WriteScores writes a result file with the header timestamp,anomaly_score
// and one row per element of ts and scores (which must have equal length),
// scores in the shortest form that reads back to the same float64.
func WriteScores(w io.Writer, ts []int64, scores []float64) error {
	if len(ts) != len(scores) {
		return fmt.Errorf("cannot write scores: %d timestamps, %d scores: %w", len(ts), len(scores), ErrMismatch)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	buf := make([]byte, 0, 64)
	buf = append(buf, "timestamp,anomaly_score\n"...)
	for i, t := range ts {
		buf = time.Unix(t, 0).UTC().AppendFormat(buf, TimeLayout)
		buf = append(buf, ',')
		buf = strconv.AppendFloat(buf, scores[i], 'g', -1, 64)
		buf = append(buf, '\n')
		if _, err := bw.Write(buf); err != nil {
			return fmt.Errorf("cannot write scores: %w", err)
		}
		buf = buf[:0]
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("cannot write scores: %w", err)
	}
	return nil
}
