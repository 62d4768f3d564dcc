package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/payload"
	"github.com/constellation-ev/constellation/appliance/ocpp/rpc"
	"github.com/constellation-ev/constellation/appliance/ocpp/schematest"
	"github.com/constellation-ev/constellation/appliance/ocpp/v16"
	"github.com/constellation-ev/constellation/appliance/ocpp/v201"
	"github.com/constellation-ev/constellation/appliance/ocpp/v21"
)

// rec is one CALL the fake CSMS received.
type rec struct {
	station  string
	action   string
	raw      json.RawMessage
	req      any // strictly decoded, in the version's own type
	req21    any // 2.x: req as the 2.1 type
	answer   json.RawMessage
	answered bool
}

// fakeCSMS is a real rpc.Server answering plausible responses in one
// OCPP version. Every request is decoded strictly and checked against the
// official schema, so the simulator's payloads are checked too.
type fakeCSMS struct {
	t       *testing.T
	version ocppj.Version
	schemas bool // the official schemas are available
	srv     *rpc.Server
	http    *httptest.Server
	url     string

	nextTx atomic.Int64
	calls  chan rec

	mu sync.Mutex
	// intercept, when set, may replace the answer: handled=true uses resp/err.
	intercept func(c *rpc.Conn, r rec) (resp any, err error, handled bool)
	// refuse, when set, refuses upgrades while it returns true.
	refuse func(id string) bool
	// authorize, when set, gives a token's authorization status
	// ("Accepted", "Invalid", ...).
	authorize func(tag string) string
}

type authFunc func(r *http.Request, id string) error

func (f authFunc) Authenticate(r *http.Request, id string) error { return f(r, id) }

// newFakeCSMS returns a 1.6 fake CSMS.
func newFakeCSMS(t *testing.T) *fakeCSMS { return newFakeCSMSVersion(t, ocppj.V16) }

// newFakeCSMSVersion returns a fake CSMS speaking version v. 2.x tests
// need the official schemas and skip without them.
func newFakeCSMSVersion(t *testing.T, v ocppj.Version) *fakeCSMS {
	t.Helper()
	f := &fakeCSMS{t: t, version: v, calls: make(chan rec, 100000)}
	if v != ocppj.V16 {
		schematest.Dir(t)
	}
	f.schemas = schematest.Available()
	f.nextTx.Store(100)
	f.srv = rpc.NewServer(rpc.ServerOptions{
		Config:   rpc.Config{Handler: rpc.HandlerFunc(f.handle)},
		Versions: []ocppj.Version{v},
		Authenticator: authFunc(func(_ *http.Request, id string) error {
			f.mu.Lock()
			refuse := f.refuse
			f.mu.Unlock()
			if refuse != nil && refuse(id) {
				return rpc.ErrForbidden
			}
			return nil
		}),
	})
	f.http = httptest.NewServer(f.srv)
	f.url = "ws" + f.http.URL[len("http"):] + "/ocpp"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = f.srv.Shutdown(ctx)
		f.http.Close()
	})
	return f
}

// decodeRequest decodes a request strictly in the fake's version; for 2.x
// it also returns it as the 2.1 type.
func (f *fakeCSMS) decodeRequest(action string, raw json.RawMessage) (req, req21 any, err error) {
	var warn []string
	switch f.version {
	case ocppj.V16:
		req, warn, err = v16.DecodeRequest(action, raw, false)
	case ocppj.V201:
		req, warn, err = v201.DecodeRequest(action, raw, false)
	default:
		req, warn, err = v21.DecodeRequest(action, raw, false)
	}
	if err == nil && len(warn) > 0 {
		err = fmt.Errorf("warnings %v", warn)
	}
	if err != nil || f.version == ocppj.V16 {
		return req, nil, err
	}
	req21, _ = v21.NewRequest(action)
	if err := json.Unmarshal(raw, req21); err != nil {
		return nil, nil, err
	}
	return req, req21, nil
}

func (f *fakeCSMS) handle(_ context.Context, c *rpc.Conn, action string, raw json.RawMessage) (json.RawMessage, error) {
	// The payload is only valid during the call (rpc reuses the buffer).
	raw = bytes.Clone(raw)
	req, req21, err := f.decodeRequest(action, raw)
	if err != nil {
		f.t.Errorf("%s sent invalid %s %s: %v", c.ID(), action, raw, err)
		return nil, err
	}
	if f.schemas {
		if err := schematest.Check(f.t, f.version, action, false, raw); err != nil {
			f.t.Errorf("%s sent %s %s, not valid against the official %s schema: %v", c.ID(), action, raw, f.version, err)
		}
	}
	r := rec{station: c.ID(), action: action, raw: raw, req: req, req21: req21}
	f.mu.Lock()
	intercept := f.intercept
	authorize := f.authorize
	f.mu.Unlock()
	var resp any
	handled := false
	if intercept != nil {
		resp, err, handled = intercept(c, r)
	}
	if !handled {
		if f.version == ocppj.V16 {
			resp = f.answer(action, req, authorize)
		} else {
			resp = f.answer2(action, req21, authorize)
		}
	}
	if err != nil {
		f.calls <- r
		return nil, err
	}
	out, merr := json.Marshal(resp)
	if merr != nil {
		f.t.Errorf("marshal: %v", merr)
	}
	if _, hasResponse := v21.NewResponse(action); f.schemas && (hasResponse || f.version == ocppj.V16) {
		schematest.Validate(f.t, f.version, action, true, out)
	}
	r.answer, r.answered = out, true
	f.calls <- r
	return out, nil
}

func (f *fakeCSMS) answer(action string, req any, authorize func(string) string) any {
	now := v16.DateTime{Time: time.Now()}
	accepted := v16.IdTagInfo{Status: v16.AuthorizationAccepted}
	switch r := req.(type) {
	case *v16.BootNotificationRequest:
		return &v16.BootNotificationResponse{Status: v16.RegistrationAccepted, CurrentTime: now, Interval: 3600}
	case *v16.AuthorizeRequest:
		info := accepted
		if authorize != nil {
			info.Status = v16.AuthorizationStatus(authorize(r.IdTag))
		}
		return &v16.AuthorizeResponse{IdTagInfo: info}
	case *v16.StartTransactionRequest:
		return &v16.StartTransactionResponse{IdTagInfo: accepted, TransactionId: int(f.nextTx.Add(1))}
	case *v16.StopTransactionRequest:
		return &v16.StopTransactionResponse{IdTagInfo: &accepted}
	case *v16.HeartbeatRequest:
		return &v16.HeartbeatResponse{CurrentTime: now}
	case *v16.DataTransferRequest:
		return &v16.DataTransferResponse{Status: v16.DataTransferRejected}
	}
	resp, _ := v16.NewResponse(action) // the empty ones
	return resp
}

// answer2 is the fake's 2.x answer, as the 2.1 type; its JSON is valid in
// 2.0.1 too.
func (f *fakeCSMS) answer2(action string, req any, authorize func(string) string) any {
	now := payload.NewDateTime(time.Now())
	status := func(tag string) v21.AuthorizationStatus {
		if authorize != nil {
			return v21.AuthorizationStatus(authorize(tag))
		}
		return v21.AuthorizationAccepted
	}
	switch r := req.(type) {
	case *v21.BootNotificationRequest:
		return &v21.BootNotificationResponse{Status: v21.RegistrationAccepted, CurrentTime: now, Interval: 3600}
	case *v21.AuthorizeRequest:
		return &v21.AuthorizeResponse{IdTokenInfo: v21.IdTokenInfo{Status: status(r.IdToken.IdToken)}}
	case *v21.TransactionEventRequest:
		out := &v21.TransactionEventResponse{}
		if r.IdToken != nil {
			out.IdTokenInfo = &v21.IdTokenInfo{Status: status(r.IdToken.IdToken)}
		}
		return out
	case *v21.HeartbeatRequest:
		return &v21.HeartbeatResponse{CurrentTime: now}
	case *v21.DataTransferRequest:
		return &v21.DataTransferResponse{Status: v21.DataTransferRejected}
	case *v21.OpenPeriodicEventStreamRequest:
		return &v21.OpenPeriodicEventStreamResponse{Status: v21.GenericAccepted}
	}
	if resp, ok := v21.NewResponse(action); ok { // the empty ones
		return resp
	}
	return nil // a SEND has no answer
}

// next returns the next received call that matches, skipping others.
func (f *fakeCSMS) next(t *testing.T, match func(rec) bool) rec {
	t.Helper()
	failsafe := time.After(30 * time.Second)
	for {
		select {
		case r := <-f.calls:
			if match(r) {
				return r
			}
		case <-failsafe:
			t.Fatal("expected call never arrived")
		}
	}
}

func isAction(a string) func(rec) bool { return func(r rec) bool { return r.action == a } }

// drain returns everything received so far.
func (f *fakeCSMS) drain() []rec {
	var out []rec
	for {
		select {
		case r := <-f.calls:
			out = append(out, r)
		default:
			return out
		}
	}
}

// command sends a CSMS→charger CALL and decodes the answer strictly.
func (f *fakeCSMS) command(t *testing.T, id, action string, req any) (any, error) {
	t.Helper()
	c, ok := f.srv.Conn(id)
	if !ok {
		t.Fatalf("%s not connected", id)
	}
	raw, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	ans, err := c.Call(context.Background(), action, raw)
	if err != nil {
		return nil, err
	}
	resp, warn, err := v16.DecodeResponse(action, ans, false)
	if err != nil || len(warn) > 0 {
		t.Fatalf("%s answer %s not schema-valid: %v %v", action, ans, err, warn)
	}
	return resp, nil
}

// command2 sends a 2.x CSMS→charger CALL built with the 2.1 types (checked
// against the version's official schema first) and returns the answer,
// checked against the official schema and decoded strictly, as the 2.1 type.
func (f *fakeCSMS) command2(t *testing.T, id, action string, req any) (any, error) {
	t.Helper()
	raw, err := payload.Marshal(req)
	if err != nil {
		t.Fatalf("%s request: %v", action, err)
	}
	schematest.Validate(t, f.version, action, false, raw)
	return f.commandRaw(t, id, action, raw)
}

// commandRaw sends a raw 2.x CALL and checks its CALLRESULT like command2.
func (f *fakeCSMS) commandRaw(t *testing.T, id, action string, raw json.RawMessage) (any, error) {
	t.Helper()
	c, ok := f.srv.Conn(id)
	if !ok {
		t.Fatalf("%s not connected", id)
	}
	ans, err := c.Call(t.Context(), action, raw)
	if err != nil {
		return nil, err
	}
	schematest.Validate(t, f.version, action, true, ans)
	if _, err := decodeV2Response(f.version, action, ans); err != nil {
		t.Fatalf("%s answer %s does not decode strictly: %v", action, ans, err)
	}
	resp, _ := v21.NewResponse(action)
	mustUnmarshal(t, ans, resp)
	return resp, nil
}

// runStation starts a station and returns a wait for Run's result.
func runStation(t *testing.T, ctx context.Context, o Options) (*Station, func() error) {
	t.Helper()
	st, err := NewStation(o)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(ctx)
	go func() { done <- st.Run(ctx) }()
	var once sync.Once
	var res error
	wait := func() error {
		once.Do(func() { res = <-done })
		return res
	}
	t.Cleanup(func() { cancel(); _ = wait() })
	return st, wait
}

func asOCPPError(err error) *ocppj.Error {
	var oe *ocppj.Error
	if errors.As(err, &oe) {
		return oe
	}
	return nil
}

func intp(i int) *int { return &i }

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}
