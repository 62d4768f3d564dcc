// Package schematest is test support for the Open Charge Alliance's
// official OCPP JSON schemas: it checks payloads against them and
// synthesises examples and single-constraint mutants from them. It is
// imported only by tests and by the tools' tests, never by the appliance.
//
// The schemas are test data that live outside the module, at
// ../shared/ocpp-schemas relative to the repository root (the directory
// holding go.mod); tests that need them skip when the folder is absent.
// Compiled schemas are cached for the process.
package schematest

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

// ErrNoSchema is returned (wrapped) by [Check] when the version has no
// schema file for the action's request or response.
var ErrNoSchema = errors.New("schematest: no official schema")

// dirs maps a version to its folder under the schema root.
var dirs = map[ocppj.Version]string{
	ocppj.V16:  "1.6",
	ocppj.V201: "2.0.1",
	ocppj.V21:  "2.1",
}

// root finds ../shared/ocpp-schemas next to the repository root, starting
// from the working directory (a package directory under `go test`).
func root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("schematest: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			s := filepath.Join(dir, "..", "shared", "ocpp-schemas")
			if _, err := os.Stat(s); err != nil {
				return "", fmt.Errorf("schematest: %w", err)
			}
			return s, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("schematest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Dir returns the schema root (the folder holding 1.6, 2.0.1 and 2.1), or
// skips the test when it is absent.
func Dir(t testing.TB) string {
	t.Helper()
	dir, err := root()
	if err != nil {
		t.Skipf("OCPP schemas not found at ../shared/ocpp-schemas relative to the repository root (%v); skipping schema checks", err)
	}
	return dir
}

// Available reports whether the schema root is present, for a test that
// checks payloads against the schemas when it can and runs without them
// otherwise ([Dir] skips instead).
func Available() bool {
	_, err := root()
	return err == nil
}

// File returns the path of the official schema of action's request (or
// response) in version v, whether or not it exists. 1.6 names requests
// Action.json; 2.x names them ActionRequest.json, except 2.1's messages
// sent with SEND (no response), whose request is Action.json too.
// Responses are ActionResponse.json in every version.
func File(dir string, v ocppj.Version, action string, response bool) string {
	plain := filepath.Join(dir, dirs[v], action+".json")
	switch {
	case response:
		return filepath.Join(dir, dirs[v], action+"Response.json")
	case v == ocppj.V16:
		return plain
	}
	file := filepath.Join(dir, dirs[v], action+"Request.json")
	if !exists(file) && exists(plain) {
		return plain
	}
	return file
}

type cacheKey struct {
	v        ocppj.Version
	action   string
	response bool
}

type cached struct {
	s   *jsonschema.Schema
	err error
}

var cache struct {
	mu sync.Mutex
	m  map[cacheKey]cached
}

// Schema returns the compiled official schema of action's request (or
// response) in version v. It skips the test when the schema folder is
// absent and fails it when the file is missing or does not compile.
// Formats (date-time, uri) are asserted, as the drafts these schemas use
// (draft-04 for 1.6, draft-06 for 2.x) ask.
func Schema(t testing.TB, v ocppj.Version, action string, response bool) *jsonschema.Schema {
	t.Helper()
	s, err := compile(Dir(t), v, action, response)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func compile(dir string, v ocppj.Version, action string, response bool) (*jsonschema.Schema, error) {
	k := cacheKey{v, action, response}
	cache.mu.Lock()
	defer cache.mu.Unlock()
	if c, ok := cache.m[k]; ok {
		return c.s, c.err
	}
	var c cached
	if _, ok := dirs[v]; !ok {
		c.err = fmt.Errorf("schematest: unknown OCPP version %q", v)
	} else if file := File(dir, v, action, response); !exists(file) {
		c.err = fmt.Errorf("%w for %s %s (response %t): %s", ErrNoSchema, v, action, response, file)
	} else {
		// One compiler per file: the 2.x files reuse definition names, and
		// a schema's $id must not clash with another file's.
		c.s, c.err = jsonschema.NewCompiler().Compile(file)
		if c.err != nil {
			c.err = fmt.Errorf("schematest: compiling %s: %w", file, c.err)
		}
	}
	if cache.m == nil {
		cache.m = map[cacheKey]cached{}
	}
	cache.m[k] = c
	return c.s, c.err
}

func exists(file string) bool {
	_, err := os.Stat(file)
	return err == nil
}

// Check returns the official schema's verdict on payload: nil when valid,
// the validation error otherwise (or an error wrapping [ErrNoSchema]). It
// skips the test when the schema folder is absent. Use it to assert that a
// payload is invalid; use [Validate] to require a valid one.
func Check(t testing.TB, v ocppj.Version, action string, response bool, payload []byte) error {
	t.Helper()
	s, err := compile(Dir(t), v, action, response)
	if err != nil {
		return err
	}
	return Against(s, payload)
}

// Against is the verdict of a compiled schema on payload.
func Against(s *jsonschema.Schema, payload []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("schematest: payload is not JSON: %w", err)
	}
	return s.Validate(inst)
}

// Validate fails the test (without stopping it) unless payload is valid
// against the official schema of action's request (or response) in
// version v. It skips the test when the schema folder is absent.
func Validate(t testing.TB, v ocppj.Version, action string, response bool, payload []byte) {
	t.Helper()
	if err := Check(t, v, action, response, payload); err != nil {
		kind := "request"
		if response {
			kind = "response"
		}
		t.Errorf("%s %s %s is not valid against the official schema: %v\npayload: %s", v, action, kind, err, payload)
	}
}
