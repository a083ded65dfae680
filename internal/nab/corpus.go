package nab

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Window is an inclusive anomaly window: both ends are timestamps (UNIX
// seconds) of rows of its data file.
type Window struct {
	Start, End int64
}

// File is one data file of the corpus.
type File struct {
	// Name is the file's path relative to the data directory with forward
	// slashes, as in the windows file: "<category>/<name>.csv".
	Name string
	// Timestamps and Values hold every row of the file in file order
	// (UNIX seconds; repeated and backwards timestamps are kept).
	Timestamps []int64
	Values     []float64
	// Windows are the file's anomaly windows in the windows file's order.
	Windows []Window
	// Probation is the number of leading rows that are not scored:
	// min(floor(0.15·rows), 750), as NAB computes it.
	Probation int
}

// Category returns the directory part of the file's name ("realTweets").
func (f *File) Category() string { return path.Dir(f.Name) }

// Base returns the file name without its category ("Twitter_volume_AAPL.csv").
func (f *File) Base() string { return path.Base(f.Name) }

// Corpus is a loaded NAB corpus with the per-row scoring weights precomputed.
// It is immutable once loaded and safe for concurrent use.
type Corpus struct {
	// Files holds the corpus's files sorted by Name.
	Files []*File

	byName  map[string]int
	windows int // windows in the windows file (the perfect detector's TPs)

	// Per-row data of all files concatenated in Files order; file k's rows
	// are [off[k], off[k+1]).
	off []int
	u   []float64 // NAB's unweighted scaled-sigmoid value of the row
	win []int32   // global window index of the row, rowOutside or rowProbation

	winFile   []int32 // file index of each global window
	winScored []bool  // whether the window has at least one scored row
	scored    int     // number of windows with scored rows
}

const (
	rowOutside   = -1 // scored row outside every window
	rowProbation = -2 // row in the probationary period (not scored)

	probationPercent = 0.15
)

// LoadCorpus reads the windows file at labelsPath (NAB's
// labels/combined_windows.json format) and every data file it names from
// dataDir. The corpus is exactly the files named in the windows file; a named
// file that is missing or unreadable, a window end that is not a timestamp of
// its file, or a window NAB's row walk would not reach is an error.
func LoadCorpus(dataDir, labelsPath string) (*Corpus, error) {
	lf, err := os.Open(labelsPath)
	if err != nil {
		return nil, fmt.Errorf("cannot load corpus: %w", err)
	}
	defer lf.Close()
	windows, err := ParseWindows(lf)
	if err != nil {
		return nil, fmt.Errorf("cannot load corpus: %s: %w", labelsPath, err)
	}
	names := make([]string, 0, len(windows))
	for name := range windows {
		names = append(names, name)
	}
	slices.Sort(names)
	files := make([]*File, 0, len(names))
	for _, name := range names {
		if !filepath.IsLocal(filepath.FromSlash(name)) || path.Clean(name) != name || !strings.HasSuffix(name, ".csv") {
			return nil, fmt.Errorf("cannot load corpus: %s: file name %q is not a relative path to a .csv file: %w", labelsPath, name, ErrFormat)
		}
		p := filepath.Join(dataDir, filepath.FromSlash(name))
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("cannot load corpus: %w", err)
		}
		ts, vs, err := ReadData(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("cannot load corpus: %s: %w", p, err)
		}
		files = append(files, &File{Name: name, Timestamps: ts, Values: vs, Windows: windows[name]})
	}
	return NewCorpus(files)
}

// NewCorpus builds a corpus from files already in memory (Name, Timestamps,
// Values and Windows set; Probation is computed). Names must be distinct. The
// files are sorted by Name and must not be modified afterwards.
func NewCorpus(files []*File) (*Corpus, error) {
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b *File) int { return strings.Compare(a.Name, b.Name) })
	c := &Corpus{Files: files, byName: make(map[string]int, len(files)), off: make([]int, 1, len(files)+1)}
	rows := 0
	for k, f := range files {
		if _, dup := c.byName[f.Name]; dup {
			return nil, fmt.Errorf("cannot build corpus: file %q twice: %w", f.Name, ErrFormat)
		}
		if len(f.Timestamps) != len(f.Values) {
			return nil, fmt.Errorf("cannot build corpus: %s: %d timestamps, %d values: %w", f.Name, len(f.Timestamps), len(f.Values), ErrFormat)
		}
		c.byName[f.Name] = k
		rows += len(f.Timestamps)
		c.off = append(c.off, rows)
		c.windows += len(f.Windows)
	}
	c.u = make([]float64, rows)
	c.win = make([]int32, rows)
	for k, f := range files {
		f.Probation = probationLength(len(f.Timestamps))
		first := int32(len(c.winFile))
		for range f.Windows {
			c.winFile = append(c.winFile, int32(k))
			c.winScored = append(c.winScored, false)
		}
		lo, hi := c.off[k], c.off[k+1]
		if err := sweepRows(f, first, c.u[lo:hi], c.win[lo:hi]); err != nil {
			return nil, fmt.Errorf("cannot build corpus: %s: %w", f.Name, err)
		}
	}
	for _, w := range c.win {
		if w >= 0 && !c.winScored[w] {
			c.winScored[w] = true
			c.scored++
		}
	}
	return c, nil
}

// File returns the corpus file with that name ("<category>/<name>.csv").
func (c *Corpus) File(name string) (*File, bool) {
	k, ok := c.byName[name]
	if !ok {
		return nil, false
	}
	return c.Files[k], true
}

// Windows returns the number of anomaly windows in the corpus's windows file
// (116 for NAB v1.1).
func (c *Corpus) Windows() int { return c.windows }

// Rows returns the number of data rows of the corpus.
func (c *Corpus) Rows() int { return len(c.u) }

// NullScore returns the raw score of a detector that never fires under
// profile p: −A_FN for each window with at least one scored row. It is the
// null point of Normalize.
func (c *Corpus) NullScore(p Profile) float64 { return -p.FN * float64(c.scored) }

// PerfectScore returns the raw score NAB credits to a perfect detector under
// profile p: A_TP times the number of windows in the windows file.
func (c *Corpus) PerfectScore(p Profile) float64 { return p.TP * float64(c.windows) }

// Normalize maps a raw corpus score onto NAB's 0-100 scale:
// 100·(raw − null)/(perfect − null). It returns NaN when perfect == null.
func Normalize(raw, null, perfect float64) float64 {
	if perfect == null {
		return math.NaN()
	}
	return 100 * (raw - null) / (perfect - null)
}

// ParseWindows reads a windows file: a JSON object mapping
// "<category>/<name>.csv" to a list of [start, end] timestamp pairs
// ("YYYY-MM-DD HH:MM:SS.ffffff", zero fraction). A window must not end before
// it starts.
func ParseWindows(r io.Reader) (map[string][]Window, error) {
	var raw map[string][][]string
	dec := json.NewDecoder(r)
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("cannot parse windows: %w: %w", err, ErrFormat)
	}
	if dec.More() {
		return nil, fmt.Errorf("cannot parse windows: data after the JSON object: %w", ErrFormat)
	}
	if raw == nil {
		return nil, fmt.Errorf("cannot parse windows: want a JSON object: %w", ErrFormat)
	}
	out := make(map[string][]Window, len(raw))
	for name, pairs := range raw {
		ws := make([]Window, 0, len(pairs))
		for i, p := range pairs {
			if len(p) != 2 {
				return nil, fmt.Errorf("cannot parse windows: %s window %d: want [start, end], got %d values: %w", name, i, len(p), ErrFormat)
			}
			s, err := ParseTime(p[0])
			if err != nil {
				return nil, fmt.Errorf("cannot parse windows: %s window %d: %w", name, i, err)
			}
			e, err := ParseTime(p[1])
			if err != nil {
				return nil, fmt.Errorf("cannot parse windows: %s window %d: %w", name, i, err)
			}
			if e < s {
				return nil, fmt.Errorf("cannot parse windows: %s window %d ends before it starts: %w", name, i, ErrFormat)
			}
			ws = append(ws, Window{Start: s, End: e})
		}
		out[name] = ws
	}
	return out, nil
}

// probationLength is NAB's min(floor(0.15·n), 0.15·5000).
func probationLength(n int) int {
	return int(math.Min(math.Floor(probationPercent*float64(n)), probationPercent*5000))
}

// scaledSigmoid is NAB's reward curve: 2·sigmoid(−5x) − 1, and −1 for x > 3.
func scaledSigmoid(x float64) float64 {
	if x > 3 {
		return -1
	}
	return 2*(1/(1+math.Exp(5*x))) - 1
}

// maxTP is scaledSigmoid(−1), the value of a detection at a window's first
// row; NAB divides TP values by it so that such a detection earns A_TP.
var maxTP = scaledSigmoid(-1)

// sweepRows walks a file's rows as NAB's Sweeper.calcSweepScore does and
// fills, for each row, its unweighted sigmoid value u and its window (global
// index first+k), rowOutside or rowProbation.
func sweepRows(f *File, first int32, u []float64, win []int32) error {
	ts := f.Timestamps
	firstIndex := func(t int64) int { return slices.Index(ts, t) }
	next := 0
	in := false
	var cur Window
	var curW int32
	curRight, curWidth := 0, 0
	prevRight, prevWidth := -1, 0
	for i, t := range ts {
		if next < len(f.Windows) && t == f.Windows[next].Start {
			cur = f.Windows[next]
			curRight = firstIndex(cur.End)
			if curRight < 0 {
				return fmt.Errorf("window %d (%s, %s): end is not a timestamp of the file: %w", next, FormatTime(cur.Start), FormatTime(cur.End), ErrWindow)
			}
			curWidth = curRight - firstIndex(cur.Start) + 1
			if curWidth < 2 {
				return fmt.Errorf("window %d (%s, %s): %d rows wide, want at least 2: %w", next, FormatTime(cur.Start), FormatTime(cur.End), curWidth, ErrWindow)
			}
			curW = first + int32(next)
			next++
			in = true
		}
		if in {
			u[i] = scaledSigmoid(-float64(curRight-i+1) / float64(curWidth))
			win[i] = curW
		} else {
			if prevRight < 0 {
				u[i] = -1
			} else {
				d := prevRight - i
				if d < 0 {
					d = -d
				}
				u[i] = scaledSigmoid(float64(d) / float64(prevWidth-1))
			}
			win[i] = rowOutside
		}
		if i < f.Probation {
			win[i] = rowProbation
		}
		if in && t == cur.End {
			prevRight, prevWidth = i, curWidth
			in = false
		}
	}
	if next < len(f.Windows) {
		w := f.Windows[next]
		return fmt.Errorf("window %d (%s, %s): no row starts it in row order: %w", next, FormatTime(w.Start), FormatTime(w.End), ErrWindow)
	}
	return nil
}
