// Package fsutil holds the file-system steps Kale's on-disk stores share
// for durability.
package fsutil

import "os"

// SyncDir fsyncs the folder dir, so that the names created, renamed or
// removed in it survive a crash (a file's own fsync does not cover its
// name).
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
