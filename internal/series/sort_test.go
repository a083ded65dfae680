package series

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSortDedup(t *testing.T) {
	t.Parallel()
	p := func(ts int64, v float64) Point { return Point{Timestamp: ts, Value: v} }
	f := func(in, want []Point, wantSorted bool, wantDropped int) {
		t.Helper()
		got, sorted, dropped := SortDedup(append([]Point(nil), in...))
		if diff := cmp.Diff(want, got); diff != "" || sorted != wantSorted || dropped != wantDropped {
			t.Errorf("SortDedup(%v) = %v, %v, %d; want %v, %v, %d", in, got, sorted, dropped, want, wantSorted, wantDropped)
		}
	}
	f(nil, nil, true, 0)
	f([]Point{p(1, 1), p(2, 2)}, []Point{p(1, 1), p(2, 2)}, true, 0)
	f([]Point{p(2, 2), p(1, 1)}, []Point{p(1, 1), p(2, 2)}, false, 0)
	f([]Point{p(1, 1), p(1, 9)}, []Point{p(1, 9)}, false, 1)                                     // last write wins
	f([]Point{p(3, 1), p(1, 5), p(3, 2), p(1, 4), p(3, 3)}, []Point{p(1, 4), p(3, 3)}, false, 3) // across reordering
}
