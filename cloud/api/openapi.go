package api

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/constellation-ev/constellation/cloud/auth"
	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/syncproto"
)

// The OpenAPI 3.1 document of the API, served at GET /api/openapi.json.
// Its operations are built from the role table itself (pattern, role,
// password, action), so it cannot disagree with what guard enforces;
// apiDocs adds each endpoint's prose, parameters and bodies, and the
// bodies' schemas are derived from the Go types by their JSON tags.

// serveOpenAPI serves the document, built once: it changes only with
// the binary, so clients may cache it and revalidate with its ETag.
func (s *server) serveOpenAPI() http.Handler {
	doc, err := json.Marshal(openAPI(s.routes(), s.publicRoutes()))
	if err != nil {
		s.Logger.Error("building the OpenAPI document", "err", err)
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeError(w, http.StatusInternalServerError, "internal error")
		})
	}
	sum := sha256.Sum256(doc)
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Set("ETag", etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(doc))
	})
}

// publicRoutes are the endpoints New serves without guard, as the
// document describes them (role "": no credentials).
func (s *server) publicRoutes() []route {
	return []route{{pattern: "POST /api/v1/enroll", h: s.enroll}}
}

// opDoc is the prose of an endpoint, and what it takes and gives.
type opDoc struct {
	summary     string
	description string
	query       []param
	request     *bodyDoc
	// status is the success status (0: 200); answer what it carries (nil:
	// no content).
	status int
	answer *bodyDoc
	// errors are the statuses beyond those every route of its kind
	// answers (see errorStatuses), with what they mean here ("": the
	// usual meaning).
	errors map[int]string
}

// bodyDoc is a request or answer body: JSON of typ, or CSV.
type bodyDoc struct {
	typ reflect.Type
	csv string // the CSV's description, for a text/csv body
	// required, fields and atLeastOne refine a request's schema:
	// encoding/json takes any field as optional, the handler does not.
	required   []string
	fields     map[string]map[string]any
	atLeastOne bool
}

func jsonBody[T any](required ...string) *bodyDoc {
	return &bodyDoc{typ: reflect.TypeFor[T](), required: required}
}

// with sets the schema of a request's field (an enum, a format).
func (b *bodyDoc) with(field string, schema map[string]any) *bodyDoc {
	if b.fields == nil {
		b.fields = map[string]map[string]any{}
	}
	b.fields[field] = schema
	return b
}

// oneOrMore requires at least one field (a PATCH).
func (b *bodyDoc) oneOrMore() *bodyDoc {
	b.atLeastOne = true
	return b
}

// param is a query parameter; they are all optional.
type param struct {
	name, description string
	schema            map[string]any
}

func qText(name, description string) param {
	return param{name, description, map[string]any{"type": "string"}}
}

func qInt(name string, lo, hi, def int, description string) param {
	return param{name, description, map[string]any{"type": "integer", "minimum": lo, "maximum": hi, "default": def}}
}

func qTime(name, description string) param {
	return param{name, description + " (RFC 3339)", map[string]any{"type": "string", "format": "date-time"}}
}

func qEnum(name, description string, values ...string) param {
	return param{name, description, map[string]any{"type": "string", "enum": values}}
}

// Schemas of strings with rules the handlers or the store check.
var (
	siteIDSchema = map[string]any{"type": "string", "minLength": 1, "maxLength": syncproto.MaxSiteIDLen,
		"pattern": `^[A-Za-z0-9_-][A-Za-z0-9._-]*$`}
	roleSchema     = map[string]any{"type": "string", "enum": []auth.Role{auth.Viewer, auth.Operator, auth.Admin}}
	durationSchema = map[string]any{"type": "string", "description": `a Go duration, like "90m" or "24h"`}
	passwordSchema = map[string]any{"type": "string", "minLength": auth.MinPassword, "maxLength": auth.MaxPassword}
	// pathParamSchemas are the path parameters' schemas, by name (default:
	// a string).
	pathParamSchemas = map[string]map[string]any{
		"site":  siteIDSchema,
		"idTag": {"type": "string", "minLength": 1, "maxLength": fleet.MaxIDTagLen},
	}
)

// sessionQuery are the filters of the sessions and of their export.
var sessionQuery = []param{
	qText("site", "a site's id"),
	qText("charger", "a charger's id; needs site (charger ids are a site's)"),
	qText("token", "an exact id tag"),
	qTime("from", "sessions that started at or after this time"),
	qTime("to", "sessions that started before this time; after from"),
	qEnum("open", "open (true) or stopped (false) sessions only", "true", "false"),
}

// apiDocs documents every endpoint, by its pattern in the role table
// (or publicRoutes).
var apiDocs = map[string]opDoc{
	"POST /api/v1/enroll": {
		summary: "Trade an enrollment token for a site's MQTT credentials",
		description: "The appliance's own password (sent, stored as a hash, never echoed), or one generated and returned once. " +
			"Rate limited per address.",
		request: jsonBody[enrollRequest]("site", "token").with("site", siteIDSchema).
			with("password", map[string]any{"type": "string", "description": "the appliance's chosen MQTT password; empty is refused, not taken as absent"}),
		answer: jsonBody[struct {
			Site     string `json:"site"`
			Username string `json:"username"`
			Password string `json:"password,omitempty"`
		}](),
		errors: map[int]string{
			400: "The body is invalid, or the password too weak.",
			401: "The token is not valid for this site.",
			403: "The token was used already, or the site is revoked.",
			410: "The token expired.",
			429: "",
			503: "Enrolled, but the broker did not take the credentials: try again.",
		},
	},
	"POST /api/v1/sites": {
		summary:     "Create a site",
		description: "Its appliance enrolls with a token of POST /api/v1/sites/{site}/tokens.",
		request:     jsonBody[createSiteRequest]("id").with("id", siteIDSchema).with("name", map[string]any{"type": "string", "maxLength": 255}),
		status:      http.StatusCreated,
		answer:      jsonBody[fleet.Site](),
		errors:      map[int]string{409: "A site with this id exists."},
	},
	"GET /api/v1/sites": {
		summary: "List the sites, with their online state, versions and counts",
		answer: jsonBody[struct {
			Sites []fleet.Site `json:"sites"`
		}](),
	},
	"GET /api/v1/sites/{site}": {
		summary: "Get a site",
		answer:  jsonBody[fleet.Site](),
	},
	"PATCH /api/v1/sites/{site}": {
		summary: "Change a site's name and tariff",
		request: jsonBody[patchSiteRequest]().oneOrMore().
			with("pricePerKwh", map[string]any{"type": "string", "description": `a decimal price per kWh, like "0.295"; "" removes the price`}).
			with("currency", map[string]any{"type": "string", "description": `an ISO 4217 code, like "EUR"`}),
		answer: jsonBody[fleet.Site](),
	},
	"POST /api/v1/sites/{site}/tokens": {
		summary:     "Issue an enrollment token for a site",
		description: "Single use; stored only as a hash; valid for ttl (default 24h, at most 720h).",
		request:     jsonBody[tokenRequest]().with("ttl", durationSchema),
		status:      http.StatusCreated,
		answer: jsonBody[struct {
			Site    string    `json:"site"`
			Token   string    `json:"token"`
			Expires time.Time `json:"expires"`
		}](),
	},
	"POST /api/v1/sites/{site}/revoke": {
		summary:     "Revoke a site",
		description: "The store refuses the site from now on, and the broker drops its access.",
		status:      http.StatusNoContent,
		errors:      map[int]string{502: "The site is revoked in the store, but the broker did not drop its access: try again."},
	},
	"GET /api/v1/sites/{site}/chargers": {
		summary: "List a site's chargers with their connectors' latest status",
		description: "unsynced: the status was made before the appliance's clock was synchronised, " +
			"so its lastSeen may be behind.",
		answer: jsonBody[struct {
			Chargers []fleet.Charger `json:"chargers"`
		}](),
	},
	"GET /api/v1/sites/{site}/live": {
		summary:     "Get a site's page",
		description: "Its health and last network report, its chargers with their live power, its latest 20 sessions.",
		answer:      jsonBody[fleet.SiteDetail](),
		errors:      map[int]string{400: "A query parameter was given: it takes none."},
	},
	"GET /api/v1/sites/{site}/chargers/{charger}": {
		summary:     "Get a charger's page",
		description: "Its live state, status history (100 a page, newest first), reported configuration, latest commands and reservations.",
		query:       []param{qTime("before", "status history before this time: the previous page's historyNext")},
		answer:      jsonBody[fleet.ChargerDetail](),
	},
	"GET /api/v1/sites/{site}/transactions": {
		summary:     "List a site's transactions (their highest revision)",
		description: "A record with unsynced was made before the appliance's clock was synchronised: its ts may be behind.",
		query: []param{
			qText("charger", "a charger's id"),
			qEnum("readings", "true: with each transaction's meter readings", "true"),
		},
		answer: jsonBody[struct {
			Transactions []fleet.Transaction `json:"transactions"`
		}](),
	},
	"GET /api/v1/sites/{site}/desired": {
		summary: "Get a site's desired configuration and the appliance's last report of it",
		answer:  jsonBody[fleet.Desired](),
	},
	"PUT /api/v1/sites/{site}/desired": {
		summary:     "Replace a site's desired configuration",
		description: "Bumps the version and publishes it (retained) to the site.",
		request:     jsonBody[desiredRequest](),
		answer:      jsonBody[fleet.Desired](),
	},
	"GET /api/v1/sites/{site}/authlist": {
		summary: "Get a site's authorization list",
		answer:  jsonBody[authListAnswer](),
	},
	"PUT /api/v1/sites/{site}/authlist": {
		summary:     "Replace a site's authorization list",
		description: "Publishes the change as a delta from the previous version.",
		request:     jsonBody[authListRequest](),
		answer:      jsonBody[authListAnswer](),
	},
	"POST /api/v1/sites/{site}/authlist/changes": {
		summary:     "Add, change and remove entries of a site's authorization list",
		description: "Publishes the change as a delta from the previous version.",
		request:     jsonBody[authChangeRequest](),
		answer:      jsonBody[authListAnswer](),
	},
	"POST /api/v1/sites/{site}/commands": {
		summary: "Send a command to a charger",
		description: "A command of the appliance's local API (docs/api.md), sent at once to an online site, at its next birth otherwise, " +
			"unless its deadline (or now + timeout, default 10m) passed.",
		request: jsonBody[commandRequest]("charger", "command").
			with("args", map[string]any{"description": "the command's arguments"}).
			with("timeout", durationSchema),
		status: http.StatusCreated,
		answer: jsonBody[fleet.Command](),
	},
	"GET /api/v1/sites/{site}/commands": {
		summary:     "List a site's commands, newest first",
		description: "next, when present, is the before of the next page.",
		query: []param{
			qText("charger", "a charger's id"),
			qInt("limit", 1, 1000, 100, "the page's size"),
			qText("before", "commands before this one: the previous page's next"),
		},
		answer: jsonBody[struct {
			Commands []fleet.Command `json:"commands"`
			Next     string          `json:"next,omitempty"`
		}](),
	},
	"GET /api/v1/commands/{id}": {
		summary:     "Get a command and its status",
		description: "queued, sent, accepted, rejected, failed, or expired (at its deadline without an answer).",
		answer:      jsonBody[fleet.Command](),
	},
	"GET /api/v1/overview": {
		summary:     "Page through the fleet's sites, with the totals of every site the filter selects",
		description: "next, when present, is the after of the next page.",
		query: []param{
			qText("q", "a part of the site's id or name"),
			qEnum("state", "sites in this state only", fleet.StateOnline, fleet.StateOffline, fleet.StateFaulted, fleet.StateInUse),
			qInt("limit", 1, 500, 100, "the page's size"),
			qText("after", "sites after this one: the previous page's next"),
		},
		answer: jsonBody[fleet.Overview](),
	},
	"GET /api/v1/sessions": {
		summary:     "Page through charging sessions across the fleet, newest first",
		description: "Each with its energy and its cost at the site's price; next, when present, is the cursor of the next page.",
		query: append(slices.Clone(sessionQuery),
			qInt("limit", 1, 1000, 100, "the page's size"),
			qText("cursor", "the previous page's next")),
		answer: jsonBody[fleet.SessionPage](),
	},
	"GET /api/v1/sessions.csv": {
		summary:     "Export the charging sessions the filter selects as CSV",
		description: "Every session, newest first; a cell a spreadsheet would run as a formula is prefixed with a quote.",
		query:       sessionQuery,
		answer:      &bodyDoc{csv: "a header row, then a row per session: " + strings.Join(sessionColumns, ", ")},
	},
	"POST /api/v1/signin": {
		summary: "Sign in to the dashboard",
		description: "With a user's name and password (HTTP Basic), never a token. The answer's secret is the session's cookie, shown once; " +
			"csrf is the token its changes carry.",
		status: http.StatusCreated,
		answer: jsonBody[signInAnswer](),
		errors: map[int]string{403: "A token was given, not a name and password."},
	},
	"POST /api/v1/users": {
		summary:     "Create a user",
		description: "A password left out is generated and returned once.",
		request: jsonBody[createUserRequest]("name", "role").with("role", roleSchema).with("password", passwordSchema).
			with("name", map[string]any{"type": "string", "description": "1 to 64 of a-z 0-9 . _ @ -, starting with a letter or digit"}),
		status: http.StatusCreated,
		answer: jsonBody[struct {
			User     fleet.User `json:"user"`
			Password string     `json:"password,omitempty"`
		}](),
		errors: map[int]string{409: "A user with this name exists."},
	},
	"GET /api/v1/users": {
		summary: "List the users",
		answer: jsonBody[struct {
			Users []fleet.User `json:"users"`
		}](),
	},
	"GET /api/v1/users/{id}": {
		summary: "Get a user",
		answer:  jsonBody[fleet.User](),
	},
	"PATCH /api/v1/users/{id}": {
		summary: "Change a user's display name, role or disabled flag",
		request: jsonBody[patchUserRequest]().oneOrMore().with("role", roleSchema),
		answer:  jsonBody[fleet.User](),
		errors:  map[int]string{409: "The change would leave no enabled admin."},
	},
	"POST /api/v1/users/{id}/password": {
		summary:     "Change a user's password",
		description: "One's own, with the old one (rate limited as a login), or, for an admin, anyone's.",
		request:     jsonBody[passwordRequest]("password").with("password", passwordSchema),
		status:      http.StatusNoContent,
		errors:      map[int]string{403: "Another user's password, and not an admin; or the old password is wrong."},
	},
	"POST /api/v1/tokens": {
		summary: "Create an API token for the caller",
		description: "With a role up to the caller's (default: the caller's) and an optional expiry (expires, or ttl from now; not both). " +
			"The secret (cwt_...) is in this answer only: use it as Authorization: Bearer.",
		request: jsonBody[apiTokenRequest]("name").with("role", roleSchema).with("ttl", durationSchema).
			with("name", map[string]any{"type": "string", "minLength": 1, "maxLength": 100}),
		status: http.StatusCreated,
		answer: jsonBody[struct {
			Token  fleet.APIToken `json:"token"`
			Secret string         `json:"secret"`
		}](),
		errors: map[int]string{403: "The role asked for is above the caller's."},
	},
	"GET /api/v1/tokens": {
		summary: "List the caller's API tokens (an admin's: everyone's)",
		answer: jsonBody[struct {
			Tokens []fleet.APIToken `json:"tokens"`
		}](),
	},
	"DELETE /api/v1/tokens/{id}": {
		summary:     "Revoke an API token",
		description: "One's own; an admin's, anyone's. Revoking a revoked token changes nothing.",
		status:      http.StatusNoContent,
		errors:      map[int]string{403: "Another user's token, and not an admin."},
	},
	"GET /api/v1/idtokens": {
		summary:     "Page through the fleet's RFID id tokens, by id tag",
		description: "next is the after of the next page; \"\" on the last.",
		query: []param{
			qText("q", "a part of the id tag or of the owner, whatever its case"),
			qEnum("status", "tokens with this status only", idTokenStatuses...),
			qText("site", "the tokens that work at this site"),
			qText("after", "tokens after this id tag: the previous page's next"),
			qInt("limit", 1, 1000, 100, "the page's size"),
		},
		answer: jsonBody[struct {
			IDTokens []fleet.IDToken `json:"idTokens"`
			Next     string          `json:"next"`
		}](),
	},
	"GET /api/v1/idtokens.csv": {
		summary:     "Export every id token as CSV",
		description: "In the import's columns: the export imported again with mode=replace changes nothing.",
		answer:      &bodyDoc{csv: idTokensCSV},
	},
	"POST /api/v1/idtokens/import": {
		summary: "Import id tokens from a CSV file",
		description: "mode=merge (the default) keeps the tokens the file does not hold, mode=replace deletes them. " +
			"A bad line changes nothing (400 naming the line and the column). Sends the authorization lists it changed.",
		query:   []param{qEnum("mode", "what happens to the tokens the file does not hold", "merge", "replace")},
		request: &bodyDoc{csv: idTokensCSV},
		answer:  jsonBody[fleet.ImportResult](),
		errors:  map[int]string{415: "The Content-Type is not text/csv."},
	},
	"GET /api/v1/idtokens/{idTag}": {
		summary: "Get an id token",
		answer:  jsonBody[fleet.IDToken](),
	},
	"PUT /api/v1/idtokens/{idTag}": {
		summary:     "Create or replace an id token",
		description: "Sends the authorization lists of the sites it works at, or worked at.",
		request: jsonBody[idTokenRequest]().
			with("status", map[string]any{"type": "string", "enum": append([]string{""}, idTokenStatuses...), "description": `"": Accepted`}).
			with("sites", map[string]any{"type": "array", "items": siteIDSchema, "description": "the sites it works at; none with allSites"}),
		answer: jsonBody[fleet.IDToken](),
	},
	"PATCH /api/v1/idtokens/{idTag}": {
		summary:     "Change an id token (block or unblock it, move it...)",
		description: "Absent fields stay. Sends the authorization lists it changed.",
		request: jsonBody[patchIDTokenRequest]().oneOrMore().
			with("status", map[string]any{"type": "string", "enum": idTokenStatuses}).
			with("expiry", map[string]any{"type": "string", "description": `an RFC 3339 time, or "" for none`}),
		answer: jsonBody[fleet.IDToken](),
	},
	"DELETE /api/v1/idtokens/{idTag}": {
		summary:     "Delete an id token",
		description: "Sends the authorization lists it leaves.",
		status:      http.StatusNoContent,
	},
	"GET /api/v1/audit": {
		summary:     "Page through the audit log, newest first",
		description: "next, when present, is the before of the next page.",
		query: []param{
			qText("actor", "an actor (user:NAME, token:ID, operator-token, cli) or the user it acted for"),
			qText("action", "an action, like site.create"),
			qTime("since", "entries at or after this time"),
			qTime("until", "entries before this time"),
			qText("before", "entries before this one: the previous page's next"),
			qInt("limit", 1, 1000, 100, "the page's size"),
		},
		answer: jsonBody[struct {
			Entries []fleet.AuditEntry `json:"entries"`
			Next    string             `json:"next,omitempty"`
		}](),
	},
}

// idTokenStatuses are the statuses of an id token.
var idTokenStatuses = []string{fleet.IDTokenAccepted, fleet.IDTokenBlocked, fleet.IDTokenExpired, fleet.IDTokenInvalid}

// idTokensCSV describes the CSV files of id tokens.
var idTokensCSV = "a header row naming the columns " + strings.Join(idTokenColumns, ", ") +
	" (in any order), then a row per token: sites is * (every site) or site ids separated by ;, " +
	"expiry RFC 3339 or empty (none), status empty is Accepted"

// authListAnswer is what the authorization list's endpoints answer.
type authListAnswer struct {
	Version int64                 `json:"version"`
	Entries []syncproto.AuthEntry `json:"entries"`
}

// errorResponses are the errors' usual meanings, by status: the
// document's shared responses.
var errorResponses = map[int]struct{ name, description string }{
	400: {"BadRequest", "The request is invalid; the message names the field or parameter. Unknown body fields are refused, and so are the fleet views' unknown query parameters."},
	401: {"Unauthorized", "No valid credentials (a bearer token, or where admitted a user's name and password)."},
	403: {"Forbidden", "The caller's role is below the one needed (the message names it), or the change is not the caller's to make."},
	404: {"NotFound", "No such site, charger, command, user or token, or no such endpoint."},
	409: {"Conflict", "The change conflicts with what is stored."},
	413: {"PayloadTooLarge", fmt.Sprintf("The body is larger than %d MiB.", maxBody>>20)},
	429: {"TooManyRequests", "Too many refused requests or password attempts from this address (or for this user); retry after Retry-After seconds."},
}

// errorStatuses are the errors every route of rt's kind answers: guard's
// (a public route's are in its opDoc), and those of its inputs.
func errorStatuses(rt route, d opDoc, pathParams []string) []int {
	var statuses []int
	if rt.role != "" {
		statuses = append(statuses, http.StatusUnauthorized, http.StatusTooManyRequests)
	}
	if rt.role != "" && rt.role != auth.Viewer {
		statuses = append(statuses, http.StatusForbidden)
	}
	if d.request != nil || len(d.query) > 0 {
		statuses = append(statuses, http.StatusBadRequest)
	}
	if d.request != nil {
		statuses = append(statuses, http.StatusRequestEntityTooLarge)
	}
	if len(pathParams) > 0 {
		statuses = append(statuses, http.StatusNotFound)
	}
	return statuses
}

// pathParam matches a wildcard of a ServeMux pattern.
var pathParam = regexp.MustCompile(`\{([^}.$]+)(\.\.\.)?\}`)

// openAPI returns the document of routes (guarded by the role table) and
// public (served without credentials).
func openAPI(routes, public []route) map[string]any {
	schemas := &schemaSet{components: map[string]any{}}
	paths := map[string]map[string]any{}
	for _, rt := range slices.Concat(public, routes) {
		method, pattern, _ := strings.Cut(rt.pattern, " ")
		d, ok := apiDocs[rt.pattern]
		if !ok {
			d.summary = rt.pattern + " (undocumented)"
		}
		var names []string
		for _, m := range pathParam.FindAllStringSubmatch(pattern, -1) {
			names = append(names, m[1])
		}
		p := pathParam.ReplaceAllString(pattern, "{$1}")
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		paths[p][strings.ToLower(method)] = operation(rt, d, p, names, schemas)
	}
	responses := map[string]any{}
	for _, e := range errorResponses {
		responses[e.name] = errorResponse(e.description)
	}
	schemas.components["Error"] = map[string]any{"type": "object", "required": []string{"error"},
		"properties": map[string]any{"error": map[string]any{"type": "string", "description": "what went wrong, naming the field or parameter"}}}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "Constellation watchtower API",
			"version": "1",
			"description": "The watchtower's JSON API (docs/watchtower.md). Every endpoint but enroll needs a bearer token and the role it names " +
				"(viewer < operator < admin: each may do what the roles below it may). Errors are {\"error\": \"...\"}; every answer carries " +
				"X-Request-Id (the client's when sane, or a new one), which the audit log records.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas":   schemas.components,
			"responses": responses,
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer",
					"description": "An API token (cwt_..., POST /api/v1/tokens) or the legacy operator token (an admin)."},
				"basic": map[string]any{"type": "http", "scheme": "basic",
					"description": "A user's name and password, on the routes that admit them: the way to a first API token."},
			},
		},
	}
}

// operation is the document of route rt at path p.
func operation(rt route, d opDoc, p string, pathParams []string, schemas *schemaSet) map[string]any {
	op := map[string]any{"operationId": handlerName(rt.h), "summary": d.summary, "tags": []string{tag(p)}}
	description := d.description
	switch {
	case rt.role == "":
		op["security"] = []any{}
		description += "\n\nPublic: no credentials."
	default:
		op["x-role"] = rt.role
		security := []any{map[string]any{"bearer": []string{}}}
		description += fmt.Sprintf("\n\nRole: %s (or above).", rt.role)
		if rt.password {
			security = append(security, map[string]any{"basic": []string{}})
			description += " Takes a user's name and password (HTTP Basic) as well as a bearer token."
		}
		op["security"] = security
	}
	if rt.action != "" {
		op["x-audit-action"] = rt.action
		description += fmt.Sprintf(" Audited as %s.", rt.action)
	}
	op["description"] = strings.TrimSpace(description)

	var parameters []any
	for _, name := range pathParams {
		schema, ok := pathParamSchemas[name]
		if !ok {
			schema = map[string]any{"type": "string"}
		}
		parameters = append(parameters, map[string]any{"name": name, "in": "path", "required": true, "schema": schema})
	}
	for _, q := range d.query {
		parameters = append(parameters, map[string]any{"name": q.name, "in": "query", "description": q.description, "schema": q.schema})
	}
	if len(parameters) > 0 {
		op["parameters"] = parameters
	}
	if d.request != nil {
		op["requestBody"] = map[string]any{"required": true, "content": schemas.content(d.request, true)}
	}

	responses := map[string]any{}
	status := cmp.Or(d.status, http.StatusOK)
	success := map[string]any{"description": http.StatusText(status)}
	if d.answer != nil {
		success["content"] = schemas.content(d.answer, false)
	}
	responses[fmt.Sprint(status)] = success
	for _, code := range errorStatuses(rt, d, pathParams) {
		responses[fmt.Sprint(code)] = map[string]any{"$ref": "#/components/responses/" + errorResponses[code].name}
	}
	for code, description := range d.errors {
		if e, shared := errorResponses[code]; shared && description == "" {
			responses[fmt.Sprint(code)] = map[string]any{"$ref": "#/components/responses/" + e.name}
		} else {
			responses[fmt.Sprint(code)] = errorResponse(cmp.Or(description, http.StatusText(code)))
		}
	}
	op["responses"] = responses
	return op
}

func errorResponse(description string) map[string]any {
	return map[string]any{"description": description,
		"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
}

// handlerName is the name of rt's handler method: the operation's id.
func handlerName(h http.HandlerFunc) string {
	name := runtime.FuncForPC(reflect.ValueOf(h).Pointer()).Name()
	return strings.TrimSuffix(name[strings.LastIndex(name, ".")+1:], "-fm")
}

// tag groups an operation by the first segment of its path after
// /api/v1/ (sites, users, sessions...).
func tag(p string) string {
	first, _, _ := strings.Cut(strings.TrimPrefix(p, "/api/v1/"), "/")
	return strings.TrimSuffix(first, path.Ext(first))
}

// content is a body's content by media type; a request's schema is its
// type's, refined by the handler's rules.
func (c *schemaSet) content(b *bodyDoc, request bool) map[string]any {
	if b.typ == nil {
		return map[string]any{"text/csv": map[string]any{"schema": map[string]any{"type": "string", "description": b.csv}}}
	}
	schema := c.of(b.typ)
	if request {
		// A request type is a component of its own: refine it there.
		target := schema
		if ref, ok := schema["$ref"].(string); ok {
			target = c.components[strings.TrimPrefix(ref, "#/components/schemas/")].(map[string]any)
		}
		delete(target, "required")
		if len(b.required) > 0 {
			target["required"] = b.required
		}
		// The decoder refuses unknown fields.
		target["additionalProperties"] = false
		if b.atLeastOne {
			target["minProperties"] = 1
		}
		props := target["properties"].(map[string]any)
		for name, s := range b.fields {
			if derived, _ := props[name].(map[string]any); derived["anyOf"] != nil {
				s = nullable(s) // null stays absent
			}
			props[name] = s
		}
	}
	return map[string]any{"application/json": map[string]any{"schema": schema}}
}

// schemaSet derives JSON Schemas (2020-12, OpenAPI 3.1's) from Go types
// as encoding/json writes and reads them; named structs become
// components, referred to by name.
type schemaSet struct {
	components map[string]any
}

var (
	timeType          = reflect.TypeFor[time.Time]()
	rawMessageType    = reflect.TypeFor[json.RawMessage]()
	roleType          = reflect.TypeFor[auth.Role]()
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// of is t's schema.
func (c *schemaSet) of(t reflect.Type) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawMessageType:
		return map[string]any{} // any JSON value
	case t == roleType:
		return roleSchema
	case t.Implements(jsonMarshalerType):
		return map[string]any{} // its own encoding: not derivable
	case t.Implements(textMarshalerType):
		return map[string]any{"type": "string"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return c.of(t.Elem()) // its field says whether it may be null
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32:
		return map[string]any{"type": "integer"}
	case reflect.Int64:
		return map[string]any{"type": "integer", "format": "int64"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return map[string]any{"type": "array", "items": c.of(t.Elem())}
	case reflect.Map:
		// A nil map is written as null.
		return map[string]any{"type": []string{"object", "null"}, "additionalProperties": c.of(t.Elem())}
	case reflect.Struct:
		if t.Name() == "" {
			return c.object(t)
		}
		name := componentName(t)
		if _, ok := c.components[name]; !ok {
			c.components[name] = map[string]any{} // a recursive type refers to itself
			c.components[name] = c.object(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

// componentName names a named type by its package: fleet.Transaction
// and syncproto.Transaction are different.
func componentName(t reflect.Type) string {
	name := t.Name()
	return path.Base(t.PkgPath()) + "." + strings.ToUpper(name[:1]) + name[1:]
}

// object is the schema of struct t: its fields by their JSON names,
// those of embedded structs promoted; a field without omitempty or
// omitzero is always written, so required.
func (c *schemaSet) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	c.fields(t, props, &required)
	o := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

func (c *schemaSet) fields(t reflect.Type, props map[string]any, required *[]string) {
	var embedded []reflect.Type
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			embedded = append(embedded, ft)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, shadowed := props[name]; shadowed {
			continue
		}
		schema := c.of(f.Type)
		options := strings.Split(opts, ",")
		if !slices.Contains(options, "omitempty") && !slices.Contains(options, "omitzero") {
			*required = append(*required, name)
			if f.Type.Kind() == reflect.Pointer {
				schema = nullable(schema)
			}
		}
		props[name] = schema
	}
	// Promoted fields come after the struct's own: the shallower wins.
	for _, e := range embedded {
		c.fields(e, props, required)
	}
}

// nullable is schema or null: a nil pointer without omitempty.
func nullable(schema map[string]any) map[string]any {
	return map[string]any{"anyOf": []any{schema, map[string]any{"type": "null"}}}
}
