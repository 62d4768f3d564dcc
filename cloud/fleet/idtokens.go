package fleet

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/constellation-ev/constellation/syncproto"
)

// The statuses of an id token: those of an authorization list's entry.
const (
	IDTokenAccepted = "Accepted"
	IDTokenBlocked  = "Blocked"
	IDTokenExpired  = "Expired"
	IDTokenInvalid  = "Invalid"
)

// MaxIDTagLen bounds an id tag, in characters: an OCPP 2.x idToken. A
// 1.6 idTag has at most 20; the appliance leaves a longer one out of a
// 1.6 charger's local list (and still authorizes it from its cache).
const MaxIDTagLen = 36

// IDToken is an RFID token of the fleet's register: who it belongs to,
// its status and expiry, and the sites it works at (AllSites: every
// site, those created later too). The register is the source of the
// sites' authorization lists: every change to a token changes the lists
// of the sites it works at, or worked at, in the same transaction.
type IDToken struct {
	IDTag     string    `json:"idTag"`
	Owner     string    `json:"owner"`
	Note      string    `json:"note"`
	Status    string    `json:"status"`
	Expiry    time.Time `json:"expiry,omitzero"`
	Parent    string    `json:"parent,omitempty"`
	AllSites  bool      `json:"allSites"`
	Sites     []string  `json:"sites"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// IDTokenChange changes an id token; nil fields stay. A zero Expiry
// clears it. Sites makes the token work at those sites only (AllSites
// true with Sites is refused); AllSites true, at every site.
type IDTokenChange struct {
	Status, Owner, Note, Parent *string
	Expiry                      *time.Time
	AllSites                    *bool
	Sites                       *[]string
}

// IDTokenFilter selects id tokens, by id tag.
type IDTokenFilter struct {
	// Search matches a part of the id tag or of the owner, whatever
	// its case.
	Search string
	Status string
	// Site selects the tokens that work at the site.
	Site string
	// After is the last id tag of the previous page.
	After string
	Limit int // 1..1000; 0: 100
}

// ImportMode says what an import does with the tokens it does not hold:
// with Replace, they are deleted; otherwise (a merge) they stay.
type ImportMode struct {
	Replace bool
}

// ImportResult counts what an import changed: a token imported as it
// is counts in none. Sites are those whose authorization lists changed.
type ImportResult struct {
	Created int      `json:"created"`
	Updated int      `json:"updated"`
	Deleted int      `json:"deleted"`
	Sites   []string `json:"sites"`
}

// ImportError is an invalid token of an import, which then changes
// nothing. It wraps ErrInvalid.
type ImportError struct {
	// Index is the token's place in the import, from 0.
	Index int
	IDTag string
	// Msg names the field: "sites: unknown site \"x\"".
	Msg string
}

func (e *ImportError) Error() string {
	return fmt.Sprintf("%v: token %d (%q): %s", ErrInvalid, e.Index+1, e.IDTag, e.Msg)
}

func (e *ImportError) Unwrap() error { return ErrInvalid }

// idTokenLock names PostgreSQL's transaction lock that serialises the
// register's changes and the creation of sites: a site created during a
// change of an all-sites token gets the token as it is once the change
// is committed. (SQLite's one connection serialises transactions.)
const idTokenLock = `hashtext('constellation id tokens ' || current_schema())`

// lockIDTokens takes the register's lock in tx.
func (s *Store) lockIDTokens(ctx context.Context, tx *sql.Tx) error {
	if s.d.name != Postgres {
		return nil
	}
	_, err := s.exec(ctx, tx, `SELECT pg_advisory_xact_lock(`+idTokenLock+`)`)
	return err
}

// checkIDTag checks an id tag: 1 to MaxIDTagLen characters of UTF-8 (so
// within syncproto's bounds of an entry's id), no control characters,
// no space around it (a slip of a spreadsheet).
func checkIDTag(field, tag string, required bool) error {
	switch {
	case tag == "" && required:
		return fmt.Errorf("%s: required", field)
	case !utf8.ValidString(tag):
		return fmt.Errorf("%s: not UTF-8", field)
	case utf8.RuneCountInString(tag) > MaxIDTagLen:
		return fmt.Errorf("%s: longer than %d characters", field, MaxIDTagLen)
	case strings.ContainsFunc(tag, unicode.IsControl):
		return fmt.Errorf("%s: contains control characters", field)
	case strings.TrimSpace(tag) != tag:
		return fmt.Errorf("%s: space before or after it", field)
	}
	return nil
}

// checkIDTokenText checks an owner or a note: at most max bytes of
// UTF-8 without control characters.
func checkIDTokenText(field, s string, max int) error {
	switch {
	case len(s) > max:
		return fmt.Errorf("%s: longer than %d bytes", field, max)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s: not UTF-8", field)
	case strings.ContainsFunc(s, unicode.IsControl):
		return fmt.Errorf("%s: contains control characters", field)
	}
	return nil
}

// normalIDToken returns t as the store keeps it (status Accepted when
// empty, expiry in milliseconds, sites sorted once each, no times) or
// the error naming its first invalid field. Whether its sites exist is
// checked in the change's transaction (knownSites).
func normalIDToken(t IDToken) (IDToken, error) {
	if t.Status == "" {
		t.Status = IDTokenAccepted
	}
	t.Expiry, t.CreatedAt, t.UpdatedAt = fromMS(ms(t.Expiry)), time.Time{}, time.Time{}
	t.Sites = slices.Compact(slices.Sorted(slices.Values(t.Sites)))
	if t.Sites == nil {
		t.Sites = []string{}
	}
	if err := checkIDTag("idTag", t.IDTag, true); err != nil {
		return t, err
	}
	switch t.Status {
	case IDTokenAccepted, IDTokenBlocked, IDTokenExpired, IDTokenInvalid:
	default:
		return t, fmt.Errorf("status: %q is not Accepted, Blocked, Expired or Invalid", t.Status)
	}
	if !t.Expiry.IsZero() && t.Expiry.UnixMilli() <= 0 {
		return t, errors.New("expiry: before 1970")
	}
	for _, err := range []error{checkIDTag("parent", t.Parent, false), checkIDTokenText("owner", t.Owner, 255),
		checkIDTokenText("note", t.Note, 1000)} {
		if err != nil {
			return t, err
		}
	}
	if t.AllSites && len(t.Sites) > 0 {
		return t, errors.New("sites: a token works at all sites (allSites) or at the sites listed, not both")
	}
	return t, nil
}

// sameIDToken reports whether a and b hold the same (normal) token,
// their times aside.
func sameIDToken(a, b IDToken) bool {
	return a.IDTag == b.IDTag && a.Owner == b.Owner && a.Note == b.Note && a.AllSites == b.AllSites &&
		slices.Equal(a.Sites, b.Sites) && sameEntry(a.entry(), b.entry())
}

// entry is t's entry in the authorization lists of the sites it works at.
func (t IDToken) entry() syncproto.AuthEntry {
	return syncproto.AuthEntry{ID: t.IDTag, Status: t.Status, Expiry: t.Expiry, Parent: t.Parent}
}

func sameEntry(a, b syncproto.AuthEntry) bool {
	return a.ID == b.ID && a.Status == b.Status && a.Expiry.Equal(b.Expiry) && a.Parent == b.Parent
}

// fleetSites is every site of the fleet, as a change of id tokens sees it.
type fleetSites struct {
	revoked map[string]bool // every site: whether it is revoked
	live    []string        // the unrevoked sites, by id
}

// workingAt returns the sites t works at whose lists the store keeps:
// the unrevoked ones, by id (not to be changed: it may be f.live).
func (t IDToken) workingAt(f fleetSites) []string {
	if t.AllSites {
		return f.live
	}
	var out []string
	for _, site := range t.Sites {
		if !f.revoked[site] {
			out = append(out, site)
		}
	}
	return out
}

// knownSites checks that t's sites exist.
func (f fleetSites) knownSites(t IDToken) error {
	for _, site := range t.Sites {
		if _, ok := f.revoked[site]; !ok {
			return fmt.Errorf("sites: unknown site %q", site)
		}
	}
	return nil
}

// fleetSites returns every site, revoked or not.
func (s *Store) fleetSites(ctx context.Context, tx *sql.Tx) (fleetSites, error) {
	f := fleetSites{revoked: map[string]bool{}}
	rows, err := s.query(ctx, tx, `SELECT id, revoked FROM sites`)
	if err != nil {
		return f, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var revoked bool
		if err := rows.Scan(&id, &revoked); err != nil {
			return f, err
		}
		f.revoked[id] = revoked
		if !revoked {
			f.live = append(f.live, id)
		}
	}
	slices.Sort(f.live) // as sortedHas searches it, whatever the engine's collation
	return f, rows.Err()
}

// sortedHas reports whether the sorted list has v.
func sortedHas(list []string, v string) bool {
	_, ok := slices.BinarySearch(list, v)
	return ok
}

const idTokenColumns = `id_tag, owner, note, status, expiry, parent, all_sites, created_at, updated_at`

func scanIDToken(sc scanner) (IDToken, error) {
	var t IDToken
	var expiry, created, updated int64
	err := sc.Scan(&t.IDTag, &t.Owner, &t.Note, &t.Status, &expiry, &t.Parent, &t.AllSites, &created, &updated)
	t.Expiry, t.CreatedAt, t.UpdatedAt, t.Sites = fromMS(expiry), fromMS(created), fromMS(updated), []string{}
	return t, err
}

// readIDTokens returns the tokens cond selects (a condition on
// id_tokens' columns, with args), with their sites, by id tag: at most
// limit of them (0: all).
func (s *Store) readIDTokens(ctx context.Context, q querier, cond string, limit int, args ...any) ([]IDToken, error) {
	selected := `SELECT ` + idTokenColumns + ` FROM id_tokens WHERE ` + cond + ` ORDER BY id_tag`
	if limit > 0 {
		selected, args = selected+` LIMIT ?`, append(slices.Clip(args), limit)
	}
	rows, err := s.query(ctx, q, selected, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []IDToken{}
	index := map[string]int{}
	for rows.Next() {
		t, err := scanIDToken(rows)
		if err != nil {
			return nil, err
		}
		index[t.IDTag] = len(out)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	// The same selection gives the tokens' sites: one query, whatever
	// the number of tokens.
	rows, err = s.query(ctx, q, `SELECT id_tag, site FROM id_token_sites WHERE id_tag IN (SELECT id_tag FROM (`+selected+`) page)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var tag, site string
		if err := rows.Scan(&tag, &site); err != nil {
			return nil, err
		}
		if i, ok := index[tag]; ok {
			out[i].Sites = append(out[i].Sites, site)
		}
	}
	// Sorted as the changes sort them (bytes), whatever the engine's
	// collation.
	for _, t := range out {
		slices.Sort(t.Sites)
	}
	return out, rows.Err()
}

// idTokenIn returns the token of idTag in tx, or ErrNotFound.
func (s *Store) idTokenIn(ctx context.Context, q querier, idTag string) (IDToken, error) {
	ts, err := s.readIDTokens(ctx, q, `id_tag = ?`, 0, idTag)
	if err != nil {
		return IDToken{}, err
	}
	if len(ts) == 0 {
		return IDToken{}, fmt.Errorf("id token %q: %w", idTag, ErrNotFound)
	}
	return ts[0], nil
}

// IDToken returns the token of idTag.
func (s *Store) IDToken(ctx context.Context, idTag string) (IDToken, error) {
	t, err := s.idTokenIn(ctx, s.db, idTag)
	if err != nil {
		return IDToken{}, fmt.Errorf("fleet: %w", err)
	}
	return t, nil
}

// IDTokens returns a page of the tokens f selects, by id tag, and the
// After of the next page ("": none).
func (s *Store) IDTokens(ctx context.Context, f IDTokenFilter) ([]IDToken, string, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	f.Limit = min(f.Limit, 1000)
	cond, args := `1 = 1`, []any{}
	if f.Search != "" {
		like := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(f.Search)) + "%"
		cond, args = cond+` AND (LOWER(id_tag) LIKE ? ESCAPE '\' OR LOWER(owner) LIKE ? ESCAPE '\')`, append(args, like, like)
	}
	if f.Status != "" {
		cond, args = cond+` AND status = ?`, append(args, f.Status)
	}
	if f.Site != "" {
		cond, args = cond+` AND (all_sites OR EXISTS (SELECT 1 FROM id_token_sites ts WHERE ts.id_tag = id_tokens.id_tag AND ts.site = ?))`,
			append(args, f.Site)
	}
	if f.After != "" {
		cond, args = cond+` AND id_tag > ?`, append(args, f.After)
	}
	page, err := s.readIDTokens(ctx, s.db, cond, f.Limit+1, args...)
	if err != nil {
		return nil, "", fmt.Errorf("fleet: id tokens: %w", err)
	}
	if len(page) > f.Limit {
		page = page[:f.Limit]
		return page, page[f.Limit-1].IDTag, nil
	}
	return page, "", nil
}

// ExportIDTokens hands every token to fn, by id tag, a page at a time:
// no page is held open while fn runs (fn may be slow, and may use the
// store). An error of fn ends the export with it.
func (s *Store) ExportIDTokens(ctx context.Context, fn func(IDToken) error) error {
	f := IDTokenFilter{Limit: 1000}
	for {
		page, next, err := s.IDTokens(ctx, f)
		if err != nil {
			return err
		}
		for _, t := range page {
			if err := fn(t); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		f.After = next
	}
}

// PutIDToken creates or replaces a token and returns it with the sites
// whose authorization lists changed. A token put as it is changes
// nothing.
func (s *Store) PutIDToken(ctx context.Context, t IDToken) (IDToken, []string, error) {
	t, err := normalIDToken(t)
	if err != nil {
		return IDToken{}, nil, fmt.Errorf("fleet: put id token: %w: %w", ErrInvalid, err)
	}
	changed := []string{}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockIDTokens(ctx, tx); err != nil {
			return err
		}
		sites, err := s.fleetSites(ctx, tx)
		if err != nil {
			return err
		}
		if err := sites.knownSites(t); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		old, err := s.idTokenIn(ctx, tx, t.IDTag)
		var was *IDToken
		switch {
		case err == nil && sameIDToken(old, t):
			return nil
		case err == nil:
			was = &old
		case !errors.Is(err, ErrNotFound):
			return err
		}
		changed, err = s.writeIDTokens(ctx, tx, sites, []tokenPut{{was: was, now: t}}, nil)
		return err
	})
	if err != nil {
		return IDToken{}, nil, fmt.Errorf("fleet: put id token %q: %w", t.IDTag, err)
	}
	t, err = s.IDToken(ctx, t.IDTag)
	return t, changed, err
}

// PatchIDToken changes a token and returns it with the sites whose
// authorization lists changed.
func (s *Store) PatchIDToken(ctx context.Context, idTag string, c IDTokenChange) (IDToken, []string, error) {
	changed := []string{}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockIDTokens(ctx, tx); err != nil {
			return err
		}
		old, err := s.idTokenIn(ctx, tx, idTag)
		if err != nil {
			return err
		}
		t, err := normalIDToken(old.with(c))
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		sites, err := s.fleetSites(ctx, tx)
		if err != nil {
			return err
		}
		if err := sites.knownSites(t); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		if sameIDToken(old, t) {
			return nil
		}
		changed, err = s.writeIDTokens(ctx, tx, sites, []tokenPut{{was: &old, now: t}}, nil)
		return err
	})
	if err != nil {
		return IDToken{}, nil, fmt.Errorf("fleet: change id token %q: %w", idTag, err)
	}
	t, err := s.IDToken(ctx, idTag)
	return t, changed, err
}

// with returns t changed by c.
func (t IDToken) with(c IDTokenChange) IDToken {
	for _, f := range []struct {
		to   *string
		from *string
	}{{&t.Status, c.Status}, {&t.Owner, c.Owner}, {&t.Note, c.Note}, {&t.Parent, c.Parent}} {
		if f.from != nil {
			*f.to = *f.from
		}
	}
	if c.Expiry != nil {
		t.Expiry = *c.Expiry
	}
	if c.Sites != nil {
		t.Sites, t.AllSites = *c.Sites, false
	}
	if c.AllSites != nil {
		t.AllSites = *c.AllSites
		if t.AllSites && c.Sites == nil {
			t.Sites = nil
		}
	}
	return t
}

// DeleteIDToken deletes a token and returns the sites whose
// authorization lists it was removed from.
func (s *Store) DeleteIDToken(ctx context.Context, idTag string) ([]string, error) {
	var changed []string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockIDTokens(ctx, tx); err != nil {
			return err
		}
		old, err := s.idTokenIn(ctx, tx, idTag)
		if err != nil {
			return err
		}
		sites, err := s.fleetSites(ctx, tx)
		if err != nil {
			return err
		}
		changed, err = s.writeIDTokens(ctx, tx, sites, nil, []IDToken{old})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("fleet: delete id token %q: %w", idTag, err)
	}
	return changed, nil
}

// ImportIDTokens creates or replaces tokens, and with mode.Replace
// deletes those it does not hold, in one transaction: a token that is
// invalid (an *ImportError) changes nothing. Each site's authorization
// list changes once, whatever the number of tokens.
func (s *Store) ImportIDTokens(ctx context.Context, tokens []IDToken, mode ImportMode) (ImportResult, error) {
	imported := make([]IDToken, len(tokens))
	index := make(map[string]int, len(tokens))
	for i, t := range tokens {
		n, err := normalIDToken(t)
		if err == nil {
			if _, twice := index[n.IDTag]; twice {
				err = fmt.Errorf("idTag: %q is in the import twice", n.IDTag)
			}
		}
		if err != nil {
			return ImportResult{}, fmt.Errorf("fleet: import id tokens: %w", &ImportError{Index: i, IDTag: t.IDTag, Msg: err.Error()})
		}
		imported[i], index[n.IDTag] = n, i
	}
	var res ImportResult
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockIDTokens(ctx, tx); err != nil {
			return err
		}
		sites, err := s.fleetSites(ctx, tx)
		if err != nil {
			return err
		}
		for i, t := range imported {
			if err := sites.knownSites(t); err != nil {
				return &ImportError{Index: i, IDTag: t.IDTag, Msg: err.Error()}
			}
		}
		current, err := s.readIDTokens(ctx, tx, `1 = 1`, 0)
		if err != nil {
			return err
		}
		held := make(map[string]int, len(current))
		var deleted []IDToken
		for i, t := range current {
			held[t.IDTag] = i
			if _, kept := index[t.IDTag]; !kept && mode.Replace {
				deleted = append(deleted, t)
			}
		}
		var puts []tokenPut
		for _, t := range imported {
			i, ok := held[t.IDTag]
			switch {
			case !ok:
				puts, res.Created = append(puts, tokenPut{now: t}), res.Created+1
			case !sameIDToken(current[i], t):
				puts, res.Updated = append(puts, tokenPut{was: &current[i], now: t}), res.Updated+1
			}
		}
		res.Deleted = len(deleted)
		if res.Sites, err = s.writeIDTokens(ctx, tx, sites, puts, deleted); err != nil {
			return err
		}
		if p := pendingAudit(ctx); p != nil {
			p.Message = fmt.Sprintf("%d tokens: %d created, %d updated, %d deleted; %d sites' lists changed",
				len(imported), res.Created, res.Updated, res.Deleted, len(res.Sites))
		}
		return nil
	})
	if err != nil {
		return ImportResult{}, fmt.Errorf("fleet: import id tokens: %w", err)
	}
	return res, nil
}

// tokenPut is a token created (was nil) or replaced.
type tokenPut struct {
	was *IDToken
	now IDToken
}

// writeIDTokens writes to the register in tx the tokens put (each
// changed) and those deleted, and applies to the authorization list of
// every site where their entries change what changes there, each list
// changed once (changeAuthList); it returns those sites, by id. A
// revoked site's list is left as it is.
func (s *Store) writeIDTokens(ctx context.Context, tx *sql.Tx, sites fleetSites, puts []tokenPut, deleted []IDToken) ([]string, error) {
	changes := map[string]*AuthChange{}
	change := func(site string) *AuthChange {
		c, ok := changes[site]
		if !ok {
			c = &AuthChange{}
			changes[site] = c
		}
		return c
	}
	now := s.now()
	var tokenRows, siteRows, resited []any
	for _, p := range puts {
		t, entry := p.now, p.now.entry()
		var before []string
		if p.was != nil {
			before = p.was.workingAt(sites)
		}
		after := t.workingAt(sites)
		same := p.was != nil && sameEntry(p.was.entry(), entry)
		for _, site := range after {
			if !same || !sortedHas(before, site) {
				c := change(site)
				c.Put = append(c.Put, entry)
			}
		}
		for _, site := range before {
			if !sortedHas(after, site) {
				c := change(site)
				c.Remove = append(c.Remove, t.IDTag)
			}
		}
		tokenRows = append(tokenRows, t.IDTag, t.Owner, t.Note, t.Status, ms(t.Expiry), t.Parent, t.AllSites, now, now)
		if p.was == nil || !slices.Equal(p.was.Sites, t.Sites) {
			if p.was != nil {
				resited = append(resited, t.IDTag)
			}
			for _, site := range t.Sites {
				siteRows = append(siteRows, t.IDTag, site)
			}
		}
	}
	gone := make([]any, len(deleted))
	for i, t := range deleted {
		gone[i] = t.IDTag
		for _, site := range t.workingAt(sites) {
			c := change(site)
			c.Remove = append(c.Remove, t.IDTag)
		}
	}
	for _, w := range []struct {
		head string
		cols int
		tail string
		rows []any
	}{
		{`INSERT INTO id_tokens (` + idTokenColumns + `)`, 9, ` ON CONFLICT (id_tag) DO UPDATE SET owner = excluded.owner, note = excluded.note,
			status = excluded.status, expiry = excluded.expiry, parent = excluded.parent, all_sites = excluded.all_sites, updated_at = excluded.updated_at`, tokenRows},
		{`DELETE FROM id_token_sites WHERE id_tag IN (`, 1, `)`, slices.Concat(resited, gone)},
		{`INSERT INTO id_token_sites (id_tag, site)`, 2, ``, siteRows},
		{`DELETE FROM id_tokens WHERE id_tag IN (`, 1, `)`, gone},
	} {
		if err := s.execRows(ctx, tx, w.head, w.cols, w.tail, w.rows); err != nil {
			return nil, err
		}
	}
	// In the order of the sites' ids: concurrent changes lock the sites'
	// rows in one order.
	changed := slices.Sorted(maps.Keys(changes))
	for _, site := range changed {
		if _, err := s.changeAuthList(ctx, tx, site, *changes[site]); err != nil {
			return nil, fmt.Errorf("authorization list of %s: %w", site, err)
		}
	}
	if changed == nil {
		changed = []string{}
	}
	return changed, nil
}

// addAllSitesTokens puts the tokens that work at every site on the
// authorization list of site, new (CreateSite), in tx.
func (s *Store) addAllSitesTokens(ctx context.Context, tx *sql.Tx, site string) error {
	if err := s.lockIDTokens(ctx, tx); err != nil {
		return err
	}
	ts, err := s.readIDTokens(ctx, tx, `all_sites`, 0)
	if err != nil || len(ts) == 0 {
		return err
	}
	c := AuthChange{Put: make([]syncproto.AuthEntry, len(ts))}
	for i, t := range ts {
		c.Put[i] = t.entry()
	}
	_, err = s.changeAuthList(ctx, tx, site, c)
	return err
}
