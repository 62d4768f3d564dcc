package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/constellation-ev/constellation/cloud/auth"
	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/syncproto"
)

// document returns the OpenAPI document as a client reads it.
func document(t *testing.T) map[string]any {
	t.Helper()
	s := &server{}
	data, err := json.Marshal(openAPI(s.routes(), s.publicRoutes()))
	if err != nil {
		t.Fatalf("marshalling the document: %v", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("the document is not JSON: %v", err)
	}
	return doc
}

// operationOf returns the document's operation of a ServeMux pattern.
func operationOf(doc map[string]any, pattern string) (map[string]any, bool) {
	method, p, _ := strings.Cut(pattern, " ")
	item, _ := doc["paths"].(map[string]any)[p].(map[string]any)
	op, ok := item[strings.ToLower(method)].(map[string]any)
	return op, ok
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// Every route of the role table and enroll has an operation with the
// table's role, credentials and action, and nothing else is documented.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	doc := document(t)
	s := &server{}
	want := map[string]route{}
	for _, rt := range slices.Concat(s.routes(), s.publicRoutes()) {
		want[rt.pattern] = rt
		if _, ok := apiDocs[rt.pattern]; !ok {
			t.Errorf("%s: not in apiDocs: document it", rt.pattern)
		}
	}
	for pattern := range apiDocs {
		if _, ok := want[pattern]; !ok {
			t.Errorf("apiDocs documents %s, which no route serves", pattern)
		}
	}
	if _, ok := want["POST /api/v1/enroll"]; !ok {
		t.Errorf("enroll is not among the documented routes")
	}
	for p, item := range doc["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			if _, ok := want[strings.ToUpper(method)+" "+p]; !ok {
				t.Errorf("%s %s is documented but not a route", strings.ToUpper(method), p)
			}
		}
	}
	for pattern, rt := range want {
		op, ok := operationOf(doc, pattern)
		if !ok {
			t.Errorf("%s: no operation", pattern)
			continue
		}
		if got, _ := op["x-role"].(string); got != string(rt.role) {
			t.Errorf("%s: x-role %q, want %q", pattern, got, rt.role)
		}
		if rt.role != "" && !strings.Contains(op["description"].(string), "Role: "+string(rt.role)) {
			t.Errorf("%s: the description does not name the role %s", pattern, rt.role)
		}
		if got, _ := op["x-audit-action"].(string); got != rt.action {
			t.Errorf("%s: x-audit-action %q, want %q", pattern, got, rt.action)
		}
		var schemes []string
		for _, req := range op["security"].([]any) {
			for name := range req.(map[string]any) {
				schemes = append(schemes, name)
			}
		}
		slices.Sort(schemes)
		want := []string{"bearer"}
		switch {
		case rt.role == "":
			want = nil
		case rt.password:
			want = []string{"basic", "bearer"}
		}
		if !slices.Equal(schemes, want) {
			t.Errorf("%s: security %v, want %v", pattern, schemes, want)
		}
	}
}

// The document is a structurally valid OpenAPI 3.1 document: required
// fields, unique operation ids, path parameters declared, every $ref
// resolving, every schema a valid JSON Schema 2020-12.
func TestOpenAPIIsValid(t *testing.T) {
	doc := document(t)
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi %v, want 3.1.0", doc["openapi"])
	}
	info, _ := doc["info"].(map[string]any)
	if info["title"] == "" || info["version"] == "" {
		t.Errorf("info lacks title or version: %v", info)
	}
	schemes := doc["components"].(map[string]any)["securitySchemes"].(map[string]any)
	ids := map[string]string{}
	wildcard := regexp.MustCompile(`\{([^}]*)\}`)
	for p, item := range doc["paths"].(map[string]any) {
		if !strings.HasPrefix(p, "/") {
			t.Errorf("path %q does not start with /", p)
		}
		var inPath []string
		for _, m := range wildcard.FindAllStringSubmatch(p, -1) {
			inPath = append(inPath, m[1])
		}
		for method, v := range item.(map[string]any) {
			where := strings.ToUpper(method) + " " + p
			if !slices.Contains(httpMethods, method) {
				t.Errorf("%s: %q is not an HTTP method", where, method)
				continue
			}
			op := v.(map[string]any)
			id, _ := op["operationId"].(string)
			if !regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`).MatchString(id) {
				t.Errorf("%s: operationId %q", where, id)
			}
			if other, dup := ids[id]; dup {
				t.Errorf("%s: operationId %q already names %s", where, id, other)
			}
			ids[id] = where
			if s, _ := op["summary"].(string); s == "" || strings.Contains(s, "undocumented") {
				t.Errorf("%s: no summary", where)
			}
			var declared []string
			params, _ := op["parameters"].([]any)
			seen := map[string]bool{}
			for _, v := range params {
				prm := v.(map[string]any)
				key := prm["in"].(string) + " " + prm["name"].(string)
				if seen[key] {
					t.Errorf("%s: parameter %s twice", where, key)
				}
				seen[key] = true
				if _, ok := prm["schema"].(map[string]any); !ok {
					t.Errorf("%s: parameter %s has no schema", where, key)
				}
				switch prm["in"] {
				case "path":
					declared = append(declared, prm["name"].(string))
					if prm["required"] != true {
						t.Errorf("%s: path parameter %s not required", where, prm["name"])
					}
				case "query":
				default:
					t.Errorf("%s: parameter %s in %v", where, prm["name"], prm["in"])
				}
			}
			slices.Sort(declared)
			want := slices.Sorted(slices.Values(inPath))
			if !slices.Equal(declared, want) {
				t.Errorf("%s: path parameters declared %v, want %v", where, declared, want)
			}
			responses, _ := op["responses"].(map[string]any)
			success := 0
			for code := range responses {
				if !regexp.MustCompile(`^[1-5][0-9][0-9]$`).MatchString(code) {
					t.Errorf("%s: response %q is not a status", where, code)
				}
				if code[0] == '2' {
					success++
				}
			}
			if success != 1 {
				t.Errorf("%s: %d success responses, want 1", where, success)
			}
			for _, req := range op["security"].([]any) {
				for name := range req.(map[string]any) {
					if _, ok := schemes[name]; !ok {
						t.Errorf("%s: security scheme %q not defined", where, name)
					}
				}
			}
		}
	}
	if len(ids) == 0 {
		t.Fatal("no operations")
	}

	refs := 0
	walk(doc, func(m map[string]any) {
		ref, ok := m["$ref"].(string)
		if !ok {
			return
		}
		refs++
		if _, err := resolve(doc, ref); err != nil {
			t.Errorf("$ref %s: %v", ref, err)
		}
	})
	if refs == 0 {
		t.Error("no $ref: the walk is broken")
	}

	c := compiler(t, doc)
	for name := range doc["components"].(map[string]any)["schemas"].(map[string]any) {
		if _, err := c.Compile("openapi.json#/components/schemas/" + name); err != nil {
			t.Errorf("schema %s: %v", name, err)
		}
	}
}

// walk calls fn on every object of v.
func walk(v any, fn func(map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		fn(v)
		for _, e := range v {
			walk(e, fn)
		}
	case []any:
		for _, e := range v {
			walk(e, fn)
		}
	}
}

// resolve follows a local reference (#/a/b).
func resolve(doc map[string]any, ref string) (any, error) {
	pointer, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, errors.New("not a local reference")
	}
	var v any = doc
	for _, token := range strings.Split(pointer, "/") {
		token = strings.NewReplacer("~1", "/", "~0", "~").Replace(token)
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%q: not in an object", token)
		}
		if v, ok = m[token]; !ok {
			return nil, fmt.Errorf("%q: no such member", token)
		}
	}
	return v, nil
}

// compiler compiles the document's schemas, asserting formats.
func compiler(t *testing.T, doc map[string]any) *jsonschema.Compiler {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource("openapi.json", doc); err != nil {
		t.Fatal(err)
	}
	return c
}

// pointerTo escapes the tokens of a JSON pointer into a URL fragment.
func pointerTo(tokens ...string) string {
	var b strings.Builder
	b.WriteString("openapi.json#")
	for _, token := range tokens {
		token = strings.NewReplacer("~", "~0", "/", "~1", "{", "%7B", "}", "%7D").Replace(token)
		b.WriteString("/" + token)
	}
	return b.String()
}

// bodySchema compiles the schema of pattern's request body (status 0)
// or of its answer with status.
func bodySchema(t *testing.T, c *jsonschema.Compiler, doc map[string]any, pattern string, status int) *jsonschema.Schema {
	t.Helper()
	method, p, _ := strings.Cut(pattern, " ")
	op, ok := operationOf(doc, pattern)
	if !ok {
		t.Fatalf("%s: not documented", pattern)
	}
	tokens := []string{"paths", p, strings.ToLower(method)}
	if status == 0 {
		tokens = append(tokens, "requestBody")
	} else {
		tokens = append(tokens, "responses", fmt.Sprint(status))
		response, ok := op["responses"].(map[string]any)[fmt.Sprint(status)].(map[string]any)
		if !ok {
			t.Fatalf("%s: status %d not documented", pattern, status)
		}
		if ref, ok := response["$ref"].(string); ok {
			tokens = strings.Split(strings.TrimPrefix(ref, "#/"), "/")
		}
	}
	sch, err := c.Compile(pointerTo(append(tokens, "content", "application/json", "schema")...))
	if err != nil {
		t.Fatalf("%s %d: compiling its schema: %v", pattern, status, err)
	}
	return sch
}

func validate(sch *jsonschema.Schema, data []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

// Request bodies the handlers take match their schemas; bodies they
// refuse for their shape do not.
func TestOpenAPIRequestSchemas(t *testing.T) {
	doc := document(t)
	c := compiler(t, doc)
	for _, tc := range []struct {
		pattern, body string
		valid         bool
	}{
		{"POST /api/v1/enroll", `{"site":"depot-7","token":"t"}`, true},
		{"POST /api/v1/enroll", `{"site":"depot-7","token":"t","password":"0123456789abcdef0123456789abcdef"}`, true},
		{"POST /api/v1/enroll", `{"site":"depot-7"}`, false},
		{"POST /api/v1/enroll", `{"site":"depot/7","token":"t"}`, false},
		{"POST /api/v1/sites", `{"id":"depot-7","name":"Depot 7"}`, true},
		{"POST /api/v1/sites", `{"id":"depot-7","nmae":"Depot 7"}`, false},
		{"PATCH /api/v1/sites/{site}", `{"pricePerKwh":"0.295","currency":"EUR"}`, true},
		{"PATCH /api/v1/sites/{site}", `{}`, false},
		{"POST /api/v1/sites/{site}/tokens", `{"ttl":"1h"}`, true},
		{"POST /api/v1/sites/{site}/tokens", `{}`, true},
		{"PUT /api/v1/sites/{site}/desired", `{"settings":{"a":"b"}}`, true},
		{"PUT /api/v1/sites/{site}/desired", `{"settings":{"a":1}}`, false},
		{"PUT /api/v1/sites/{site}/authlist", `{"entries":[{"id":"A","status":"Accepted","expiry":"2026-12-01T00:00:00Z"}]}`, true},
		{"PUT /api/v1/sites/{site}/authlist", `{"entries":[{"id":"A","status":"Accepted","expiry":"tomorrow"}]}`, false},
		{"POST /api/v1/sites/{site}/authlist/changes", `{"put":[],"remove":["A"]}`, true},
		{"POST /api/v1/sites/{site}/commands", `{"charger":"CP1","command":"reset","args":{"type":"Soft"},"timeout":"5m"}`, true},
		{"POST /api/v1/sites/{site}/commands", `{"charger":"CP1","command":"reset","deadline":"2026-12-01T00:00:00Z"}`, true},
		{"POST /api/v1/sites/{site}/commands", `{"command":"reset"}`, false},
		{"POST /api/v1/users", `{"name":"olga","displayName":"Olga","role":"operator","password":"a long password"}`, true},
		{"POST /api/v1/users", `{"name":"olga","role":"root"}`, false},
		{"POST /api/v1/users", `{"name":"olga","role":"viewer","password":"short"}`, false},
		{"PATCH /api/v1/users/{id}", `{"role":"viewer","disabled":true}`, true},
		{"PATCH /api/v1/users/{id}", `{}`, false},
		{"POST /api/v1/users/{id}/password", `{"oldPassword":"old password!","password":"new password!"}`, true},
		{"POST /api/v1/users/{id}/password", `{"oldPassword":"old password!"}`, false},
		{"POST /api/v1/tokens", `{"name":"script","role":"viewer","ttl":"24h"}`, true},
		{"POST /api/v1/tokens", `{"name":"s","expires":"2026-12-01T00:00:00Z"}`, true},
		{"POST /api/v1/tokens", `{"role":"viewer"}`, false},
		{"PUT /api/v1/idtokens/{idTag}", `{"owner":"Olga","status":"Blocked","expiry":"2027-01-31T00:00:00Z","sites":["depot-7"]}`, true},
		{"PUT /api/v1/idtokens/{idTag}", `{"status":"","allSites":true}`, true},
		{"PUT /api/v1/idtokens/{idTag}", `{"status":"Lost"}`, false},
		{"PATCH /api/v1/idtokens/{idTag}", `{"status":"Blocked","expiry":""}`, true},
		{"PATCH /api/v1/idtokens/{idTag}", `{"status":null,"sites":null,"note":"n"}`, true},
		{"PATCH /api/v1/idtokens/{idTag}", `{"idTag":"other"}`, false},
		{"PATCH /api/v1/idtokens/{idTag}", `{}`, false},
	} {
		err := validate(bodySchema(t, c, doc, tc.pattern, 0), []byte(tc.body))
		if (err == nil) != tc.valid {
			t.Errorf("%s %s: valid %v, want %v (%v)", tc.pattern, tc.body, err == nil, tc.valid, err)
		}
	}
}

// stubStore answers the API's reads with full records (every optional
// field set) and its one change tested; the other methods are nil and
// panic, failing the test.
type stubStore struct {
	Store
}

var (
	stubTime = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	stubWh   = int64(12345)
	stubSite = fleet.Site{ID: "depot-7", Name: "Depot 7", Enrolled: true, CreatedAt: stubTime, Online: true, LastSeen: stubTime,
		Boot: "b1", BdSeq: 3, Software: "1.2.3", Backlog: 4, PricePerKWh: "0.295", Currency: "EUR", Chargers: 1}
	stubCharger = fleet.Charger{ID: "CP1", Connected: true, Protocol: "ocpp1.6", Vendor: "V", Model: "M", Serial: "S", Firmware: "F",
		LastSeen: stubTime, Unsynced: true, Connectors: []syncproto.Connector{{ID: 1, Status: "Charging", ErrorCode: "NoError", Info: "i", Time: stubTime}}}
	stubLive    = fleet.LiveCharger{Charger: stubCharger, Live: []fleet.LivePower{{Connector: 1, PowerW: 7000, PowerAt: stubTime, Transaction: 9, Active: true, EnergyWh: &stubWh, EnergyAt: stubTime}}}
	stubCommand = fleet.Command{ID: "c1", Site: "depot-7", Charger: "CP1", Command: "reset", Args: json.RawMessage(`{"type":"Soft"}`),
		Deadline: stubTime, Status: "accepted", CreatedAt: stubTime, UpdatedAt: stubTime, Action: "Reset", Reply: json.RawMessage(`{"status":"Accepted"}`), Error: "e"}
	stubSession = fleet.Session{Site: "depot-7", SiteName: "Depot 7", ID: 9, Charger: "CP1", Connector: 1, IDTag: "TAG", Start: stubTime,
		Stop: stubTime, MeterStartWh: 1, MeterStopWh: &stubWh, EnergyWh: &stubWh, DurationSeconds: 60, StopReason: "Local", Cost: "3.64", Currency: "EUR"}
	stubUser = fleet.User{ID: "u1", Name: "olga", DisplayName: "Olga", Role: auth.Operator, CreatedAt: stubTime, UpdatedAt: stubTime}
)

func (stubStore) Sites(context.Context) ([]fleet.Site, error) { return []fleet.Site{stubSite}, nil }

func (stubStore) Site(_ context.Context, id string) (fleet.Site, error) {
	if id != stubSite.ID {
		return fleet.Site{}, fmt.Errorf("fleet: site %s: %w", id, fleet.ErrNotFound)
	}
	return stubSite, nil
}

func (stubStore) Chargers(context.Context, string) ([]fleet.Charger, error) {
	return []fleet.Charger{stubCharger}, nil
}

func (stubStore) Transactions(context.Context, fleet.TxFilter, bool) ([]fleet.Transaction, error) {
	reservation := 2
	return []fleet.Transaction{{Site: "depot-7", Record: &syncproto.Transaction{
		Header: syncproto.Header{Version: syncproto.Version, Site: "depot-7", Key: "k", Time: stubTime, Unsynced: true},
		Event:  syncproto.TxStopped, Rev: 2, ID: 9, Charger: "CP1", ChargerTxID: "x", Protocol: "ocpp1.6", Connector: 1, IDTag: "TAG",
		Start: stubTime, MeterStartWh: 1, ReservationID: &reservation, Stop: stubTime, MeterStopWh: &stubWh, StopReason: "Local"},
		Readings: []fleet.Reading{{Time: stubTime, Column: syncproto.Column{Measurand: "Energy.Active.Import.Register", Unit: "Wh"}, Value: "12345"}},
	}}, nil
}

func (stubStore) Desired(context.Context, string) (fleet.Desired, error) {
	return fleet.Desired{Version: 2, Settings: map[string]string{"a": "b"}, UpdatedAt: stubTime,
		Reported: &fleet.Reported{DesiredVersion: 2, Applied: false, Error: "e", Settings: map[string]string{"a": "b"}, At: stubTime}}, nil
}

func (stubStore) AuthList(context.Context, string) (int64, []syncproto.AuthEntry, error) {
	return 3, []syncproto.AuthEntry{{ID: "TAG", Status: "Accepted", Expiry: stubTime, Parent: "P"}}, nil
}

func (stubStore) Command(context.Context, string) (fleet.Command, error) { return stubCommand, nil }

func (stubStore) Commands(context.Context, fleet.CommandFilter) ([]fleet.Command, error) {
	return []fleet.Command{stubCommand}, nil
}

func (stubStore) Users(context.Context) ([]fleet.User, error) { return []fleet.User{stubUser}, nil }

func (stubStore) CreateUser(_ context.Context, u fleet.NewUser, _ fleet.Audit) (fleet.User, error) {
	return fleet.User{ID: "u2", Name: u.Name, Role: u.Role, CreatedAt: stubTime, UpdatedAt: stubTime}, nil
}

func (stubStore) RecordAudit(context.Context, fleet.Audit, string, string, string, string) error {
	return nil
}

func (stubStore) APITokens(context.Context, string) ([]fleet.APIToken, error) {
	return []fleet.APIToken{{ID: "t1", Owner: "u1", OwnerName: "olga", Name: "script", Role: auth.Viewer, CreatedAt: stubTime,
		LastUsed: stubTime, Expires: stubTime, Revoked: true}}, nil
}

func (stubStore) AuditLog(context.Context, fleet.AuditFilter) ([]fleet.AuditEntry, error) {
	return []fleet.AuditEntry{{ID: "a1", At: stubTime, Actor: "token:t1", ActorUser: "olga", Action: "site.create", Target: "site:depot-7",
		Outcome: fleet.OutcomeOK, Message: "m", RequestID: "r"}}, nil
}

func (stubStore) FleetOverview(context.Context, fleet.OverviewFilter) (fleet.Overview, error) {
	return fleet.Overview{Totals: fleet.Totals{Sites: 1, Online: 1, ChargersInUse: 1, PowerW: 7000},
		Sites: []fleet.SiteSummary{{ID: "depot-7", Name: "Depot 7", Online: true, LastSeen: stubTime, Software: "1.2.3", Enrolled: true,
			Chargers: 1, ChargersConnected: 1, ChargersInUse: 1, PowerW: 7000}}, Next: "depot-7"}, nil
}

func (stubStore) Sessions(context.Context, fleet.SessionFilter) (fleet.SessionPage, error) {
	return fleet.SessionPage{Sessions: []fleet.Session{stubSession}, Next: "cursor"}, nil
}

var stubIDToken = fleet.IDToken{IDTag: "TAG", Owner: "Olga", Note: "n", Status: fleet.IDTokenAccepted, Expiry: stubTime, Parent: "P",
	Sites: []string{"depot-7"}, CreatedAt: stubTime, UpdatedAt: stubTime}

func (stubStore) IDTokens(context.Context, fleet.IDTokenFilter) ([]fleet.IDToken, string, error) {
	return []fleet.IDToken{stubIDToken}, "TAG", nil
}

func (stubStore) IDToken(context.Context, string) (fleet.IDToken, error) { return stubIDToken, nil }

func (stubStore) ImportIDTokens(_ context.Context, tokens []fleet.IDToken, _ fleet.ImportMode) (fleet.ImportResult, error) {
	return fleet.ImportResult{Created: len(tokens), Sites: []string{}}, nil
}

func (stubStore) SiteView(context.Context, string) (fleet.SiteDetail, error) {
	return fleet.SiteDetail{Site: stubSite, Chargers: []fleet.LiveCharger{stubLive}, Sessions: []fleet.Session{stubSession},
		Network: &fleet.NetworkReport{Connectivity: "full", At: stubTime, Detail: syncproto.Attributes{"uplink": "wifi"}}}, nil
}

func (stubStore) ChargerView(_ context.Context, site, _ string, before time.Time) (fleet.ChargerDetail, error) {
	d := fleet.ChargerDetail{Site: site, Charger: stubLive, HistoryNext: stubTime, ConfigurationAt: stubTime,
		History:  []fleet.StatusChange{{At: stubTime, Connector: 1, Status: "Faulted", ErrorCode: "GroundFailure", Info: "i"}},
		Commands: []fleet.Command{stubCommand}, Reservations: []fleet.Command{}}
	if before.IsZero() {
		d.Configuration = map[string]syncproto.ConfigValue{"HeartbeatInterval": {Value: "300", Readonly: true}}
	}
	return d, nil
}

// stubAPI is the API on stubStore, with "secret" as the legacy
// operator token.
func stubAPI() http.Handler {
	return New(Options{Store: stubStore{}, OperatorTokenHash: fleet.HashSecret("secret"), Logger: slog.New(slog.DiscardHandler)})
}

// The handlers' answers, every optional field set, match the schemas
// of their operations, errors included.
func TestOpenAPIAnswersMatchHandlers(t *testing.T) {
	doc := document(t)
	// The document leaves answers open to new fields; here a field it
	// does not name fails.
	walk(doc, func(m map[string]any) {
		if _, open := m["additionalProperties"]; !open && m["properties"] != nil {
			m["additionalProperties"] = false
		}
	})
	c := compiler(t, doc)
	h := stubAPI()
	for _, tc := range []struct {
		pattern, target, body string
		status                int
	}{
		{"GET /api/v1/sites", "/api/v1/sites", "", 200},
		{"GET /api/v1/sites/{site}", "/api/v1/sites/depot-7", "", 200},
		{"GET /api/v1/sites/{site}", "/api/v1/sites/nowhere", "", 404},
		{"GET /api/v1/sites/{site}/chargers", "/api/v1/sites/depot-7/chargers", "", 200},
		{"GET /api/v1/sites/{site}/live", "/api/v1/sites/depot-7/live", "", 200},
		{"GET /api/v1/sites/{site}/live", "/api/v1/sites/depot-7/live?x=1", "", 400},
		{"GET /api/v1/sites/{site}/chargers/{charger}", "/api/v1/sites/depot-7/chargers/CP1", "", 200},
		{"GET /api/v1/sites/{site}/chargers/{charger}", "/api/v1/sites/depot-7/chargers/CP1?before=2026-12-01T08:00:00Z", "", 200},
		{"GET /api/v1/sites/{site}/chargers/{charger}", "/api/v1/sites/depot-7/chargers/CP1?before=yesterday", "", 400},
		{"GET /api/v1/sites/{site}/transactions", "/api/v1/sites/depot-7/transactions?readings=true", "", 200},
		{"GET /api/v1/sites/{site}/desired", "/api/v1/sites/depot-7/desired", "", 200},
		{"GET /api/v1/sites/{site}/authlist", "/api/v1/sites/depot-7/authlist", "", 200},
		{"GET /api/v1/sites/{site}/commands", "/api/v1/sites/depot-7/commands?limit=1", "", 200},
		{"GET /api/v1/commands/{id}", "/api/v1/commands/c1", "", 200},
		{"GET /api/v1/overview", "/api/v1/overview?state=online", "", 200},
		{"GET /api/v1/overview", "/api/v1/overview?stat=online", "", 400},
		{"GET /api/v1/sessions", "/api/v1/sessions?site=depot-7&open=false", "", 200},
		{"GET /api/v1/users", "/api/v1/users", "", 200},
		{"POST /api/v1/users", "/api/v1/users", `{"name":"ivan","role":"viewer"}`, 201},
		{"POST /api/v1/users", "/api/v1/users", `{"name":"ivan","role":"root"}`, 400},
		{"POST /api/v1/tokens", "/api/v1/tokens", `{"name":"script"}`, 400}, // the legacy token has no user
		{"GET /api/v1/tokens", "/api/v1/tokens", "", 200},
		{"GET /api/v1/audit", "/api/v1/audit?limit=1", "", 200},
		{"GET /api/v1/idtokens", "/api/v1/idtokens?status=Accepted", "", 200},
		{"GET /api/v1/idtokens/{idTag}", "/api/v1/idtokens/TAG", "", 200},
		{"POST /api/v1/idtokens/import", "/api/v1/idtokens/import?mode=merge", "id_tag,status,expiry,owner,note,parent,sites\nTAG,,,,,,*\n", 200},
		{"POST /api/v1/idtokens/import", "/api/v1/idtokens/import", "id_tag\n", 400},
		{"POST /api/v1/idtokens/import", "/api/v1/idtokens/import", `{"idTag":"TAG"}`, 415},
	} {
		method, _, _ := strings.Cut(tc.pattern, " ")
		req := httptest.NewRequest(method, tc.target, strings.NewReader(tc.body))
		req.Header.Set("Authorization", "Bearer secret")
		if strings.HasPrefix(tc.body, "id_tag") {
			req.Header.Set("Content-Type", "text/csv")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.status {
			t.Errorf("%s %s: status %d, want %d: %s", method, tc.target, rec.Code, tc.status, rec.Body)
			continue
		}
		if err := validate(bodySchema(t, c, doc, tc.pattern, tc.status), rec.Body.Bytes()); err != nil {
			t.Errorf("%s %s: the %d answer does not match its schema: %v\n%s", method, tc.target, tc.status, err, rec.Body)
		}
	}
}

// A schema refuses an answer that lacks a required field or has one of
// the wrong type: the answers' test can fail.
func TestOpenAPIAnswerSchemasRefuse(t *testing.T) {
	doc := document(t)
	c := compiler(t, doc)
	sch := bodySchema(t, c, doc, "GET /api/v1/sites/{site}", 200)
	good, err := json.Marshal(stubSite)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate(sch, good); err != nil {
		t.Fatalf("a site does not match: %v", err)
	}
	for _, bad := range []string{
		strings.Replace(string(good), `"online":true`, `"online":"yes"`, 1),
		strings.Replace(string(good), `"name":"Depot 7",`, ``, 1),
		strings.Replace(string(good), `"createdAt":"2026-12-01T08:00:00Z"`, `"createdAt":"yesterday"`, 1),
	} {
		if bad == string(good) {
			t.Fatalf("the mutation did not apply to %s", good)
		}
		if validate(sch, []byte(bad)) == nil {
			t.Errorf("a bad site matches: %s", bad)
		}
	}
}

// GET /api/openapi.json answers the document without credentials,
// cacheable, and every operation it documents is served.
func TestOpenAPIServed(t *testing.T) {
	h := stubAPI()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/openapi.json", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := rec.Header().Get("Cache-Control"); !strings.Contains(cc, "max-age=") {
		t.Errorf("Cache-Control %q", cc)
	}
	served, err := io.ReadAll(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(document(t))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(served, &doc); err != nil {
		t.Fatalf("the answer is not JSON: %v", err)
	}
	if got, _ := json.Marshal(doc); !bytes.Equal(got, want) {
		t.Error("the served document is not the document")
	}

	etag := rec.Header().Get("ETag")
	req := httptest.NewRequest(http.MethodGet, "/api/openapi.json", nil)
	req.Header.Set("If-None-Match", etag)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if etag == "" || rec.Code != http.StatusNotModified {
		t.Errorf("revalidating with ETag %q: status %d, want 304", etag, rec.Code)
	}

	for p, item := range doc["paths"].(map[string]any) {
		target := regexp.MustCompile(`\{[^}]*\}`).ReplaceAllString(p, "x")
		for method, op := range item.(map[string]any) {
			req := httptest.NewRequest(strings.ToUpper(method), target, strings.NewReader("["))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			want := http.StatusUnauthorized
			if _, guarded := op.(map[string]any)["x-role"]; !guarded {
				want = http.StatusBadRequest // served, and the body refused
			}
			if rec.Code != want {
				t.Errorf("%s %s without credentials: status %d, want %d: %s", strings.ToUpper(method), target, rec.Code, want, rec.Body)
			}
		}
	}
}
