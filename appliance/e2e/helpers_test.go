package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/internal/schematest"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"

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

// checkSchema returns the official 1.6 schema's verdict on a request (or
// response) payload of action; the test skips when the schemas are absent.
func checkSchema(t testing.TB, action string, response bool, payload []byte) error {
	t.Helper()
	return schematest.Check(t, ocppj.V16, action, response, payload)
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
