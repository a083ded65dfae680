package main

import (
	"bufio"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-kale/kale/algorithms"
	"github.com/go-kale/kale/internal/nab"
	"github.com/go-kale/kale/internal/progress"
	"github.com/go-kale/kale/internal/replay"
)

// replayCmd runs a profile over recorded series point by point, as the
// streaming analyzer would see them, and writes one row per input row:
// timestamp, value, anomaly_score, alert, exception.
func replayCmd(args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("kale replay", flag.ContinueOnError)
	fset.SetOutput(stderr)
	in := fset.String("in", "", "a CSV file (timestamp,value; UNIX seconds or YYYY-MM-DD HH:MM:SS), or a directory of them")
	out := fset.String("out", "", "directory for the results, one CSV per input file (same relative path)")
	profile := fset.String("profile", "default", "classic or default")
	fullDuration, suppress := profileSettingFlags(fset)
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return exitUsage
	}
	if *in == "" || *out == "" {
		fmt.Fprintln(stderr, "kale replay: --in and --out are required")
		return exitUsage
	}
	settings, err := resolveSettings(*profile, fullDuration, suppress)
	if err != nil {
		fmt.Fprintf(stderr, "kale replay: %v\n", err)
		return exitUsage
	}
	if err := separateDirs(*in, *out); err != nil {
		fmt.Fprintf(stderr, "kale replay: %v\n", err)
		return exitUsage
	}
	e, err := algorithms.Profile(*profile, int64(settings.History.Seconds()))
	if err != nil {
		fmt.Fprintf(stderr, "kale replay: %v\n", err)
		return exitUsage
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "kale replay: %v\n", err)
		return 1
	}
	files, root, err := csvFiles(*in)
	if err != nil {
		return fail(err)
	}
	opt := replayOptions(settings)
	prog := progress.New(stderr, "files", int64(len(files)))
	var rows []replay.Row
	alerts, total := 0, 0
	for i, path := range files {
		t, v, err := readSeriesCSV(path)
		if err != nil {
			return fail(err)
		}
		rows = replay.Run(e, t, v, opt, rows)
		rel, _ := filepath.Rel(root, path)
		dst := filepath.Join(*out, rel)
		if err := writeReplay(dst, t, v, rows); err != nil {
			return fail(err)
		}
		for _, r := range rows {
			if r.Alert {
				alerts++
			}
		}
		total += len(rows)
		prog.Update(int64(i + 1))
	}
	prog.Done(int64(len(files)))
	fmt.Fprintf(stdout, "replayed %d files, %d rows, %d alerts, profile %s, history %v, alert expiration %v, into %s\n",
		len(files), total, alerts, *profile, settings.History, settings.AlertExpiration, *out)
	return 0
}

// csvFiles returns the CSV files named by in (a file, or every *.csv below a
// directory, sorted) and the root their output paths are relative to.
func csvFiles(in string) ([]string, string, error) {
	st, err := os.Stat(in)
	if err != nil {
		return nil, "", err
	}
	if !st.IsDir() {
		return []string{in}, filepath.Dir(in), nil
	}
	var files []string
	err = filepath.WalkDir(in, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.EqualFold(filepath.Ext(p), ".csv") {
			files = append(files, p)
		}
		return err
	})
	if err == nil && len(files) == 0 {
		err = fmt.Errorf("no .csv files under %s", in)
	}
	return files, in, err
}

// readSeriesCSV reads a CSV with columns timestamp and value (named in a
// header row; other columns are ignored). Timestamps are UNIX seconds
// (integer or decimal) or NAB's "YYYY-MM-DD HH:MM:SS" (UTC).
func readSeriesCSV(path string) ([]int64, []float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(f))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: cannot read the header: %w", path, err)
	}
	ti, vi := -1, -1
	for i, h := range header {
		switch strings.ToLower(strings.TrimSpace(h)) {
		case "timestamp":
			ti = i
		case "value":
			vi = i
		}
	}
	if ti < 0 || vi < 0 {
		return nil, nil, fmt.Errorf("%s: the header must name the columns timestamp and value, got %q", path, header)
	}
	var t []int64
	var v []float64
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(rec) <= max(ti, vi) {
			return nil, nil, fmt.Errorf("%s:%d: want columns timestamp and value", path, line)
		}
		ts, err := parseTimestamp(strings.TrimSpace(rec[ti]))
		if err != nil {
			return nil, nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		x, err := strconv.ParseFloat(strings.TrimSpace(rec[vi]), 64)
		if err != nil {
			return nil, nil, fmt.Errorf("%s:%d: value %q is not a number", path, line, rec[vi])
		}
		t, v = append(t, ts), append(v, x)
	}
	if len(t) == 0 {
		return nil, nil, fmt.Errorf("%s: no rows", path)
	}
	return t, v, nil
}

func parseTimestamp(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f > -9.2e18 && f < 9.2e18 {
		return int64(f), nil
	}
	ts, err := nab.ParseTime(s)
	if err != nil {
		return 0, fmt.Errorf("timestamp %q: want UNIX seconds or YYYY-MM-DD HH:MM:SS", s)
	}
	return ts, nil
}

func writeReplay(path string, t []int64, v []float64, rows []replay.Row) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	w.WriteString("timestamp,value,anomaly_score,alert,exception\n")
	var b []byte
	for i, r := range rows {
		b = strconv.AppendInt(b[:0], t[i], 10)
		b = append(b, ',')
		b = strconv.AppendFloat(b, v[i], 'g', -1, 64)
		b = append(b, ',')
		b = strconv.AppendFloat(b, r.Score, 'g', 6, 64)
		b = append(b, ',')
		b = strconv.AppendBool(b, r.Alert)
		b = append(b, ',')
		b = append(b, exceptionName(r.Err)...)
		b = append(b, '\n')
		w.Write(b)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// exceptionName is the short name of why a row was not judged, for the
// exception column: Skyline's exception names, or "" when it was judged.
func exceptionName(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, algorithms.ErrSkylineRaised):
		return "SkylineRaised"
	}
	return err.Error() // TooShort, Stale, Boring, NotFinite
}

// separateDirs refuses an output directory that would overwrite the input
// (the input file's own directory) or be read back as input (inside it).
func separateDirs(in, out string) error {
	src, err := filepath.Abs(in)
	if err != nil {
		return err
	}
	if st, err := os.Stat(src); err == nil && !st.IsDir() {
		src = filepath.Dir(src)
	}
	dst, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	if rel, err := filepath.Rel(src, dst); err == nil && (rel == "." || !strings.HasPrefix(rel, "..")) {
		return fmt.Errorf("--out %s is inside the input directory %s: results would overwrite or be read as input; choose another directory", out, src)
	}
	return nil
}

// autoDuration is a duration flag whose default, "auto", means the
// profile's own setting (algorithms.ProfileSettings).
type autoDuration struct {
	d   time.Duration
	set bool
}

func (a *autoDuration) String() string {
	if a == nil || !a.set {
		return "auto"
	}
	return a.d.String()
}

func (a *autoDuration) Set(s string) error {
	if s == "auto" {
		*a = autoDuration{}
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return errors.New(`want a duration such as 36h or 30m, or "auto"`)
	}
	*a = autoDuration{d: d, set: true}
	return nil
}

// profileSettingFlags defines --full-duration and --suppress on fs, the
// analyzer settings replay and bench nab share.
func profileSettingFlags(fs *flag.FlagSet) (fullDuration, suppress *autoDuration) {
	fullDuration, suppress = new(autoDuration), new(autoDuration)
	fs.Var(fullDuration, "full-duration", "history the analyzer sees (store.full_duration): a `duration`, or auto = the profile's: "+
		"7 days for default, Skyline's 24h for classic")
	fs.Var(suppress, "suppress", "no repeat alert for a metric within this period (the alert rule's expiration): a `duration`, or auto = the profile's: "+
		"12h for default, 1h for classic")
	return fullDuration, suppress
}

// resolveSettings applies the flags over the profile's own settings.
func resolveSettings(profile string, fullDuration, suppress *autoDuration) (algorithms.Settings, error) {
	s, err := algorithms.ProfileSettings(profile)
	if err != nil {
		return s, err
	}
	if fullDuration.set {
		s.History = fullDuration.d
	}
	if suppress.set {
		s.AlertExpiration = suppress.d
	}
	if s.History < time.Second || s.AlertExpiration < 0 {
		return s, errors.New("--full-duration must be at least 1s and --suppress at least 0")
	}
	return s, nil
}

func replayOptions(s algorithms.Settings) replay.Options {
	return replay.Options{FullDuration: int64(s.History / time.Second), SuppressFor: int64(s.AlertExpiration / time.Second)}
}
