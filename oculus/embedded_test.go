package oculus_test

import (
	"path/filepath"
	"testing"

	"github.com/go-kale/kale/oculus"
	"github.com/go-kale/kale/oculus/oculustest"
)

func TestEmbeddedConformance(t *testing.T) {
	base := t.TempDir()
	oculustest.Run(t, func(t *testing.T, key string) oculus.Index {
		e, err := oculus.NewEmbedded(oculus.EmbeddedOptions{Dir: filepath.Join(base, filepath.FromSlash(key))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	})
}
