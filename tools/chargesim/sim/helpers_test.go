package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/rpc"
	"github.com/constellation-ev/constellation/appliance/ocpp/v16"
)

// rec is one CALL the fake CSMS received.
type rec struct {
	station  string
	action   string
	raw      json.RawMessage
	req      any // strictly decoded
	answer   json.RawMessage
	answered bool
}

// fakeCSMS is a real rpc.Server answering plausible 1.6 responses. Every
// request is decoded strictly, so the simulator's payloads are checked too.
type fakeCSMS struct {
	t    *testing.T
	srv  *rpc.Server
	http *httptest.Server
	url  string

	nextTx atomic.Int64
	calls  chan rec

	mu sync.Mutex
	// intercept, when set, may replace the answer: handled=true uses resp/err.
	intercept func(c *rpc.Conn, r rec) (resp any, err error, handled bool)
	// refuse, when set, refuses upgrades while it returns true.
	refuse    func(id string) bool
	authorize func(tag string) v16.AuthorizationStatus
}

type authFunc func(r *http.Request, id string) error

func (f authFunc) Authenticate(r *http.Request, id string) error { return f(r, id) }

func newFakeCSMS(t *testing.T) *fakeCSMS {
	t.Helper()
	f := &fakeCSMS{t: t, calls: make(chan rec, 100000)}
	f.nextTx.Store(100)
	f.srv = rpc.NewServer(rpc.ServerOptions{
		Config:   rpc.Config{Handler: rpc.HandlerFunc(f.handle)},
		Versions: []ocppj.Version{ocppj.V16},
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

func (f *fakeCSMS) handle(_ context.Context, c *rpc.Conn, action string, raw json.RawMessage) (json.RawMessage, error) {
	req, warn, err := v16.DecodeRequest(action, raw, false)
	if err != nil || len(warn) > 0 {
		f.t.Errorf("%s sent invalid %s %s: %v %v", c.ID(), action, raw, err, warn)
		return nil, err
	}
	// The payload is only valid during the call (rpc reuses the buffer).
	r := rec{station: c.ID(), action: action, raw: bytes.Clone(raw), req: req}
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
		resp = f.answer(action, req, authorize)
	}
	if err != nil {
		f.calls <- r
		return nil, err
	}
	out, merr := json.Marshal(resp)
	if merr != nil {
		f.t.Errorf("marshal: %v", merr)
	}
	r.answer, r.answered = out, true
	f.calls <- r
	return out, nil
}

func (f *fakeCSMS) answer(action string, req any, authorize func(string) v16.AuthorizationStatus) any {
	now := v16.DateTime{Time: time.Now()}
	accepted := v16.IdTagInfo{Status: v16.AuthorizationAccepted}
	switch r := req.(type) {
	case *v16.BootNotificationRequest:
		return &v16.BootNotificationResponse{Status: v16.RegistrationAccepted, CurrentTime: now, Interval: 3600}
	case *v16.AuthorizeRequest:
		info := accepted
		if authorize != nil {
			info.Status = authorize(r.IdTag)
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
