package rpc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/gorilla/websocket"
)

// DialOptions configures the charger side. Zero values take defaults.
type DialOptions struct {
	Config
	// Versions offered, most preferred first (default ocppj.Versions).
	Versions []ocppj.Version
	// Username and Password for HTTP Basic auth (security profiles 1 and
	// 2); empty Username sends none.
	Username, Password string
	// TLSConfig for wss:// (client certificate for profile 3).
	TLSConfig *tls.Config
	// Header holds extra handshake headers.
	Header http.Header
	// HandshakeTimeout bounds the opening handshake (default 30s).
	HandshakeTimeout time.Duration
	// ID is the connection's identity (default the URL's last path segment).
	ID string
}

// HandshakeError is returned by Dial when the server refuses the upgrade.
type HandshakeError struct {
	StatusCode int
	Body       string
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("rpc: handshake refused: HTTP %d: %s", e.StatusCode, e.Body)
}

// Dial connects to a CSMS at rawURL (ws:// or wss://, ending in the charger
// identity) and starts serving CALLs from it with opts.Handler. The
// connection ends when either side closes it; see Conn.Done.
func Dial(ctx context.Context, rawURL string, opts DialOptions) (*Conn, error) {
	cfg := opts.Config.withDefaults()
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("rpc: dial: %w", err)
	}
	id := opts.ID
	if id == "" {
		if id, err = ParseIdentity(u.EscapedPath()); err != nil {
			return nil, fmt.Errorf("rpc: dial: %w", err)
		}
	}
	versions := opts.Versions
	if len(versions) == 0 {
		versions = ocppj.Versions
	}
	d := websocket.Dialer{
		Proxy:            http.ProxyFromEnvironment,
		HandshakeTimeout: opts.HandshakeTimeout,
		TLSClientConfig:  opts.TLSConfig,
		ReadBufferSize:   cfg.ReadBufferSize,
		WriteBufferSize:  4096,
		WriteBufferPool:  writeBufferPool,
	}
	if d.HandshakeTimeout <= 0 {
		d.HandshakeTimeout = 30 * time.Second
	}
	for _, v := range versions {
		d.Subprotocols = append(d.Subprotocols, string(v))
	}
	hdr := opts.Header.Clone()
	if hdr == nil {
		hdr = http.Header{}
	}
	if opts.Username != "" {
		req := http.Request{Header: http.Header{}}
		req.SetBasicAuth(opts.Username, opts.Password)
		hdr.Set("Authorization", req.Header.Get("Authorization"))
	}
	ws, resp, err := d.DialContext(ctx, rawURL, hdr)
	if err != nil {
		if resp != nil && errors.Is(err, websocket.ErrBadHandshake) {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			_ = resp.Body.Close()
			return nil, fmt.Errorf("rpc: dial %s: %w", u.Redacted(), &HandshakeError{StatusCode: resp.StatusCode, Body: string(body)})
		}
		return nil, fmt.Errorf("rpc: dial %s: %w", u.Redacted(), err)
	}
	v := ocppj.Version(ws.Subprotocol())
	if v == "" {
		v = ocppj.V16 // a server that ignores subprotocols speaks 1.6
	}
	if !slices.Contains(versions, v) {
		_ = ws.Close()
		return nil, fmt.Errorf("rpc: dial: server chose %q, which was not offered", v)
	}
	c := newConn(ws, id, v, &cfg, newDedupCache(cfg.DedupSize))
	if c.obs != nil {
		c.obs.Connected(c)
	}
	go func() {
		err := c.run()
		if c.obs != nil {
			c.obs.Disconnected(c, err)
		}
	}()
	return c, nil
}
