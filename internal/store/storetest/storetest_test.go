package storetest_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/store"
	"github.com/go-kale/kale/internal/store/storetest"
)

// refStore is the simplest correct store.Store: a map of maps under one
// mutex. It exists to check the suite itself: a suite that fails it is
// wrong.
type refStore struct {
	ret    store.Retention
	mu     sync.Mutex
	closed bool
	m      map[string]map[int64]float64
}

var _ store.Store = (*refStore)(nil)

func (s *refStore) check(ctx context.Context) error {
	if s.closed {
		return store.ErrClosed
	}
	return ctx.Err()
}

func (s *refStore) Append(ctx context.Context, samples []series.Sample) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return err
	}
	for _, x := range samples {
		if s.m[x.Name] == nil {
			s.m[x.Name] = map[int64]float64{}
		}
		s.m[x.Name][x.Timestamp] = x.Value
	}
	return nil
}

func (s *refStore) Names(ctx context.Context, prefix string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	var out []string
	for n := range s.m {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (s *refStore) Fetch(ctx context.Context, name string, from, until int64) ([]series.Point, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	pts, ok := s.m[name]
	if !ok {
		return nil, store.ErrNotFound
	}
	var out []series.Point
	for _, ts := range slices.Sorted(maps.Keys(pts)) {
		if ts >= from && ts <= until {
			out = append(out, series.Point{Timestamp: ts, Value: pts[ts]})
		}
	}
	return out, nil
}

func (s *refStore) FetchBatch(ctx context.Context, names []string, from, until int64, fn func(int, []series.Point) error) error {
	s.mu.Lock()
	err := s.check(ctx)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	for i, name := range names {
		pts, err := s.Fetch(ctx, name, from, until)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if err := fn(i, pts); err != nil {
			return err
		}
	}
	return nil
}

func (s *refStore) Trim(ctx context.Context, now int64) (store.TrimStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var st store.TrimStats
	if err := s.check(ctx); err != nil {
		return st, err
	}
	cutoff := s.ret.Cutoff(now)
	for n, pts := range s.m {
		st.Metrics++
		for ts := range pts {
			if ts <= cutoff {
				delete(pts, ts)
				st.PointsRemoved++
			}
		}
		if len(pts) == 0 {
			delete(s.m, n)
			st.Deleted++
		}
	}
	return st, nil
}

func (s *refStore) Ping(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.check(ctx)
}

func (s *refStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	s.closed = true
	return nil
}

func TestRunReference(t *testing.T) {
	storetest.Run(t, func(t *testing.T, ret store.Retention) store.Store {
		return &refStore{ret: ret, m: map[string]map[int64]float64{}}
	})
}
