package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/store"
)

// fetchRound is one pipeline of GETs of FetchBatch: the commands for
// names[off : off+len(cmds)], answered.
type fetchRound struct {
	off  int
	cmds []*redis.StringCmd
}

// FetchBatch reads names[i] for every i and calls fn with its points (see
// store.Store for the contract). It GETs the keys in pipelines of
// Config.FetchBatch commands, one network round trip each (on a cluster
// go-redis splits a pipeline by node and sends the parts in parallel), and
// sends the next pipeline before it calls fn for the metrics of the
// current one, so at most two rounds of values are in memory. Each value is
// decoded into one buffer reused for every metric, then sorted,
// de-duplicated (the last appended wins) and cut to [from, until] as Fetch
// does; go-redis still allocates the reply of every key.
//
// A missing or empty key is skipped (fn is not called). A value that does
// not decode is Fetch's case: fn gets the points before the bad bytes. A
// key that holds another type (WRONGTYPE) is skipped. Both are counted in
// kale_store_redis_malformed_values_total and, after the batch, reported in
// an error wrapping store.ErrCorrupt (and series.ErrMalformed when the
// first such key did not decode). Any other Redis or network error stops
// the batch.
func (s *Store) FetchBatch(ctx context.Context, names []string, from, until int64, fn func(i int, points []series.Point) error) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if len(names) == 0 {
		return nil
	}
	start := time.Now()
	rctx, cancel := context.WithCancel(ctx)
	var pending chan fetchRound
	issue := func(off int) {
		pending = make(chan fetchRound, 1)
		go func(ch chan<- fetchRound) { ch <- s.readRound(rctx, names, off) }(pending)
	}
	defer func() {
		cancel()
		if pending != nil {
			<-pending // the read ahead touches nothing of ours once it is done
		}
	}()
	issue(0)
	done := ctx.Done()
	var (
		pts      []series.Point
		bad      int
		firstBad error
	)
	for pending != nil {
		r := <-pending
		pending = nil
		if next := r.off + len(r.cmds); next < len(names) {
			issue(next)
		}
		for j, c := range r.cmds {
			i := r.off + j
			if done != nil {
				select {
				case <-done:
					return ctx.Err()
				default:
				}
			}
			val, err := c.Bytes()
			if errors.Is(err, redis.Nil) || (err == nil && len(val) == 0) {
				continue
			}
			if err != nil {
				if wrongType(err) {
					s.met.corrupt.Inc()
					if bad == 0 {
						firstBad = fmt.Errorf("cannot fetch %s%s: %w: %w", s.full.prefix, names[i], store.ErrCorrupt, err)
					}
					bad++
					continue
				}
				return s.fail(ctx, "fetch_batch", "fetch "+names[i], err)
			}
			var derr error
			pts, derr = series.DecodePoints(pts[:0], val)
			if derr != nil {
				s.met.corrupt.Inc()
				if bad == 0 {
					firstBad = fmt.Errorf("cannot decode %s%s: %w: %w", s.full.prefix, names[i], store.ErrCorrupt, derr)
				}
				bad++
			}
			if err := fn(i, sortCut(pts, from, until)); err != nil {
				return err
			}
		}
	}
	s.met.latency.WithLabelValues("fetch_batch").Observe(time.Since(start).Seconds())
	if bad > 0 {
		return fmt.Errorf("cannot read %d of %d metrics: %w", bad, len(names), firstBad)
	}
	return nil
}

// readRound sends one pipeline of GETs for the names from off on. Each
// command holds its own answer or error.
func (s *Store) readRound(ctx context.Context, names []string, off int) fetchRound {
	part := names[off:min(off+s.cfg.FetchBatch, len(names))]
	pipe := s.client.Pipeline()
	cmds := make([]*redis.StringCmd, len(part))
	for j, name := range part {
		cmds[j] = pipe.Get(ctx, s.full.prefix+name)
	}
	// Exec's error is the first command's; FetchBatch looks at each.
	_, _ = pipe.Exec(ctx)
	s.met.commands.WithLabelValues("fetch_batch").Add(float64(len(cmds)))
	return fetchRound{off: off, cmds: cmds}
}

// wrongType reports whether err is Redis refusing a command because the
// key holds another type: a fault of that key only.
func wrongType(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr) && strings.HasPrefix(rerr.Error(), "WRONGTYPE")
}
