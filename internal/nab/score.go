package nab

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Results holds a detector's anomaly scores: for each corpus file name
// ("<category>/<name>.csv") one score in [0, 1] per data row, in row order.
type Results map[string][]float64

// Counts are NAB's row counts over the scored (non-probationary) rows: rows
// in windows detected (TP) or not (FN), rows outside windows detected (FP) or
// not (TN); and how many windows with scored rows were detected.
type Counts struct {
	TP, FP, FN, TN  int
	WindowsDetected int
	Windows         int
}

// FileScore is one file's share of a Report.
type FileScore struct {
	Name string
	Raw  float64
	Counts
}

// Report is a detector's NAB score under one profile at one threshold.
type Report struct {
	Profile   Profile
	Threshold float64 // a row is a detection when its score ≥ Threshold
	// Raw is the corpus raw score (sum of the files' raw scores); Normalized
	// is Normalize(Raw, Null, Perfect).
	Raw, Null, Perfect, Normalized float64
	Counts
	Files []FileScore // in corpus order
}

// flatten checks r against the corpus and returns its scores concatenated in
// corpus row order.
func (c *Corpus) flatten(r Results) ([]float64, error) {
	for name := range r {
		if _, ok := c.byName[name]; !ok {
			return nil, fmt.Errorf("results for %q, which is not a corpus file: %w", name, ErrMismatch)
		}
	}
	out := make([]float64, len(c.u))
	for k, f := range c.Files {
		s, ok := r[f.Name]
		if !ok {
			return nil, fmt.Errorf("no results for %s: %w", f.Name, ErrMismatch)
		}
		if len(s) != len(f.Timestamps) {
			return nil, fmt.Errorf("%s: %d anomaly scores for %d data rows: %w", f.Name, len(s), len(f.Timestamps), ErrMismatch)
		}
		for i, v := range s {
			if !(v >= 0 && v <= 1) {
				return nil, fmt.Errorf("%s row %d: anomaly score %v outside [0, 1]: %w", f.Name, i, v, ErrMismatch)
			}
		}
		copy(out[c.off[k]:], s)
	}
	return out, nil
}

// Score scores results r on corpus c under profile p with a fixed threshold
// (a row is a detection when its anomaly score ≥ threshold), as NAB's
// scorer.scoreCorpus does: the sum of the files' raw scores, with counts and
// the normalised score. Results must hold every corpus file and no other,
// each with one score in [0, 1] per row; otherwise the error wraps
// ErrMismatch.
func Score(c *Corpus, r Results, p Profile, threshold float64) (Report, error) {
	scores, err := c.flatten(r)
	if err != nil {
		return Report{}, fmt.Errorf("cannot score: %w", err)
	}
	return c.score(scores, p, threshold), nil
}

func (c *Corpus) score(scores []float64, p Profile, threshold float64) Report {
	rep := Report{Profile: p, Threshold: threshold, Null: c.NullScore(p), Perfect: c.PerfectScore(p),
		Files: make([]FileScore, len(c.Files))}
	best := make([]float64, len(c.winFile))
	detected := make([]bool, len(c.winFile))
	for w := range best {
		best[w] = -p.FN
	}
	for k, f := range c.Files {
		fs := FileScore{Name: f.Name}
		fp := 0.0
		for g := c.off[k]; g < c.off[k+1]; g++ {
			w := c.win[g]
			if w == rowProbation {
				continue
			}
			hit := scores[g] >= threshold
			switch {
			case w >= 0 && hit:
				fs.TP++
				detected[w] = true
				if v := c.u[g] * p.TP / maxTP; v > best[w] {
					best[w] = v
				}
			case w >= 0:
				fs.FN++
			case hit:
				fs.FP++
				fp += c.u[g] * p.FP
			default:
				fs.TN++
			}
		}
		fs.Raw = fp
		for w, wf := range c.winFile {
			if int(wf) != k || !c.winScored[w] {
				continue
			}
			fs.Raw += best[w]
			fs.Windows++
			if detected[w] {
				fs.WindowsDetected++
			}
		}
		rep.Files[k] = fs
		rep.Raw += fs.Raw
		rep.TP += fs.TP
		rep.FP += fs.FP
		rep.FN += fs.FN
		rep.TN += fs.TN
		rep.Windows += fs.Windows
		rep.WindowsDetected += fs.WindowsDetected
	}
	rep.Normalized = Normalize(rep.Raw, rep.Null, rep.Perfect)
	return rep
}

// Optimize finds the threshold that maximises the corpus raw score of
// results r under profile p, as NAB's optimizer does, and returns the Report
// at that threshold. The candidates are NAB's starting threshold 1.1 (no
// detection) and every distinct anomaly score of a scored row; among equal
// scores the highest threshold wins. Errors are those of Score.
func Optimize(c *Corpus, r Results, p Profile) (Report, error) {
	reps, err := OptimizeAll(c, r, p)
	if err != nil {
		return Report{}, err
	}
	return reps[0], nil
}

// OptimizeAll is Optimize for several profiles (NAB's three when none are
// given), sorting the rows once; reports are in profile order.
func OptimizeAll(c *Corpus, r Results, profiles ...Profile) ([]Report, error) {
	if len(profiles) == 0 {
		profiles = Profiles()
	}
	scores, err := c.flatten(r)
	if err != nil {
		return nil, fmt.Errorf("cannot optimise: %w", err)
	}
	order := c.sortedRows(scores)
	reps := make([]Report, len(profiles))
	for i, p := range profiles {
		threshold, _ := c.sweep(order, p)
		reps[i] = c.score(scores, p, threshold)
	}
	return reps, nil
}

// scoredRow is a scored row's anomaly score and global row index.
type scoredRow struct {
	score float64
	row   int32
}

// sortedRows returns the scored rows by anomaly score, highest first, ties
// in row order (NAB's stable sort).
func (c *Corpus) sortedRows(scores []float64) []scoredRow {
	rows := make([]scoredRow, 0, len(scores))
	for g, w := range c.win {
		if w != rowProbation {
			rows = append(rows, scoredRow{scores[g], int32(g)})
		}
	}
	slices.SortFunc(rows, func(a, b scoredRow) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return cmp.Compare(a.row, b.row)
	})
	return rows
}

// startThreshold is NAB's first sweep threshold, above every anomaly score.
const startThreshold = 1.1

// sweepBest returns the best corpus raw score found by sweep.
func (c *Corpus) sweepBest(order []scoredRow, p Profile) float64 {
	_, s := c.sweep(order, p)
	return s
}

// sweep is NAB's Sweeper.calcScoreByThreshold over the whole corpus followed
// by the optimizer's choice: it returns the threshold with the highest corpus
// raw score, and that score.
func (c *Corpus) sweep(order []scoredRow, p Profile) (threshold, raw float64) {
	best := make([]float64, len(c.winFile))
	winSum := 0.0
	for w := range best {
		best[w] = -p.FN
		if c.winScored[w] {
			winSum -= p.FN
		}
	}
	fp := 0.0
	cur := startThreshold
	bestScore, bestThreshold := math.Inf(-1), startThreshold
	for _, e := range order {
		if e.score != cur {
			if s := fp + winSum; s > bestScore {
				bestScore, bestThreshold = s, cur
			}
			cur = e.score
		}
		g := e.row
		if w := c.win[g]; w >= 0 {
			if v := c.u[g] * p.TP / maxTP; v > best[w] {
				winSum += v - best[w]
				best[w] = v
			}
		} else {
			fp += c.u[g] * p.FP
		}
	}
	if s := fp + winSum; s > bestScore {
		bestScore, bestThreshold = s, cur
	}
	return bestThreshold, bestScore
}
