package fleet

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/constellation-ev/constellation/syncproto"
)

// Command statuses: queued (the site was offline), sent (published to
// the site), then the appliance's answer (syncproto.CommandAccepted, ...)
// or expired when no answer came by the deadline.
const (
	CommandQueued = "queued"
	CommandSent   = "sent"
)

// Command is an operator's command and its status.
type Command struct {
	ID        string          `json:"id"`
	Site      string          `json:"site"`
	Charger   string          `json:"charger"`
	Command   string          `json:"command"`
	Args      json.RawMessage `json:"args,omitempty"`
	Deadline  time.Time       `json:"deadline"`
	Status    string          `json:"status"`
	CreatedAt time.Time       `json:"createdAt"`
	UpdatedAt time.Time       `json:"updatedAt"`
	Action    string          `json:"action,omitempty"`
	Reply     json.RawMessage `json:"reply,omitempty"`
	Error     string          `json:"error,omitempty"`
}

// Message is the command as sent to the site.
func (c Command) Message(now time.Time) *syncproto.Command {
	return &syncproto.Command{Header: syncproto.Header{Version: syncproto.Version, Site: c.Site, Time: now.UTC()},
		ID: c.ID, Charger: c.Charger, Command: c.Command, Args: c.Args, Deadline: c.Deadline}
}

// CreateCommand records a queued command for site's charger. The
// command is checked as the appliance will receive it.
func (s *Store) CreateCommand(ctx context.Context, site, charger, command string, args json.RawMessage, deadline time.Time) (Command, error) {
	var raw [12]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read does not fail
	now := s.clock.Now()
	c := Command{ID: hex.EncodeToString(raw[:]), Site: site, Charger: charger, Command: command, Args: args,
		Deadline: deadline.UTC().Truncate(time.Millisecond), Status: CommandQueued, CreatedAt: now.UTC().Truncate(time.Millisecond)}
	c.UpdatedAt = c.CreatedAt
	if err := c.Message(now).Validate(); err != nil {
		return Command{}, fmt.Errorf("fleet: command: %w", err)
	}
	st, err := s.Site(ctx, site)
	if err != nil {
		return Command{}, err
	}
	if st.Revoked {
		return Command{}, fmt.Errorf("fleet: command for %s: %w", site, ErrRevoked)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO commands (id, site, charger, command, args, deadline, status, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, c.ID, site, charger, command, string(args), ms(c.Deadline), c.Status, ms(now), ms(now))
		return err
	})
	if err != nil {
		return Command{}, fmt.Errorf("fleet: command for %s: %w", site, err)
	}
	return c, nil
}

const commandColumns = `id, site, charger, command, args, deadline, status, created_at, updated_at, action, reply, error`

func scanCommand(sc interface{ Scan(...any) error }) (Command, error) {
	var c Command
	var args, reply string
	var deadline, created, updated int64
	err := sc.Scan(&c.ID, &c.Site, &c.Charger, &c.Command, &args, &deadline, &c.Status, &created, &updated, &c.Action, &reply, &c.Error)
	c.Deadline, c.CreatedAt, c.UpdatedAt = fromMS(deadline), fromMS(created), fromMS(updated)
	if args != "" {
		c.Args = json.RawMessage(args)
	}
	if reply != "" {
		c.Reply = json.RawMessage(reply)
	}
	return c, err
}

// Command returns a command, expired first if its deadline passed
// without an answer.
func (s *Store) Command(ctx context.Context, id string) (Command, error) {
	if _, err := s.ExpireCommands(ctx); err != nil {
		return Command{}, err
	}
	c, err := scanCommand(s.queryRow(ctx, s.db, `SELECT `+commandColumns+` FROM commands WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Command{}, fmt.Errorf("fleet: command %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return Command{}, fmt.Errorf("fleet: command %q: %w", id, err)
	}
	return c, nil
}

// QueuedCommands returns site's queued commands whose deadline has not
// passed, oldest first.
func (s *Store) QueuedCommands(ctx context.Context, site string) ([]Command, error) {
	rows, err := s.query(ctx, s.db, `SELECT `+commandColumns+` FROM commands WHERE site = ? AND status = ? AND deadline > ? ORDER BY created_at, id`,
		site, CommandQueued, s.now())
	if err != nil {
		return nil, fmt.Errorf("fleet: queued commands of %s: %w", site, err)
	}
	defer rows.Close()
	var out []Command
	for rows.Next() {
		c, err := scanCommand(rows)
		if err != nil {
			return nil, fmt.Errorf("fleet: queued commands of %s: %w", site, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// MarkSent records that a queued command was published to its site.
func (s *Store) MarkSent(ctx context.Context, id string) error {
	_, err := s.exec(ctx, s.db, `UPDATE commands SET status = ?, updated_at = ? WHERE id = ? AND status = ?`, CommandSent, s.now(), id, CommandQueued)
	if err != nil {
		return fmt.Errorf("fleet: command %s sent: %w", id, err)
	}
	return nil
}

// ExpireCommands marks expired the commands still queued or sent at
// their deadline, and returns how many.
func (s *Store) ExpireCommands(ctx context.Context) (int64, error) {
	now := s.now()
	res, err := s.exec(ctx, s.db, `UPDATE commands SET status = ?, updated_at = ? WHERE status IN (?, ?) AND deadline <= ?`,
		syncproto.CommandExpired, now, CommandQueued, CommandSent, now)
	if err != nil {
		return 0, fmt.Errorf("fleet: expire commands: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// applyResult records the appliance's answer to one of its site's
// commands: the appliance's word is final, so it replaces a status the
// cloud set (queued, sent, expired) but not an earlier answer.
func (s *Store) applyResult(q *txQueue, m *syncproto.CommandResult) {
	q.exec("command result", `UPDATE commands SET status = ?, action = ?, reply = ?, error = ?, updated_at = ?
		WHERE id = ? AND site = ? AND status IN (?, ?, ?)`, func(n int64) {
		if n == 0 {
			s.log.Warn("command result for no open command of the site", "site", m.Site, "command", m.CommandID, "status", m.Status)
		}
	}, m.Status, m.Action, string(m.Reply), m.Error, s.now(), m.CommandID, m.Site, CommandQueued, CommandSent, syncproto.CommandExpired)
}
