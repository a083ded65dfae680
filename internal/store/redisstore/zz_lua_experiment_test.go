package redisstore

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/go-kale/kale/internal/series"
)

var luaAppend = redis.NewScript(`
local created = {}
for i = 1, #KEYS do
  if redis.call('APPEND', KEYS[i], ARGV[i]) == #ARGV[i] then created[#created+1] = i end
end
return created
`)

func BenchmarkLuaAppendExperiment(b *testing.B) {
	srv := standalone(b)
	for _, per := range []int{100, 500, 5000} {
		b.Run(fmt.Sprintf("keys_per_eval=%d", per), func(b *testing.B) {
			srv.flush(b)
			ctx := context.Background()
			c := srv.raw
			sha, err := luaAppend.Load(ctx, c).Result()
			if err != nil {
				b.Fatal(err)
			}
			var next atomic.Int64
			b.SetParallelism(2)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n := int(next.Add(1))
					samples := benchBatch(n*5000, 5000, int64(n))
					bt := batchPool.Get().(*batch)
					bt.build(samples)
					pipe := c.Pipeline()
					for i := 0; i < len(bt.groups); i += per {
						g := bt.groups[i:min(i+per, len(bt.groups))]
						args := make([]any, 0, 3+2*len(g))
						args = append(args, "evalsha", sha, len(g))
						for _, x := range g {
							args = append(args, "metrics."+x.name)
						}
						for _, x := range g {
							args = append(args, bt.buf[x.off:x.off+x.size])
						}
						pipe.Do(ctx, args...)
					}
					if _, err := pipe.Exec(ctx); err != nil {
						b.Error(err)
						return
					}
					bt.release()
					_ = series.Point{}
				}
			})
			b.ReportMetric(float64(b.N*5000)/b.Elapsed().Seconds(), "points/s")
		})
	}
}
