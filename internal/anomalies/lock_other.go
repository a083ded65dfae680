//go:build !unix

package anomalies

import (
	"fmt"
	"os"
	"path/filepath"
)

// lockDir opens dir/LOCK; on this platform it does not keep a second
// process out.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cannot open lock file: %w", err)
	}
	return f, nil
}
