package embedded

import (
	"encoding/binary"
	"testing"

	"github.com/go-kale/kale/internal/series"
)

// fuzzSegment returns a valid segment: two series, points, a trim.
func fuzzSegment() []byte {
	seg := []byte(walMagic)
	seg = appendSeriesRecord(seg, 1, "a.b")
	seg = appendSeriesRecord(seg, 2, "c")
	var r pointsRecord
	r.begin(t0)
	for i := range 20 {
		r.add(uint64(1+i%2), t0+int64(i)*60, float64(i)/4)
	}
	seg = append(seg, r.finish()...)
	return appendTrimRecord(seg, t0+300)
}

// FuzzReplaySegment checks that replaying arbitrary segment bytes into a
// store never panics and leaves only series that hold data.
func FuzzReplaySegment(f *testing.F) {
	f.Add(fuzzSegment())
	f.Add([]byte(walMagic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := DefaultConfig()
		cfg.Shards, cfg.ChunkPoints, cfg.HeadPoints = 1, 8, 3
		s, err := Open(cfg, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		sh := s.shards[0]
		l := &loader{s: s, seen: sh.series, target: func(string) *shard { return sh }, ids: map[uint64]*declared{}}
		sc := scanSegment(data, l.apply)
		if sc.good > sc.size || sc.good < 0 {
			t.Fatalf("good offset %d outside [0, %d]", sc.good, sc.size)
		}
		for name, ms := range sh.series {
			if ms.empty() {
				t.Fatalf("series %q holds no point", name)
			}
		}
		// Whatever was replayed can be fetched.
		dump(t, s)
	})
}

// FuzzReadSnapshot checks that reading arbitrary snapshot bytes never
// panics, and that a snapshot it accepts holds decodable, ordered chunks.
func FuzzReadSnapshot(f *testing.F) {
	var enc encoder
	pts := regularPoints(10, t0, 60, func(i int) float64 { return float64(i) })
	c := chunk{data: enc.encode(pts), minT: pts[0].Timestamp, maxT: pts[9].Timestamp, n: 10}
	dir := f.TempDir()
	if _, err := writeSnapshot(dir, "s", []snapEntry{{name: "x", chunks: []chunk{c}, head: []series.Point{{Timestamp: 1, Value: 2}}}}); err != nil {
		f.Fatal(err)
	}
	good, err := readFile(dir + "/s")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(snapMagic + "\x00\x00\x00\x00\x00" + snapEndMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Fix the checksum so that the fuzzer reaches the parser.
		if len(data) >= len(snapMagic)+4+len(snapEndMagic) {
			body := data[:len(data)-len(snapEndMagic)-4]
			binary.LittleEndian.PutUint32(data[len(body):], crc32c(body))
		}
		entries, err := readSnapshot(data)
		if err != nil {
			return
		}
		for _, e := range entries {
			for _, c := range e.chunks {
				if _, err := decodeLive(nil, &c); err != nil {
					t.Fatalf("accepted chunk does not decode: %v", err)
				}
			}
		}
	})
}
