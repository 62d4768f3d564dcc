package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// StateFileName is the file under the data dir that keeps the last good
// settings, so a change interrupted by a crash is rolled back at the next
// start.
const StateFileName = "network-state.json"

const stateVersion = 1

// savedState is the state file's content. It holds passwords, so the
// file is written with mode 0600.
type savedState struct {
	Version int `json:"version"`
	// Good are the last settings that passed their check.
	Good Settings `json:"good"`
	// Pending is a change being checked; present at start, it was
	// interrupted and must be rolled back.
	Pending *Settings `json:"pending,omitempty"`
}

// stateFile persists savedState; a zero dir keeps nothing (tests, dev).
type stateFile struct{ dir string }

// load returns the saved state; ok is false when there is none.
func (f stateFile) load() (st savedState, ok bool, err error) {
	if f.dir == "" {
		return savedState{}, false, nil
	}
	data, err := os.ReadFile(filepath.Join(f.dir, StateFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return savedState{}, false, nil
	}
	if err != nil {
		return savedState{}, false, fmt.Errorf("network: read state: %w", err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return savedState{}, false, fmt.Errorf("network: decode state %s: %w", StateFileName, err)
	}
	if st.Version != stateVersion {
		return savedState{}, false, fmt.Errorf("network: state %s has version %d, want %d", StateFileName, st.Version, stateVersion)
	}
	st.Good = st.Good.Normalize()
	if err := st.Good.Validate(); err != nil {
		return savedState{}, false, fmt.Errorf("network: state %s: %w", StateFileName, err)
	}
	return st, true, nil
}

// save replaces the state file atomically (write, sync, rename, sync dir),
// so a crash leaves the old or the new state, never half of one.
func (f stateFile) save(st savedState) error {
	if f.dir == "" {
		return nil
	}
	st.Version = stateVersion
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("network: encode state: %w", err)
	}
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		return fmt.Errorf("network: state dir: %w", err)
	}
	tmp, err := os.CreateTemp(f.dir, StateFileName+".*")
	if err != nil {
		return fmt.Errorf("network: write state: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this fails harmlessly
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("network: write state: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("network: write state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("network: sync state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("network: write state: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(f.dir, StateFileName)); err != nil {
		return fmt.Errorf("network: replace state: %w", err)
	}
	dir, err := os.Open(f.dir)
	if err != nil {
		return fmt.Errorf("network: sync state dir: %w", err)
	}
	defer dir.Close()
	if err := dir.Sync(); err != nil {
		return fmt.Errorf("network: sync state dir: %w", err)
	}
	return nil
}
