package horizon

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/go-kale/kale/internal/series"
)

// encodeCarbonPickle writes samples as carbon-relay's pickle.dumps(list,
// protocol=2) does: a memoised list, then MARK and one (name, (ts, value))
// per point with the name, the pair and the element each memoised, APPENDS
// every 1000 points (APPEND for a batch of one), STOP. Timestamps and values
// are floats, as carbon sends them.
func encodeCarbonPickle(samples []series.Sample) []byte {
	var b bytes.Buffer
	memo := 0
	put := func() {
		if memo < 256 {
			b.Write([]byte{pkBINPUT, byte(memo)})
		} else {
			b.WriteByte(pkLONG_BINPUT)
			b.Write(binary.LittleEndian.AppendUint32(nil, uint32(memo)))
		}
		memo++
	}
	float := func(f float64) {
		b.WriteByte(pkBINFLOAT)
		b.Write(binary.BigEndian.AppendUint64(nil, math.Float64bits(f)))
	}
	b.Write([]byte{pkPROTO, 2, pkEMPTY_LIST})
	put()
	for start := 0; start < len(samples); start += 1000 {
		batch := samples[start:min(start+1000, len(samples))]
		if len(batch) > 1 {
			b.WriteByte(pkMARK)
		}
		for _, s := range batch {
			b.WriteByte(pkBINUNICODE)
			b.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(s.Name))))
			b.WriteString(s.Name)
			put()
			float(float64(s.Timestamp))
			float(s.Value)
			b.WriteByte(pkTUPLE2)
			put()
			b.WriteByte(pkTUPLE2)
			put()
		}
		if len(batch) > 1 {
			b.WriteByte(pkAPPENDS)
		} else {
			b.WriteByte(pkAPPEND)
		}
	}
	b.WriteByte(pkSTOP)
	return b.Bytes()
}

// TestEncodeCarbonPickle checks the benchmark's encoder byte for byte
// against Python's pickle.dumps of the golden 500-point frame.
func TestEncodeCarbonPickle(t *testing.T) {
	frame := readPickle(t, "carbon500.p2.pickle")
	samples, err := DecodePickle(nil, frame, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := encodeCarbonPickle(samples); !bytes.Equal(got, frame) {
		t.Errorf("encoder differs from Python's pickle.dumps(protocol=2): %d vs %d bytes", len(got), len(frame))
	}
	corpus := parseBenchCorpus().samples[:1500]
	got, err := DecodePickle(nil, encodeCarbonPickle(corpus), nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(corpus, got, pickleBits); diff != "" {
		t.Errorf("corpus round trip (-want +got):\n%s", diff)
	}
}

// BenchmarkDecodePickle decodes carbon-relay frames of 500 points
// (MAX_DATAPOINTS_PER_MESSAGE), protocol 2: "carbon500" is the golden frame
// Python wrote (500 distinct names), "corpus" the shared parser corpus
// (parseBenchCorpus, 10,000 points) in frames of 500. ns/point is the figure
// to hold against the ingest budget.
func BenchmarkDecodePickle(b *testing.B) {
	run := func(b *testing.B, frames [][]byte) {
		var size int
		for _, f := range frames {
			size += len(f)
		}
		b.SetBytes(int64(size / len(frames)))
		b.ReportAllocs()
		dst := make([]series.Sample, 0, 500)
		var n int
		for i := 0; b.Loop(); i++ {
			out, err := DecodePickle(dst[:0], frames[i%len(frames)], nil)
			if err != nil {
				b.Fatal(err)
			}
			n += len(out)
		}
		if n == 0 {
			b.Fatal("no samples")
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/point")
	}
	b.Run("carbon500", func(b *testing.B) {
		run(b, [][]byte{readPickle(b, "carbon500.p2.pickle")})
	})
	b.Run("corpus", func(b *testing.B) {
		samples := parseBenchCorpus().samples
		var frames [][]byte
		for i := 0; i < len(samples); i += 500 {
			frames = append(frames, encodeCarbonPickle(samples[i:i+500]))
		}
		run(b, frames)
	})
}
