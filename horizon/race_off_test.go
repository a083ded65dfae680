//go:build !race

package horizon

const raceEnabled = false
