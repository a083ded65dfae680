// Package algorithms holds Kale's anomaly detectors and the ensemble that
// combines them.
//
// Every detector is a pure function of a series and the analysis time now
// (no wall clock inside): it judges the newest point of the series. The
// series is given as two slices of equal length, timestamps in UNIX seconds
// sorted ascending and values, which the analyzer and replay pass without
// copying. A detector never modifies its inputs and is safe for concurrent
// use; scratch space comes from the caller-owned Scratch so hot loops do not
// allocate.
//
// Each detector documents its maths, the ddof of every standard deviation,
// and its degenerate cases (too short, constant, NaN) in its doc comment.
// Where Etsy's Skyline has a defect, the detector has a classic form that
// reproduces it exactly (for the classic profile and parity with Skyline's
// own verdicts) and a fixed form used by Kale's default profile.
package algorithms
