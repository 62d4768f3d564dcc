package rpc

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// BenchmarkRoundTrip measures a Heartbeat-like CALL from charger to CSMS
// and back over a loopback websocket.
func BenchmarkRoundTrip(b *testing.B) {
	s := NewServer(ServerOptions{Config: Config{Handler: heartbeat}})
	hs := httptest.NewServer(s)
	defer hs.Close()
	defer s.Shutdown(context.Background())
	c, err := Dial(context.Background(), "ws"+strings.TrimPrefix(hs.URL, "http")+"/ocpp/CP1", DialOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(websocket.CloseNormalClosure, "")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Call(ctx, "Heartbeat", nil); err != nil {
			b.Fatal(err)
		}
	}
}

// handshake opens a websocket with a bare TCP socket, so the client side
// costs next to nothing and the measurement is the server's.
func handshake(addr, id string) (net.Conn, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	fmt.Fprintf(nc, "GET /ocpp/%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp2.0.1\r\n\r\n",
		id, addr, base64.StdEncoding.EncodeToString(key))
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		nc.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		nc.Close()
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nc, nil
}

func heapAndStacks() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse
}

// BenchmarkMemoryPerConn reports the server's memory per idle connected
// charger (heap + goroutine stacks) with 1000 loopback connections, each
// having answered one call so the dedup cache holds an entry.
func BenchmarkMemoryPerConn(b *testing.B) {
	const n = 1000
	for b.Loop() {
		s := NewServer(ServerOptions{Config: Config{Handler: heartbeat}})
		hs := httptest.NewServer(s)
		addr := hs.Listener.Addr().String()
		before := heapAndStacks()
		g0 := runtime.NumGoroutine()
		conns := make([]net.Conn, 0, n)
		for i := range n {
			nc, err := handshake(addr, fmt.Sprintf("CP%05d", i))
			if err != nil {
				b.Fatal(err)
			}
			conns = append(conns, nc)
		}
		for i, nc := range conns {
			// One masked text frame: [2,"1","Heartbeat",{}]; read the answer.
			frame := []byte(`[2,"1","Heartbeat",{}]`)
			hdr := []byte{0x81, 0x80 | byte(len(frame)), 0, 0, 0, 0}
			if _, err := nc.Write(append(hdr, frame...)); err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 128)
			if _, err := nc.Read(buf); err != nil {
				b.Fatalf("conn %d: %v", i, err)
			}
		}
		after := heapAndStacks()
		goroutines := runtime.NumGoroutine() - g0
		b.ReportMetric(float64(after-before)/n, "bytes/conn")
		b.ReportMetric(float64(goroutines)/n, "goroutines/conn")
		for _, nc := range conns {
			nc.Close()
		}
		_ = s.Shutdown(context.Background())
		hs.Close()
	}
}
