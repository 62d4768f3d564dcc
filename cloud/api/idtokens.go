package api

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/constellation-ev/constellation/cloud/auth"
	"github.com/constellation-ev/constellation/cloud/fleet"
)

// IDTokens is the fleet's register of RFID id tokens as the API uses it.
type IDTokens interface {
	IDToken(ctx context.Context, idTag string) (fleet.IDToken, error)
	IDTokens(ctx context.Context, f fleet.IDTokenFilter) ([]fleet.IDToken, string, error)
	PutIDToken(ctx context.Context, t fleet.IDToken) (fleet.IDToken, []string, error)
	PatchIDToken(ctx context.Context, idTag string, c fleet.IDTokenChange) (fleet.IDToken, []string, error)
	DeleteIDToken(ctx context.Context, idTag string) ([]string, error)
	ImportIDTokens(ctx context.Context, tokens []fleet.IDToken, mode fleet.ImportMode) (fleet.ImportResult, error)
	ExportIDTokens(ctx context.Context, fn func(fleet.IDToken) error) error
}

// idTokenRoutes are the endpoints of the fleet's id tokens (see routes).
func (s *server) idTokenRoutes() []route {
	return []route{
		{pattern: "GET /api/v1/idtokens", role: auth.Viewer, h: s.listIDTokens},
		{pattern: "GET /api/v1/idtokens.csv", role: auth.Viewer, h: s.exportIDTokens},
		{pattern: "POST /api/v1/idtokens/import", role: auth.Operator, action: "idtoken.import", h: s.importIDTokens},
		{pattern: "GET /api/v1/idtokens/{idTag}", role: auth.Viewer, h: s.getIDToken},
		{pattern: "PUT /api/v1/idtokens/{idTag}", role: auth.Operator, action: "idtoken.put", h: s.putIDToken},
		{pattern: "PATCH /api/v1/idtokens/{idTag}", role: auth.Operator, action: "idtoken.update", h: s.patchIDToken},
		{pattern: "DELETE /api/v1/idtokens/{idTag}", role: auth.Operator, action: "idtoken.delete", h: s.deleteIDToken},
	}
}

// idTokenRequest is a token to put; its id tag is the path's.
type idTokenRequest struct {
	Owner    string    `json:"owner"`
	Note     string    `json:"note"`
	Status   string    `json:"status"` // "": Accepted
	Expiry   time.Time `json:"expiry"`
	Parent   string    `json:"parent"`
	AllSites bool      `json:"allSites"`
	Sites    []string  `json:"sites"`
}

// patchIDTokenRequest changes a token; absent fields stay.
type patchIDTokenRequest struct {
	Status *string `json:"status"`
	Owner  *string `json:"owner"`
	Note   *string `json:"note"`
	Parent *string `json:"parent"`
	// Expiry is an RFC 3339 time, or "" for none.
	Expiry   *string   `json:"expiry"`
	AllSites *bool     `json:"allSites"`
	Sites    *[]string `json:"sites"`
}

// listIDTokens pages through the tokens by id tag: ?q= (a part of the
// id tag or owner), status=, site= (the tokens that work there), after=
// (the previous page's next), limit= (1 to 1000, default 100).
func (s *server) listIDTokens(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := fleet.IDTokenFilter{Search: q.Get("q"), Status: q.Get("status"), Site: q.Get("site"), After: q.Get("after"), Limit: 100}
	if f.Status != "" && !slices.Contains(idTokenStatuses, f.Status) {
		writeError(w, http.StatusBadRequest, "status: want Accepted, Blocked, Expired or Invalid")
		return
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "limit: want 1 to 1000")
			return
		}
		f.Limit = n
	}
	page, next, err := s.Store.IDTokens(r.Context(), f)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"idTokens": page, "next": next})
}

func (s *server) getIDToken(w http.ResponseWriter, r *http.Request) {
	t, err := s.Store.IDToken(r.Context(), r.PathValue("idTag"))
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

// putIDToken creates or replaces a token and sends the lists it changed.
func (s *server) putIDToken(w http.ResponseWriter, r *http.Request) {
	req, ok := body[idTokenRequest](w, r)
	if !ok {
		return
	}
	tag := r.PathValue("idTag")
	state(r).audit.Target = "idtoken:" + clip(tag)
	t, sites, err := s.Store.PutIDToken(r.Context(), fleet.IDToken{IDTag: tag, Owner: req.Owner, Note: req.Note, Status: req.Status,
		Expiry: req.Expiry, Parent: req.Parent, AllSites: req.AllSites, Sites: req.Sites})
	if err != nil {
		s.userError(w, r, err)
		return
	}
	s.publishAuthLists(r.Context(), sites)
	writeJSON(w, http.StatusOK, t)
}

// patchIDToken changes a token (blocks or unblocks it, moves it...) and
// sends the lists it changed.
func (s *server) patchIDToken(w http.ResponseWriter, r *http.Request) {
	req, ok := body[patchIDTokenRequest](w, r)
	if !ok {
		return
	}
	tag := r.PathValue("idTag")
	state(r).audit.Target = "idtoken:" + clip(tag)
	c := fleet.IDTokenChange{Status: req.Status, Owner: req.Owner, Note: req.Note, Parent: req.Parent, AllSites: req.AllSites, Sites: req.Sites}
	if req.Expiry != nil {
		expiry, err := parseExpiry(*req.Expiry)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		c.Expiry = &expiry
	}
	if c == (fleet.IDTokenChange{}) {
		writeError(w, http.StatusBadRequest, "body: nothing to change (status, owner, note, parent, expiry, allSites, sites)")
		return
	}
	t, sites, err := s.Store.PatchIDToken(r.Context(), tag, c)
	if err != nil {
		s.userError(w, r, err)
		return
	}
	s.publishAuthLists(r.Context(), sites)
	writeJSON(w, http.StatusOK, t)
}

// deleteIDToken deletes a token and sends the lists it leaves.
func (s *server) deleteIDToken(w http.ResponseWriter, r *http.Request) {
	tag := r.PathValue("idTag")
	state(r).audit.Target = "idtoken:" + clip(tag)
	sites, err := s.Store.DeleteIDToken(r.Context(), tag)
	if err != nil {
		s.storeError(w, err)
		return
	}
	s.publishAuthLists(r.Context(), sites)
	w.WriteHeader(http.StatusNoContent)
}

// importIDTokens imports a CSV file of tokens (idTokenColumns, a header
// row first): ?mode=merge (default) keeps the tokens the file does not
// hold, mode=replace deletes them. A bad line changes nothing.
func (s *server) importIDTokens(w http.ResponseWriter, r *http.Request) {
	mode := r.URL.Query().Get("mode")
	if mode != "" && mode != "merge" && mode != "replace" {
		writeError(w, http.StatusBadRequest, "mode: want merge or replace")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "text/csv" {
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type: want text/csv")
		return
	}
	data, err := readBody(w, r)
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, err.Error())
		return
	}
	tokens, lines, err := parseIDTokensCSV(data)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	res, err := s.Store.ImportIDTokens(r.Context(), tokens, fleet.ImportMode{Replace: mode == "replace"})
	var bad *fleet.ImportError
	if errors.As(err, &bad) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("line %d: %s", lines[bad.Index], bad.Msg))
		return
	}
	if err != nil {
		s.storeError(w, err)
		return
	}
	s.publishAuthLists(r.Context(), res.Sites)
	writeJSON(w, http.StatusOK, res)
}

// exportIDTokens streams every token as CSV, in the import's columns:
// the export imported again (mode=replace) changes nothing.
func (s *server) exportIDTokens(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="idtokens.csv"`)
	sent := &countingWriter{w: w}
	cw := csv.NewWriter(sent)
	err := cw.Write(idTokenColumns)
	if err == nil {
		err = s.Store.ExportIDTokens(r.Context(), func(t fleet.IDToken) error { return cw.Write(idTokenRecord(t)) })
	}
	if err == nil {
		cw.Flush()
		err = cw.Error()
	}
	switch {
	case err == nil:
	case sent.n == 0:
		w.Header().Del("Content-Disposition")
		s.storeError(w, err)
	default:
		// Part of the file is sent: the connection is cut rather than
		// the file ended, so that no client takes a part for the whole
		// (and imports it with mode=replace).
		s.Logger.Error("exporting id tokens", "err", err)
		panic(http.ErrAbortHandler)
	}
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// idTokenColumns are the columns of the CSV files of tokens: sites is *
// (every site) or site ids separated by ';'; expiry is RFC 3339 or
// empty (none); status empty is Accepted.
var idTokenColumns = []string{"id_tag", "status", "expiry", "owner", "note", "parent", "sites"}

// idTokenRecord is t's row of a CSV file (idTokenColumns).
func idTokenRecord(t fleet.IDToken) []string {
	expiry := ""
	if !t.Expiry.IsZero() {
		expiry = t.Expiry.UTC().Format(time.RFC3339Nano)
	}
	sites := strings.Join(t.Sites, ";")
	if t.AllSites {
		sites = "*"
	}
	rec := []string{t.IDTag, t.Status, expiry, t.Owner, t.Note, t.Parent, sites}
	for i, v := range rec {
		rec[i] = guardCell(v)
	}
	return rec
}

// guardCell keeps a spreadsheet from running a cell as a formula
// (csvCell), and prefixes a cell that begins with ' too, so that
// unguardCell gives back every cell as it was.
func guardCell(v string) string {
	if strings.HasPrefix(v, "'") {
		return "'" + v
	}
	return csvCell(v)
}

// unguardCell takes off the ' guardCell put (or a spreadsheet's user,
// to keep a cell as text).
func unguardCell(v string) string {
	return strings.TrimPrefix(v, "'")
}

// parseIDTokensCSV reads a CSV file of tokens (idTokenColumns, in any
// order, after a header row naming them) and returns them with the line
// of each. Its errors name the line and the column.
func parseIDTokensCSV(data []byte) ([]fleet.IDToken, []int, error) {
	rd := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff")))) // a spreadsheet's byte order mark
	header, err := rd.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("line 1: want the header row %s", strings.Join(idTokenColumns, ","))
	}
	if err != nil {
		return nil, nil, csvError(err)
	}
	col := map[string]int{}
	for i, name := range header {
		name = strings.TrimSpace(name)
		if _, twice := col[name]; twice || !slices.Contains(idTokenColumns, name) {
			return nil, nil, fmt.Errorf("line 1: column %q: want each of %s once", clip(name), strings.Join(idTokenColumns, ","))
		}
		col[name] = i
	}
	if len(col) != len(idTokenColumns) {
		return nil, nil, fmt.Errorf("line 1: want the columns %s", strings.Join(idTokenColumns, ","))
	}
	var (
		tokens []fleet.IDToken
		lines  []int
	)
	for {
		rec, err := rd.Read()
		if errors.Is(err, io.EOF) {
			return tokens, lines, nil
		}
		if err != nil {
			return nil, nil, csvError(err)
		}
		line, _ := rd.FieldPos(0)
		cell := func(name string) string { return unguardCell(rec[col[name]]) }
		t := fleet.IDToken{IDTag: cell("id_tag"), Status: cell("status"), Owner: cell("owner"), Note: cell("note"), Parent: cell("parent")}
		if t.Expiry, err = parseExpiry(cell("expiry")); err != nil {
			return nil, nil, fmt.Errorf("line %d: %w", line, err)
		}
		switch sites := cell("sites"); sites {
		case "*":
			t.AllSites = true
		case "":
		default:
			for site := range strings.SplitSeq(sites, ";") {
				if site = strings.TrimSpace(site); site != "" {
					t.Sites = append(t.Sites, site)
				}
			}
		}
		tokens, lines = append(tokens, t), append(lines, line)
	}
}

// parseExpiry parses an expiry: RFC 3339, or "" for none.
func parseExpiry(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, errors.New("expiry: want an RFC 3339 time (2027-01-31T00:00:00Z) or nothing")
	}
	return t, nil
}

// csvError names the line of a CSV syntax error.
func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("line %d: %v", pe.Line, pe.Err)
	}
	return fmt.Errorf("CSV: %w", err)
}

// publishAuthLists sends each site whose authorization list a change of
// id tokens changed what changed: the delta from the version before (a
// change bumps a site's version once), as changeAuth does; an appliance
// on another version, or offline, gets what it lacks at its next birth.
func (s *server) publishAuthLists(ctx context.Context, sites []string) {
	for _, site := range sites {
		st, err := s.Store.Site(ctx, site)
		if err == nil {
			err = s.Downlink.AuthList(ctx, site, st.AuthVersion-1)
		}
		s.publish(site, "authorization list", err)
	}
}
