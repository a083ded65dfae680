package nab

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ResultPath returns the path of file f's result file under dir: NAB's
// layout dir/<category>/<detector>_<name>.csv when detector is not empty,
// Kale's dir/<category>/<name>.csv when it is.
func ResultPath(dir, detector string, f *File) string {
	base := f.Base()
	if detector != "" {
		base = detector + "_" + base
	}
	return filepath.Join(dir, filepath.FromSlash(f.Category()), base)
}

// LoadResults reads a detector's result file for every file of corpus c from
// dir. With a detector name it looks for NAB's layout
// (<category>/<detector>_<name>.csv) first and Kale's (<category>/<name>.csv)
// second; with an empty name, Kale's layout only. Each file must have one row
// per data row; when it has a timestamp column, every timestamp must equal the
// data row's (errors wrap ErrMismatch). Files in dir that belong to no corpus
// file are not read.
func LoadResults(dir, detector string, c *Corpus) (Results, error) {
	r := make(Results, len(c.Files))
	for _, f := range c.Files {
		paths := []string{ResultPath(dir, detector, f)}
		if detector != "" {
			paths = append(paths, ResultPath(dir, "", f))
		}
		var (
			h   *os.File
			err error
		)
		for _, p := range paths {
			if h, err = os.Open(p); err == nil || !errors.Is(err, fs.ErrNotExist) {
				break
			}
		}
		if err != nil {
			return nil, fmt.Errorf("cannot load results: %w", err)
		}
		ts, scores, err := ReadScores(h)
		name := h.Name()
		h.Close()
		if err != nil {
			return nil, fmt.Errorf("cannot load results: %s: %w", name, err)
		}
		if len(scores) != len(f.Timestamps) {
			return nil, fmt.Errorf("cannot load results: %s: %d rows for %d data rows: %w", name, len(scores), len(f.Timestamps), ErrMismatch)
		}
		for i, t := range ts {
			if t != f.Timestamps[i] {
				return nil, fmt.Errorf("cannot load results: %s line %d: timestamp %s, data row has %s: %w",
					name, i+2, FormatTime(t), FormatTime(f.Timestamps[i]), ErrMismatch)
			}
		}
		r[f.Name] = scores
	}
	return r, nil
}

// WriteResults writes r as one result file per corpus file under dir, in
// NAB's layout when detector is not empty and Kale's when it is (see
// ResultPath), with the columns timestamp,anomaly_score and the data file's
// timestamps. r must fit the corpus as for Score. Directories are created as
// needed; existing files are replaced.
func WriteResults(dir, detector string, c *Corpus, r Results) error {
	if _, err := c.flatten(r); err != nil {
		return fmt.Errorf("cannot write results: %w", err)
	}
	for _, f := range c.Files {
		p := ResultPath(dir, detector, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("cannot write results: %w", err)
		}
		h, err := os.Create(p)
		if err != nil {
			return fmt.Errorf("cannot write results: %w", err)
		}
		err = WriteScores(h, f.Timestamps, r[f.Name])
		if cerr := h.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("cannot write results: %w", cerr)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return nil
}
