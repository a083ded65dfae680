package horizon

import (
	"math"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-kale/kale/internal/series"
)

// filter decides whether a parsed sample is stored. It is safe for
// concurrent use.
type filter struct {
	maxAge, maxFuture int64 // seconds; 0 = off
	maxNameLength     int
	skip, doNotSkip   []pattern

	mu    sync.RWMutex
	cache map[string]bool // name -> skipped; only used with a skip list
}

// maxSkipCache bounds the skip decision cache; it is emptied when full.
const maxSkipCache = 1 << 20

// pattern is one skip-list entry, matched the way earthgecko Skyline's
// matched_or_regexed_in_list does for SKIP_LIST (without its regex step):
// the entry matches a name if it is a substring of the name, or if every
// dot-separated element of the entry is among the name's elements.
type pattern struct {
	text     string
	elements []string
}

func newPatterns(entries []string) []pattern {
	out := make([]pattern, 0, len(entries))
	for _, e := range entries {
		out = append(out, pattern{text: e, elements: strings.Split(e, ".")})
	}
	return out
}

func (p pattern) match(name string, nameElements map[string]struct{}) bool {
	if strings.Contains(name, p.text) {
		return true
	}
	for _, e := range p.elements {
		if _, ok := nameElements[e]; !ok {
			return false
		}
	}
	return true
}

func newFilter(c FilterConfig) *filter {
	return &filter{
		maxAge:        int64(c.MaxAge / time.Second),
		maxFuture:     int64(c.MaxFuture / time.Second),
		maxNameLength: c.MaxNameLength,
		skip:          newPatterns(c.SkipList),
		doNotSkip:     newPatterns(c.DoNotSkipList),
		cache:         make(map[string]bool),
	}
}

// check returns "" when s is to be stored, or why not. now is UNIX seconds.
func (f *filter) check(s *series.Sample, now int64) Reason {
	switch {
	case s.Name == "":
		return ReasonEmptyName
	case len(s.Name) > f.maxNameLength:
		return ReasonLongName
	case !validName(s.Name):
		return ReasonBadName
	case math.IsNaN(s.Value):
		return ReasonNaN
	case math.IsInf(s.Value, 0):
		return ReasonInf
	case f.maxAge > 0 && s.Timestamp < now-f.maxAge:
		return ReasonTooOld
	case f.maxFuture > 0 && s.Timestamp > now+f.maxFuture:
		return ReasonFuture
	case len(f.skip) > 0 && f.skipped(s.Name):
		return ReasonSkipped
	}
	return ""
}

// validName reports whether name is UTF-8 without control or space
// characters: such names cannot be written back in Graphite's line protocol.
func validName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= utf8.RuneSelf {
			return validUnicodeName(name[i:])
		}
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

func validUnicodeName(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == utf8.RuneError {
			return false
		}
	}
	return true
}

func (f *filter) skipped(name string) bool {
	f.mu.RLock()
	v, ok := f.cache[name]
	f.mu.RUnlock()
	if ok {
		return v
	}
	elements := make(map[string]struct{})
	for _, e := range strings.Split(name, ".") {
		elements[e] = struct{}{}
	}
	v = matchAny(f.skip, name, elements) && !matchAny(f.doNotSkip, name, elements)
	f.mu.Lock()
	if len(f.cache) >= maxSkipCache {
		clear(f.cache)
	}
	f.cache[name] = v
	f.mu.Unlock()
	return v
}

func matchAny(ps []pattern, name string, elements map[string]struct{}) bool {
	for _, p := range ps {
		if p.match(name, elements) {
			return true
		}
	}
	return false
}
