// Package redisstore is the store.Store backend on Redis or Redis Cluster,
// in Skyline's key format (skyline-spec 1.6), so that Skyline's own tools
// and Kale read each other's data:
//
//	metrics.<name>           string: concatenated msgpack [ts, value] arrays, as appended
//	metrics.unique_metrics   set: the key (metrics.<name>) of every series
//	mini.<name>, mini.unique_metrics   the same, kept for Mini.Duration (when Mini.Enabled)
//
// The value codec is internal/series (AppendPoint, DecodePoints). Kale
// writes integer timestamps (15 bytes a point today); it reads whatever
// numeric types Skyline's Python wrote (float timestamps, 19 bytes).
//
// # Writes
//
// Append groups the samples of one call by metric and sends one
// `APPEND metrics.<name> <points...>` per metric (the points of a metric in
// arrival order, so that a later point wins on equal timestamps), in
// pipelines of Config.PipelineBatch commands (one connection per pipeline
// on a standalone server; on a cluster go-redis splits each pipeline by
// node and runs the parts in parallel). APPEND
// answers the new length of the value; when that equals the length
// appended, this call created the key, and Append then sends one
// `SADD metrics.unique_metrics <keys...>` for the keys it created before it
// returns. Skyline's Horizon sends SADD with every APPEND; creating-call
// detection sends it once per key life and is exact across processes, with
// no per-process set of known names to go stale when another process's
// Roomba deletes a key. A SADD that fails is retried by the next Append and
// by Trim, so a key is never left out of the set.
//
// # Failures
//
// go-redis's own retries are off: a command retried after it ran but
// before its answer arrived would APPEND twice and hide that the first one
// created the key. A failed call returns its error (the caller retries the
// batch; the repeated points resolve to the same values) and the keys whose
// APPEND may or may not have run are added to the name set by the next
// Append or Trim. A member whose key does not exist is removed by Trim.
//
// # Reads
//
// Names reads the set with SSCAN; Fetch GETs the key, decodes it, sorts by
// timestamp (stable, so the last-appended point wins on equal timestamps)
// and cuts the range. A value that does not decode gives the points before
// the bad bytes and an error wrapping series.ErrMalformed and
// store.ErrCorrupt; Trim repairs it. FetchBatch does the same for many
// names with one pipeline of Config.FetchBatch GETs per round trip, and
// sends the next pipeline before it hands the current one's metrics to the
// caller, so that the network and Redis work while the caller computes.
//
// # Trim (Roomba)
//
// Trim walks the set with SSCAN, GETs keys in pipelines of Config.TrimBatch,
// and for each decodes, sorts, de-duplicates (last write wins, where
// Skyline kept the smallest value) and drops points with ts <= cutoff. A key
// that needs no change is not written. A changed key is written back by a
// Lua script that checks the value still starts as it was read (its length
// is at least the length read, and its first and last bytes up to that
// length are unchanged) and then sets it to the new value followed by
// whatever was appended since (GETRANGE key <old length> -1), so points
// appended while Roomba works are never lost. If the check fails (another
// Roomba rewrote the key) the key is read again once in this pass, else
// left to the next. When nothing survives the script DELetes the key
// (only if nothing was appended meanwhile); Trim then SREMs it from the set
// and SADDs it back if an Append re-created it in between. A value that does
// not decode is not deleted as Skyline's Roomba did ("zap it"): the points
// before the bad bytes are kept, the rest is dropped, and a warning is
// logged with the byte offset. One key per script call, so it works on
// Redis Cluster.
//
// # Redis Cluster
//
// The series keys spread over the cluster's slots. The name set stays the
// single key metrics.unique_metrics, in one slot on one master, because that
// is what Skyline's analyzer, webapp and Roomba read; it is not a hot key
// because Kale sends SADD only when a key is created (or re-created after a
// Trim) and reads it only once per Names/Trim, with SSCAN. Splitting it into
// per-slot sets would break every Skyline tool for little gain.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/go-kale/kale/internal/series"
	"github.com/go-kale/kale/internal/store"
)

// Config configures the Redis store. Retention comes from the caller.
type Config struct {
	// URL of the Redis server: redis://[user:password@]host:port[/db],
	// rediss:// (TLS), unix:///path/redis.sock[?db=N], or a bare
	// host:port. A comma-separated list of host:port (with or without
	// redis://), or redis+cluster://[user:password@]host:port[,host:port...]
	// even with one seed address, means Redis Cluster (database 0 only).
	URL string `yaml:"url"`
	// Namespace prefixes every series key and names the set
	// <Namespace>unique_metrics. Skyline's FULL_NAMESPACE: "metrics.".
	Namespace string `yaml:"namespace"`
	// Mini is Skyline's Oculus copy of the recent data.
	Mini MiniConfig `yaml:"mini"`
	// PoolSize is the number of connections per Redis node (0: go-redis's
	// default, 10 per CPU).
	PoolSize int `yaml:"pool_size"`
	// DialTimeout, ReadTimeout and WriteTimeout bound each connection
	// attempt and each network read or write.
	DialTimeout  time.Duration `yaml:"dial_timeout"`
	ReadTimeout  time.Duration `yaml:"read_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// PipelineBatch is the number of commands Append sends per pipeline
	// (one network round trip).
	PipelineBatch int `yaml:"pipeline_batch"`
	// TrimBatch is the number of keys Trim reads per round trip; each may
	// be hundreds of KB, so this bounds Trim's memory.
	TrimBatch int `yaml:"trim_batch"`
	// FetchBatch is the number of keys FetchBatch (the analyzer's read of
	// every metric) GETs per round trip. A day of 60-s points is about
	// 21 KB a key, and FetchBatch holds two rounds at once (it reads the
	// next while the caller works on the current one), so this bounds its
	// memory to about 2 x FetchBatch x the value size.
	FetchBatch int `yaml:"fetch_batch"`
	// Retention is set by the caller from the shared retention settings.
	Retention store.Retention `yaml:"-"`
}

// MiniConfig is the mini namespace, Skyline's copy of the last
// MINI_DURATION for Oculus.
type MiniConfig struct {
	Enabled   bool          `yaml:"enabled"`   // also write mini.<name> (Skyline: when OCULUS_HOST is set)
	Namespace string        `yaml:"namespace"` // Skyline's MINI_NAMESPACE
	Duration  time.Duration `yaml:"duration"`  // Skyline's MINI_DURATION; Trim keeps Duration + Retention.Grace
}

// DefaultConfig returns Skyline's names and durations, timeouts suited to a
// local or LAN Redis, and no URL (the caller must set one).
func DefaultConfig() Config {
	return Config{
		Namespace:     "metrics.",
		Mini:          MiniConfig{Enabled: false, Namespace: "mini.", Duration: time.Hour},
		DialTimeout:   5 * time.Second,
		ReadTimeout:   10 * time.Second,
		WriteTimeout:  10 * time.Second,
		PipelineBatch: 1000,
		TrimBatch:     100,
		FetchBatch:    500,
		Retention:     store.DefaultRetention(),
	}
}

// Sentinel errors, checked with errors.Is.
var (
	// ErrConfig is wrapped by every configuration error of New.
	ErrConfig = errors.New("invalid redis store config")
)

// Store is the Redis store.Store. Create it with New.
type Store struct {
	cfg     Config
	log     *slog.Logger
	met     *metrics
	client  redis.UniversalClient
	where   string // the address(es), for error messages
	closed  atomic.Bool
	full    namespace
	mini    namespace // zero when Mini is off
	pending pendingAdds
}

var _ store.Store = (*Store)(nil)

// namespace is one key prefix and its name set.
type namespace struct {
	prefix string // "metrics."
	set    string // "metrics.unique_metrics"
	keep   int64  // seconds kept: duration + grace
}

// New checks cfg and returns a Store. It does no I/O: the first command
// connects, so New succeeds while Redis is down; call Ping at startup to
// report an unreachable server. logger nil discards logs; reg nil
// registers no metrics (kale_store_redis_...).
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	client, where, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	met, err := newMetrics(reg)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("cannot register redis store metrics: %w", err)
	}
	s := &Store{
		cfg:    cfg,
		log:    logger,
		met:    met,
		client: client,
		where:  where,
		full: namespace{
			prefix: cfg.Namespace,
			set:    cfg.Namespace + "unique_metrics",
			keep:   int64((cfg.Retention.FullDuration + cfg.Retention.Grace) / time.Second),
		},
	}
	if cfg.Mini.Enabled {
		s.mini = namespace{
			prefix: cfg.Mini.Namespace,
			set:    cfg.Mini.Namespace + "unique_metrics",
			keep:   int64((cfg.Mini.Duration + cfg.Retention.Grace) / time.Second),
		}
	}
	return s, nil
}

// check validates the fields New needs.
func (c Config) check() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	if strings.TrimSpace(c.URL) == "" {
		bad("url is empty: give redis://host:port/db or host:port,host:port for a cluster")
	}
	if c.Namespace == "" {
		bad("namespace is empty (Skyline uses \"metrics.\")")
	}
	if c.Mini.Enabled {
		if c.Mini.Namespace == "" || c.Mini.Namespace == c.Namespace {
			bad("mini.namespace %q must be set and differ from namespace %q", c.Mini.Namespace, c.Namespace)
		}
		if c.Mini.Duration < time.Second {
			bad("mini.duration %v must be at least 1s", c.Mini.Duration)
		}
	}
	if c.Retention.FullDuration < time.Second || c.Retention.Grace < 0 {
		bad("retention %v + grace %v: full duration must be at least 1s and grace not negative",
			c.Retention.FullDuration, c.Retention.Grace)
	}
	if c.PoolSize < 0 {
		bad("pool_size %d is negative", c.PoolSize)
	}
	if c.PipelineBatch < 1 {
		bad("pipeline_batch %d must be at least 1", c.PipelineBatch)
	}
	if c.TrimBatch < 1 {
		bad("trim_batch %d must be at least 1", c.TrimBatch)
	}
	if c.FetchBatch < 1 {
		bad("fetch_batch %d must be at least 1", c.FetchBatch)
	}
	if c.DialTimeout < 0 || c.ReadTimeout < 0 || c.WriteTimeout < 0 {
		bad("timeouts must not be negative")
	}
	return errors.Join(errs...)
}

// newClient parses cfg.URL (see Config.URL) and builds the client.
func newClient(cfg Config) (redis.UniversalClient, string, error) {
	raw := strings.TrimSpace(cfg.URL)
	cluster := false
	var user, pass string
	var addrs []string
	switch {
	case strings.HasPrefix(raw, "redis+cluster://"):
		cluster = true
		user, pass, addrs = splitHosts(strings.TrimPrefix(raw, "redis+cluster://"))
	case strings.HasPrefix(raw, "redis://") && strings.Contains(raw, ","):
		cluster = true
		user, pass, addrs = splitHosts(strings.TrimPrefix(raw, "redis://"))
	case !strings.Contains(raw, "://"):
		_, _, addrs = splitHosts(raw)
		cluster = len(addrs) > 1
	}
	if cluster || (len(addrs) == 1 && !strings.Contains(raw, "://")) {
		for _, a := range addrs {
			if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
				return nil, "", fmt.Errorf("%w: url %q: %q is not host:port", ErrConfig, raw, a)
			}
			if _, err := strconv.ParseUint(a[strings.LastIndexByte(a, ':')+1:], 10, 16); err != nil {
				return nil, "", fmt.Errorf("%w: url %q: bad port in %q", ErrConfig, raw, a)
			}
		}
	}
	where := strings.Join(addrs, ",")
	if cluster {
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:                 addrs,
			Username:              user,
			Password:              pass,
			PoolSize:              cfg.PoolSize,
			DialTimeout:           cfg.DialTimeout,
			ReadTimeout:           cfg.ReadTimeout,
			WriteTimeout:          cfg.WriteTimeout,
			MaxRetries:            -1,
			ContextTimeoutEnabled: true,
			DisableIdentity:       true,
		}), where, nil
	}
	var opt *redis.Options
	if len(addrs) == 1 {
		opt = &redis.Options{Addr: addrs[0]}
	} else {
		var err error
		if opt, err = redis.ParseURL(raw); err != nil {
			return nil, "", fmt.Errorf("%w: url %q: %v", ErrConfig, redactURL(raw), err)
		}
		where = opt.Addr
	}
	if cfg.PoolSize > 0 {
		opt.PoolSize = cfg.PoolSize
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = cfg.DialTimeout, cfg.ReadTimeout, cfg.WriteTimeout
	opt.MaxRetries = -1 // see "Failures" in the package doc
	opt.ContextTimeoutEnabled = true
	opt.DisableIdentity = true
	return redis.NewClient(opt), where, nil
}

// splitHosts splits "[user:pass@]h:p,h:p[/...]" into credentials and hosts.
func splitHosts(s string) (user, pass string, addrs []string) {
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		cred := s[:at]
		s = s[at+1:]
		u, p, ok := strings.Cut(cred, ":")
		user, _ = url.PathUnescape(u)
		if ok {
			pass, _ = url.PathUnescape(p)
		}
	}
	if i := strings.IndexAny(s, "/?"); i >= 0 {
		s = s[:i]
	}
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	return user, pass, addrs
}

// redactURL hides a password in u for messages.
func redactURL(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Redacted()
	}
	return u
}

// begin is the common entry of every method: ErrClosed after Close, then
// ctx's error.
func (s *Store) begin(ctx context.Context) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	return ctx.Err()
}

// fail counts a failed call of op (a metric label: append, names, fetch,
// trim) and turns its Redis error into the error the method returns:
// ErrClosed when Close ran meanwhile, else "cannot <action> on redis at
// <where>: err" wrapping ctx's error when ctx is done.
func (s *Store) fail(ctx context.Context, op, action string, err error) error {
	s.met.errors.WithLabelValues(op).Inc()
	if s.closed.Load() || errors.Is(err, redis.ErrClosed) {
		return store.ErrClosed
	}
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		return fmt.Errorf("cannot %s on redis at %s: %w (%v)", action, s.where, ctx.Err(), err)
	}
	return fmt.Errorf("cannot %s on redis at %s: %w", action, s.where, err)
}

// Ping sends PING (to every master on a cluster). The error says where
// Redis was expected and what to do:
// "cannot reach redis at 127.0.0.1:6379: ...: start redis-server or fix --redis".
func (s *Store) Ping(ctx context.Context) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	var err error
	if c, ok := s.client.(*redis.ClusterClient); ok {
		err = c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			return n.Ping(ctx).Err()
		})
		if err == nil {
			err = c.Ping(ctx).Err() // also when the cluster map is empty
		}
	} else {
		err = s.client.Ping(ctx).Err()
	}
	if err != nil {
		s.met.errors.WithLabelValues("ping").Inc()
		if s.closed.Load() {
			return store.ErrClosed
		}
		if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return fmt.Errorf("cannot reach redis at %s: %w: start redis-server or fix --redis", s.where, err)
	}
	return nil
}

// Close closes the connections. Calls after Close return ErrClosed, as
// does a second Close.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return store.ErrClosed
	}
	if err := s.client.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
		return fmt.Errorf("cannot close redis client: %w", err)
	}
	return nil
}

// Names returns the base names in the set <Namespace>unique_metrics that
// start with prefix, sorted. Members outside the namespace are ignored. The
// prefix is literal (Redis MATCH patterns are not used). The set is not
// checked against the keys: a member whose key another tool deleted is
// listed until the next Trim removes it.
func (s *Store) Names(ctx context.Context, prefix string) ([]string, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	start := time.Now()
	var out []string
	var cursor uint64
	for {
		keys, next, err := s.client.SScan(ctx, s.full.set, cursor, "", 10000).Result()
		s.met.commands.WithLabelValues("names").Inc()
		if err != nil {
			return nil, s.fail(ctx, "names", "list names", err)
		}
		for _, k := range keys {
			if name, ok := strings.CutPrefix(k, s.full.prefix); ok && strings.HasPrefix(name, prefix) {
				out = append(out, name)
			}
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	// SSCAN may return a member more than once.
	slices.Sort(out)
	out = slices.Compact(out)
	s.met.latency.WithLabelValues("names").Observe(time.Since(start).Seconds())
	return out, nil
}

// Fetch returns the points of name with from <= ts <= until, sorted, one
// per timestamp (the last appended). ErrNotFound when the key is missing
// or empty. A value that does not decode gives the points decoded before
// the bad bytes (sorted and cut as usual) and an error wrapping
// series.ErrMalformed and store.ErrCorrupt.
func (s *Store) Fetch(ctx context.Context, name string, from, until int64) ([]series.Point, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	start := time.Now()
	val, err := s.client.Get(ctx, s.full.prefix+name).Bytes()
	s.met.commands.WithLabelValues("fetch").Inc()
	if errors.Is(err, redis.Nil) || (err == nil && len(val) == 0) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, s.fail(ctx, "fetch", "fetch "+name, err)
	}
	pts, derr := series.DecodePoints(nil, val)
	pts = sortCut(pts, from, until)
	s.met.latency.WithLabelValues("fetch").Observe(time.Since(start).Seconds())
	if derr != nil {
		s.met.corrupt.Inc()
		return pts, fmt.Errorf("cannot decode %s%s: %w: %w", s.full.prefix, name, store.ErrCorrupt, derr)
	}
	return pts, nil
}

// sortCut sorts pts in place by timestamp keeping the last of equal
// timestamps (series.SortDedup) and returns the part in [from, until].
func sortCut(pts []series.Point, from, until int64) []series.Point {
	pts, _, _ = series.SortDedup(pts)
	lo, _ := slices.BinarySearchFunc(pts, from, cmpTS)
	hi, found := slices.BinarySearchFunc(pts, until, cmpTS)
	if found {
		hi++
	}
	if lo >= hi {
		return pts[:0]
	}
	return pts[lo:hi]
}

func cmpTS(p series.Point, ts int64) int {
	switch {
	case p.Timestamp < ts:
		return -1
	case p.Timestamp > ts:
		return 1
	}
	return 0
}

// pendingAdds holds set members whose SADD failed, to be sent again.
type pendingAdds struct {
	mu sync.Mutex
	m  map[string][]string // set key -> members
}

func (p *pendingAdds) add(set string, members []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string][]string{}
	}
	p.m[set] = append(p.m[set], members...)
}

// take removes and returns everything pending.
func (p *pendingAdds) take() map[string][]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.m
	p.m = nil
	return m
}

// Client returns the store's Redis client, for other Kale data kept in the
// same Redis (the analyzer's anomaly records and alert claims). Closing the
// store closes it.
func (s *Store) Client() redis.UniversalClient { return s.client }
