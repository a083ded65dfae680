package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/store"
)

// checkBytes is how many bytes at each end of the value Trim read the
// rewrite script compares before writing.
const checkBytes = 32

// rewriteScript replaces a key Trim has read and trimmed, keeping whatever
// was appended after the read.
//
//	KEYS[1] the series key
//	ARGV[1] the length Trim read; ARGV[2] the new value (may be empty)
//	ARGV[3], ARGV[4] the first and the last bytes (up to checkBytes) of what Trim read
//
// It answers -1 when the key no longer starts with what Trim read (it is
// shorter, or another Roomba rewrote it: nothing is written), 0 when it
// deleted the key (the new value is empty and nothing was appended), else
// the new length: ARGV[2] .. GETRANGE(key, ARGV[1], -1).
var rewriteScript = redis.NewScript(`
local cur = redis.call('STRLEN', KEYS[1])
local oldlen = tonumber(ARGV[1])
if cur < oldlen then return -1 end
local head, tail = ARGV[3], ARGV[4]
if #head > 0 and redis.call('GETRANGE', KEYS[1], 0, #head - 1) ~= head then return -1 end
if #tail > 0 and redis.call('GETRANGE', KEYS[1], oldlen - #tail, oldlen - 1) ~= tail then return -1 end
local v = ARGV[2]
if cur > oldlen then v = v .. redis.call('GETRANGE', KEYS[1], oldlen, -1) end
if #v == 0 then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('SET', KEYS[1], v)
return #v
`)

// Trim is Roomba's pass over the full namespace and, when Mini is on, the
// mini namespace (see the package doc). TrimStats counts the full
// namespace only; the mini pass is logged and counted in the Prometheus
// metrics. It also sends again any SADD an earlier Append could not.
func (s *Store) Trim(ctx context.Context, now int64) (store.TrimStats, error) {
	if err := s.begin(ctx); err != nil {
		return store.TrimStats{}, err
	}
	start := time.Now()
	if err := s.addNames(ctx, nil, nil); err != nil {
		return store.TrimStats{}, s.fail(ctx, "trim", "trim", err)
	}
	st, err := s.trimNamespace(ctx, s.full, now)
	if err != nil {
		return st, err
	}
	if s.mini.prefix != "" {
		mst, err := s.trimNamespace(ctx, s.mini, now)
		if err != nil {
			return st, err
		}
		s.log.Debug("trimmed mini namespace", "namespace", s.mini.prefix, "metrics", mst.Metrics,
			"points_removed", mst.PointsRemoved, "deleted", mst.Deleted)
	}
	s.met.latency.WithLabelValues("trim").Observe(time.Since(start).Seconds())
	s.log.Debug("trimmed", "namespace", s.full.prefix, "metrics", st.Metrics,
		"points_removed", st.PointsRemoved, "deleted", st.Deleted, "duration", time.Since(start))
	return st, nil
}

// trimNamespace trims every key of ns's set.
func (s *Store) trimNamespace(ctx context.Context, ns namespace, now int64) (store.TrimStats, error) {
	var st store.TrimStats
	keys, err := s.members(ctx, ns.set)
	if err != nil {
		return st, s.fail(ctx, "trim", "trim", err)
	}
	cutoff := now - ns.keep
	var retry []string
	for len(keys) > 0 {
		batch := keys[:min(len(keys), s.cfg.TrimBatch)]
		keys = keys[len(batch):]
		conflicts, err := s.trimBatch(ctx, ns, cutoff, batch, &st, true)
		if err != nil {
			return st, s.fail(ctx, "trim", "trim", err)
		}
		retry = append(retry, conflicts...)
	}
	// Keys another writer rewrote while we worked: read them once more,
	// without counting them twice.
	for len(retry) > 0 {
		batch := retry[:min(len(retry), s.cfg.TrimBatch)]
		retry = retry[len(batch):]
		conflicts, err := s.trimBatch(ctx, ns, cutoff, batch, &st, false)
		if err != nil {
			return st, s.fail(ctx, "trim", "trim", err)
		}
		if len(conflicts) > 0 {
			s.log.Info("keys changed while trimming; left for the next pass", "keys", len(conflicts))
		}
	}
	s.met.trimmed.WithLabelValues(ns.prefix).Add(float64(st.PointsRemoved))
	s.met.deleted.WithLabelValues(ns.prefix).Add(float64(st.Deleted))
	return st, nil
}

// members returns the members of set, sorted and without repeats (SSCAN
// may return a member twice).
func (s *Store) members(ctx context.Context, set string) ([]string, error) {
	var out []string
	var cursor uint64
	for {
		keys, next, err := s.client.SScan(ctx, set, cursor, "", 10000).Result()
		s.met.commands.WithLabelValues("trim").Inc()
		if err != nil {
			return nil, err
		}
		out = append(out, keys...)
		if cursor = next; cursor == 0 {
			break
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// trimBatch trims keys: one pipeline of GETs, one of rewrite scripts for
// the keys that change, then the name-set upkeep for the keys deleted. It
// returns the keys whose rewrite was refused because they changed after
// the read. count says whether the keys are counted in st.Metrics.
func (s *Store) trimBatch(ctx context.Context, ns namespace, cutoff int64, keys []string, st *store.TrimStats, count bool) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pipe := s.client.Pipeline()
	gets := make([]*redis.StringCmd, 0, len(keys))
	for _, k := range keys {
		if !strings.HasPrefix(k, ns.prefix) {
			continue // a foreign member: not ours to judge
		}
		gets = append(gets, pipe.Get(ctx, k))
	}
	if len(gets) == 0 {
		return nil, nil
	}
	// Per-key failures are looked at below; Exec's error is the first.
	_, _ = pipe.Exec(ctx)
	s.met.commands.WithLabelValues("trim").Add(float64(len(gets)))

	type rewrite struct {
		key     string
		removed int
		cmd     *redis.Cmd
	}
	var writes []rewrite
	var gone []string // keys with no data left (missing, or deleted below)
	var pts []series.Point
	for _, g := range gets {
		key := g.Args()[1].(string)
		if count {
			st.Metrics++
		}
		val, err := g.Bytes()
		if errors.Is(err, redis.Nil) || (err == nil && len(val) == 0) {
			gone = append(gone, key) // listed but holds nothing: drop it from the set
			continue
		}
		if err != nil {
			if skipKey(err) {
				s.log.Warn("cannot read series key; skipping it", "key", key, "error", err)
				continue
			}
			return nil, err
		}
		var derr error
		pts, derr = series.DecodePoints(pts[:0], val)
		if derr != nil {
			s.met.corrupt.Inc()
			var de *series.DecodeError
			dropped := len(val)
			if errors.As(derr, &de) {
				dropped = len(val) - de.Offset
			}
			s.log.Warn("undecodable series value: keeping the points before the bad bytes",
				"key", key, "error", derr, "dropped_bytes", dropped, "kept_points", len(pts))
		}
		n0 := len(pts)
		var sorted bool
		pts, sorted, _ = series.SortDedup(pts)
		first, _ := slices.BinarySearchFunc(pts, cutoff+1, cmpTS)
		pts = pts[first:]
		removed := n0 - len(pts)
		if removed == 0 && sorted && derr == nil {
			continue
		}
		newVal := make([]byte, 0, len(pts)*series.MaxPointSize)
		for _, p := range pts {
			newVal = series.AppendPoint(newVal, p)
		}
		headN := min(checkBytes, len(val))
		head := val[:headN]
		tail := val[len(val)-headN:]
		writes = append(writes, rewrite{key: key, removed: removed,
			cmd: rewriteScript.Eval(ctx, pipe, []string{key}, len(val), newVal, head, tail)})
	}
	var conflicts []string
	if len(writes) > 0 {
		_, _ = pipe.Exec(ctx)
		s.met.commands.WithLabelValues("trim").Add(float64(len(writes)))
		for _, w := range writes {
			n, err := w.cmd.Int64()
			if err != nil {
				if skipKey(err) {
					s.log.Warn("cannot rewrite series key; skipping it", "key", w.key, "error", err)
					continue
				}
				return nil, err
			}
			switch {
			case n < 0:
				s.met.retries.Inc()
				conflicts = append(conflicts, w.key)
			case n == 0:
				st.PointsRemoved += w.removed
				gone = append(gone, w.key)
			default:
				st.PointsRemoved += w.removed
			}
		}
	}
	if len(gone) > 0 {
		if err := s.forget(ctx, ns, gone); err != nil {
			return nil, err
		}
		st.Deleted += len(gone)
	}
	return conflicts, nil
}

// forget removes deleted keys from ns's set, then adds back those that an
// Append re-created in between (the Append that re-created a key may have
// sent its SADD before our SREM).
func (s *Store) forget(ctx context.Context, ns namespace, keys []string) error {
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	pipe := s.client.Pipeline()
	pipe.SRem(ctx, ns.set, args...)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("cannot remove deleted keys from %s: %w", ns.set, err)
	}
	exists := make([]*redis.IntCmd, len(keys))
	for i, k := range keys {
		exists[i] = pipe.Exists(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	var back []any
	for i, c := range exists {
		if c.Val() > 0 {
			back = append(back, keys[i])
		}
	}
	s.met.commands.WithLabelValues("trim").Add(float64(1 + len(keys)))
	if len(back) > 0 {
		if err := s.client.SAdd(ctx, ns.set, back...).Err(); err != nil {
			members := make([]string, len(back))
			for i, b := range back {
				members[i] = b.(string)
			}
			s.pending.add(ns.set, members)
			return err
		}
		s.met.commands.WithLabelValues("trim").Inc()
	}
	return nil
}

// skipKey reports whether err concerns one key only (Redis refused the
// command, e.g. WRONGTYPE for a key that is not a string), so that Trim
// logs it and goes on with the other keys.
func skipKey(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr) && !errors.Is(err, redis.Nil)
}
