package rpc

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/gorilla/websocket"
)

// Handler answers CALLs from the peer. Returning an *ocppj.Error answers a
// CALLERROR with that code (spelled for the connection's version); any
// other error answers InternalError with a generic description and is
// logged. A nil payload is sent as {}. For an OCPP 2.1 SEND the result is
// discarded; [IsSend] tells a handler which it got.
//
// The payload is valid only until HandleCall returns: its bytes are reused
// for the next frame (copy what must outlive the call).
//
// A handler runs on its connection's reader goroutine, as an HTTP/1.1
// handler does: the peer's next frame is read once it returns. OCPP allows
// one outstanding CALL per direction, so a peer never waits for that; a
// flood of CALLs is answered in order, held back by TCP flow control. Hence
// a handler must not wait for an answer from a peer: [Conn.Call] with the
// handler's context fails with [ErrCallInHandler] while the handler runs.
// What follows an answer on the wire goes through [AfterAnswer].
type Handler interface {
	HandleCall(ctx context.Context, c *Conn, action string, payload json.RawMessage) (json.RawMessage, error)
}

// HandlerFunc adapts a function to [Handler].
type HandlerFunc func(ctx context.Context, c *Conn, action string, payload json.RawMessage) (json.RawMessage, error)

// HandleCall calls f.
func (f HandlerFunc) HandleCall(ctx context.Context, c *Conn, action string, payload json.RawMessage) (json.RawMessage, error) {
	return f(ctx, c, action, payload)
}

// Observer is optionally implemented by a Handler to learn about the
// connection lifecycle. For one charger, Disconnected of a replaced
// connection is delivered before Connected of its replacement. Connected
// runs before the first frame is read.
type Observer interface {
	Connected(c *Conn)
	Disconnected(c *Conn, err error)
}

// Config holds the settings shared by both ends. Zero values take defaults.
type Config struct {
	// Handler answers incoming CALLs; nil answers NotImplemented.
	Handler Handler
	Logger  *slog.Logger
	Clock   Clock
	// CallTimeout bounds the wait for an answer to Conn.Call (default 30s).
	CallTimeout time.Duration
	// WriteTimeout bounds one frame write (default 10s).
	WriteTimeout time.Duration
	// DedupSize is how many answers are kept per charger to answer
	// retransmissions (default 16).
	DedupSize int
	// MaxFrameSize is the largest accepted frame in bytes (default 64 KiB);
	// bigger closes the connection with 1009.
	MaxFrameSize int64
	// ReadBufferSize is the socket read buffer (default 1024).
	ReadBufferSize int
}

func (c Config) withDefaults() Config {
	if c.Handler == nil {
		c.Handler = notImplemented{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = RealClock{}
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = 30 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.DedupSize <= 0 {
		c.DedupSize = 16
	}
	if c.MaxFrameSize <= 0 {
		c.MaxFrameSize = 64 << 10
	}
	if c.ReadBufferSize <= 0 {
		c.ReadBufferSize = 1024
	}
	return c
}

type notImplemented struct{}

func (notImplemented) HandleCall(_ context.Context, _ *Conn, action string, _ json.RawMessage) (json.RawMessage, error) {
	return nil, ocppj.Errorf(ocppj.NotImplemented, "%s not implemented", action)
}

// frameBuffers lends the buffers incoming frames are read into. A frame is
// handled before the next is read, so its buffer is free again once
// handleFrame returns: handlers get the payload for the duration of the
// call only, and what outlives it (an answer to our own call) is copied.
// Reading into a fresh slice per frame was the largest allocation per call.
var frameBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledFrame keeps a rare huge frame's buffer out of the pool.
const maxPooledFrame = 16 << 10

// writeBufferPool lends write buffers to all connections, so an idle
// connection holds none.
var writeBufferPool = &sync.Pool{}

// Message ids: a random per-process base plus a counter, unique per
// connection and unlikely to repeat across restarts.
var (
	idBase = func() uint64 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		return binary.LittleEndian.Uint64(b[:]) >> 1
	}()
	idCounter atomic.Uint64
)

func nextID() string { return strconv.FormatUint(idBase+idCounter.Add(1), 36) }

// Conn is one OCPP-J connection, either end.
type Conn struct {
	// handshake orders the server's connections by when their upgrade
	// was answered: of two connections of a charger, the later one wins.
	handshake uint64
	id        string
	version   ocppj.Version
	ws        *websocket.Conn
	cfg       *Config
	cache     *dedupCache
	obs       Observer // may be nil

	ctx    context.Context // handlers' context, cancelled on close
	cancel context.CancelFunc

	writeMu sync.Mutex

	mu sync.Mutex
	// Outgoing: one call at a time, waiters in FIFO order.
	callBusy    bool
	callWaiters []chan struct{}
	pendID      string
	pendCh      chan answer
	// Incoming: handling is set while the reader runs a handler; drain
	// waits on idle for it to end.
	handling bool
	draining bool
	idle     chan struct{}
	closed   bool
	cause    error
	// ending is set by closeGracefully: the close frame is sent and no new
	// work starts, but the reader still takes what the peer sent before it.
	ending      bool
	endingCause error

	done chan struct{}

	// Ping state (server side): the timer alternates between waiting to
	// ping and waiting for the pong.
	pingTimer    Timer
	awaitingPong atomic.Bool
	activity     atomic.Bool
	pingEvery    time.Duration
	pongWait     time.Duration
}

type answer struct {
	payload json.RawMessage
	err     error
}

func newConn(ws *websocket.Conn, id string, v ocppj.Version, cfg *Config, cache *dedupCache) *Conn {
	c := &Conn{id: id, version: v, ws: ws, cfg: cfg, cache: cache, done: make(chan struct{})}
	c.obs, _ = cfg.Handler.(Observer)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	ws.SetReadLimit(cfg.MaxFrameSize)
	ws.SetPongHandler(func(string) error { c.activity.Store(true); return nil })
	return c
}

// ID is the charger identity.
func (c *Conn) ID() string { return c.id }

// Version is the negotiated OCPP version.
func (c *Conn) Version() ocppj.Version { return c.version }

// RemoteAddr is the peer's network address.
func (c *Conn) RemoteAddr() net.Addr { return c.ws.RemoteAddr() }

// Done is closed when the connection is closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Close sends a close frame with code and reason and closes the socket.
// Pending and waiting calls fail with ErrClosed.
func (c *Conn) Close(code int, reason string) { c.closeWith(code, reason, ErrClosed) }

// closeWith closes once; cause is what Disconnected reports.
func (c *Conn) closeWith(code int, reason string, cause error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.cause = cause
	if c.endingCause != nil {
		c.cause = c.endingCause
	}
	pt := c.pingTimer
	c.mu.Unlock()
	if code != 0 {
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	}
	_ = c.ws.Close()
	c.cancel()
	if pt != nil {
		pt.Stop()
	}
	close(c.done)
}

// closeGracefully sends a close frame but lets the reader go on for up to
// grace, so that frames the peer sent before it saw our close (the answer
// to a pending call, typically) are still taken; then the connection
// closes with cause. New calls, incoming or outgoing, are refused meanwhile.
func (c *Conn) closeGracefully(code int, reason string, cause error, grace time.Duration) {
	c.mu.Lock()
	if c.closed || c.ending {
		c.mu.Unlock()
		return
	}
	c.ending, c.endingCause = true, cause
	c.mu.Unlock()
	deadline := time.Now().Add(grace)
	if err := c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), deadline); err != nil {
		c.closeWith(0, "", err)
		return
	}
	// The reader ends on the peer's close frame, on EOF, or at the deadline.
	_ = c.ws.SetReadDeadline(deadline)
}

func (c *Conn) log() *slog.Logger { return c.cfg.Logger }

// run reads frames until the socket fails, then closes the connection and
// returns why it ended.
func (c *Conn) run() error {
	for {
		typ, r, err := c.ws.NextReader()
		if err != nil {
			c.closeWith(0, "", err)
			break
		}
		c.activity.Store(true)
		if typ != websocket.TextMessage {
			c.log().Warn("binary frame refused", "charger", c.id)
			c.closeWith(websocket.CloseUnsupportedData, "text frames only", errors.New("rpc: binary frame"))
			break
		}
		buf := frameBuffers.Get().(*bytes.Buffer)
		buf.Reset()
		if _, err := buf.ReadFrom(r); err != nil {
			frameBuffers.Put(buf)
			c.closeWith(0, "", err) // gorilla has sent 1009 for an oversized frame
			break
		}
		c.handleFrame(buf.Bytes())
		if buf.Cap() <= maxPooledFrame {
			frameBuffers.Put(buf)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause
}

func (c *Conn) handleFrame(data []byte) {
	m, err := ocppj.Parse(data)
	if err != nil {
		var pe *ocppj.ParseError
		if !errors.As(err, &pe) {
			return
		}
		c.log().Warn("bad frame", "charger", c.id, "err", err)
		switch pe.Type {
		case ocppj.CallResult, ocppj.CallError:
			c.resolve(pe.ID, answer{err: fmt.Errorf("rpc: bad answer: %w", err)})
		case ocppj.CallResultError:
		default:
			if pe.ID != "" {
				c.write(ocppj.EncodeError(c.version, pe.ID, pe.Err))
			}
		}
		return
	}
	if (m.Type == ocppj.Send || m.Type == ocppj.CallResultError) && c.version != ocppj.V21 {
		c.log().Warn("message type not in this version", "charger", c.id, "type", m.Type)
		c.write(ocppj.EncodeError(c.version, m.ID, ocppj.Errorf(ocppj.MessageTypeNotSupported, "message type %d not supported", m.Type)))
		return
	}
	switch m.Type {
	case ocppj.Call, ocppj.Send:
		c.serveCall(m)
	case ocppj.CallResult:
		c.resolve(m.ID, answer{payload: bytes.Clone(m.Payload)}) // outlives the frame buffer
	case ocppj.CallError:
		c.resolve(m.ID, answer{err: m.Error})
	case ocppj.CallResultError:
		c.log().Warn("peer could not process our answer", "charger", c.id, "id", m.ID, "err", m.Error)
	}
}

// serveCall handles an incoming CALL or SEND on the reader goroutine:
// a retransmission is answered from the dedup cache, anything else runs the
// handler and writes its answer.
func (c *Conn) serveCall(m ocppj.Message) {
	if m.Type == ocppj.Call {
		if ans, ok := c.cache.get(m.ID, m.Action); ok {
			c.log().Debug("retransmission answered from cache", "charger", c.id, "id", m.ID, "action", m.Action)
			c.write(ans)
			return
		}
	}
	c.mu.Lock()
	if c.closed || c.draining || c.ending {
		// Unanswered on purpose: the charger retries after reconnecting.
		c.mu.Unlock()
		return
	}
	c.handling = true
	c.mu.Unlock()

	scope := &callScope{Context: c.ctx, conn: c, send: m.Type == ocppj.Send}
	ans, cacheable := c.answer(scope, m)
	// Cache before the answer leaves, so a retransmission from this point
	// on is answered from the cache.
	if cacheable && m.Type == ocppj.Call {
		c.cache.put(m.ID, m.Action, ans)
	}
	if m.Type == ocppj.Call {
		c.write(ans)
	}
	after := scope.end()

	c.mu.Lock()
	c.handling = false
	if c.idle != nil {
		close(c.idle)
		c.idle = nil
	}
	c.mu.Unlock()
	for _, f := range after {
		go f()
	}
}

// callScope is the context a handler runs with. It marks the handler's
// goroutine as the connection's reader (see [ErrCallInHandler]) and collects
// what [AfterAnswer] defers. Being the context itself saves an allocation
// per call.
type callScope struct {
	context.Context
	conn *Conn
	send bool // the message is a SEND: its result is discarded

	mu    sync.Mutex
	ended bool
	after []func()
}

type callScopeKey struct{}

// Value returns the scope itself for callScopeKey.
func (s *callScope) Value(key any) any {
	if key == (callScopeKey{}) {
		return s
	}
	return s.Context.Value(key)
}

// running reports whether the handler this scope belongs to still runs.
func (s *callScope) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.ended
}

// end marks the handler finished and returns what it deferred.
func (s *callScope) end() []func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended = true
	return s.after
}

// later queues f to run after the answer; false if the handler has ended.
func (s *callScope) later(f func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return false
	}
	s.after = append(s.after, f)
	return true
}

// IsSend reports whether the message being handled with ctx arrived as an
// OCPP 2.1 SEND (message type 6) rather than a CALL: nothing goes back to
// the peer for it, neither its result nor a CALLERROR, so a handler that
// must not act on an action sent the wrong way can tell. False for any
// context that is not a running handler's.
func IsSend(ctx context.Context) bool {
	s, ok := ctx.Value(callScopeKey{}).(*callScope)
	return ok && s.send
}

// AfterAnswer makes f run, in a goroutine of its own, once the answer to the
// CALL being handled with ctx has been written. A handler uses it for what
// must follow its answer on the wire (a reboot after Reset, the message a
// TriggerMessage asked for, a call to another charger). With any other
// context, or once the handler has returned, f starts at once.
func AfterAnswer(ctx context.Context, f func()) {
	if s, ok := ctx.Value(callScopeKey{}).(*callScope); ok && s.later(f) {
		return
	}
	go f()
}

// answer runs the handler and encodes its answer. Internal errors are not
// cached, so a retransmission gets another try.
func (c *Conn) answer(ctx context.Context, m ocppj.Message) (frame []byte, cacheable bool) {
	payload, err := c.callHandler(ctx, m)
	if err == nil && len(payload) > 0 && !isObject(payload) {
		err = fmt.Errorf("rpc: handler for %s returned a payload that is not a JSON object", m.Action)
	}
	if err == nil {
		return ocppj.EncodeResult(m.ID, payload), true
	}
	var re *ocppj.Error
	if errors.As(err, &re) {
		return ocppj.EncodeError(c.version, m.ID, re), true
	}
	c.log().Error("handler failed", "charger", c.id, "action", m.Action, "id", m.ID, "err", err)
	return ocppj.EncodeError(c.version, m.ID, &ocppj.Error{Code: ocppj.InternalError, Description: "internal error"}), false
}

func (c *Conn) callHandler(ctx context.Context, m ocppj.Message) (payload json.RawMessage, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("rpc: handler panic: %v", r)
		}
	}()
	return c.cfg.Handler.HandleCall(ctx, c, m.Action, m.Payload)
}

// isObject reports whether b looks like a JSON object: it checks the
// braces, not the whole text. Payloads come from our own encoders (handlers'
// answers, commands the adapters validated); this catches an adapter bug
// that would return an array or a bare value without scanning every answer
// a second time.
func isObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) >= 2 && b[0] == '{' && b[len(b)-1] == '}'
}

// write sends one text frame; a failed write closes the connection.
func (c *Conn) write(b []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout))
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		c.closeWith(0, "", err)
		return fmt.Errorf("rpc: write: %w", ErrClosed)
	}
	return nil
}

// Call sends a CALL and waits for its answer. Only one call is outstanding
// per connection; other callers wait their turn in FIFO order. It returns
// ErrTimeout after the call timeout, ErrClosed if the connection closes, an
// error wrapping *ocppj.Error for a CALLERROR, or ctx's error.
func (c *Conn) Call(ctx context.Context, action string, payload json.RawMessage) (json.RawMessage, error) {
	if len(payload) > 0 && !isObject(payload) {
		return nil, fmt.Errorf("rpc: %s payload is not a JSON object", action)
	}
	if s, ok := ctx.Value(callScopeKey{}).(*callScope); ok && s.running() {
		return nil, fmt.Errorf("rpc: %s: %w", action, ErrCallInHandler)
	}
	if err := c.acquire(ctx); err != nil {
		return nil, err
	}
	defer c.release()

	id := nextID()
	ch := make(chan answer, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	c.pendID, c.pendCh = id, ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if c.pendID == id {
			c.pendID, c.pendCh = "", nil
		}
		c.mu.Unlock()
	}()

	timedOut := make(chan struct{})
	t := c.cfg.Clock.AfterFunc(c.cfg.CallTimeout, func() { close(timedOut) })
	defer t.Stop()
	if err := c.write(ocppj.EncodeCall(id, action, payload)); err != nil {
		return nil, fmt.Errorf("rpc: %s: %w", action, err)
	}
	select {
	case a := <-ch:
		if a.err != nil {
			return nil, fmt.Errorf("rpc: %s: %w", action, a.err)
		}
		return a.payload, nil
	case <-timedOut:
		return nil, fmt.Errorf("rpc: %s: %w", action, ErrTimeout)
	case <-ctx.Done():
		return nil, fmt.Errorf("rpc: %s: %w", action, ctx.Err())
	case <-c.done:
		// An answer read just before the close still counts (a charger
		// that accepts a Reset and reboots at once): select picks at random.
		select {
		case a := <-ch:
			if a.err != nil {
				return nil, fmt.Errorf("rpc: %s: %w", action, a.err)
			}
			return a.payload, nil
		default:
		}
		return nil, fmt.Errorf("rpc: %s: %w", action, ErrClosed)
	}
}

// Send sends an OCPP 2.1 SEND (message type 6): a message with no answer,
// such as NotifyPeriodicEventStream. It does not take the outgoing-call
// slot, as nothing waits for a reply. It fails on a connection of another
// version, with a running handler's context (see [ErrCallInHandler]: a
// handler writes nothing but its answer) and once the connection closes.
func (c *Conn) Send(ctx context.Context, action string, payload json.RawMessage) error {
	if c.version != ocppj.V21 {
		return fmt.Errorf("rpc: %s: SEND needs OCPP 2.1, connection is %s", action, c.version)
	}
	if len(payload) == 0 {
		payload = json.RawMessage("{}")
	}
	if !isObject(payload) {
		return fmt.Errorf("rpc: %s payload is not a JSON object", action)
	}
	if s, ok := ctx.Value(callScopeKey{}).(*callScope); ok && s.running() {
		return fmt.Errorf("rpc: %s: %w", action, ErrCallInHandler)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("rpc: %s: %w", action, err)
	}
	c.mu.Lock()
	closed := c.closed || c.ending
	c.mu.Unlock()
	if closed {
		return fmt.Errorf("rpc: %s: %w", action, ErrClosed)
	}
	if err := c.write(ocppj.EncodeSend(nextID(), action, payload)); err != nil {
		return fmt.Errorf("rpc: %s: %w", action, err)
	}
	return nil
}

// acquire takes the single outgoing-call slot, waiting in FIFO order.
func (c *Conn) acquire(ctx context.Context) error {
	c.mu.Lock()
	if c.closed || c.ending {
		c.mu.Unlock()
		return ErrClosed
	}
	if !c.callBusy {
		c.callBusy = true
		c.mu.Unlock()
		return nil
	}
	turn := make(chan struct{})
	c.callWaiters = append(c.callWaiters, turn)
	c.mu.Unlock()

	var err error
	select {
	case <-turn:
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-c.done:
		err = ErrClosed
	}
	c.mu.Lock()
	for i, w := range c.callWaiters {
		if w == turn {
			c.callWaiters = append(c.callWaiters[:i], c.callWaiters[i+1:]...)
			c.mu.Unlock()
			return err
		}
	}
	c.mu.Unlock()
	// The slot was handed to us while giving up: pass it on.
	c.release()
	return err
}

func (c *Conn) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.callWaiters) == 0 {
		c.callBusy = false
		c.callWaiters = nil
		return
	}
	next := c.callWaiters[0]
	c.callWaiters = c.callWaiters[1:]
	close(next)
}

// resolve delivers an answer to the pending call with that id.
func (c *Conn) resolve(id string, a answer) {
	c.mu.Lock()
	if id == "" || c.pendID != id {
		c.mu.Unlock()
		c.log().Warn("answer for unknown message id ignored", "charger", c.id, "id", id)
		return
	}
	ch := c.pendCh
	c.pendID, c.pendCh = "", nil
	c.mu.Unlock()
	ch <- a // buffered, never blocks
}

// drain stops taking new calls and waits until the one being handled is
// answered.
func (c *Conn) drain(ctx context.Context) error {
	c.mu.Lock()
	c.draining = true
	if !c.handling {
		c.mu.Unlock()
		return nil
	}
	if c.idle == nil {
		c.idle = make(chan struct{})
	}
	idle := c.idle
	c.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("rpc: drain %s: %w", c.id, ctx.Err())
	}
}

// startPing arms the ping timer; each tick pings, and if neither a pong
// nor any frame arrives within pongWait the connection is closed.
func (c *Conn) startPing(every, wait time.Duration) {
	if every <= 0 {
		return
	}
	c.pingEvery, c.pongWait = every, wait
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.pingTimer = c.cfg.Clock.AfterFunc(every, c.onPingTimer)
	}
}

func (c *Conn) onPingTimer() {
	c.mu.Lock()
	t, closed, handling := c.pingTimer, c.closed, c.handling
	c.mu.Unlock()
	if closed || t == nil {
		return
	}
	if c.awaitingPong.Load() {
		// While a handler runs the reader cannot take the pong: a slow
		// handler is not a dead peer.
		if !c.activity.Load() && !handling {
			c.log().Warn("no pong, closing half-open connection", "charger", c.id)
			c.closeWith(websocket.CloseGoingAway, "no pong", ErrHalfOpen)
			return
		}
		c.awaitingPong.Store(false)
		t.Reset(c.pingEvery)
		return
	}
	c.activity.Store(false)
	c.awaitingPong.Store(true)
	if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.cfg.WriteTimeout)); err != nil {
		c.closeWith(0, "", err)
		return
	}
	t.Reset(c.pongWait)
}

// dedupCache keeps the last answers to a charger's CALLs, keyed by message
// id and action, so retransmissions get the same bytes. It is checked on
// every CALL, so the ids' hashes are kept apart: the scan reads two cache
// lines of integers and compares strings only on a hash match.
type dedupCache struct {
	mu      sync.Mutex
	hashes  []uint64 // hashes[i] is the hash of entries[i].id
	entries []dedupEntry
	next    int
	size    int
}

type dedupEntry struct {
	id, action string
	answer     []byte
}

var dedupSeed = maphash.MakeSeed()

func newDedupCache(size int) *dedupCache { return &dedupCache{size: size} }

func (d *dedupCache) get(id, action string) ([]byte, bool) {
	h := maphash.String(dedupSeed, id)
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, eh := range d.hashes {
		if e := &d.entries[i]; eh == h && e.id == id && e.action == action {
			return e.answer, true
		}
	}
	return nil, false
}

func (d *dedupCache) put(id, action string, ans []byte) {
	h, e := maphash.String(dedupSeed, id), dedupEntry{id: id, action: action, answer: ans}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.entries) < d.size {
		d.hashes = append(d.hashes, h)
		d.entries = append(d.entries, e)
		return
	}
	d.hashes[d.next], d.entries[d.next] = h, e
	d.next = (d.next + 1) % d.size
}
