// Package nab scores anomaly detectors on the Numenta Anomaly Benchmark
// (NAB v1.1) exactly as NAB's own scorer does (nab/sweeper.py,
// nab/optimizer.py, nab/scorer.py and the normalisation in nab/runner.py of
// github.com/numenta/NAB), so that Kale's scores can be compared with the
// published scoreboard.
//
// # Corpus
//
// A corpus is the set of data files named by a windows file
// (labels/combined_windows.json): each data file is a CSV with header
// timestamp,value and one row per point. Rows are kept exactly as they are, in
// file order: repeated and backwards timestamps stay (one detector output row
// per input row). Each file has a list of inclusive anomaly windows
// [start, end] whose ends are timestamps of rows in the file.
//
// # Scoring (NAB's sweeper)
//
// Let n be the number of rows of a file. The first
// P = min(floor(0.15·n), 750) rows are the probationary period and are not
// scored at all. Every other row i gets a weight from the scaled sigmoid
//
//	σ(x) = 2/(1+e^(5x)) − 1   for x ≤ 3,   σ(x) = −1 for x > 3
//
// of a relative position x, computed as NAB does while walking the rows in
// order:
//
//   - A window is entered at the row whose timestamp equals its start (windows
//     are taken in order) and left after the row whose timestamp equals its
//     end. With R the index of the first row of the file carrying the end
//     timestamp and W = R − (index of the first row carrying the start) + 1
//     the window width, a row i inside the window has x = −(R − i + 1)/W (−1 at
//     the window's first row, −1/W at its last) and is worth
//     A_TP · σ(x)/σ(−1) when detected: about +A_TP at the start, near 0 at the
//     end.
//   - A row outside every window with no window before it has σ = −1. After a
//     window with last row R' and width W' it has x = |R' − i|/(W' − 1) and costs
//     A_FP · σ(x) (negative; close to 0 just after the window).
//
// A row is a detection when its anomaly score is ≥ the threshold. A file's raw
// score is the sum of A_FP·σ over its detections outside windows plus, for
// each window that has at least one scored row, the largest detected TP value
// in it (that of its earliest detection, since the TP value falls along the
// window) or −A_FN when nothing in it was detected. The corpus raw score is
// the sum over files; the counts TP, FP, FN, TN are NAB's row counts (rows in
// windows detected / missed, rows outside detected / not).
//
// # Threshold optimisation (NAB's optimizer)
//
// One threshold per profile is used for the whole corpus. Optimize sweeps all
// distinct anomaly scores of the scored rows of the corpus from the highest
// down, plus NAB's starting threshold 1.1 (no detection), and keeps the
// threshold with the highest corpus raw score (the highest threshold among
// equal scores, as NAB's stable sort does).
//
// # Normalisation (NAB's runner)
//
// normalised = 100 · (raw − null)/(perfect − null), where null is the raw
// score of a detector that never fires (−A_FN per scored window) and perfect
// is A_TP times the number of windows in the windows file. A detector that
// never fires scores 0 and a perfect one 100.
//
// # Profiles
//
// NAB's config/profiles.json: standard (A_TP 1, A_FP 0.11, A_FN 1, A_TN 1),
// reward_low_FP_rate (1, 0.22, 1, 1), reward_low_FN_rate (1, 0.11, 2, 1).
// A_TN is carried for completeness; NAB's scorer gives true negatives no
// weight.
//
// # Result files
//
// Results are read from and written to either of two layouts under a
// directory: NAB's <category>/<detector>_<name>.csv and Kale's
// <category>/<name>.csv (kale bench nab --out). Both have a header row; the
// columns read are anomaly_score (required) and timestamp (optional: when
// present it must equal the data row's timestamp); others such as value,
// label or S(t)_standard are ignored. Written files have the columns
// timestamp,anomaly_score.
package nab
