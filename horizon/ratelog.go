package horizon

import (
	"log/slog"
	"sync"
	"time"
)

// rateLog logs at most one line per key per interval and reports how many
// lines it suppressed in between, so bad input cannot flood the log.
type rateLog struct {
	logger   *slog.Logger
	interval time.Duration

	mu   sync.Mutex
	keys map[string]*rateState
}

type rateState struct {
	last       time.Time
	suppressed int
}

func newRateLog(logger *slog.Logger, interval time.Duration) *rateLog {
	return &rateLog{logger: logger, interval: interval, keys: make(map[string]*rateState)}
}

// Warn logs msg with args unless a line with the same key was logged less
// than the interval ago.
func (r *rateLog) Warn(key, msg string, args ...any) {
	now := time.Now()
	r.mu.Lock()
	st, ok := r.keys[key]
	if !ok {
		if len(r.keys) > 10000 { // keys are few (listener x reason); never grow without bound
			clear(r.keys)
		}
		st = &rateState{}
		r.keys[key] = st
	}
	if ok && now.Sub(st.last) < r.interval {
		st.suppressed++
		r.mu.Unlock()
		return
	}
	suppressed := st.suppressed
	st.last, st.suppressed = now, 0
	r.mu.Unlock()
	if suppressed > 0 {
		args = append(args, "suppressed_since_last", suppressed)
	}
	r.logger.Warn(msg, args...)
}
