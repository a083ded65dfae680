//go:build !unix

package oculus

import "time"

// cpuTime is 0 where getrusage does not exist: the benchmark's cpu-ms/op
// then reads 0.
func cpuTime() time.Duration { return 0 }
