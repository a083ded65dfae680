package anomalies

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"log/slog"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// memState returns an Embedded with no files, for replaying bytes.
func memState() *Embedded {
	now := time.Unix(t0, 0)
	return &Embedded{
		log:       slog.New(slog.DiscardHandler),
		now:       func() time.Time { return now },
		live:      int64(len(logMagic)),
		byMetric:  map[string][]*recEntry{},
		claims:    map[claimKey]claimState{},
		incidents: map[string]incEntry{},
	}
}

// seedLog is a valid log with every kind of entry.
func seedLog(tb testing.TB) []byte {
	data := []byte(logMagic)
	add := func(kind byte, v any) {
		var err error
		if data, err = appendEntry(data, kind, v); err != nil {
			tb.Fatal(err)
		}
	}
	add(kindRecord, rec("a.b", t0))
	add(kindRecord, rec("{x}:y", t0-10))
	add(kindRecord, rec("a.b", t0)) // replaced
	add(kindTrim, trimBody{Before: t0 - 5})
	add(kindClaim, claimBody{Alerter: "smtp", Metric: "a.b", TS: t0, Expires: (t0 + 60) * 1e9})
	add(kindClaim, claimBody{Alerter: "slack", Metric: "a.b", TS: t0, Expires: (t0 - 60) * 1e9}) // expired
	add(kindRelease, releaseBody{Alerter: "smtp", Metric: "gone"})
	add(kindIncident, Incident{Key: "k", Metric: "a.b", Opened: t0})
	add(kindIncident, Incident{Key: "k2"})
	add(kindClose, closeBody{Key: "k2"})
	return data
}

// checkState fails when the in-memory indexes disagree.
func checkState(t *testing.T, s *Embedded) {
	t.Helper()
	for i := 1; i < len(s.recs); i++ {
		if compareKey(s.recs[i-1], &s.recs[i].rec) >= 0 {
			t.Fatalf("records %d and %d out of order", i-1, i)
		}
	}
	n := 0
	for m, es := range s.byMetric {
		if len(es) == 0 {
			t.Fatalf("metric %q has an empty index", m)
		}
		for i, e := range es {
			if e.rec.Metric != m || (i > 0 && es[i-1].rec.Timestamp >= e.rec.Timestamp) {
				t.Fatalf("index of %q broken at %d", m, i)
			}
		}
		n += len(es)
	}
	if n != len(s.recs) {
		t.Fatalf("per-metric indexes hold %d records, the time index %d", n, len(s.recs))
	}
}

// FuzzScanLog replays arbitrary log bytes (see checkReplay).
func FuzzScanLog(f *testing.F) {
	seed := seedLog(f)
	f.Add(seed)
	f.Add(seed[:len(seed)-3])
	f.Add([]byte(logMagic))
	f.Add([]byte{})
	f.Fuzz(checkReplay)
}

// FuzzReplay frames arbitrary payloads with valid CRCs, so that the
// fuzzer explores the replay of entries rather than the framing: data is
// a sequence of (1-byte length, payload) pieces.
func FuzzReplay(f *testing.F) {
	seed := seedLog(f)
	var pieces []byte
	for off := len(logMagic); off < len(seed); {
		payload, n, err := nextEntry(seed[off:])
		if err != nil {
			f.Fatal(err)
		}
		if len(payload) < 256 {
			pieces = append(append(pieces, byte(len(payload))), payload...)
		}
		off += n
	}
	f.Add(pieces)
	f.Fuzz(func(t *testing.T, data []byte) {
		log := []byte(logMagic)
		for len(data) > 0 {
			n := min(int(data[0]), len(data)-1)
			payload := data[1 : 1+n]
			data = data[1+n:]
			if n == 0 {
				continue
			}
			start := len(log)
			log = append(log, make([]byte, headerLen)...)
			log = append(log, payload...)
			binary.LittleEndian.PutUint32(log[start:], uint32(n))
			binary.LittleEndian.PutUint32(log[start+4:], crc32.Checksum(payload, castagnoli))
		}
		checkReplay(t, log)
	})
}

// checkReplay replays log bytes: it must never panic, stop within the
// data, fail only with ErrCorrupt, leave consistent indexes, and a state
// it accepts must survive compaction (write the state, replay it)
// unchanged, with the live size accounted exactly.
func checkReplay(t *testing.T, data []byte) {
	s := memState()
	good, err := scanLog(data, s.replay)
	if good < 0 || good > int64(len(data)) {
		t.Fatalf("good offset %d outside [0, %d]", good, len(data))
	}
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v does not wrap ErrCorrupt", err)
		}
		return
	}
	checkState(t, s)
	var buf bytes.Buffer
	size, err := s.writeState(&buf)
	if err != nil {
		t.Fatalf("writeState: %v", err)
	}
	if size != int64(buf.Len()) {
		t.Fatalf("writeState says %d bytes, wrote %d", size, buf.Len())
	}
	s2 := memState()
	good2, err := scanLog(buf.Bytes(), s2.replay)
	if err != nil || good2 != int64(buf.Len()) {
		t.Fatalf("replay of the compacted state: good %d of %d, %v", good2, buf.Len(), err)
	}
	checkState(t, s2)
	if s2.live != size {
		t.Fatalf("live size %d after replaying a compacted log of %d bytes", s2.live, size)
	}
	recs := func(s *Embedded) []Record { return newest(s.recs, -1<<63, 0) }
	if diff := cmp.Diff(recs(s), recs(s2), cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("records changed by compaction (-before +after):\n%s", diff)
	}
	claims := func(s *Embedded) map[claimKey]claimState {
		m := maps.Clone(s.claims)
		for k, c := range m {
			c.size = 0
			m[k] = c
		}
		return m
	}
	if diff := cmp.Diff(claims(s), claims(s2), cmp.AllowUnexported(claimKey{}, claimState{})); diff != "" {
		t.Fatalf("claims changed by compaction (-before +after):\n%s", diff)
	}
	incs := func(s *Embedded) []Incident {
		var out []Incident
		for _, k := range slices.Sorted(maps.Keys(s.incidents)) {
			out = append(out, s.incidents[k].in)
		}
		return out
	}
	if diff := cmp.Diff(incs(s), incs(s2)); diff != "" {
		t.Fatalf("incidents changed by compaction (-before +after):\n%s", diff)
	}
}

// FuzzDecodeEntry decodes arbitrary payloads: never a panic, every error
// wraps ErrCorrupt, and an accepted record re-encodes to itself.
func FuzzDecodeEntry(f *testing.F) {
	seed := seedLog(f)
	for off := len(logMagic); off < len(seed); {
		payload, n, err := nextEntry(seed[off:])
		if err != nil {
			f.Fatal(err)
		}
		f.Add(payload)
		off += n
	}
	f.Add([]byte{kindRecord})
	f.Add([]byte{kindRecord, '{', '}'})
	f.Fuzz(func(t *testing.T, payload []byte) {
		e, err := decodeEntry(payload)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if e.kind != kindRecord {
			return
		}
		framed, err := appendEntry(nil, kindRecord, &e.record)
		if err != nil {
			t.Fatalf("cannot re-encode an accepted record %+v: %v", e.record, err)
		}
		again, err := decodeEntry(framed[headerLen:])
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if diff := cmp.Diff(e.record, again.record); diff != "" {
			t.Fatalf("record changed by a round trip (-first +second):\n%s", diff)
		}
	})
}
