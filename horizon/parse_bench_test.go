package horizon

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/go-kale/kale/internal/series"
)

// parseCorpusSize is the number of points in the shared parser corpus.
const parseCorpusSize = 10_000

// parseCorpus is one set of points in every wire form, so the protocols'
// parsers are measured on the same data. Other protocols' benchmarks can
// encode parseBenchCorpus().samples themselves.
type parseCorpus struct {
	samples   []series.Sample
	msgpack   [][]byte // one datagram per point, as Python's msgpack.packb encodes it
	plaintext [][]byte // one line per point, without "\n"
}

// parseBenchCorpus returns the shared corpus: 500 Graphite names, 20 points
// each at 10 s steps; half the values are integer counters (sent as msgpack
// ints, as Python does), half are floats of assorted magnitudes and
// precision; a few timestamps are fractional. It is deterministic.
var parseBenchCorpus = sync.OnceValue(func() *parseCorpus {
	rng := rand.New(rand.NewPCG(1, 2))
	hosts := []string{"web", "db", "cache", "lb", "worker"}
	metrics := []string{"cpu.user", "cpu.system", "memory.used", "disk.sda.reads", "net.eth0.rx_bytes",
		"load.1m", "requests.count", "latency.p99", "errors.5xx", "queue.depth"}
	c := &parseCorpus{}
	for i := range parseCorpusSize {
		name := fmt.Sprintf("servers.%s%02d.%s", hosts[i%len(hosts)], i/len(hosts)%10, metrics[i/50%len(metrics)])
		ts := int64(1700000000 + (i/500)*10)
		var v float64
		switch i % 4 {
		case 0, 1:
			v = float64(rng.Int64N(1 << 31))
		case 2:
			v = math.Round(rng.Float64()*1e6) / 100
		default:
			v = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(12)-6))
		}
		c.samples = append(c.samples, series.Sample{Name: name, Point: series.Point{Timestamp: ts, Value: v}})

		tsText := strconv.FormatInt(ts, 10)
		var tsWire any = ts
		if i%10 == 9 {
			tsText += ".5" // carbon's float timestamps
			tsWire = float64(ts) + 0.5
		}
		var vWire any = v
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			vWire = int64(v)
		}
		var buf bytes.Buffer
		enc := msgpack.NewEncoder(&buf)
		enc.UseCompactInts(true) // Python's smallest-int encoding
		if err := enc.Encode([]any{name, []any{tsWire, vWire}}); err != nil {
			panic(err)
		}
		c.msgpack = append(c.msgpack, buf.Bytes())
		c.plaintext = append(c.plaintext, []byte(name+" "+strconv.FormatFloat(v, 'g', -1, 64)+" "+tsText))
	}
	return c
})

// TestParseCorpusAgree checks that both parsers return exactly the corpus's
// samples, so the benchmarks below measure the same successful work.
func TestParseCorpusAgree(t *testing.T) {
	c := parseBenchCorpus()
	for i, want := range c.samples {
		got, err := DecodeMsgpack(c.msgpack[i])
		if err != nil {
			t.Fatalf("msgpack %d (%x): %v", i, c.msgpack[i], err)
		}
		if diff := cmp.Diff(want, got, cmpFloatBits); diff != "" {
			t.Fatalf("msgpack %d (-want +got):\n%s", i, diff)
		}
		got, err = ParsePlaintext(c.plaintext[i], 0)
		if err != nil {
			t.Fatalf("plaintext %q: %v", c.plaintext[i], err)
		}
		if diff := cmp.Diff(want, got, cmpFloatBits); diff != "" {
			t.Fatalf("plaintext %q (-want +got):\n%s", c.plaintext[i], diff)
		}
	}
}

// BenchmarkParseCorpus parses the shared corpus with each protocol's parser,
// on one goroutine and with b.RunParallel (GOMAXPROCS goroutines). One op is
// the whole corpus; bytes are wire bytes (plaintext counts the "\n").
func BenchmarkParseCorpus(b *testing.B) {
	c := parseBenchCorpus()
	parsers := []struct {
		name  string
		input [][]byte
		extra int // framing bytes per point not in input
		parse func([]byte) (series.Sample, error)
	}{
		{"msgpack", c.msgpack, 0, DecodeMsgpack},
		{"plaintext", c.plaintext, 1, func(l []byte) (series.Sample, error) { return ParsePlaintext(l, 0) }},
	}
	for _, p := range parsers {
		var size int64
		for _, in := range p.input {
			size += int64(len(in) + p.extra)
		}
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(size)
			for b.Loop() {
				for _, in := range p.input {
					if _, err := p.parse(in); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N)*parseCorpusSize/b.Elapsed().Seconds(), "points/s")
		})
		b.Run(p.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(size / parseCorpusSize) // per point here: one op is one point
			var workers atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				i := int(workers.Add(1)) * 1237 // each goroutine starts elsewhere in the corpus
				for pb.Next() {
					if _, err := p.parse(p.input[i%parseCorpusSize]); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "points/s")
		})
	}
}
