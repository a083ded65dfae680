// Package oculus finds the metrics that moved with a metric, as Etsy's
// Oculus did: an importer shapes every metric's recent window (resampled
// to a fixed grid, fingerprinted with Oculus's words, scaled to 0..25) into
// an Index generation swapped in whole; a Searcher asks the index for
// candidates and ranks them by FastDTW within a Sakoe-Chiba band, after
// LB_Keogh and abandoned exact DTW have pruned those that cannot enter.
// Collections (named sets of metrics with their shapes) are kept by the
// index and listed with every search they resemble.
//
// The embedded index (NewEmbedded) is the default; the Elasticsearch
// backend is not built yet. docs/oculus.md describes the design, the
// deliberate differences from Oculus and the measured figures.
package oculus
