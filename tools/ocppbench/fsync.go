package main

import (
	"os"
	"syscall"
	"time"

	"github.com/constellation-ev/constellation/tools/chargesim/sim"
)

// FsyncResult is the storage floor: how long one 4 KiB pwrite plus
// fdatasync (what a bbolt commit ends with) takes where the appliance's
// data directory lives.
type FsyncResult struct {
	Dir           string
	Count         int
	P50, P99, Max time.Duration
}

// probeFsync writes 4 KiB at rotating offsets of a preallocated file and
// fdatasyncs, n times, in the temporary directory.
func probeFsync(n int) (FsyncResult, error) {
	res := FsyncResult{Dir: os.TempDir(), Count: n}
	f, err := os.CreateTemp("", "ocppbench-fsync-")
	if err != nil {
		return res, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	const size = 1 << 20
	page := make([]byte, 4096)
	for off := int64(0); off < size; off += int64(len(page)) {
		if _, err := f.WriteAt(page, off); err != nil {
			return res, err
		}
	}
	if err := f.Sync(); err != nil {
		return res, err
	}
	var h sim.Histogram
	for i := range n {
		page[0] = byte(i)
		start := time.Now()
		if _, err := f.WriteAt(page, int64(i*len(page))%size); err != nil {
			return res, err
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			return res, err
		}
		h.Record(time.Since(start))
	}
	res.P50, res.P99, res.Max = h.Quantile(0.5), h.Quantile(0.99), h.Max()
	return res, nil
}
