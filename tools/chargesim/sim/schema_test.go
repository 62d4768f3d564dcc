package sim

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
)

// The official OCPP schemas are checked here with the same rules as
// appliance/internal/schematest, which tools cannot import (it is internal
// to appliance/): the schemas live at ../shared/ocpp-schemas beside the
// repository, one folder per version; 1.6 names requests Action.json, 2.x
// ActionRequest.json (2.1's SEND messages Action.json); responses are
// ActionResponse.json. Formats are asserted.

// schemaDir is the official schemas' folder seen from this package.
const schemaDir = "../../../../shared/ocpp-schemas"

var schemaDirs = map[ocppj.Version]string{ocppj.V16: "1.6", ocppj.V201: "2.0.1", ocppj.V21: "2.1"}

// haveSchemas reports whether the official schemas are present.
func haveSchemas() bool {
	_, err := os.Stat(schemaDir)
	return err == nil
}

// needSchemas skips the test when the official schemas are absent.
func needSchemas(t testing.TB) {
	t.Helper()
	if !haveSchemas() {
		t.Skipf("OCPP schemas not found at %s; skipping", schemaDir)
	}
}

func schemaFile(v ocppj.Version, action string, response bool) string {
	dir := filepath.Join(schemaDir, schemaDirs[v])
	plain := filepath.Join(dir, action+".json")
	switch {
	case response:
		return filepath.Join(dir, action+"Response.json")
	case v == ocppj.V16:
		return plain
	}
	file := filepath.Join(dir, action+"Request.json")
	if _, err := os.Stat(file); err != nil {
		return plain
	}
	return file
}

var schemaCache struct {
	mu sync.Mutex
	m  map[string]*jsonschema.Schema
}

// schemaCheck returns the official schema's verdict on a payload.
func schemaCheck(v ocppj.Version, action string, response bool, payload []byte) error {
	file := schemaFile(v, action, response)
	schemaCache.mu.Lock()
	s, ok := schemaCache.m[file]
	if !ok {
		var err error
		// One compiler per file: the 2.x files reuse $ids.
		if s, err = jsonschema.NewCompiler().Compile(file); err != nil {
			schemaCache.mu.Unlock()
			return fmt.Errorf("schema %s: %w", file, err)
		}
		if schemaCache.m == nil {
			schemaCache.m = map[string]*jsonschema.Schema{}
		}
		schemaCache.m[file] = s
	}
	schemaCache.mu.Unlock()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(payload))
	if err != nil {
		return errors.New("payload is not JSON")
	}
	return s.Validate(inst)
}

// schemaValidate fails the test unless the payload is valid against the
// official schema of action's request (or response).
func schemaValidate(t testing.TB, v ocppj.Version, action string, response bool, payload []byte) {
	t.Helper()
	if err := schemaCheck(v, action, response, payload); err != nil {
		t.Errorf("%s %s (response %t) %s is not valid against the official schema: %v", v, action, response, payload, err)
	}
}
