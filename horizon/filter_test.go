package horizon

import (
	"math"
	"testing"
	"time"

	"github.com/go-kale/kale/internal/series"
)

func TestFilter(t *testing.T) {
	t.Parallel()
	const now = 1_700_000_000
	f := newFilter(FilterConfig{
		SkipList:      []string{"statsd.", "upper", "skyline.horizon"},
		DoNotSkipList: []string{"statsd.numStats", "horizon.run_time.skyline"},
		MaxAge:        1000 * time.Second,
		MaxFuture:     10 * time.Minute,
		MaxNameLength: 32,
	})
	check := func(name string, ts int64, v float64, want Reason) {
		t.Helper()
		s := series.Sample{Name: name, Point: series.Point{Timestamp: ts, Value: v}}
		if got := f.check(&s, now); got != want {
			t.Errorf("check(%q, %d, %v) = %q, want %q", name, ts, v, got, want)
		}
	}
	check("web.requests", now, 1, "")
	check("", now, 1, ReasonEmptyName)
	check("a.very.long.name.that.goes.on.and.on", now, 1, ReasonLongName)
	check("has space", now, 1, ReasonBadName)
	check("tab\tname", now, 1, ReasonBadName)
	check("nul\x00name", now, 1, ReasonBadName)
	check("bad\xffutf8", now, 1, ReasonBadName)
	check("unicode.zürich.π", now, 1, "")
	check("unicode.nbsp\u00a0x", now, 1, ReasonBadName)
	check("web.nan", now, math.NaN(), ReasonNaN)
	check("web.inf", now, math.Inf(-1), ReasonInf)
	check("web.old", now-1001, 1, ReasonTooOld)
	check("web.edge", now-1000, 1, "")
	check("web.future", now+601, 1, ReasonFuture)
	check("web.near", now+600, 1, "")
	// Skyline's rules: substring ...
	check("statsd.timers.x", now, 1, ReasonSkipped)
	check("web.latency.upper", now, 1, ReasonSkipped)
	// ... or every dotted element of the entry among the name's elements.
	check("horizon.x.skyline", now, 1, ReasonSkipped)
	check("skyline.horizons", now, 1, ReasonSkipped) // a plain substring, as in Skyline
	check("horizon.x.skyliner", now, 1, "")          // neither substring nor all elements
	// do-not-skip rescues, with the same two rules.
	check("statsd.numStats", now, 1, "")
	check("skyline.run_time.horizon", now, 1, "")
	// cached decisions are stable
	check("statsd.timers.x", now, 1, ReasonSkipped)
}

func TestFilterOff(t *testing.T) {
	t.Parallel()
	f := newFilter(FilterConfig{MaxNameLength: 100}) // max_age and max_future 0: off (backfill)
	s := series.Sample{Name: "backfill", Point: series.Point{Timestamp: 1, Value: 2}}
	if r := f.check(&s, 1_700_000_000); r != "" {
		t.Fatalf("with age limits off, an old point is refused: %q", r)
	}
	s.Timestamp = 1 << 40
	if r := f.check(&s, 1_700_000_000); r != "" {
		t.Fatalf("with age limits off, a future point is refused: %q", r)
	}
}
