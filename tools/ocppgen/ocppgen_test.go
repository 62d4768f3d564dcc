package main

import (
	"bytes"
	"errors"
	"fmt"
	"go/format"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// schemaRoot finds ../shared/ocpp-schemas next to the repository root, or
// skips the test. (appliance/internal/schematest.Dir does the same, but Go
// does not let a package outside appliance/ import it.)
func schemaRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			s := filepath.Join(dir, "..", "shared", "ocpp-schemas")
			if _, err := os.Stat(s); err != nil {
				t.Skipf("OCPP schemas not found at ../shared/ocpp-schemas relative to the repository root (%v); skipping", err)
			}
			return s
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// TestGeneratedFilesUpToDate: the checked-in messages_gen.go files are
// what the generator produces from the schemas now.
func TestGeneratedFilesUpToDate(t *testing.T) {
	root := schemaRoot(t)
	for _, tc := range []struct{ folder, pkg, version string }{
		{"2.0.1", "v201", "V201"},
		{"2.1", "v21", "V21"},
	} {
		t.Run(tc.pkg, func(t *testing.T) {
			want, err := generate(filepath.Join(root, tc.folder), tc.pkg, tc.version)
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join("..", "..", "appliance", "ocpp", tc.pkg, "messages_gen.go")
			got, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s is stale (first difference: %s); run go generate ./appliance/ocpp/%s", file, firstDiff(got, want), tc.pkg)
			}
			again, err := generate(filepath.Join(root, tc.folder), tc.pkg, tc.version)
			if err != nil || !bytes.Equal(again, want) {
				t.Errorf("two runs differ: %v", err)
			}
		})
	}
}

func firstDiff(a, b []byte) string {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return fmt.Sprintf("line %d: %q, want %q", i+1, la[i], lb[i])
		}
	}
	return fmt.Sprintf("%d lines, want %d", len(la), len(lb))
}

// schemaDoc builds a payload schema file.
func schemaDoc(definitions, properties, required string) string {
	return `{"$schema":"http://json-schema.org/draft-06/schema#","comment":"test","definitions":{` + definitions +
		`},"type":"object","additionalProperties":false,"properties":{` + properties + `},"required":[` + required + `]}`
}

const customData = `"CustomDataType":{"javaType":"CustomData","type":"object","properties":{"vendorId":{"type":"string","maxLength":255}},"required":["vendorId"]}`

// writeDir writes the files into a new folder.
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func gen(t *testing.T, files map[string]string) string {
	t.Helper()
	out, err := generate(writeDir(t, files), "test", "V201")
	if err != nil {
		t.Fatal(err)
	}
	if formatted, err := format.Source(out); err != nil || !bytes.Equal(formatted, out) {
		t.Fatalf("output is not gofmt-formatted: %v", err)
	}
	return string(out)
}

// wantIn checks that src contains each want, ignoring alignment and
// comment line breaks.
func wantIn(t *testing.T, src string, wants ...string) {
	t.Helper()
	norm := func(s string) string {
		s = regexp.MustCompile(`[ \t]+`).ReplaceAllString(s, " ")
		return strings.ReplaceAll(strings.ReplaceAll(s, "\n // ", " "), "\n// ", " ")
	}
	src = norm(src)
	for _, w := range wants {
		if !strings.Contains(src, norm(w)) {
			t.Errorf("output lacks %q", w)
		}
	}
}

func TestFieldMapping(t *testing.T) {
	defs := customData + `,
	"ModeEnumType":{"javaType":"ModeEnum","type":"string","additionalProperties":false,"enum":["Fast","Slow.Down"],"default":"Fast"},
	"ThingType":{"description":"Thing_ X\r\nurn:x-oca:ocpp:uid:2:1\r\nA thing. More text.\r\n","javaType":"Thing","type":"object","additionalProperties":false,
	  "properties":{"id":{"type":"integer","minimum":0.0,"maximum":3}},"required":["id"]}`
	props := `"customData":{"$ref":"#/definitions/CustomDataType"},
	"name":{"description":"The *name* of the &lt;&lt;thing,Thing&gt;&gt;.\r\n","type":"string","maxLength":20},
	"count":{"type":"integer","minimum":1},
	"ratio":{"type":"number","maximum":0.0},
	"flag":{"type":"boolean","default":false},
	"when":{"type":"string","format":"date-time"},
	"at":{"type":"string","format":"date-time"},
	"data":{"description":"Anything."},
	"mode":{"$ref":"#/definitions/ModeEnumType"},
	"thing":{"$ref":"#/definitions/ThingType"},
	"things":{"type":"array","additionalItems":false,"items":{"$ref":"#/definitions/ThingType"},"minItems":1,"maxItems":4},
	"ids":{"type":"array","additionalItems":false,"items":{"type":"integer","minimum":0},"minItems":1},
	"tags":{"type":"array","additionalItems":false,"items":{"type":"string","maxLength":8},"minItems":1},
	"limit_L2":{"type":"number"},
	"must":{"$ref":"#/definitions/ThingType"}`
	src := gen(t, map[string]string{
		"HeartbeatRequest.json":  schemaDoc(defs, props, `"at","must","mode"`),
		"HeartbeatResponse.json": schemaDoc(customData, `"customData":{"$ref":"#/definitions/CustomDataType"}`, ``),
	})
	wantIn(t, src,
		"// Code generated by ocppgen from the OCPP 2.0.1 schemas; DO NOT EDIT.\n\npackage test\n",
		"_        struct{} `ocpp:\"open\"`",
		"VendorId string   `json:\"vendorId\" ocpp:\"required,maxLength=255\"`",
		"CustomData *CustomData `json:\"customData,omitempty\"`",
		"The name of the Thing.\n\tName string `json:\"name,omitempty\" ocpp:\"maxLength=20\"`",
		"Count *int `json:\"count,omitempty\" ocpp:\"minimum=1\"`",
		"Ratio *float64 `json:\"ratio,omitempty\" ocpp:\"maximum=0\"`",
		"Default: false.\n\tFlag *bool `json:\"flag,omitempty\"`",
		"When DateTime `json:\"when,omitzero\"`",
		"At DateTime `json:\"at\" ocpp:\"required\"`",
		"Anything.\n\tData json.RawMessage `json:\"data,omitempty\"`",
		"Mode Mode `json:\"mode\" ocpp:\"required\"`",
		"Thing *Thing `json:\"thing,omitempty\"`",
		"Things []Thing `json:\"things,omitempty\" ocpp:\"minItems=1,maxItems=4\"`",
		"Ids []int `json:\"ids,omitempty\" ocpp:\"minItems=1,minimum=0\"`",
		"Tags []string `json:\"tags,omitempty\" ocpp:\"minItems=1,maxLength=8\"`",
		"LimitL2 *float64 `json:\"limit_L2,omitempty\"`",
		"Must Thing `json:\"must\" ocpp:\"required\"`",
		"Id int `json:\"id\" ocpp:\"required,minimum=0,maximum=3\"`",
		"Thing is the schemas' ThingType. A thing.\ntype Thing struct {",
		"Mode is the schemas' ModeEnumType.\n//\n// The default is Fast.\ntype Mode string",
		"ModeFast     Mode = \"Fast\"",
		"ModeSlowDown Mode = \"Slow.Down\"",
		"func (Mode) Values() []string {",
		"action[HeartbeatRequest, HeartbeatResponse](\"Heartbeat\", ChargerToCSMS),",
		"payload.Options{Version: ocppj.V201, Lenient: lenient}",
	)
	if strings.Contains(src, "urn:") || strings.Contains(src, "More text") {
		t.Error("the description was not cleaned to its first sentence")
	}
}

// TestDeduplication: a javaType defined identically by several files is
// one type; descriptions do not count. Files that disagree get one type
// per variant, named deterministically and documented.
func TestDeduplication(t *testing.T) {
	thing := func(desc, props string) string {
		return `"ThingType":{"description":"` + desc + `","javaType":"Thing","type":"object","additionalProperties":false,"properties":{` + props + `}}`
	}
	files := map[string]string{
		"AuthorizeRequest.json":         schemaDoc(thing("One.", `"a":{"type":"string"}`), `"t":{"$ref":"#/definitions/ThingType"}`, ``),
		"AuthorizeResponse.json":        schemaDoc(thing("Two.", `"a":{"type":"string","description":"x"}`), `"t":{"$ref":"#/definitions/ThingType"}`, ``),
		"BootNotificationRequest.json":  schemaDoc(thing("", `"a":{"type":"integer"}`), `"t":{"$ref":"#/definitions/ThingType"}`, ``),
		"BootNotificationResponse.json": schemaDoc(``, ``, ``),
	}
	src := gen(t, files)
	if strings.Count(src, "\ntype Thing struct") != 1 || strings.Count(src, "\ntype BootNotificationRequestThing struct") != 1 {
		t.Fatalf("want Thing and BootNotificationRequestThing:\n%s", src)
	}
	wantIn(t, src,
		"The schemas define ThingType in 2 different ways (see also BootNotificationRequestThing); this one is used by AuthorizeRequest.json, AuthorizeResponse.json.",
		"this one is used by BootNotificationRequest.json.",
		"T *BootNotificationRequestThing `json:\"t,omitempty\"`",
		"Thing is the schemas' ThingType. One.",
	)
	// The same disagreement one level down makes the referring types differ too.
	inner := func(typ string) string {
		return `"OuterType":{"javaType":"Outer","type":"object","additionalProperties":false,"properties":{"in":{"$ref":"#/definitions/InnerType"}}},
		"InnerType":{"javaType":"Inner","type":"object","additionalProperties":false,"properties":{"v":{"type":"` + typ + `"}}}`
	}
	src = gen(t, map[string]string{
		"AuthorizeRequest.json":  schemaDoc(inner("string"), `"o":{"$ref":"#/definitions/OuterType"}`, ``),
		"AuthorizeResponse.json": schemaDoc(inner("boolean"), `"o":{"$ref":"#/definitions/OuterType"}`, ``),
	})
	wantIn(t, src, "type AuthorizeResponseOuter struct", "In *AuthorizeResponseInner", "type Outer struct", "In *Inner ")
}

func TestEnumNaming(t *testing.T) {
	defs := `"IdTokenType":{"javaType":"IdToken","type":"object","additionalProperties":false,"properties":{"type":{"$ref":"#/definitions/IdTokenEnumType"}}},
	"IdTokenEnumType":{"javaType":"IdTokenEnum","type":"string","additionalProperties":false,"enum":["Central","ISO14443"]},
	"ConnectorStatusEnumType":{"javaType":"ConnectorStatusEnum","type":"string","additionalProperties":false,"enum":["Available","s309-1P-16A","AC_single_phase"]},
	"ConnectorEnumType":{"javaType":"ConnectorEnum","type":"string","additionalProperties":false,"enum":["Available","cType2"]}`
	src := gen(t, map[string]string{
		"AuthorizeRequest.json": schemaDoc(defs, `"a":{"$ref":"#/definitions/IdTokenType"},"b":{"$ref":"#/definitions/ConnectorStatusEnumType"},"c":{"$ref":"#/definitions/ConnectorEnumType"}`, ``),
	})
	wantIn(t, src,
		"type IdTokenEnum string", "IdTokenCentral  IdTokenEnum = \"Central\"", "Type IdTokenEnum `json:\"type,omitempty\"`",
		// Connector and ConnectorStatus both want ConnectorAvailable: both use their full names.
		"ConnectorStatusAvailable      ConnectorStatus = \"Available\"",
		"ConnectorStatusS309_1P16A     ConnectorStatus = \"s309-1P-16A\"",
		"ConnectorStatusACSinglePhase  ConnectorStatus = \"AC_single_phase\"",
		"ConnectorAvailable Connector = \"Available\"",
		"ConnectorCType2    Connector = \"cType2\"",
	)
}

func TestSendMessage(t *testing.T) {
	src := gen(t, map[string]string{
		"NotifyPeriodicEventStream.json": schemaDoc(``, `"id":{"type":"integer"}`, `"id"`),
		"HeartbeatRequest.json":          schemaDoc(``, ``, ``),
		"HeartbeatResponse.json":         schemaDoc(``, ``, ``),
	})
	wantIn(t, src,
		"type NotifyPeriodicEventStreamRequest struct",
		"(NotifyPeriodicEventStream.json, sent with SEND: it has no\n// response).",
		`{Name: "NotifyPeriodicEventStream", Direction: ChargerToCSMS, Request: reflect.TypeFor[NotifyPeriodicEventStreamRequest]()}, // SEND: no response`,
	)
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"unknown keyword", map[string]string{"HeartbeatRequest.json": schemaDoc(``, `"a":{"type":"string","pattern":"^x$"}`, ``)}, "HeartbeatRequest/properties/a/pattern: unsupported keyword"},
		{"unknown format", map[string]string{"HeartbeatRequest.json": schemaDoc(``, `"a":{"type":"string","format":"uri"}`, ``)}, `unsupported format "uri"`},
		{"unknown action", map[string]string{"FrobnicateRequest.json": schemaDoc(``, ``, ``)}, "action Frobnicate: who sends it is unknown"},
		{"response only", map[string]string{"HeartbeatResponse.json": schemaDoc(``, ``, ``)}, "Heartbeat has a response schema but no request schema"},
		{"bad ref", map[string]string{"HeartbeatRequest.json": schemaDoc(``, `"a":{"$ref":"#/definitions/Nope"}`, ``)}, "no such definition"},
		{"undefined required", map[string]string{"HeartbeatRequest.json": schemaDoc(``, ``, `"a"`)}, `required property "a" is not defined`},
		{"inline object", map[string]string{"HeartbeatRequest.json": schemaDoc(``, `"a":{"type":"object","properties":{}}`, ``)}, "inline object schemas are not supported"},
		{"array of arrays", map[string]string{"HeartbeatRequest.json": schemaDoc(``, `"a":{"type":"array","items":{"type":"array","items":{"type":"string"}}}`, ``)}, "arrays of arrays are not supported"},
		{"inline enum", map[string]string{"HeartbeatRequest.json": schemaDoc(``, `"a":{"type":"string","enum":["x"]}`, ``)}, "an enumeration must be a definition"},
		{"field clash", map[string]string{"HeartbeatRequest.json": schemaDoc(``, `"limitL2":{"type":"string"},"limit_L2":{"type":"string"}`, ``)}, "are both field LimitL2"},
		{"recursion", map[string]string{"HeartbeatRequest.json": schemaDoc(`"AType":{"javaType":"A","type":"object","properties":{"a":{"$ref":"#/definitions/AType"}}}`, `"a":{"$ref":"#/definitions/AType"}`, ``)}, "recursive definitions are not supported"},
		{"value clash", map[string]string{"HeartbeatRequest.json": schemaDoc(`"XEnumType":{"javaType":"XEnum","type":"string","enum":["a-b","a.b"]}`, `"a":{"$ref":"#/definitions/XEnumType"}`, ``)}, `values "a-b" and "a.b" are both XAB`},
		{"type clash", map[string]string{"HeartbeatRequest.json": schemaDoc(`"HeartbeatRequestType":{"javaType":"HeartbeatRequest","type":"object","properties":{}}`, ``, ``)}, "collides with a payload type"},
		{"kind clash", map[string]string{
			"AuthorizeRequest.json":  schemaDoc(`"XType":{"javaType":"X","type":"string","enum":["a"]}`, `"x":{"$ref":"#/definitions/XType"}`, ``),
			"AuthorizeResponse.json": schemaDoc(`"XType":{"javaType":"X","type":"object","properties":{}}`, `"x":{"$ref":"#/definitions/XType"}`, ``),
		}, "javaType X is an enumeration in one of"},
		{"not JSON", map[string]string{"HeartbeatRequest.json": `{"type":`}, "HeartbeatRequest"},
		{"empty folder", map[string]string{}, "no *.json schemas"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := generate(writeDir(t, tc.files), "test", "V201")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if _, err := generate(t.TempDir(), "test", "V16"); err == nil {
		t.Error("V16 accepted")
	}
}

func TestRun(t *testing.T) {
	dir := writeDir(t, map[string]string{"HeartbeatRequest.json": schemaDoc(``, ``, ``), "HeartbeatResponse.json": schemaDoc(``, ``, ``)})
	out := filepath.Join(t.TempDir(), "out.go")
	if err := run(dir, "test", "V21", out); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(out)
	if err != nil || !strings.Contains(string(src), "OCPP 2.1 schemas") {
		t.Fatalf("%s %v", src, err)
	}
	if err := run("", "test", "V21", out); err == nil {
		t.Error("missing -schemas accepted")
	}
	if err := run(filepath.Join(dir, "nope"), "test", "V21", out); err == nil {
		t.Error("missing folder accepted")
	}
	if err := run(dir, "test", "V21", filepath.Join(t.TempDir(), "no", "such", "dir", "x.go")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unwritable output: %v", err)
	}
}

func TestCleanDoc(t *testing.T) {
	tests := map[string]string{
		"": "",
		"Charge_ Point\r\nurn:x-oca:ocpp:uid:2:233122\r\nThe physical system where an EV can be charged.\r\n": "The physical system where an EV can be charged.",
		"Charging_ Limit\r\nurn:x-enexis:ecdm:uid:2:234489\r\n":                                               "",
		"*(2.1)* True when the EVSE sleeps. Default value (when absent) is false.\r\n\r\n":                    "True when the EVSE sleeps.",
		"The id of the &lt;&lt;getdisplaymessagesrequest,GetDisplayMessagesRequest&gt;&gt; that asked.":       "The id of the GetDisplayMessagesRequest that asked.",
		"Id of control setting to clear. When omitted all settings for _controlType_ are cleared.":            "Id of control setting to clear.",
		"Settings for _controlType_ and *this* are cleared":                                                   "Settings for controlType and this are cleared.",
		"Values: e.g. 1.5 or 2. More.":                            "Values: e.g. 1.5 or 2.",
		"used as follows: +\r\n1: The first. +\r\n2: The second.": "Used as follows: 1: The first.",
		"Keep Serial_ Number as it is":                            "Keep Serial_ Number as it is.",
	}
	for in, want := range tests {
		if got := cleanDoc(in); got != want {
			t.Errorf("cleanDoc(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNames(t *testing.T) {
	for in, want := range map[string]string{"idToken": "IdToken", "limit_L2": "LimitL2", "soC": "SoC", "a_1_2": "A1_2"} {
		if got := fieldName(in); got != want {
			t.Errorf("fieldName(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"Transaction.Begin": "TransactionBegin", "L1-N": "L1N", "s309-1P-16A": "S309_1P16A", "sCEE-7-7": "SCEE7_7", "AC_single_phase": "ACSinglePhase", "kWh": "KWh"} {
		if got := valueName(in); got != want {
			t.Errorf("valueName(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"AuthorizationStatus": "Authorization", "CertificateStatusEnum": "Certificate", "Status": "Status", "Measurand": "Measurand"} {
		if got := shortPrefix(in); got != want {
			t.Errorf("shortPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}
