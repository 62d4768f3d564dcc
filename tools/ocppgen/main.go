// Command ocppgen generates the Go message types of an OCPP 2.x version
// from the Open Charge Alliance's JSON schemas (one file per request and
// response): a struct per object definition and per payload, a string type
// with constants per enumeration, the constraints as package payload struct
// tags, and the action registry (Actions, and Lookup, NewRequest,
// NewResponse, DecodeRequest, DecodeResponse over package
// appliance/ocpp/registry). go generate runs it in appliance/ocpp/v201 and
// appliance/ocpp/v21:
//
//	ocppgen -schemas DIR -pkg v201 -version V201 -out messages_gen.go
//
// The output is gofmt-formatted and depends only on the schema files (all
// lists sorted), so a test compares the checked-in files with a fresh run.
//
// The mapping:
//
//   - Each payload schema becomes a struct named after its file
//     (BootNotificationRequest); a request file without the Request suffix
//     (2.1's NotifyPeriodicEventStream, sent with SEND) still gets it, and
//     its action has no response type.
//   - Each object definition becomes a struct named by its javaType
//     (ChargingStationType → ChargingStation), each enumeration a string
//     type named by its javaType without "Enum" (BootReasonEnumType →
//     BootReason) with a Values method for package payload. The suffix
//     stays where the short name is an object's (IdTokenEnum, as IdToken is
//     the object).
//   - Definitions are shared across files by javaType when they are
//     structurally identical (descriptions and defaults aside, everything
//     they reference included). When files disagree, the variant used by
//     most files (then: by the first file in name order) keeps the name and
//     every other variant is prefixed with the first file using it
//     (AuthorizeResponseIdTokenInfo); both types' comments say so. The
//     2.0.1 and 2.1 schemas need no such split today.
//   - Properties are fields in schema order, named like the property with
//     the first letter upper case and underscores dropped (limit_L2 →
//     LimitL2). Required ones are values tagged ocpp:"required"; optional
//     numbers, booleans and objects are pointers, optional strings, enums,
//     arrays and untyped values omitempty, optional date-times omitzero.
//     maxLength, minItems, maxItems, minimum and maximum become ocpp tag
//     items (for an array, the items' bounds too).
//   - A property without a type (DataTransfer's data) is a json.RawMessage;
//     a date-time string a DateTime (payload.DateTime); an object that
//     allows additional properties (CustomDataType) gets payload's "open"
//     marker field.
//   - Enumeration constants are the type name without "Enum" and a trailing
//     "Status" (AuthorizationStatus → Authorization), then the value with
//     separators dropped (Transaction.Begin → TransactionBegin; an
//     underscore only between two digits: sCEE-7-7 → SCEE7_7). Enums whose
//     constants would collide use their full type name as the prefix.
//   - Comments are the first sentence of the schema description, without
//     the data-dictionary heading (the lines up to urn:...:uid), AsciiDoc
//     markup and \r\n; defaults are noted.
//   - Who sends each action is not in the schemas: it comes from the
//     directions table (DataTransfer is Both).
//
// Unsupported schema keywords and shapes, actions missing from the
// directions table and name collisions are errors, so a new schema version
// cannot lose a constraint silently.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	schemas := flag.String("schemas", "", "folder of the version's JSON schemas (ActionRequest.json, ActionResponse.json)")
	pkg := flag.String("pkg", "", "Go package name of the output")
	version := flag.String("version", "", "ocppj version constant: V201 or V21")
	out := flag.String("out", "", "output file (default: standard output)")
	flag.Parse()
	if err := run(*schemas, *pkg, *version, *out); err != nil {
		fmt.Fprintln(os.Stderr, "ocppgen:", err)
		os.Exit(1)
	}
}

func run(schemas, pkg, version, out string) error {
	if schemas == "" || pkg == "" || version == "" {
		return fmt.Errorf("-schemas, -pkg and -version are required")
	}
	src, err := generate(schemas, pkg, version)
	if err != nil {
		return err
	}
	if out == "" {
		_, err = os.Stdout.Write(src)
		return err
	}
	// Write next to the target and rename, so an interrupted run never
	// leaves a truncated file behind.
	tmp, err := os.CreateTemp(filepath.Dir(out), ".ocppgen-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(src); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", out, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}
