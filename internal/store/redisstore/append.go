package redisstore

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/go-kale/kale/internal/series"
)

// saddChunk is the most members one SADD carries.
const saddChunk = 10000

// Append writes samples: one APPEND per metric of the encoded points in
// arrival order (and the same to the mini namespace when it is on), sent in
// pipelines of PipelineBatch commands, then one SADD per name set for the
// keys this call created. When it returns nil every sample is visible to
// Fetch and Names. On an error some metrics may have been written and
// others not; writing the same samples again is harmless, as equal
// timestamps resolve to the last write.
func (s *Store) Append(ctx context.Context, samples []series.Sample) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if len(samples) == 0 {
		return nil
	}
	start := time.Now()
	b := batchPool.Get().(*batch)
	defer b.release()
	b.build(samples)

	var created, createdMini []string
	pipe := s.client.Pipeline()
	cmds := make([]*redis.IntCmd, 0, min(s.cfg.PipelineBatch, len(b.groups)*2))
	var vals [][]byte
	var mini []bool
	var err error
	flush := func() {
		if len(cmds) == 0 {
			return
		}
		_, execErr := pipe.Exec(ctx)
		s.met.commands.WithLabelValues("append").Add(float64(len(cmds)))
		for i, c := range cmds {
			n, cerr := c.Result()
			var rerr redis.Error
			switch {
			case cerr == nil && n != int64(len(vals[i])):
				continue // the key existed
			case cerr != nil && errors.As(cerr, &rerr):
				continue // Redis refused the command: nothing was written
			}
			// This APPEND created the key, or it failed in a way that
			// leaves unknown whether it ran: add the key to the set (a
			// member without a key is dropped by the next Trim).
			if mini[i] {
				createdMini = append(createdMini, c.Args()[1].(string))
			} else {
				created = append(created, c.Args()[1].(string))
			}
		}
		if execErr != nil && err == nil {
			err = execErr
		}
		cmds, vals, mini = cmds[:0], vals[:0], mini[:0]
	}
	for gi := range b.groups {
		g := &b.groups[gi]
		val := b.buf[g.off : g.off+g.size]
		keys := [2]string{s.full.prefix + g.name, ""}
		nk := 1
		if s.mini.prefix != "" {
			keys[1] = s.mini.prefix + g.name
			nk = 2
		}
		for k := range nk {
			cmd := redis.NewIntCmd(ctx, "append", keys[k], val)
			_ = pipe.Process(ctx, cmd)
			cmds = append(cmds, cmd)
			vals = append(vals, val)
			mini = append(mini, k == 1)
		}
		if len(cmds) >= s.cfg.PipelineBatch {
			flush()
			if err != nil {
				break
			}
		}
	}
	if err == nil {
		flush()
	}
	s.met.created.Add(float64(len(created)))
	// Register the keys this call created even when a later pipeline
	// failed: they hold data.
	if aerr := s.addNames(ctx, created, createdMini); aerr != nil && err == nil {
		err = aerr
	}
	if err != nil {
		return s.fail(ctx, "append", "append", err)
	}
	s.met.points.Add(float64(len(samples)))
	s.met.bytes.Add(float64(len(b.buf)))
	s.met.latency.WithLabelValues("append").Observe(time.Since(start).Seconds())
	return nil
}

// addNames SADDs keys to the name set and mini keys to the mini set, with
// whatever earlier calls failed to add. Members it cannot add are kept for
// the next call.
func (s *Store) addNames(ctx context.Context, keys, miniKeys []string) error {
	pending := s.pending.take()
	if len(keys) == 0 && len(miniKeys) == 0 && len(pending) == 0 {
		return nil
	}
	if pending == nil {
		pending = map[string][]string{}
	}
	pending[s.full.set] = append(pending[s.full.set], keys...)
	if len(miniKeys) > 0 {
		pending[s.mini.set] = append(pending[s.mini.set], miniKeys...)
	}
	pipe := s.client.Pipeline()
	type sadd struct {
		set     string
		members []string
		cmd     *redis.IntCmd
	}
	var sent []sadd
	for set, members := range pending {
		for len(members) > 0 {
			chunk := members[:min(len(members), saddChunk)]
			members = members[len(chunk):]
			args := make([]any, len(chunk))
			for i, m := range chunk {
				args[i] = m
			}
			sent = append(sent, sadd{set, chunk, pipe.SAdd(ctx, set, args...)})
		}
	}
	if len(sent) == 0 {
		return nil
	}
	_, err := pipe.Exec(ctx)
	s.met.commands.WithLabelValues("sadd").Add(float64(len(sent)))
	for _, a := range sent {
		if a.cmd.Err() != nil {
			s.pending.add(a.set, a.members)
		}
	}
	return err
}

// batch is one Append's samples grouped by metric, each group's points
// encoded next to each other in buf in arrival order. Batches are pooled:
// release clears every reference to the caller's samples.
type batch struct {
	idx    map[string]int32
	groups []group
	grp    []int32 // group of each sample
	buf    []byte
}

// group is one metric of a batch.
type group struct {
	name string
	size int // bytes of encoded points
	off  int // where they start in buf
	fill int // bytes written so far
}

var batchPool = sync.Pool{New: func() any { return &batch{idx: map[string]int32{}} }}

// build groups samples by name and encodes them.
func (b *batch) build(samples []series.Sample) {
	if cap(b.grp) < len(samples) {
		b.grp = make([]int32, len(samples))
	}
	b.grp = b.grp[:len(samples)]
	for i := range samples {
		smp := &samples[i]
		g, ok := b.idx[smp.Name]
		if !ok {
			g = int32(len(b.groups))
			b.idx[smp.Name] = g
			b.groups = append(b.groups, group{name: smp.Name})
		}
		b.grp[i] = g
		b.groups[g].size += series.PointSize(smp.Point)
	}
	total := 0
	for i := range b.groups {
		b.groups[i].off = total
		total += b.groups[i].size
	}
	if cap(b.buf) < total {
		b.buf = make([]byte, total)
	}
	b.buf = b.buf[:total]
	for i := range samples {
		g := &b.groups[b.grp[i]]
		at := g.off + g.fill
		g.fill += len(series.AppendPoint(b.buf[at:at], samples[i].Point))
	}
}

// release empties b and returns it to the pool; very large batches are
// dropped so that one burst does not pin memory.
func (b *batch) release() {
	clear(b.idx)
	clear(b.groups) // drop the name strings
	b.groups = b.groups[:0]
	if cap(b.buf) > 16<<20 || cap(b.grp) > 1<<20 {
		return
	}
	batchPool.Put(b)
}
