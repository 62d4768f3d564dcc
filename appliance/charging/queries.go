package charging

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"github.com/constellation-ev/constellation/appliance/store"
)

// TransactionFilter selects transactions, newest first.
type TransactionFilter struct {
	ChargerID  ChargerID // empty: all chargers
	ActiveOnly bool
	// Limit caps the result (default 100, at most 1000).
	Limit int
	// After is a cursor: only transactions listed after this id, i.e. with
	// smaller ids (pass the last id of the previous page). 0: from the newest.
	After int64
}

// Chargers lists every known charger (stored or currently connected), by id.
func (s *Service) Chargers(ctx context.Context) ([]Charger, error) {
	var out []Charger
	seen := make(map[ChargerID]bool)
	err := s.st.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bkChargers).ForEach(func(k, _ []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			c, err := readCharger(tx, ChargerID(k))
			if err != nil {
				return err
			}
			seen[c.ID] = true
			out = append(out, c)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("charging: list chargers: %w", err)
	}
	s.liveMu.RLock()
	for id := range s.live {
		if !seen[id] {
			out = append(out, Charger{ID: id, Connectors: []Connector{}})
		}
	}
	s.liveMu.RUnlock()
	for i := range out {
		s.addLive(&out[i])
	}
	slices.SortFunc(out, func(a, b Charger) int { return strings.Compare(string(a.ID), string(b.ID)) })
	return out, nil
}

// Charger returns one charger, or ErrNotFound.
func (s *Service) Charger(_ context.Context, id ChargerID) (Charger, error) {
	var c Charger
	found := false
	err := s.st.View(func(tx *bbolt.Tx) error {
		if tx.Bucket(bkChargers).Get([]byte(id)) == nil {
			return nil
		}
		found = true
		var err error
		c, err = readCharger(tx, id)
		return err
	})
	if err != nil {
		return Charger{}, fmt.Errorf("charging: charger %s: %w", id, err)
	}
	if !found {
		if s.findLive(id) == nil {
			return Charger{}, fmt.Errorf("charging: charger %s: %w", id, ErrNotFound)
		}
		c = Charger{ID: id, Connectors: []Connector{}}
	}
	s.addLive(&c)
	return c, nil
}

func (s *Service) addLive(c *Charger) {
	l := s.findLive(c.ID)
	if l == nil {
		return
	}
	c.Connected = l.connected.Load()
	if n := l.lastSeen.Load(); n != 0 {
		c.LastSeen = time.Unix(0, n)
	}
	if p := l.protocol.Load(); p != nil {
		c.Protocol = *p
	}
}

func readCharger(tx *bbolt.Tx, id ChargerID) (Charger, error) {
	c, err := getCharger(tx, id)
	if err != nil {
		return Charger{}, err
	}
	c.Connectors = []Connector{}
	prefix := append([]byte(id), 0)
	cur := tx.Bucket(bkConnectors).Cursor()
	for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
		var conn Connector
		if err := json.Unmarshal(v, &conn); err != nil {
			return Charger{}, fmt.Errorf("charger %s connector: %w", id, err)
		}
		c.Connectors = append(c.Connectors, conn)
	}
	return c, addDeviceModel(tx, &c)
}

// Transactions lists transactions newest first.
func (s *Service) Transactions(ctx context.Context, f TransactionFilter) ([]Transaction, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	f.Limit = min(f.Limit, 1000)
	var out []Transaction
	err := s.st.View(func(tx *bbolt.Tx) error {
		index := tx.Bucket(bkTransactions)
		if f.ActiveOnly {
			index = tx.Bucket(bkActive)
		}
		cur := index.Cursor()
		var k []byte
		if f.After > 0 {
			k, _ = cur.Seek(store.U64(uint64(f.After)))
			if k == nil {
				k, _ = cur.Last()
			}
			for k != nil && string(k) >= string(store.U64(uint64(f.After))) {
				k, _ = cur.Prev()
			}
		} else {
			k, _ = cur.Last()
		}
		for ; k != nil && len(out) < f.Limit; k, _ = cur.Prev() {
			if err := ctx.Err(); err != nil {
				return err
			}
			t, err := getTransaction(tx, k)
			if err != nil {
				return err
			}
			if f.ChargerID == "" || t.ChargerID == f.ChargerID {
				out = append(out, t)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("charging: list transactions: %w", err)
	}
	return out, nil
}

// TransactionByChargerTxID returns the session charger id reported under
// its own transaction id (OCPP 2.x transactionId), or ErrNotFound.
func (s *Service) TransactionByChargerTxID(_ context.Context, id ChargerID, chargerTxID string) (Transaction, error) {
	var t Transaction
	err := s.st.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bkTxChargerIDs).Get(chargerTxKey(id, chargerTxID))
		if v == nil {
			return ErrNotFound
		}
		var err error
		t, err = getTransaction(tx, v)
		return err
	})
	if err != nil {
		return Transaction{}, fmt.Errorf("charging: transaction %q of %s: %w", chargerTxID, id, err)
	}
	return t, nil
}

// Transaction returns a transaction and its readings (MeterValues that
// named it, its stop's transactionData, the readings of its 2.x events),
// ordered by timestamp.
func (s *Service) Transaction(_ context.Context, id int64) (Transaction, []MeterReading, error) {
	var t Transaction
	var readings []MeterReading
	err := s.st.View(func(tx *bbolt.Tx) error {
		if id <= 0 {
			return ErrNotFound
		}
		key := store.U64(uint64(id))
		var err error
		if t, err = getTransaction(tx, key); err != nil {
			return err
		}
		cur := tx.Bucket(bkReadings).Cursor()
		for k, v := cur.Seek(key); k != nil && bytes.HasPrefix(k, key); k, v = cur.Next() {
			mv, err := decodeReport(v)
			if err != nil {
				return fmt.Errorf("reading %x: %w", k, err)
			}
			readings = append(readings, mv.Readings...)
		}
		return nil
	})
	if err != nil {
		return Transaction{}, nil, fmt.Errorf("charging: transaction %d: %w", id, err)
	}
	// Keys order reports by hash; present them in time order.
	sort.SliceStable(readings, func(i, j int) bool { return readings[i].Timestamp.Before(readings[j].Timestamp) })
	return t, readings, nil
}

// Tokens lists the authorization cache, by id.
func (s *Service) Tokens(_ context.Context) ([]IDToken, error) {
	l, _ := s.LocalList()
	return l.Tokens, nil
}

// LocalList is the authorization cache as the chargers' local
// authorization lists carry it.
type LocalList struct {
	// Version counts the changes of the cache. It is stored with each
	// change, so it only grows, restarts included.
	Version int64
	// Tokens is the cache, by id.
	Tokens []IDToken
}

// LocalList returns the authorization cache with its version, and a
// channel closed when a change of the cache commits.
func (s *Service) LocalList() (LocalList, <-chan struct{}) {
	s.tokMu.RLock()
	l := LocalList{Version: s.listVersion, Tokens: make([]IDToken, 0, len(s.tokens))}
	for _, t := range s.tokens {
		l.Tokens = append(l.Tokens, t)
	}
	changed := s.listChanged
	s.tokMu.RUnlock()
	slices.SortFunc(l.Tokens, func(a, b IDToken) int { return strings.Compare(a.ID, b.ID) })
	return l, changed
}

// Reservations lists all reservations, by id.
func (s *Service) Reservations(_ context.Context) ([]Reservation, error) {
	var out []Reservation
	err := s.st.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bkReservations).ForEach(func(k, v []byte) error {
			var r Reservation
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("reservation %x: %w", k, err)
			}
			out = append(out, r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("charging: list reservations: %w", err)
	}
	return out, nil
}
