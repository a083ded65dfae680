package horizon

import (
	"errors"
	"fmt"
	"time"
)

// Config is Horizon's section of the YAML config.
type Config struct {
	Pickle    PickleConfig    `yaml:"pickle"`
	Msgpack   MsgpackConfig   `yaml:"msgpack"`
	Plaintext PlaintextConfig `yaml:"plaintext"`
	Kafka     KafkaConfig     `yaml:"kafka"`
	Filters   FilterConfig    `yaml:"filters"`
	Queue     QueueConfig     `yaml:"queue"`
}

// PickleConfig is the Graphite pickle listener (what carbon-relay sends).
type PickleConfig struct {
	Addr          string `yaml:"addr"`            // TCP address; "" turns the listener off
	MaxFrameBytes int    `yaml:"max_frame_bytes"` // frames declaring more close the connection
}

// MsgpackConfig is the MessagePack-over-UDP listener.
type MsgpackConfig struct {
	Addr string `yaml:"addr"` // UDP address; "" turns the listener off
}

// PlaintextConfig is the Graphite line-protocol listener, on TCP and UDP.
type PlaintextConfig struct {
	Addr          string `yaml:"addr"`            // TCP and UDP address; "" turns both off
	MaxLineLength int    `yaml:"max_line_length"` // longer lines are rejected (malformed)
}

// KafkaConfig is the Kafka consumer, off unless Brokers and Topic are set.
type KafkaConfig struct {
	Brokers []string `yaml:"brokers"` // bootstrap brokers host:port
	Topic   string   `yaml:"topic"`
	Group   string   `yaml:"group"`  // consumer group id
	Format  string   `yaml:"format"` // plaintext, msgpack or auto (msgpack if the message starts with an array)
}

// FilterConfig decides which points are stored.
type FilterConfig struct {
	SkipList      []string      `yaml:"skip_list"`        // Skyline SKIP_LIST
	DoNotSkipList []string      `yaml:"do_not_skip_list"` // Skyline DO_NOT_SKIP_LIST
	MaxAge        time.Duration `yaml:"max_age"`          // Skyline MAX_RESOLUTION; 0 turns it off (backfill)
	MaxFuture     time.Duration `yaml:"max_future"`       // refuse points further ahead; 0 turns it off
	MaxNameLength int           `yaml:"max_name_length"`  // bytes
}

// QueueConfig sizes the path from listeners to the store.
type QueueConfig struct {
	Size          int           `yaml:"size"`           // batches the queue holds before TCP readers wait and UDP drops
	BatchSize     int           `yaml:"batch_size"`     // points per store write
	FlushInterval time.Duration `yaml:"flush_interval"` // longest a point waits for a full batch
	Writers       int           `yaml:"writers"`        // concurrent store writers; 0 = one per CPU
}

// DefaultConfig returns Skyline's ports and limits, with Kale's additions.
func DefaultConfig() Config {
	return Config{
		Pickle:    PickleConfig{Addr: ":2024", MaxFrameBytes: 64 << 20},
		Msgpack:   MsgpackConfig{Addr: ":2025"},
		Plaintext: PlaintextConfig{Addr: ":2003", MaxLineLength: 4096},
		Kafka:     KafkaConfig{Group: "kale-horizon", Format: "auto"},
		Filters: FilterConfig{
			MaxAge:        1000 * time.Second,
			MaxFuture:     10 * time.Minute,
			MaxNameLength: 512,
		},
		Queue: QueueConfig{
			Size:          4096,
			BatchSize:     10000,
			FlushInterval: 200 * time.Millisecond,
		},
	}
}

// Validate returns every problem of c, joined.
func (c Config) Validate() error {
	var errs []error
	if c.Pickle.MaxFrameBytes <= 0 {
		errs = append(errs, errors.New("horizon.pickle.max_frame_bytes must be > 0"))
	}
	if c.Plaintext.MaxLineLength < 64 {
		errs = append(errs, errors.New("horizon.plaintext.max_line_length must be >= 64"))
	}
	if (len(c.Kafka.Brokers) == 0) != (c.Kafka.Topic == "") {
		errs = append(errs, errors.New("horizon.kafka: set both brokers and topic, or neither"))
	}
	switch c.Kafka.Format {
	case "plaintext", "msgpack", "auto":
	default:
		errs = append(errs, fmt.Errorf("horizon.kafka.format %q: want plaintext, msgpack or auto", c.Kafka.Format))
	}
	if c.Kafka.Group == "" {
		errs = append(errs, errors.New("horizon.kafka.group must not be empty"))
	}
	for name, d := range map[string]time.Duration{"max_age": c.Filters.MaxAge, "max_future": c.Filters.MaxFuture} {
		if d < 0 || (d > 0 && d < time.Second) {
			errs = append(errs, fmt.Errorf("horizon.filters.%s must be 0 (off) or at least 1s (timestamps are whole seconds), not %v", name, d))
		}
	}
	if c.Filters.MaxNameLength <= 0 {
		errs = append(errs, errors.New("horizon.filters.max_name_length must be > 0"))
	}
	for _, e := range append(append([]string{}, c.Filters.SkipList...), c.Filters.DoNotSkipList...) {
		if e == "" {
			errs = append(errs, errors.New("horizon.filters: an empty skip list entry would match every metric"))
			break
		}
	}
	if c.Queue.Size <= 0 || c.Queue.BatchSize <= 0 {
		errs = append(errs, errors.New("horizon.queue.size and batch_size must be > 0"))
	}
	if c.Queue.FlushInterval <= 0 {
		errs = append(errs, errors.New("horizon.queue.flush_interval must be > 0"))
	}
	if c.Queue.Writers < 0 {
		errs = append(errs, errors.New("horizon.queue.writers must be >= 0"))
	}
	return errors.Join(errs...)
}
