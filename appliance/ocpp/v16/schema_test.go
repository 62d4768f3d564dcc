package v16

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaDir finds ../shared/ocpp-schemas/1.6 next to the repository root
// (the directory holding go.mod).
func schemaDir() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			s := filepath.Join(dir, "..", "shared", "ocpp-schemas", "1.6")
			_, err := os.Stat(s)
			return s, err == nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

var (
	schemasOnce sync.Once
	schemas     map[string]*jsonschema.Schema // "Authorize", "AuthorizeResponse", ...
	schemasErr  error
)

// officialSchemas compiles the official schema of every action's request
// and response, or skips the test when the schema folder is absent.
func officialSchemas(t testing.TB) map[string]*jsonschema.Schema {
	t.Helper()
	dir, ok := schemaDir()
	if !ok {
		t.Skip("OCPP schemas not found at ../shared/ocpp-schemas/1.6 relative to the repository root; skipping schema conformance")
	}
	schemasOnce.Do(func() {
		c := jsonschema.NewCompiler()
		schemas = map[string]*jsonschema.Schema{}
		for _, a := range Actions {
			for _, name := range []string{a.Name, a.Name + "Response"} {
				s, err := c.Compile(filepath.Join(dir, name+".json"))
				if err != nil {
					schemasErr = err
					return
				}
				schemas[name] = s
			}
		}
	})
	if schemasErr != nil {
		t.Fatalf("compiling schemas: %v", schemasErr)
	}
	return schemas
}

// schemaValid is the official schema's verdict on data.
func schemaValid(s *jsonschema.Schema, data []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return err
	}
	return s.Validate(inst)
}
