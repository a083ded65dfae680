package oculus

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Config is the oculus section of Kale's YAML config.
type Config struct {
	// Interval between imports: each re-fingerprints every metric into a
	// new index generation (Oculus's cron ran every 2 minutes).
	Interval time.Duration `yaml:"interval"`
	// Window is how much recent history a shape covers (Oculus: 1 hour).
	Window time.Duration `yaml:"window"`
	// Points is how many buckets each window is resampled to, so metrics
	// of any resolution compare point for point.
	Points int `yaml:"points"`
	// MinPoints: a metric with fewer points in the window is not indexed.
	MinPoints int `yaml:"min_points"`
	// Namespace limits the import to metrics starting with this prefix;
	// "" imports every metric.
	Namespace string `yaml:"namespace"`
	// Radius of FastDTW when ranking candidates (Oculus's dtw_radius).
	Radius int `yaml:"radius"`
	// Band limits how far DTW may warp time, as a share of the window
	// (a Sakoe-Chiba band): 0.1 lets a metric lag or lead by up to 6
	// minutes of an hour. 1 is unconstrained, as Oculus was.
	Band float64 `yaml:"band"`
	// Candidates is how many shapes the index hands to the FastDTW
	// ranking per search.
	Candidates int `yaml:"candidates"`
	// ScanLimit bounds the embedded index's work per search (Query.ScanLimit):
	// the answer is exact unless more than this many shapes come within
	// reach of the n-th best, which happens for noise-like queries, whose
	// nearest shapes are barely nearer than the rest. 0: always exact.
	ScanLimit int `yaml:"scan_limit"`
	// BatchSize is how many metrics the importer reads from the store at
	// once.
	BatchSize int `yaml:"batch_size"`
}

// ElasticConfig configures the Elasticsearch backend (oculus/elastic).
type ElasticConfig struct {
	// URLs of the cluster's nodes; empty keeps the embedded index.
	URLs []string `yaml:"urls"`
	// Index is the prefix of Kale's index names: shapes live in
	// <Index>-metrics-<generation> behind the alias <Index>-metrics, the
	// collections in <Index>-collections.
	Index    string `yaml:"index"`
	Username string `yaml:"username"`
	// Password, or "env:NAME" to read it from the environment.
	Password string        `yaml:"password"`
	Timeout  time.Duration `yaml:"timeout"`
	// Query picks the candidate query: "tokens" (the default; Kale's
	// positional tokens, with Oculus's shingles only breaking ties) or
	// "shingles" (Oculus's fingerprint-word shingles alone, as Oculus
	// matched; far lower recall: docs/oculus.md has the figures).
	Query string `yaml:"query"`
}

// Candidate queries of the Elasticsearch backend (ElasticConfig.Query).
const (
	QueryTokens   = "tokens"
	QueryShingles = "shingles"
)

// DefaultConfig returns Kale's defaults.
func DefaultConfig() Config {
	return Config{
		Interval:   2 * time.Minute,
		Window:     time.Hour,
		Points:     120,
		MinPoints:  10,
		Radius:     5,
		Band:       0.1,
		Candidates: 40,
		ScanLimit:  20000,
		BatchSize:  500,
	}
}

// BandPoints is the band's half-width in points for n points per shape:
// −1 (unconstrained) when Band is 1.
func (c Config) BandPoints(n int) int {
	if c.Band >= 1 {
		return -1
	}
	return max(1, int(math.Round(c.Band*float64(n))))
}

// DefaultElasticConfig returns the Elasticsearch backend's defaults (no
// URLs: the embedded index).
func DefaultElasticConfig() ElasticConfig {
	return ElasticConfig{Index: "kale", Timeout: 30 * time.Second, Query: QueryTokens}
}

// Validate reports every problem at once.
func (c ElasticConfig) Validate() error {
	var errs []error
	for _, u := range c.URLs {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			errs = append(errs, fmt.Errorf("elasticsearch.urls: %q is not an http(s) URL", u))
		}
	}
	if len(c.URLs) > 0 {
		if c.Index == "" || strings.ToLower(c.Index) != c.Index || strings.ContainsAny(c.Index, `\/*?"<>| ,#:`) {
			errs = append(errs, fmt.Errorf("elasticsearch.index %q: want a non-empty lowercase name without \\/*?\"<>| ,#:", c.Index))
		}
		if c.Timeout <= 0 {
			errs = append(errs, errors.New("elasticsearch.timeout must be positive"))
		}
		if c.Query != "" && c.Query != QueryTokens && c.Query != QueryShingles {
			errs = append(errs, fmt.Errorf("elasticsearch.query %q: want %s or %s", c.Query, QueryTokens, QueryShingles))
		}
	}
	return errors.Join(errs...)
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Interval <= 0 {
		errs = append(errs, fmt.Errorf("oculus.interval must be positive, not %v", c.Interval))
	}
	if c.Window < time.Minute {
		errs = append(errs, fmt.Errorf("oculus.window must be at least 1m, not %v", c.Window))
	}
	if c.Points < 8 || c.Points > 10000 {
		errs = append(errs, fmt.Errorf("oculus.points must be 8..10000, not %d", c.Points))
	}
	if c.MinPoints < 2 {
		errs = append(errs, fmt.Errorf("oculus.min_points must be at least 2, not %d", c.MinPoints))
	}
	if c.Radius < 0 || c.Radius > c.Points {
		errs = append(errs, fmt.Errorf("oculus.radius must be 0..points, not %d", c.Radius))
	}
	if !(c.Band > 0 && c.Band <= 1) {
		errs = append(errs, fmt.Errorf("oculus.band must be more than 0 and at most 1, not %v", c.Band))
	}
	if c.Candidates < 1 {
		errs = append(errs, fmt.Errorf("oculus.candidates must be at least 1, not %d", c.Candidates))
	}
	if c.ScanLimit < 0 {
		errs = append(errs, fmt.Errorf("oculus.scan_limit must be 0 (no limit) or more, not %d", c.ScanLimit))
	}
	if c.BatchSize < 1 {
		errs = append(errs, fmt.Errorf("oculus.batch_size must be at least 1, not %d", c.BatchSize))
	}
	return errors.Join(errs...)
}
