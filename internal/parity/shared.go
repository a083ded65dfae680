package parity

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// SharedEnv names the environment variable that points at the shared
// directory (the one holding parity/), overriding the search from the
// repository root.
const SharedEnv = "KALE_SHARED"

// CorpusInfo is one shared corpus description (../shared/parity/*.json).
type CorpusInfo struct {
	Format               string  `json:"format"`
	Metrics              int     `json:"metrics"`
	Points               int     `json:"points"`
	T0                   int64   `json:"t0"`
	Step                 int64   `json:"step"`
	Seed                 uint64  `json:"seed"`
	AnomalyFraction      float64 `json:"anomaly_fraction"`
	SHA256Values         string  `json:"sha256_values"`
	SHA256File           string  `json:"sha256_file"`
	TailAnomalousMetrics []int   `json:"tail_anomalous_metrics"`
	Generator            string  `json:"generator"`

	// Path is the .json file this was read from (not part of the file).
	Path string `json:"-"`
}

// Params returns the generator parameters of the corpus.
func (c CorpusInfo) Params() Params {
	return Params{Metrics: c.Metrics, Points: c.Points, T0: c.T0, Step: c.Step, Seed: c.Seed, AnomalyFraction: c.AnomalyFraction}
}

// Name returns the corpus's base name, e.g. "ds_m1000_n60_s60_seed42".
func (c CorpusInfo) Name() string {
	return strings.TrimSuffix(filepath.Base(c.Path), ".json")
}

// VerdictsPath returns the path of the corpus's Skyline verdict file
// (NAME.skyline.jsonl next to the .json).
func (c CorpusInfo) VerdictsPath() string {
	return strings.TrimSuffix(c.Path, ".json") + ".skyline.jsonl"
}

// Check compares s with the corpus's recorded digests and returns an error
// naming each one that differs.
func (c CorpusInfo) Check(s Sums) error {
	var errs []error
	if s.ValuesHex() != c.SHA256Values {
		errs = append(errs, fmt.Errorf("sha256_values %s, want %s (from %s)", s.ValuesHex(), c.SHA256Values, c.Path))
	}
	if s.FileHex() != c.SHA256File {
		errs = append(errs, fmt.Errorf("sha256_file %s, want %s (from %s)", s.FileHex(), c.SHA256File, c.Path))
	}
	return errors.Join(errs...)
}

// ReadCorpusInfo reads one corpus description and checks that its
// parameters are valid.
func ReadCorpusInfo(path string) (CorpusInfo, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return CorpusInfo{}, fmt.Errorf("cannot read corpus description: %w", err)
	}
	var c CorpusInfo
	if err := json.Unmarshal(b, &c); err != nil {
		return CorpusInfo{}, fmt.Errorf("cannot decode %s: %w", path, err)
	}
	c.Path = path
	if err := c.Params().Validate(); err != nil {
		return CorpusInfo{}, fmt.Errorf("cannot use %s: %w", path, err)
	}
	return c, nil
}

// Corpora reads every corpus description (*.json) in dir, sorted by path.
func Corpora(dir string) ([]CorpusInfo, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("cannot list corpora: %w", err)
	}
	slices.Sort(paths)
	out := make([]CorpusInfo, 0, len(paths))
	for _, p := range paths {
		c, err := ReadCorpusInfo(p)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// FindCorpus returns the corpus of dir whose parameters equal p, and
// whether there is one.
func FindCorpus(dir string, p Params) (CorpusInfo, bool, error) {
	cs, err := Corpora(dir)
	if err != nil {
		return CorpusInfo{}, false, err
	}
	for _, c := range cs {
		if c.Params() == p {
			return c, true, nil
		}
	}
	return CorpusInfo{}, false, nil
}

// SharedDir returns the shared parity directory: $KALE_SHARED/parity (or
// $KALE_SHARED itself if it holds the corpora) when the variable is set,
// else ../shared/parity relative to the repository root, the first
// directory holding a go.mod at or above the working directory. The error
// wraps ErrNoShared when neither exists.
func SharedDir() (string, error) {
	if env := os.Getenv(SharedEnv); env != "" {
		for _, d := range []string{filepath.Join(env, "parity"), env} {
			if hasCorpora(d) {
				return d, nil
			}
		}
		return "", fmt.Errorf("%w: %s=%s holds no parity/*.json", ErrNoShared, SharedEnv, env)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("cannot find the repository root: %w", err)
	}
	for dir := wd; ; {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			d := filepath.Join(dir, "..", "shared", "parity")
			if hasCorpora(d) {
				return filepath.Clean(d), nil
			}
			return "", fmt.Errorf("%w: no %s (set %s to the shared directory)", ErrNoShared, filepath.Clean(d), SharedEnv)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("cannot find the repository root: %w", err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%w: no go.mod at or above %s (set %s to the shared directory)", ErrNoShared, wd, SharedEnv)
		}
		dir = parent
	}
}

func hasCorpora(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	return len(m) > 0
}
