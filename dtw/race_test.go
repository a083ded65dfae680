//go:build race

package dtw

// raceEnabled reports whether the race detector is on; the accuracy test
// then skips its slowest row.
const raceEnabled = true
