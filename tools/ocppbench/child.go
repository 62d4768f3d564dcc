package main

// The server under test runs in a child process (this same binary,
// re-executed with childEnv set) so that its memory, CPU time and disk
// writes can be read from /proc alone. The child prints one line
// "addr ws://host:port/ocpp" on stdout when chargers can connect, then
// answers commands read line by line from stdin (one reply line each):
//
//	mem             GC, return memory to the OS, reply "mem {MemStats JSON}"
//	prof-start FILE start a CPU profile into FILE, reply "ok"; the
//	                allocations so far go to FILE.allocs-base
//	prof-stop       stop it and write the allocations so far to FILE.allocs
//	                (compare with go tool pprof -diff_base), reply "ok"
//	trace-start FILE start a runtime execution trace into FILE, reply "ok"
//	trace-stop       stop it, reply "ok"
//	quit (or EOF)   shut down and exit
//
// Logs go to stderr.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"sync"
	"time"

	"github.com/constellation-ev/constellation/appliance/app"
	"github.com/constellation-ev/constellation/appliance/config"
	"github.com/constellation-ev/constellation/appliance/ocpp/rpc"
	"github.com/gorilla/websocket"
)

const (
	// childEnv selects the child mode: one of the server kinds.
	childEnv = "OCPPBENCH_CHILD"
	// dataDirEnv is the appliance child's data directory.
	dataDirEnv = "OCPPBENCH_DATA_DIR"
)

// Server kinds.
const (
	// Appliance is the real appliance: app.Run with bbolt, the charging
	// domain and the CSMS.
	Appliance = "appliance"
	// BareRPC is rpc.Server (the appliance's own transport: framing,
	// validation, queue, dedup cache, pings) with a handler that answers
	// {} to everything and stores nothing.
	BareRPC = "bare-rpc"
	// BareWS is a plain gorilla/websocket loop: read a frame, find the
	// message id, write [3,"id",{}]. The floor.
	BareWS = "bare-ws"
)

// ServerKinds lists the kinds in the order they are benchmarked.
var ServerKinds = []string{Appliance, BareRPC, BareWS}

// memStats is what the child reports for "mem".
type memStats struct {
	HeapAlloc, HeapInuse, StackInuse, Sys, HeapReleased uint64
	Goroutines                                          int
}

// childMain runs the child mode named by kind and returns the exit code.
func childMain(kind string) int {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("child", kind)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		addrc = make(chan string, 1)
		errc  = make(chan error, 1)
	)
	switch kind {
	case Appliance:
		dir := os.Getenv(dataDirEnv)
		if dir == "" {
			log.Error("no data directory", "env", dataDirEnv)
			return 2
		}
		cfg := config.Default()
		cfg.DataDir = dir
		cfg.LogLevel = "warn"
		cfg.OCPP.Addr = "127.0.0.1:0"
		cfg.API.Addr = "127.0.0.1:0"
		cfg.OCPP.UnknownChargers = "accept"
		cfg.Auth.UnknownTokens = "open"
		if err := cfg.Validate(); err != nil {
			log.Error("config", "err", err)
			return 2
		}
		go func() {
			errc <- app.Run(ctx, cfg, log, func(a app.Addrs) { addrc <- "ws://" + a.OCPP + "/ocpp" })
		}()
	case BareRPC, BareWS:
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Error("listen", "err", err)
			return 1
		}
		var h http.Handler
		var shutdown func(context.Context) error
		if kind == BareRPC {
			s := rpc.NewServer(rpc.ServerOptions{Config: rpc.Config{Handler: rpc.HandlerFunc(bareAnswer), Logger: log}})
			h, shutdown = s, s.Shutdown
		} else {
			b := newBareWS(log)
			h, shutdown = b, b.shutdown
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			err := srv.Serve(ln)
			if errors.Is(err, http.ErrServerClosed) {
				<-ctx.Done()
				sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
				defer c()
				err = shutdown(sctx)
			}
			errc <- err
		}()
		go func() { <-ctx.Done(); _ = srv.Close() }()
		addrc <- "ws://" + ln.Addr().String() + "/ocpp"
	default:
		log.Error("unknown child kind", "kind", kind)
		return 2
	}

	out := bufio.NewWriter(os.Stdout)
	reply := func(format string, args ...any) {
		fmt.Fprintf(out, format+"\n", args...)
		_ = out.Flush()
	}
	select {
	case addr := <-addrc:
		reply("addr %s", addr)
	case err := <-errc:
		log.Error("server failed to start", "err", err)
		return 1
	}

	cmds := make(chan string)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			cmds <- sc.Text()
		}
		close(cmds)
	}()
	var prof, tr *os.File
	stopTrace := func() {
		if tr != nil {
			trace.Stop()
			_ = tr.Close()
			tr = nil
		}
	}
	for {
		select {
		case err := <-errc:
			log.Error("server stopped", "err", err)
			return 1
		case line, ok := <-cmds:
			if !ok || line == "quit" {
				if prof != nil {
					pprof.StopCPUProfile()
					_ = prof.Close()
				}
				stopTrace()
				cancel()
				if err := <-errc; err != nil {
					log.Error("shutdown", "err", err)
					return 1
				}
				return 0
			}
			cmd, arg, _ := strings.Cut(line, " ")
			switch cmd {
			case "mem":
				reply("mem %s", mustJSON(readMem()))
			case "prof-start":
				f, err := os.Create(arg)
				if err == nil {
					if err = pprof.StartCPUProfile(f); err != nil {
						_ = f.Close()
					}
				}
				if err != nil {
					reply("err %v", err)
					continue
				}
				prof = f
				writeAllocs(f.Name() + ".allocs-base")
				reply("ok")
			case "prof-stop":
				if prof != nil {
					pprof.StopCPUProfile()
					_ = prof.Close()
					writeAllocs(prof.Name() + ".allocs")
					prof = nil
				}
				reply("ok")
			case "trace-start":
				f, err := os.Create(arg)
				if err == nil {
					if err = trace.Start(f); err != nil {
						_ = f.Close()
					}
				}
				if err != nil {
					reply("err %v", err)
					continue
				}
				tr = f
				reply("ok")
			case "trace-stop":
				stopTrace()
				reply("ok")
			default:
				reply("err unknown command %q", cmd)
			}
		}
	}
}

// writeAllocs writes the allocation profile (everything allocated since
// the child started) to file; a failure only costs the profile.
func writeAllocs(file string) {
	f, err := os.Create(file)
	if err != nil {
		return
	}
	defer f.Close()
	_ = pprof.Lookup("allocs").WriteTo(f, 0)
}

// readMem collects garbage, returns freed memory to the OS (so RSS shows
// what is live) and reads the runtime's statistics.
func readMem() memStats {
	runtime.GC()
	debug.FreeOSMemory()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return memStats{
		HeapAlloc: m.HeapAlloc, HeapInuse: m.HeapInuse, StackInuse: m.StackInuse,
		Sys: m.Sys, HeapReleased: m.HeapReleased, Goroutines: runtime.NumGoroutine(),
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// bareAnswer answers everything with {}, except the setup calls whose
// answer the load generator decodes strictly and {} is not valid for:
// BootNotification (one answer valid in 1.6, 2.0.1 and 2.1) and 1.6's
// Start/StopTransaction. 2.x's TransactionEvent takes {}. Both bare
// servers negotiate every version, so they are a floor for each.
func bareAnswer(_ context.Context, _ *rpc.Conn, action string, _ json.RawMessage) (json.RawMessage, error) {
	return setupAnswer(action), nil
}

var (
	bootAnswer  = json.RawMessage(`{"status":"Accepted","currentTime":"2025-01-01T00:00:00Z","interval":300}`)
	startAnswer = json.RawMessage(`{"idTagInfo":{"status":"Accepted"},"transactionId":1}`)
	stopAnswer  = json.RawMessage(`{"idTagInfo":{"status":"Accepted"}}`)
	emptyAnswer = json.RawMessage(`{}`)
)

func setupAnswer(action string) json.RawMessage {
	switch action {
	case "BootNotification":
		return bootAnswer
	case "StartTransaction":
		return startAnswer
	case "StopTransaction":
		return stopAnswer
	}
	return emptyAnswer
}

// bareWS is the floor: one goroutine per connection that reads a frame,
// picks out the message id and action by scanning (no JSON decoding) and
// writes a CALLRESULT. No queue, no dedup, no pings, no validation.
type bareWS struct {
	log      *slog.Logger
	upgrader websocket.Upgrader
	mu       sync.Mutex
	conns    map[*websocket.Conn]struct{}
	wg       sync.WaitGroup
}

func newBareWS(log *slog.Logger) *bareWS {
	return &bareWS{
		log: log,
		upgrader: websocket.Upgrader{
			ReadBufferSize: 1024, WriteBufferSize: 4096, WriteBufferPool: &sync.Pool{},
			Subprotocols: []string{"ocpp2.1", "ocpp2.0.1", "ocpp1.6"},
			CheckOrigin:  func(*http.Request) bool { return true },
		},
		conns: map[*websocket.Conn]struct{}{},
	}
}

func (b *bareWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ws, err := b.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	b.mu.Lock()
	b.conns[ws] = struct{}{}
	b.wg.Add(1)
	b.mu.Unlock()
	go b.serve(ws)
}

func (b *bareWS) serve(ws *websocket.Conn) {
	defer b.wg.Done()
	defer func() {
		b.mu.Lock()
		delete(b.conns, ws)
		b.mu.Unlock()
		_ = ws.Close()
	}()
	var out []byte
	for {
		typ, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		if typ != websocket.TextMessage {
			continue
		}
		id, action, ok := scanCall(data)
		if !ok {
			continue
		}
		out = append(out[:0], `[3,"`...)
		out = append(out, id...)
		out = append(out, `",`...)
		out = append(out, setupAnswer(string(action))...)
		out = append(out, ']')
		if err := ws.WriteMessage(websocket.TextMessage, out); err != nil {
			return
		}
	}
}

func (b *bareWS) shutdown(context.Context) error {
	b.mu.Lock()
	for ws := range b.conns {
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, ""), time.Now().Add(time.Second))
		_ = ws.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
	return nil
}

// scanCall finds the id and action of a CALL frame [2,"id","Action",{...}]
// without decoding it. Ids and actions with escapes are not expected.
func scanCall(data []byte) (id, action []byte, ok bool) {
	i := 0
	next := func() ([]byte, bool) {
		for i < len(data) && data[i] != '"' {
			i++
		}
		start := i + 1
		for i = start; i < len(data) && data[i] != '"'; i++ {
			if data[i] == '\\' {
				return nil, false
			}
		}
		if i >= len(data) {
			return nil, false
		}
		s := data[start:i]
		i++
		return s, true
	}
	for i < len(data) && (data[i] == '[' || data[i] == ' ') {
		i++
	}
	if i >= len(data) || data[i] != '2' {
		return nil, nil, false
	}
	if id, ok = next(); !ok {
		return nil, nil, false
	}
	if action, ok = next(); !ok {
		return nil, nil, false
	}
	return id, action, true
}
