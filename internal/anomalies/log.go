package anomalies

// The embedded store's log, the file anomalies.log in the store's folder:
//
//	"KALEANL1"                     8-byte magic
//	entry*
//
//	entry   = uint32 LE len | uint32 LE crc | payload   (1 <= len <= maxEntryLen)
//	          crc is CRC-32C (Castagnoli) of payload
//	payload = kind byte, then a JSON object (encoding/json) by kind:
//	  1 record   a Record: {"metric","timestamp","value","score","detectors","profile"}
//	  2 trim     {"before": T}: every record with timestamp < T is dropped
//	  3 claim    {"alerter","metric","ts","expires"}: expires in UNIX nanoseconds
//	  4 release  {"alerter","metric"}
//	  5 incident an Incident: {"key","metric","rule","alerter","opened","last_anomalous"}
//	  6 close    {"key"}
//
// Entries are replayed in file order onto an empty state; each one is the
// change the store made in memory, in the order it made them. A claim
// whose expires has passed when it is replayed is ignored.
//
// Reading stops at the first entry that is cut short, longer than
// maxEntryLen or fails its CRC: that is a torn tail (a write cut by a
// crash), and Open truncates the file there with a warning. An entry that
// passes its CRC but does not parse (unknown kind, bad JSON, a record the
// store would refuse) is not a torn write: Open fails with ErrCorrupt and
// the file offset, and leaves the file alone.

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
)

const (
	logMagic     = "KALEANL1"
	logName      = "anomalies.log"
	headerLen    = 8
	maxEntryLen  = 16 << 20
	kindRecord   = 1
	kindTrim     = 2
	kindClaim    = 3
	kindRelease  = 4
	kindIncident = 5
	kindClose    = 6
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// trimBody, claimBody, releaseBody and closeBody are the JSON bodies of
// the entries that are not a Record or an Incident.
type trimBody struct {
	Before int64 `json:"before"`
}

type claimBody struct {
	Alerter string `json:"alerter"`
	Metric  string `json:"metric"`
	TS      int64  `json:"ts"`
	Expires int64  `json:"expires"`
}

type releaseBody struct {
	Alerter string `json:"alerter"`
	Metric  string `json:"metric"`
}

type closeBody struct {
	Key string `json:"key"`
}

// appendEntry appends a framed entry of kind with body v (marshalled to
// JSON) to dst. It fails when v does not marshal or the payload exceeds
// maxEntryLen.
func appendEntry(dst []byte, kind byte, v any) ([]byte, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return dst, err
	}
	if 1+len(body) > maxEntryLen {
		return dst, fmt.Errorf("entry of %d bytes exceeds the limit of %d", 1+len(body), maxEntryLen)
	}
	start := len(dst)
	dst = append(dst, make([]byte, headerLen)...)
	dst = append(dst, kind)
	dst = append(dst, body...)
	payload := dst[start+headerLen:]
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(payload, castagnoli))
	return dst, nil
}

// entry is one decoded log entry: kind and exactly one body.
type entry struct {
	kind     byte
	size     int64 // framed length in the log
	record   Record
	trim     trimBody
	claim    claimBody
	release  releaseBody
	incident Incident
	close    closeBody
}

// errTorn is returned by nextEntry for a torn or damaged entry.
var errTorn = errors.New("torn entry")

// nextEntry returns the payload of the entry at the start of b and the
// entry's whole length. It returns errTorn when b holds no whole entry
// with a matching CRC.
func nextEntry(b []byte) (payload []byte, n int, err error) {
	if len(b) < headerLen {
		return nil, 0, errTorn
	}
	l := binary.LittleEndian.Uint32(b)
	if l == 0 || l > maxEntryLen || uint64(len(b)-headerLen) < uint64(l) {
		return nil, 0, errTorn
	}
	payload = b[headerLen : headerLen+int(l)]
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
		return nil, 0, errTorn
	}
	return payload, headerLen + int(l), nil
}

// decodeEntry parses a payload whose CRC matched. Every error wraps
// ErrCorrupt.
func decodeEntry(payload []byte) (entry, error) {
	var e entry
	if len(payload) == 0 {
		return e, fmt.Errorf("%w: empty entry", ErrCorrupt)
	}
	e.kind = payload[0]
	body := payload[1:]
	var err error
	switch e.kind {
	case kindRecord:
		if err = strictUnmarshal(body, &e.record); err == nil {
			err = checkRecord(&e.record)
		}
	case kindTrim:
		err = strictUnmarshal(body, &e.trim)
	case kindClaim:
		if err = strictUnmarshal(body, &e.claim); err == nil {
			err = checkClaimKey("claim", e.claim.Alerter, e.claim.Metric)
		}
	case kindRelease:
		if err = strictUnmarshal(body, &e.release); err == nil {
			err = checkClaimKey("release", e.release.Alerter, e.release.Metric)
		}
	case kindIncident:
		if err = strictUnmarshal(body, &e.incident); err == nil {
			err = checkIncident(&e.incident)
		}
	case kindClose:
		if err = strictUnmarshal(body, &e.close); err == nil && e.close.Key == "" {
			err = errors.New("close of an empty key")
		}
	default:
		return e, fmt.Errorf("%w: unknown entry kind %d (written by a newer kale?)", ErrCorrupt, e.kind)
	}
	if err != nil {
		return e, fmt.Errorf("%w: entry kind %d: %v", ErrCorrupt, e.kind, err)
	}
	return e, nil
}

// strictUnmarshal decodes one JSON object into v; trailing data is an
// error, unknown fields are ignored.
func strictUnmarshal(b []byte, v any) error {
	if len(b) == 0 || b[0] != '{' {
		return errors.New("body is not a JSON object")
	}
	return json.Unmarshal(b, v)
}

// scanLog replays the log bytes data (magic included) through apply, in
// order. It returns the offset just past the last whole entry (where a
// torn tail starts; len(data) when there is none). It fails, with the
// offset of the entry, when the magic is wrong or an entry passes its CRC
// but does not decode, or when apply fails.
func scanLog(data []byte, apply func(e *entry) error) (good int64, err error) {
	if len(data) < len(logMagic) {
		if string(data) == logMagic[:len(data)] {
			return 0, nil // cut while the file was being created
		}
		return 0, fmt.Errorf("%w: file does not start with %q", ErrCorrupt, logMagic)
	}
	if string(data[:len(logMagic)]) != logMagic {
		return 0, fmt.Errorf("%w: file does not start with %q", ErrCorrupt, logMagic)
	}
	off := len(logMagic)
	for off < len(data) {
		payload, n, terr := nextEntry(data[off:])
		if terr != nil {
			break
		}
		e, derr := decodeEntry(payload)
		if derr != nil {
			return int64(off), fmt.Errorf("entry at offset %d: %w", off, derr)
		}
		e.size = int64(n)
		if aerr := apply(&e); aerr != nil {
			return int64(off), fmt.Errorf("entry at offset %d: %w", off, aerr)
		}
		off += n
	}
	return int64(off), nil
}
