package embedded

import (
	"testing"
	"time"

	"github.com/go-kale/kale/internal/store"
	"github.com/go-kale/kale/internal/store/storetest"
)

// testConfig is a small configuration that crosses chunk and head edges
// often, on disk in a fresh temporary directory.
func testConfig(t *testing.T, ret store.Retention) Config {
	cfg := DefaultConfig()
	cfg.Dir = t.TempDir()
	cfg.Retention = ret
	cfg.Shards = 4
	cfg.ChunkPoints = 16
	cfg.HeadPoints = 5
	cfg.SyncInterval = 20 * time.Millisecond
	cfg.SnapshotInterval = time.Hour
	return cfg
}

func openTest(t *testing.T, cfg Config) *Store {
	t.Helper()
	s, err := Open(cfg, nil, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	t.Run("Disk", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T, ret store.Retention) store.Store {
			return openTest(t, testConfig(t, ret))
		})
	})
	t.Run("DiskDefaults", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T, ret store.Retention) store.Store {
			cfg := DefaultConfig()
			cfg.Dir, cfg.Retention = t.TempDir(), ret
			return openTest(t, cfg)
		})
	})
	t.Run("Memory", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T, ret store.Retention) store.Store {
			cfg := testConfig(t, ret)
			cfg.Dir = ""
			cfg.Shards = 1
			return openTest(t, cfg)
		})
	})
}
