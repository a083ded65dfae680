package anomalies

// The Redis backend's keys, with namespace N (default "kale."):
//
//	N anomalies                            ZSET  score = Timestamp, member = id
//	N anomalies.records{N anomalies}       HASH  id -> the Record as JSON (the Record's json tags)
//	N anomalies.metric{N anomalies}<metric> ZSET  one per metric: score = Timestamp, member = id
//	N incidents                            HASH  Incident.Key -> the Incident as JSON
//	last_alert.<alerter>.<metric>          STRING msgpack(ts), with a TTL: Skyline's de-dup key
//
// (N anomalies is written without the space.) id = "<Timestamp in
// decimal>:<Metric>" depends only on the pair, so writing a pair again
// overwrites it (idempotence), and records with one timestamp sort by
// Metric (ZREVRANGEBYSCORE gives equal scores in descending byte order).
//
// Redis Cluster: the keys of records carry the hash tag {N anomalies},
// whose slot is that of the plain key "N anomalies", so that the records
// hash, the time index and every per-metric index live in one slot, and
// Add and Trim change them in one MULTI/EXEC, and Since and Metric read
// index and hash in one script. The namespace may hold no '{' or '}'
// (every method then fails with ErrInvalid). The incidents hash is one
// key; the claims are Skyline's keys, outside the namespace, and spread
// over the slots.
//
// Writes: Add sends, per chunk of addChunk records, one MULTI with HSET
// records, ZADD time index, ZADD metric index. Trim reads the ids below
// the cut-off from the time index (trimChunk at a time) and removes them
// from the three keys in one MULTI; a concurrent Add of an old record may
// be trimmed with it. Claim is SET key value NX PX/EX (atomic, unlike
// Skyline's EXISTS then SETEX); Release is DEL.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"
)

const (
	// DefaultNamespace is the namespace NewRedis uses for "".
	DefaultNamespace = "kale."
	addChunk         = 1000
	trimChunk        = 1000
)

// Redis is the Store on Redis or Redis Cluster. Create it with NewRedis.
type Redis struct {
	client    redis.UniversalClient
	retention time.Duration
	bad       error // a bad namespace or retention, returned by every method
	closed    atomic.Bool

	all       string // N anomalies
	records   string // N anomalies.records{N anomalies}
	metricKey string // N anomalies.metric{N anomalies}, followed by the metric
	incidents string // N incidents
}

var _ Store = (*Redis)(nil)

// readScript returns the JSON of the records whose ids the index KEYS[1]
// holds with score >= ARGV[1], highest score first, at most ARGV[2] (-1:
// all), read from the hash KEYS[2]. Both keys are in one slot.
var readScript = redis.NewScript(`
local ids = redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local out = {}
for i = 1, #ids, 1000 do
  local vals = redis.call('HMGET', KEYS[2], unpack(ids, i, math.min(i + 999, #ids)))
  for k = 1, #vals do
    out[#out + 1] = vals[k]
  end
end
return out
`)

// NewRedis returns the Store on client, with keys in namespace ("" means
// DefaultNamespace) and records kept for retention by Trim. It does no
// I/O. A namespace holding '{' or '}', or a retention under 1s, makes
// every method fail with ErrInvalid. Close does not close client: the
// caller owns it.
func NewRedis(client redis.UniversalClient, namespace string, retention time.Duration) *Redis {
	if namespace == "" {
		namespace = DefaultNamespace
	}
	r := &Redis{
		client:    client,
		retention: retention,
		all:       namespace + "anomalies",
		incidents: namespace + "incidents",
	}
	tag := "{" + r.all + "}"
	r.records = r.all + ".records" + tag
	r.metricKey = r.all + ".metric" + tag
	switch {
	case strings.ContainsAny(namespace, "{}"):
		r.bad = fmt.Errorf("cannot use redis namespace %q: %w: it must hold no '{' or '}' (hash tags)", namespace, ErrInvalid)
	case retention < time.Second:
		r.bad = fmt.Errorf("cannot use anomaly retention %v: %w: it must be at least 1s", retention, ErrInvalid)
	case client == nil:
		r.bad = fmt.Errorf("cannot use the redis anomaly store: %w: client is nil", ErrInvalid)
	}
	return r
}

// ClaimKey is the Redis key of the claim (alerter, metric): Skyline's
// "last_alert.<alerter>.<metric>".
func ClaimKey(alerter, metric string) string {
	return "last_alert." + alerter + "." + metric
}

// begin is the entry of every method: the constructor's error, ErrClosed
// after Close, then ctx's error.
func (r *Redis) begin(ctx context.Context) error {
	if r.bad != nil {
		return r.bad
	}
	if r.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

// fail turns a Redis error into the method's error: ErrClosed when Close
// ran meanwhile or the client is closed, else "cannot <action>: err".
func (r *Redis) fail(action string, err error) error {
	if r.closed.Load() || errors.Is(err, redis.ErrClosed) {
		return ErrClosed
	}
	return fmt.Errorf("cannot %s on redis: %w", action, err)
}

// recordID is the member of a record in the indexes and its hash field.
func recordID(metric string, ts int64) string {
	return strconv.FormatInt(ts, 10) + ":" + metric
}

// Add stores recs, addChunk records per MULTI/EXEC.
func (r *Redis) Add(ctx context.Context, recs []Record) error {
	if err := r.begin(ctx); err != nil {
		return err
	}
	if err := checkRecords(recs); err != nil {
		return err
	}
	for chunk := range slices.Chunk(recs, addChunk) {
		_, err := r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for i := range chunk {
				rec := &chunk[i]
				js, err := json.Marshal(rec)
				if err != nil {
					return fmt.Errorf("%w: record (metric %q, timestamp %d): %v", ErrInvalid, rec.Metric, rec.Timestamp, err)
				}
				id := recordID(rec.Metric, rec.Timestamp)
				z := redis.Z{Score: float64(rec.Timestamp), Member: id}
				p.HSet(ctx, r.records, id, js)
				p.ZAdd(ctx, r.all, z)
				p.ZAdd(ctx, r.metricKey+rec.Metric, z)
			}
			return nil
		})
		if err != nil {
			if errors.Is(err, ErrInvalid) {
				return fmt.Errorf("cannot add anomalies: %w", err)
			}
			return r.fail("add anomalies", err)
		}
	}
	return nil
}

// Since returns records with Timestamp >= since, newest first, at most
// limit (0 = all). A stored value that is not a record is skipped and
// reported by an error wrapping ErrCorrupt, returned with the records
// that decoded.
func (r *Redis) Since(ctx context.Context, since int64, limit int) ([]Record, error) {
	if err := r.begin(ctx); err != nil {
		return nil, err
	}
	if err := checkLimit("list anomalies", limit); err != nil {
		return nil, err
	}
	return r.read(ctx, r.all, since, limit, "list anomalies")
}

// Metric returns metric's records with Timestamp >= since, newest first,
// at most limit (0 = all); errors as Since.
func (r *Redis) Metric(ctx context.Context, metric string, since int64, limit int) ([]Record, error) {
	if err := r.begin(ctx); err != nil {
		return nil, err
	}
	if err := checkLimit("list anomalies of "+metric, limit); err != nil {
		return nil, err
	}
	return r.read(ctx, r.metricKey+metric, since, limit, "list anomalies of "+metric)
}

// read runs readScript on index and decodes the records.
func (r *Redis) read(ctx context.Context, index string, since int64, limit int, action string) ([]Record, error) {
	lim := int64(limit)
	if limit == 0 {
		lim = -1
	}
	vals, err := readScript.Run(ctx, r.client, []string{index, r.records}, since, lim).Slice()
	if err != nil {
		return nil, r.fail(action, err)
	}
	out := make([]Record, 0, len(vals))
	var bad []string
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			bad = append(bad, fmt.Sprintf("entry %d has no record in %s", i, r.records))
			continue
		}
		var rec Record
		if err := json.Unmarshal([]byte(s), &rec); err != nil {
			bad = append(bad, fmt.Sprintf("entry %d: %v", i, err))
			continue
		}
		out = append(out, rec)
	}
	if bad != nil {
		return out, fmt.Errorf("cannot %s: %w: %d records skipped: %s", action, ErrCorrupt, len(bad), strings.Join(bad, "; "))
	}
	return out, nil
}

// Trim drops records with Timestamp < now - retention, trimChunk per
// MULTI/EXEC, and returns how many it removed.
func (r *Redis) Trim(ctx context.Context, now int64) (int, error) {
	if err := r.begin(ctx); err != nil {
		return 0, err
	}
	upper := "(" + strconv.FormatInt(cutoff(now, r.retention), 10)
	removed := 0
	for {
		ids, err := r.client.ZRangeByScore(ctx, r.all, &redis.ZRangeBy{Min: "-inf", Max: upper, Count: trimChunk}).Result()
		if err != nil {
			return removed, r.fail("trim anomalies", err)
		}
		if len(ids) == 0 {
			return removed, nil
		}
		byMetric := map[string][]any{}
		members := make([]any, len(ids))
		for i, id := range ids {
			members[i] = id
			if _, metric, ok := strings.Cut(id, ":"); ok {
				byMetric[metric] = append(byMetric[metric], id)
			}
		}
		var zrem *redis.IntCmd
		_, err = r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
			zrem = p.ZRem(ctx, r.all, members...)
			p.HDel(ctx, r.records, ids...)
			for metric, m := range byMetric {
				p.ZRem(ctx, r.metricKey+metric, m...)
			}
			return nil
		})
		if err != nil {
			return removed, r.fail("trim anomalies", err)
		}
		removed += int(zrem.Val())
		if len(ids) < trimChunk {
			return removed, nil
		}
	}
}

// Claim sends SET last_alert.<alerter>.<metric> msgpack(ts) NX with the
// expiration (PX when it is not whole seconds, else EX): true when the
// key was set.
func (r *Redis) Claim(ctx context.Context, alerter, metric string, ts int64, expiration time.Duration) (bool, error) {
	if err := r.begin(ctx); err != nil {
		return false, err
	}
	if err := checkClaimKey("claim", alerter, metric); err != nil {
		return false, err
	}
	if err := checkExpiration(expiration); err != nil {
		return false, err
	}
	var payload bytes.Buffer
	if err := msgpack.NewEncoder(&payload).EncodeInt(ts); err != nil {
		return false, fmt.Errorf("cannot claim %s: %w", ClaimKey(alerter, metric), err)
	}
	ok, err := r.client.SetNX(ctx, ClaimKey(alerter, metric), payload.Bytes(), expiration).Result()
	if err != nil {
		return false, r.fail("claim "+ClaimKey(alerter, metric), err)
	}
	return ok, nil
}

// Release deletes the claim key.
func (r *Redis) Release(ctx context.Context, alerter, metric string) error {
	if err := r.begin(ctx); err != nil {
		return err
	}
	if err := checkClaimKey("release", alerter, metric); err != nil {
		return err
	}
	if err := r.client.Del(ctx, ClaimKey(alerter, metric)).Err(); err != nil {
		return r.fail("release "+ClaimKey(alerter, metric), err)
	}
	return nil
}

// PutIncident sets the field in.Key of the incidents hash to in as JSON.
func (r *Redis) PutIncident(ctx context.Context, in Incident) error {
	if err := r.begin(ctx); err != nil {
		return err
	}
	if err := checkIncident(&in); err != nil {
		return err
	}
	js, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("cannot put incident %q: %w", in.Key, err)
	}
	if err := r.client.HSet(ctx, r.incidents, in.Key, js).Err(); err != nil {
		return r.fail(fmt.Sprintf("put incident %q", in.Key), err)
	}
	return nil
}

// Incidents reads the incidents hash (HGETALL) and returns the incidents
// sorted by Key. A value that is not an incident is skipped and reported
// by an error wrapping ErrCorrupt, returned with the others.
func (r *Redis) Incidents(ctx context.Context) ([]Incident, error) {
	if err := r.begin(ctx); err != nil {
		return nil, err
	}
	m, err := r.client.HGetAll(ctx, r.incidents).Result()
	if err != nil {
		return nil, r.fail("list incidents", err)
	}
	out := make([]Incident, 0, len(m))
	var bad []string
	for k, v := range m {
		var in Incident
		if err := json.Unmarshal([]byte(v), &in); err != nil {
			bad = append(bad, fmt.Sprintf("%q: %v", k, err))
			continue
		}
		in.Key = k
		out = append(out, in)
	}
	slices.SortFunc(out, func(a, b Incident) int { return strings.Compare(a.Key, b.Key) })
	if bad != nil {
		slices.Sort(bad)
		return out, fmt.Errorf("cannot list incidents: %w: %s", ErrCorrupt, strings.Join(bad, "; "))
	}
	return out, nil
}

// CloseIncident deletes the field key of the incidents hash.
func (r *Redis) CloseIncident(ctx context.Context, key string) error {
	if err := r.begin(ctx); err != nil {
		return err
	}
	if err := r.client.HDel(ctx, r.incidents, key).Err(); err != nil {
		return r.fail(fmt.Sprintf("close incident %q", key), err)
	}
	return nil
}

// Close marks the store closed (later calls return ErrClosed). It does
// not close the client.
func (r *Redis) Close() error {
	if r.closed.Swap(true) {
		return ErrClosed
	}
	return nil
}
