package cloudsync

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/constellation-ev/constellation/appliance/store"
)

// applied is the desired configuration the appliance applied last.
type applied struct {
	Version  int64             `json:"version"`
	Settings map[string]string `json:"settings,omitempty"`
}

func readDesired(tx *bbolt.Tx) (applied, error) {
	var a applied
	if v := tx.Bucket(bkState).Get(keyDesired); v != nil {
		if err := json.Unmarshal(v, &a); err != nil {
			return applied{}, fmt.Errorf("applied desired configuration: %w", err)
		}
	}
	return a, nil
}

func readAuthVersion(tx *bbolt.Tx) int64 {
	v, _ := store.ParseU64(tx.Bucket(bkState).Get(keyAuthList))
	return int64(v)
}

// versions returns the applied desired and authorization list versions.
func (c *Client) versions() (desired, auth int64, err error) {
	err = c.st.View(func(tx *bbolt.Tx) error {
		d, err := readDesired(tx)
		desired, auth = d.Version, readAuthVersion(tx)
		return err
	})
	return desired, auth, err
}

// nextBdSeq bumps and returns the link session counter.
func (c *Client) nextBdSeq(ctx context.Context) (uint64, error) {
	var seq uint64
	err := c.st.Update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bkState)
		seq, _ = store.ParseU64(b.Get(keyBdSeq))
		seq++
		return b.Put(keyBdSeq, store.U64(seq))
	})
	return seq, err
}

// Handling states of a cloud command (BucketSyncCommands).
const (
	commandExecuting = "executing" // sent to the charger, outcome not recorded yet
	commandDone      = "done"      // its result is queued
)

// commandMemory is how long a handled command id is remembered: longer
// than the cloud keeps a command before it expires, so a late duplicate
// is recognised.
const commandMemory = 7 * 24 * time.Hour

type commandState struct {
	State string    `json:"state"`
	At    time.Time `json:"at"`
}

func putCommand(tx *bbolt.Tx, id, state string, at time.Time) error {
	data, err := json.Marshal(commandState{State: state, At: at})
	if err != nil {
		return err
	}
	return tx.Bucket(bkCommands).Put([]byte(id), data)
}

// forgetCommands removes the handled command ids older than
// commandMemory; ids still executing are kept.
func (c *Client) forgetCommands(ctx context.Context) error {
	cutoff := c.clock.Now().Add(-commandMemory)
	var old [][]byte
	err := c.st.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bkCommands).ForEach(func(k, v []byte) error {
			var s commandState
			if json.Unmarshal(v, &s) != nil || (s.State == commandDone && s.At.Before(cutoff)) {
				old = append(old, append([]byte(nil), k...))
			}
			return nil
		})
	})
	if err != nil || len(old) == 0 {
		return err
	}
	return c.st.Update(ctx, func(tx *bbolt.Tx) error {
		for _, k := range old {
			if err := tx.Bucket(bkCommands).Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}
