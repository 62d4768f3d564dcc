package rpc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/gorilla/websocket"
)

// replaceGrace bounds how long a replaced connection may still deliver
// what its peer sent before it saw the close.
const replaceGrace = time.Second

// MaxIdentityLen is the longest charger identity accepted (OCPP: 48).
const MaxIdentityLen = 48

// Authenticator decides whether a charger may connect, before the websocket
// upgrade. Return nil to accept, an error wrapping ErrUnauthorized for HTTP
// 401 (with a Basic challenge) or ErrForbidden for 403; any other error
// answers 500 and is logged. Never put secrets in the error.
type Authenticator interface {
	Authenticate(r *http.Request, id string) error
}

// ServerOptions configures a Server. Zero values take defaults.
type ServerOptions struct {
	Config
	// Versions enabled on this server (default all of ocppj.Versions).
	// Preference is always 2.1, then 2.0.1, then 1.6.
	Versions []ocppj.Version
	// Authenticator is called before upgrade; nil accepts everyone.
	Authenticator Authenticator
	// PingInterval between pings (default 30s; negative disables).
	PingInterval time.Duration
	// PongWait is how long after a ping a pong or any frame must arrive
	// (default 10s).
	PongWait time.Duration
}

// Server is the CSMS side: an http.Handler that upgrades
// /ocpp/{chargePointId} (the identity is the last path segment of any
// path) and keeps one connection per charger.
type Server struct {
	cfg      Config
	versions map[ocppj.Version]bool
	auth     Authenticator
	ping     time.Duration
	pongWait time.Duration
	upgrader websocket.Upgrader

	mu      sync.Mutex
	conns   map[string]*Conn
	gone    map[*Conn]chan struct{} // closed after Disconnected was delivered
	caches  map[string]*dedupCache
	closing bool
	wg      sync.WaitGroup
	// handshakes numbers the upgrades in the order they are answered (see
	// Conn.handshake).
	handshakes uint64
}

var _ http.Handler = (*Server)(nil)

// NewServer returns a Server.
func NewServer(opts ServerOptions) *Server {
	s := &Server{
		cfg:      opts.Config.withDefaults(),
		versions: map[ocppj.Version]bool{},
		auth:     opts.Authenticator,
		ping:     opts.PingInterval,
		pongWait: opts.PongWait,
		conns:    map[string]*Conn{},
		gone:     map[*Conn]chan struct{}{},
		caches:   map[string]*dedupCache{},
	}
	vs := opts.Versions
	if len(vs) == 0 {
		vs = ocppj.Versions
	}
	for _, v := range vs {
		s.versions[v] = true
	}
	if s.ping == 0 {
		s.ping = 30 * time.Second
	}
	if s.pongWait <= 0 {
		s.pongWait = 10 * time.Second
	}
	s.upgrader = websocket.Upgrader{
		ReadBufferSize:  s.cfg.ReadBufferSize,
		WriteBufferSize: 4096,
		WriteBufferPool: writeBufferPool,
		// Chargers are not browsers; Origin is meaningless here.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	return s
}

// ParseIdentity returns the charger identity from a request path: the last
// segment, URL-unescaped, 1 to 48 printable characters.
func ParseIdentity(escapedPath string) (string, error) {
	seg := escapedPath[strings.LastIndexByte(escapedPath, '/')+1:]
	id, err := url.PathUnescape(seg)
	if err != nil {
		return "", fmt.Errorf("invalid charge point identity: %w", err)
	}
	if id == "" {
		return "", errors.New("missing charge point identity")
	}
	if !utf8.ValidString(id) || utf8.RuneCountInString(id) > MaxIdentityLen {
		return "", fmt.Errorf("charge point identity must be at most %d characters", MaxIdentityLen)
	}
	for _, r := range id {
		if !unicode.IsPrint(r) {
			return "", errors.New("charge point identity must be printable")
		}
	}
	return id, nil
}

// negotiate picks the version: the most preferred one that the client
// offers and the server enables. No offer means a 1.6 charger.
func (s *Server) negotiate(offered []string) (v ocppj.Version, ok bool) {
	if len(offered) == 0 {
		return ocppj.V16, s.versions[ocppj.V16]
	}
	for _, v := range ocppj.Versions {
		if !s.versions[v] {
			continue
		}
		for _, o := range offered {
			if ocppj.Version(o) == v {
				return v, true
			}
		}
	}
	return "", false
}

// ServeHTTP upgrades a charger's request to an OCPP-J connection.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := s.cfg.Logger
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if closing {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	id, err := ParseIdentity(r.URL.EscapedPath())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		http.Error(w, "expected a websocket upgrade", http.StatusBadRequest)
		return
	}
	offered := websocket.Subprotocols(r)
	v, ok := s.negotiate(offered)
	if !ok {
		log.Warn("no supported OCPP subprotocol", "charger", id, "offered", offered)
		http.Error(w, fmt.Sprintf("no supported OCPP subprotocol (offered: %s)", strings.Join(offered, ", ")), http.StatusBadRequest)
		return
	}
	if len(offered) == 0 {
		log.Warn("charger offered no subprotocol; assuming ocpp1.6", "charger", id)
	}
	if s.auth != nil {
		if err := s.auth.Authenticate(r, id); err != nil {
			switch {
			case errors.Is(err, ErrUnauthorized):
				log.Warn("charger unauthorized", "charger", id, "remote", r.RemoteAddr, "err", err)
				w.Header().Set("WWW-Authenticate", `Basic realm="OCPP"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
			case errors.Is(err, ErrForbidden):
				log.Warn("charger refused", "charger", id, "remote", r.RemoteAddr, "err", err)
				http.Error(w, "forbidden", http.StatusForbidden)
			default:
				log.Error("authenticator failed", "charger", id, "err", err)
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
			return
		}
	}
	var hdr http.Header
	if len(offered) > 0 {
		hdr = http.Header{"Sec-Websocket-Protocol": {string(v)}}
	}
	// Numbered before the 101 goes out: a charger that reconnects after
	// its first handshake was answered gets a higher number even if the
	// first request's goroutine registers later.
	s.mu.Lock()
	s.handshakes++
	handshake := s.handshakes
	s.mu.Unlock()
	ws, err := s.upgrader.Upgrade(w, r, hdr)
	if err != nil {
		log.Warn("websocket upgrade failed", "charger", id, "err", err)
		return // the upgrader has answered
	}

	s.mu.Lock()
	cache := s.caches[id]
	if cache == nil {
		cache = newDedupCache(s.cfg.DedupSize)
		s.caches[id] = cache
	}
	c := newConn(ws, id, v, &s.cfg, cache)
	c.handshake = handshake
	if s.closing {
		s.mu.Unlock()
		c.closeWith(websocket.CloseGoingAway, "server shutting down", ErrShutdown)
		return
	}
	old := s.conns[id]
	if old != nil && old.handshake > handshake {
		// A later connection of the charger is registered already: this
		// one is the old one.
		s.mu.Unlock()
		c.closeWith(websocket.ClosePolicyViolation, "replaced by new connection", ErrReplaced)
		return
	}
	s.conns[id] = c
	var oldGone chan struct{}
	if old != nil {
		oldGone = s.gone[old]
	}
	gone := make(chan struct{})
	s.gone[c] = gone
	s.wg.Add(1)
	s.mu.Unlock()

	// The reader runs in its own goroutine so the HTTP server's goroutine
	// and buffers are released.
	go s.serve(c, old, oldGone, gone)
}

func (s *Server) serve(c, old *Conn, oldGone, gone chan struct{}) {
	defer s.wg.Done()
	if old != nil {
		s.cfg.Logger.Info("charger reconnected, replacing old connection", "charger", c.id)
		// Gracefully: a charger that answered a call (a Reset, say) and
		// reconnected at once still has that answer taken.
		old.closeGracefully(websocket.ClosePolicyViolation, "replaced by new connection", ErrReplaced, replaceGrace)
		select {
		case <-oldGone:
		case <-time.After(2 * replaceGrace):
			// Its reader never saw the deadline (it had not started, or is
			// stuck): close the socket under it.
			old.closeWith(0, "", ErrReplaced)
			<-oldGone
		}
	}
	s.cfg.Logger.Info("charger connected", "charger", c.id, "version", c.version, "remote", c.RemoteAddr())
	if c.obs != nil {
		c.obs.Connected(c)
	}
	c.startPing(s.ping, s.pongWait)
	err := c.run()

	s.mu.Lock()
	if s.conns[c.id] == c {
		delete(s.conns, c.id)
	}
	s.mu.Unlock()
	s.cfg.Logger.Info("charger disconnected", "charger", c.id, "err", err)
	if c.obs != nil {
		c.obs.Disconnected(c, err)
	}
	s.mu.Lock()
	delete(s.gone, c)
	s.mu.Unlock()
	close(gone)
}

// Conn returns the current connection of a charger.
func (s *Server) Conn(id string) (*Conn, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.conns[id]
	return c, ok
}

// Shutdown stops accepting connections (new upgrades get 503), stops
// taking new CALLs, waits for running handlers to finish and their
// answers to be written, then closes every connection with 1001 and
// waits for Disconnected to be delivered. If ctx ends first, connections
// are closed anyway and ctx's error is returned. The http.Server that
// serves s must be shut down separately; hijacked websockets are not its
// concern.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	conns := make([]*Conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	var firstErr error
	for _, c := range conns {
		if err := c.drain(ctx); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	for _, c := range conns {
		c.closeWith(websocket.CloseGoingAway, "server shutting down", ErrShutdown)
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		if firstErr == nil {
			firstErr = fmt.Errorf("rpc: shutdown: %w", ctx.Err())
		}
	}
	return firstErr
}
