package rpc

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
)

// TestAfterAnswerRunsAfterTheAnswerIsWritten: a handler that cuts its
// connection from AfterAnswer (as a charger power-cycling after Reset does)
// never loses the answer. Without the hook the cut races the write; the
// window is narrow, so the exchange is repeated.
func TestAfterAnswerRunsAfterTheAnswerIsWritten(t *testing.T) {
	ts := startServer(t, ServerOptions{Config: Config{Handler: HandlerFunc(
		func(ctx context.Context, c *Conn, _ string, _ json.RawMessage) (json.RawMessage, error) {
			AfterAnswer(ctx, func() { c.ws.UnderlyingConn().Close() }) // power cycle
			return json.RawMessage(`{"status":"Accepted"}`), nil
		})}})
	for i := range 50 {
		ws := rawDial(t, ts.url(fmt.Sprintf("CP%d", i)), "ocpp1.6")
		send(t, ws, `[2,"r1","Reset",{"type":"Soft"}]`)
		if m := recv(t, ws); m.ID != "r1" || string(m.Payload) != `{"status":"Accepted"}` {
			t.Fatalf("round %d: answer %+v", i, m)
		}
		if _, _, err := ws.ReadMessage(); err == nil {
			t.Fatalf("round %d: connection still open after the power cycle", i)
		}
	}
}

// TestAfterAnswerOutsideAHandlerRunsAtOnce: with a context that is not a
// handler's, the function still runs.
func TestAfterAnswerOutsideAHandlerRunsAtOnce(t *testing.T) {
	done := make(chan struct{})
	AfterAnswer(context.Background(), func() { close(done) })
	<-done
}

// TestReplacedConnectionDeliversItsLastAnswer: a charger that answers a
// call and reconnects at once (a quick reboot) does not lose that answer
// to the replacement of its old connection.
func TestReplacedConnectionDeliversItsLastAnswer(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	for i := range 20 {
		id := fmt.Sprintf("QUICK%d", i)
		old := rawDial(t, ts.url(id), "ocpp1.6")
		conn := serverConn(t, ts, id)
		type result struct {
			payload json.RawMessage
			err     error
		}
		got := make(chan result, 1)
		go func() {
			p, err := conn.Call(context.Background(), "Reset", json.RawMessage(`{"type":"Soft"}`))
			got <- result{p, err}
		}()
		call := recv(t, old)
		send(t, old, `[3,"`+call.ID+`",{"status":"Accepted"}]`)
		rawDial(t, ts.url(id), "ocpp1.6") // the rebooted charger
		if r := <-got; r.err != nil || string(r.payload) != `{"status":"Accepted"}` {
			t.Fatalf("round %d: Call = %s, %v; want the answer sent before the reconnect", i, r.payload, r.err)
		}
	}
}

// TestIsSend: a handler can tell a 2.1 SEND from a CALL; outside a handler
// nothing is a SEND.
func TestIsSend(t *testing.T) {
	got := make(chan string, 4)
	ts := startServer(t, ServerOptions{Config: Config{Handler: HandlerFunc(
		func(ctx context.Context, _ *Conn, action string, _ json.RawMessage) (json.RawMessage, error) {
			got <- fmt.Sprintf("%s send=%t", action, IsSend(ctx))
			return nil, nil
		})}})
	ws := rawDial(t, ts.url("CP21"), "ocpp2.1")
	send(t, ws, `[6,"s1","NotifyPeriodicEventStream",{}]`)
	send(t, ws, `[2,"c1","Heartbeat",{}]`)
	if m := recv(t, ws); m.ID != "c1" {
		t.Fatalf("first answer %+v, want the CALL's (a SEND gets none)", m)
	}
	for _, want := range []string{"NotifyPeriodicEventStream send=true", "Heartbeat send=false"} {
		if g := <-got; g != want {
			t.Errorf("handler saw %q, want %q", g, want)
		}
	}
	if IsSend(context.Background()) {
		t.Error("IsSend outside a handler")
	}
}

// TestAnswerThenCloseIsAnAnswer: a charger that answers and closes at once
// (a reboot after Reset) has answered; the close must not win the race.
func TestAnswerThenCloseIsAnAnswer(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	for i := range 50 {
		id := fmt.Sprintf("BYE%d", i)
		ws := rawDial(t, ts.url(id), "ocpp1.6")
		conn := serverConn(t, ts, id)
		got := make(chan error, 1)
		go func() {
			_, err := conn.Call(context.Background(), "Reset", json.RawMessage(`{"type":"Hard"}`))
			got <- err
		}()
		call := recv(t, ws)
		send(t, ws, `[3,"`+call.ID+`",{"status":"Accepted"}]`)
		ws.Close()
		if err := <-got; err != nil {
			t.Fatalf("round %d: Call = %v, want the answer sent before the close", i, err)
		}
	}
}

// TestSendFrame: Send writes a type-6 frame on a 2.1 connection and is
// refused on another version.
func TestSendFrame(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	ws := rawDial(t, ts.url("S21"), "ocpp2.1")
	conn := serverConn(t, ts, "S21")
	if err := conn.Send(context.Background(), "NotifyPeriodicEventStream", json.RawMessage(`{"id":1,"pending":0,"basetime":"2025-01-01T00:00:00Z","data":[]}`)); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, ws); m.Type != ocppj.Send || m.Action != "NotifyPeriodicEventStream" {
		t.Fatalf("frame %+v", m)
	}
	rawDial(t, ts.url("S16"), "ocpp1.6")
	if err := serverConn(t, ts, "S16").Send(context.Background(), "NotifyPeriodicEventStream", nil); err == nil {
		t.Error("SEND accepted on a 1.6 connection")
	}
}
