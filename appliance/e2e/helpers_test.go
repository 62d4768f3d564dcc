package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/constellation-ev/constellation/appliance/config"
)

// testConfig is the appliance configuration of these tests: everything on
// loopback with ports chosen by the kernel, every charger and token let in.
func testConfig(dataDir string) config.Config {
	cfg := config.Default()
	cfg.DataDir = dataDir
	cfg.OCPP.Addr = "127.0.0.1:0"
	cfg.API.Addr = "127.0.0.1:0"
	cfg.OCPP.UnknownChargers = "accept"
	cfg.Auth.UnknownTokens = "open"
	return cfg
}

// apiClient talks to the appliance's local API.
type apiClient struct {
	base string // http://host:port
	hc   *http.Client
}

func newAPIClient(addr string) *apiClient {
	return &apiClient{base: "http://" + addr, hc: &http.Client{Timeout: 30 * time.Second}}
}

// do sends a request and decodes a JSON answer into out (when not nil). It
// returns the status and the raw body.
func (c *apiClient) do(ctx context.Context, method, path string, body []byte, out any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, err
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, raw, fmt.Errorf("%s %s: decode %s: %w", method, path, raw, err)
		}
	}
	return resp.StatusCode, raw, nil
}

// get fails the test unless GET path answers 200, decoding into out.
func (c *apiClient) get(t testing.TB, path string, out any) {
	t.Helper()
	status, raw, err := c.do(t.Context(), http.MethodGet, path, nil, out)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if status != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d: %s", path, status, raw)
	}
}

// waitHealthy polls /healthz until it answers 200 (bounded).
func (c *apiClient) waitHealthy(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for {
		status, _, err := c.do(ctx, http.MethodGet, "/healthz", nil, nil)
		if err == nil && status == http.StatusOK {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("appliance API at %s never became healthy (last: HTTP %d, %v)", c.base, status, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Schema checks. appliance/ocpp/internal/schematest cannot be imported
// from here (it is internal to appliance/ocpp), so this is the same check:
// the official schema file compiled on its own, formats asserted as the
// schema's draft asks.

var schemas struct {
	once sync.Once
	dir  string
	err  error
	mu   sync.Mutex
	m    map[string]*jsonschema.Schema
}

// schemaDir returns ../shared/ocpp-schemas/1.6 next to the repository
// root, or skips the test when it is absent.
func schemaDir(t testing.TB) string {
	t.Helper()
	schemas.once.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			schemas.err = err
			return
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				schemas.err = errors.New("no go.mod above the working directory")
				return
			}
			dir = parent
		}
		schemas.dir = filepath.Join(dir, "..", "shared", "ocpp-schemas", "1.6")
		_, schemas.err = os.Stat(schemas.dir)
	})
	if schemas.err != nil {
		t.Skipf("OCPP 1.6 schemas not found at ../shared/ocpp-schemas/1.6 relative to the repository root (%v); skipping", schemas.err)
	}
	return schemas.dir
}

// checkSchema returns the official 1.6 schema's verdict on a request (or
// response) payload of action.
func checkSchema(t testing.TB, action string, response bool, payload []byte) error {
	t.Helper()
	name := action
	if response {
		name += "Response"
	}
	file := filepath.Join(schemaDir(t), name+".json")
	schemas.mu.Lock()
	s, ok := schemas.m[file]
	if !ok {
		var err error
		if s, err = jsonschema.NewCompiler().Compile(file); err != nil {
			schemas.mu.Unlock()
			return fmt.Errorf("compile %s: %w", file, err)
		}
		if schemas.m == nil {
			schemas.m = map[string]*jsonschema.Schema{}
		}
		schemas.m[file] = s
	}
	schemas.mu.Unlock()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("payload is not JSON: %w", err)
	}
	return s.Validate(inst)
}

// tail returns the last n bytes of a file, for failure messages.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err.Error()
	}
	if off := fi.Size() - n; off > 0 {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return err.Error()
		}
	}
	b, _ := io.ReadAll(f)
	return strings.TrimSpace(string(b))
}
