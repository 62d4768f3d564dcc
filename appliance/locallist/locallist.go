// Package locallist keeps each connected charger's local authorization
// list equal to the appliance's authorization cache (OCPP SendLocalList),
// so that a charger that loses its link to the appliance still authorizes
// the tokens the site knows, with the answers the cache would give.
//
// The list's version is the cache's change count ([charging.LocalList]).
// When a charger connects, and after every change of the cache, the
// [Pusher] asks the charger for its list version and, if it differs, sends
// the whole list: one Full update, or, when the list is longer than the
// charger takes in one message, a Full update followed by Differential
// ones, numbered so that the last one carries the cache's version. A
// charger without a local list (1.6 version -1, NotSupported, or a
// CALLERROR NotImplemented) is left alone until it reconnects; a failed
// push is retried with backoff.
package locallist

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
)

// Source is the authorization cache and what the appliance knows of its
// chargers; *charging.Service implements it.
type Source interface {
	LocalList() (charging.LocalList, <-chan struct{})
	Charger(ctx context.Context, id charging.ChargerID) (charging.Charger, error)
}

// Executor sends a version-neutral command to a charger; *csms.CSMS
// implements it.
type Executor interface {
	Execute(ctx context.Context, id charging.ChargerID, cmd charging.Command) (charging.CommandReply, error)
}

var _ Source = (*charging.Service)(nil)

// Defaults of Options.
const (
	DefaultSettle            = 5 * time.Second
	DefaultRetry             = 30 * time.Second
	DefaultMaxRetry          = 30 * time.Minute
	DefaultEntriesPerMessage = 100
)

// Configuration keys in which chargers report how many entries one
// SendLocalList may carry (1.6 key, 2.x device model variable).
var perMessageKeys = []string{"SendLocalListMaxLength", "LocalAuthListCtrlr/ItemsPerMessage"}

// Options configures a Pusher.
type Options struct {
	// Source is required.
	Source Source
	// Logger receives the pusher's logs; nil discards them.
	Logger *slog.Logger
	// Settle is the wait after a charger connects (its boot is answered
	// first) and after a change of the cache (more changes often follow)
	// before the list is sent. Default DefaultSettle.
	Settle time.Duration
	// Retry is the wait after a failed push, doubled after each further
	// failure up to MaxRetry. Defaults DefaultRetry, DefaultMaxRetry.
	Retry, MaxRetry time.Duration
	// EntriesPerMessage is the most tokens sent in one SendLocalList to a
	// charger that does not report its own limit. Default
	// DefaultEntriesPerMessage.
	EntriesPerMessage int
	// Now is the clock of the reported states; nil: time.Now.
	Now func() time.Time
}

// States of a charger's local list.
const (
	// StatePending: the list has not been compared or sent yet.
	StatePending = "pending"
	// StateCurrent: the charger holds the cache's version.
	StateCurrent = "current"
	// StateFailing: the last attempt failed; it is retried.
	StateFailing = "failing"
	// StateUnsupported: the charger has no local list.
	StateUnsupported = "unsupported"
)

// ChargerState is what the pusher knows of a connected charger's list.
type ChargerState struct {
	ChargerID charging.ChargerID `json:"chargerId"`
	State     string             `json:"state"`
	// ListVersion is the version the charger last reported or accepted;
	// nil until known.
	ListVersion *int64    `json:"listVersion,omitempty"`
	Error       string    `json:"error,omitempty"`
	Since       time.Time `json:"since"`
}

// Pusher sends the authorization cache to the connected chargers. It is
// safe for concurrent use; the connection hooks may be called before Run.
type Pusher struct {
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	ctx      context.Context // Run's; nil before Run and after it returns
	exec     Executor        // Run's
	workers  sync.WaitGroup
	chargers map[charging.ChargerID]*charger
}

// charger is a connected charger: the context of its worker and its state.
type charger struct {
	cancel context.CancelFunc // nil until a worker runs
	state  ChargerState
}

// New returns a Pusher; Run starts it.
func New(opts Options) (*Pusher, error) {
	if opts.Source == nil {
		return nil, errors.New("locallist: Options.Source is required")
	}
	if opts.EntriesPerMessage < 0 || opts.Settle < 0 || opts.Retry < 0 || opts.MaxRetry < 0 {
		return nil, errors.New("locallist: negative Options")
	}
	opts.Settle = orDefault(opts.Settle, DefaultSettle)
	opts.Retry = orDefault(opts.Retry, DefaultRetry)
	opts.MaxRetry = max(orDefault(opts.MaxRetry, DefaultMaxRetry), opts.Retry)
	opts.EntriesPerMessage = orDefault(opts.EntriesPerMessage, DefaultEntriesPerMessage)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Pusher{opts: opts, log: log, chargers: map[charging.ChargerID]*charger{}}, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// ChargerConnected starts looking after the charger's list (again, if it
// reconnected).
func (p *Pusher) ChargerConnected(_ context.Context, id charging.ChargerID, _ string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.chargers[id]; c != nil && c.cancel != nil {
		c.cancel()
	}
	c := &charger{state: ChargerState{ChargerID: id, State: StatePending, Since: p.opts.Now()}}
	p.chargers[id] = c
	if p.ctx != nil {
		p.startLocked(id, c)
	}
}

// ChargerDisconnected stops looking after the charger's list.
func (p *Pusher) ChargerDisconnected(_ context.Context, id charging.ChargerID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.chargers[id]; c != nil {
		if c.cancel != nil {
			c.cancel()
		}
		delete(p.chargers, id)
	}
}

// Status is the cache's list and where each connected charger stands.
type Status struct {
	// Version and Tokens are the cache's list version and size.
	Version int64 `json:"version"`
	Tokens  int   `json:"tokens"`
	// Chargers are the connected chargers, by id.
	Chargers []ChargerState `json:"chargers"`
}

// Status returns the cache's list version and the connected chargers'
// list states.
func (p *Pusher) Status() Status {
	list, _ := p.opts.Source.LocalList()
	return Status{Version: list.Version, Tokens: len(list.Tokens), Chargers: p.States()}
}

// States returns the connected chargers' list states, by charger id.
func (p *Pusher) States() []ChargerState {
	p.mu.Lock()
	out := make([]ChargerState, 0, len(p.chargers))
	for _, id := range slices.Sorted(maps.Keys(p.chargers)) {
		out = append(out, p.chargers[id].state)
	}
	p.mu.Unlock()
	return out
}

// Run looks after the chargers' lists, sending commands through exec (the
// CSMS, which is built after the pusher it tells of connections), until
// ctx ends.
func (p *Pusher) Run(ctx context.Context, exec Executor) error {
	p.mu.Lock()
	if p.ctx != nil {
		p.mu.Unlock()
		return errors.New("locallist: Run called twice")
	}
	p.ctx, p.exec = ctx, exec
	for id, c := range p.chargers {
		p.startLocked(id, c)
	}
	p.mu.Unlock()
	<-ctx.Done()
	p.mu.Lock()
	p.ctx = nil
	p.mu.Unlock()
	p.workers.Wait()
	return nil
}

func (p *Pusher) startLocked(id charging.ChargerID, c *charger) {
	ctx, cancel := context.WithCancel(p.ctx)
	c.cancel = cancel
	p.workers.Add(1)
	go func() {
		defer p.workers.Done()
		defer cancel()
		p.serve(ctx, p.exec, id, c)
	}()
}

// setState records c's state, if c is still the charger's connection.
func (p *Pusher) setState(id charging.ChargerID, c *charger, state string, version *int64, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.chargers[id] != c {
		return
	}
	s := &c.state
	if s.State != state {
		s.Since = p.opts.Now()
	}
	s.State = state
	if version != nil {
		s.ListVersion = version
	}
	s.Error = ""
	if err != nil {
		s.Error = err.Error()
	}
}

// errUnsupported: the charger has no local list.
var errUnsupported = errors.New("the charger has no local authorization list")

// serve brings the charger's list to the cache's version after it
// connects and after every change, until ctx ends.
func (p *Pusher) serve(ctx context.Context, exec Executor, id charging.ChargerID, c *charger) {
	wait, retry := p.opts.Settle, p.opts.Retry
	for {
		if !sleep(ctx, wait) {
			return
		}
		list, changed := p.opts.Source.LocalList()
		version, err := p.push(ctx, exec, id, list)
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, errUnsupported):
			p.log.InfoContext(ctx, "charger has no local authorization list; not sending it", "charger", id, "why", err)
			p.setState(id, c, StateUnsupported, version, nil)
			return
		case errors.Is(err, charging.ErrNotConnected):
			return // ChargerDisconnected ends this worker
		case err != nil:
			p.log.WarnContext(ctx, "local authorization list not sent; retrying", "charger", id, "version", list.Version, "retry_in", retry, "err", err)
			p.setState(id, c, StateFailing, version, err)
			wait, retry = retry, min(retry*2, p.opts.MaxRetry)
			continue
		}
		p.setState(id, c, StateCurrent, version, nil)
		wait, retry = p.opts.Settle, p.opts.Retry
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// push brings the charger's list to list's version and returns the
// version the charger holds (nil if unknown).
func (p *Pusher) push(ctx context.Context, exec Executor, id charging.ChargerID, list charging.LocalList) (*int64, error) {
	reply, err := exec.Execute(ctx, id, charging.Command{Kind: charging.GetLocalListVersion})
	if err != nil {
		return nil, unsupported(err)
	}
	if reply.ListVersion == nil {
		return nil, fmt.Errorf("get-local-list-version: no version in the answer %s", reply.Response)
	}
	have := int64(*reply.ListVersion)
	if have < 0 { // 1.6: -1 says there is no local list
		return &have, fmt.Errorf("%w (list version %d)", errUnsupported, have)
	}
	if have == list.Version {
		p.log.DebugContext(ctx, "local authorization list is current", "charger", id, "version", have)
		return &have, nil
	}
	chunks := slices.Collect(slices.Chunk(list.Tokens, p.perMessage(ctx, id)))
	if len(chunks) == 0 {
		chunks = [][]charging.IDToken{nil} // a Full update with no entries empties the list
	}
	// Numbered so that the last message carries list.Version: each
	// Differential update must carry a higher version than the last.
	first := list.Version - int64(len(chunks)) + 1
	if first < 1 {
		// Fewer versions than messages (cannot happen when every token
		// change counts one): one message, which the charger may refuse.
		chunks, first = [][]charging.IDToken{list.Tokens}, list.Version
	}
	for i, chunk := range chunks {
		version := first + int64(i)
		cmd := charging.Command{Kind: charging.SendLocalList, ListVersion: int(version), UpdateType: charging.UpdateDifferential}
		if i == 0 {
			cmd.UpdateType = charging.UpdateFull
		}
		for _, t := range chunk {
			cmd.Entries = append(cmd.Entries, charging.LocalListEntry{IDTag: t.ID, Status: t.Status, Expiry: t.Expiry, ParentIDTag: t.ParentID})
		}
		reply, err := exec.Execute(ctx, id, cmd)
		if err != nil {
			return &have, unsupported(err)
		}
		switch reply.Status {
		case "Accepted":
			have = version
		case "NotSupported":
			return &have, fmt.Errorf("%w (SendLocalList answered NotSupported)", errUnsupported)
		default:
			return &have, fmt.Errorf("send-local-list version %d (%s, %d of %d): charger answered %s %s",
				version, cmd.UpdateType, i+1, len(chunks), reply.Status, reply.Response)
		}
	}
	p.log.InfoContext(ctx, "local authorization list sent", "charger", id, "version", list.Version,
		"tokens", len(list.Tokens), "messages", len(chunks))
	return &have, nil
}

// unsupported wraps errUnsupported into err when the charger answered
// that it does not implement the action.
func unsupported(err error) error {
	var oe *ocppj.Error
	if errors.As(err, &oe) && (oe.Code == ocppj.NotImplemented || oe.Code == ocppj.NotSupported) {
		return fmt.Errorf("%w: %w", errUnsupported, err)
	}
	return err
}

// perMessage is how many tokens one SendLocalList to the charger may
// carry: its reported limit, else the configured one.
func (p *Pusher) perMessage(ctx context.Context, id charging.ChargerID) int {
	c, err := p.opts.Source.Charger(ctx, id)
	if err == nil {
		for _, key := range perMessageKeys {
			if v, ok := c.Configuration[key]; ok {
				if n, err := strconv.Atoi(strings.TrimSpace(v.Value)); err == nil && n > 0 {
					return n
				}
			}
		}
	}
	return p.opts.EntriesPerMessage
}

// sleep waits d, or until ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
