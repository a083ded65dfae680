// Package config is Kale's one YAML config file: each component's Config
// composed under its own key, decoded strictly (an unknown key is an
// error), every key with a default. defaults.yaml is the commented default
// file `kale config defaults` prints; a test keeps it equal to Default().
package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/go-kale/kale/alerters"
	"github.com/go-kale/kale/analyzer"
	"github.com/go-kale/kale/horizon"
	"github.com/go-kale/kale/internal/store"
	"github.com/go-kale/kale/internal/store/embedded"
	"github.com/go-kale/kale/internal/store/redisstore"
	"github.com/go-kale/kale/oculus"
	"github.com/go-kale/kale/webapp"
)

// Config is the whole of Kale's configuration.
type Config struct {
	DataDir       string                `yaml:"data_dir"`
	LogLevel      string                `yaml:"log_level"`
	HTTP          webapp.Config         `yaml:"http"`
	Store         StoreConfig           `yaml:"store"`
	Horizon       horizon.Config        `yaml:"horizon"`
	Analyzer      analyzer.Config       `yaml:"analyzer"`
	Alerts        analyzer.AlertsConfig `yaml:"alerts"`
	Oculus        oculus.Config         `yaml:"oculus"`
	Elasticsearch oculus.ElasticConfig  `yaml:"elasticsearch"`
}

// StoreConfig chooses and configures the series store.
type StoreConfig struct {
	// Backend is "embedded" or "redis"; "" picks redis when redis.url is
	// set and embedded otherwise.
	Backend        string            `yaml:"backend"`
	Retention      store.Retention   `yaml:",inline"`
	RoombaInterval time.Duration     `yaml:"roomba_interval"`
	Embedded       embedded.Config   `yaml:"embedded"`
	Redis          redisstore.Config `yaml:"redis"`
}

//go:embed defaults.yaml
var defaultsYAML []byte

// DefaultsYAML returns the commented default config file.
func DefaultsYAML() []byte { return bytes.Clone(defaultsYAML) }

// Default returns the default config.
func Default() Config {
	return Config{
		DataDir:  "./kale-data",
		LogLevel: "info",
		HTTP:     webapp.DefaultConfig(),
		Store: StoreConfig{
			Retention:      store.Retention{Grace: store.DefaultRetention().Grace}, // full_duration 0: auto
			RoombaInterval: time.Minute,
			Embedded:       embedded.DefaultConfig(),
			Redis:          redisstore.DefaultConfig(),
		},
		Horizon:       horizon.DefaultConfig(),
		Analyzer:      analyzer.DefaultConfig(),
		Alerts:        analyzer.AlertsConfig{Delivery: alerters.DefaultDispatchOptions()},
		Oculus:        oculus.DefaultConfig(),
		Elasticsearch: oculus.DefaultElasticConfig(),
	}
}

// Load reads and strictly decodes the file at path over the defaults, then
// validates the result. path "" gives the defaults.
func Load(path string) (Config, error) {
	c := Default()
	if path == "" {
		return c, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return c, fmt.Errorf("cannot read config: %w", err)
	}
	defer f.Close()
	if err := Decode(f, &c); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Decode strictly decodes YAML from r over c (keys absent from the file keep
// c's values). Unknown keys are errors.
func Decode(r io.Reader, c *Config) error {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// BackendName returns the store backend in use: "embedded" or "redis".
func (c Config) BackendName() string {
	if c.Store.Backend != "" {
		return c.Store.Backend
	}
	if c.Store.Redis.URL != "" {
		return "redis"
	}
	return "embedded"
}

// Auto values of store.full_duration: the default profile's history
// (algorithms.ProfileSettings) on the embedded store, Skyline's
// FULL_DURATION on Redis, where long strings cost memory (~19 bytes a point
// against the embedded store's ~2.5).
const (
	AutoFullDurationEmbedded = 7 * 24 * time.Hour
	AutoFullDurationRedis    = 24 * time.Hour
)

// Retention returns the store's retention with store.full_duration 0 (auto)
// resolved for the backend in use.
func (c Config) Retention() store.Retention {
	r := c.Store.Retention
	if r.FullDuration == 0 {
		r.FullDuration = AutoFullDurationEmbedded
		if c.BackendName() == "redis" {
			r.FullDuration = AutoFullDurationRedis
		}
	}
	return r
}

// Validate returns every problem of c, one per line when printed.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir must not be empty"))
	}
	if _, err := ParseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	switch c.Store.Backend {
	case "", "embedded":
	case "redis":
		if c.Store.Redis.URL == "" {
			errs = append(errs, errors.New("store.backend is redis but store.redis.url (--redis) is empty"))
		}
	default:
		errs = append(errs, fmt.Errorf("store.backend %q: want embedded or redis", c.Store.Backend))
	}
	if r := c.Store.Retention; (r.FullDuration != 0 && r.FullDuration < time.Second) || r.Grace < 0 {
		errs = append(errs, errors.New("store.full_duration must be 0 (auto) or at least 1s, and store.roomba_grace >= 0"))
	}
	if c.Store.RoombaInterval <= 0 {
		errs = append(errs, errors.New("store.roomba_interval must be > 0"))
	}
	if err := c.HTTP.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Horizon.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Analyzer.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Alerts.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Oculus.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Elasticsearch.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ParseLevel parses a log level name.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log_level %q: want debug, info, warn or error", s)
}
