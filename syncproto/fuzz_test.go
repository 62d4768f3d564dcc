package syncproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

// FuzzDecode: Decode never panics; it either refuses a payload with one of
// its errors, or returns a valid message that encodes and decodes back to
// itself.
func FuzzDecode(f *testing.F) {
	for _, m := range examples() {
		topic, payload, err := Encode(site, m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(topic, payload)
	}
	f.Add("cst/v1/depot-7/up/tx", []byte(`{"v":"1.0"}`))
	f.Add("cst/v1/depot-7/up/readings", []byte(`{"v":"1.0","s":[[]]}`))
	f.Add("cst/v1/depot-7/down/auth", []byte{0, 0xff})
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		m, err := Decode(topic, payload)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnsupportedVersion) &&
				!errors.Is(err, ErrUnknownKind) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Decode(%q, %q): error of no known kind: %v", topic, payload, err)
			}
			return
		}
		s, _, _ := ParseTopic(topic)
		topic2, payload2, err := Encode(s, m)
		if err != nil {
			t.Fatalf("a decoded %T does not encode: %v", m, err)
		}
		m2, err := Decode(topic2, payload2)
		if err != nil {
			t.Fatalf("a re-encoded %T does not decode: %v\n%q", m, err, payload2)
		}
		// Compared as JSON: a round trip may turn an empty list into none.
		j1, _ := json.Marshal(m)
		j2, _ := json.Marshal(m2)
		if !bytes.Equal(j1, j2) {
			t.Fatalf("round trip changed the message:\n%s\n%s", j1, j2)
		}
	})
}

// FuzzParseTopic: a topic that parses names a valid site and a known kind
// of the topic's direction, and Topic writes it back the same.
func FuzzParseTopic(f *testing.F) {
	for k := range kinds {
		f.Add(Topic(site, k))
	}
	for _, s := range []string{"cst/v1/+/up/tx", "cst/v1//up/tx", "cst/v1/a/up/", "cst/v1/a/sideways/tx", "cst/v1/a/up/tx/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, topic string) {
		site, k, err := ParseTopic(topic)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnknownKind) {
				t.Fatalf("ParseTopic(%q): %v", topic, err)
			}
			return
		}
		if ValidateSiteID(site) != nil || strings.ContainsAny(site, "/+#") || k.Direction() == "" || Topic(site, k) != topic {
			t.Fatalf("ParseTopic(%q) = %q, %q", topic, site, k)
		}
	})
}

// genericSample reads a sample row the general way (encoding/json
// throughout), what Sample.UnmarshalJSON's direct reading must agree with.
func genericSample(data []byte) (Sample, error) {
	var row []json.RawMessage
	if err := json.Unmarshal(data, &row); err != nil || len(row) == 0 {
		return Sample{}, errors.New("not a row")
	}
	var ms int64
	if err := json.Unmarshal(row[0], &ms); err != nil {
		return Sample{}, err
	}
	values := make([]string, len(row)-1)
	for i, raw := range row[1:] {
		if err := json.Unmarshal(raw, &values[i]); err != nil {
			return Sample{}, err
		}
	}
	var s Sample
	return s, s.set(ms, values)
}

// FuzzSampleJSON: a sample row reads as encoding/json reads it (the same
// values, or an error for both), and a sample writes what encoding/json
// writes for its row.
func FuzzSampleJSON(f *testing.F) {
	for _, s := range []string{`[0,"1031","7412.5"]`, `[15000,"",""]`, `[0]`, `[]`, `null`, `[-1,"x"]`, `[1e3,"x"]`, `[1.5,"x"]`,
		`[0, "x"]`, `[0,"a\"b"]`, `[0,"é"]`, `[0,5]`, `[99999999999999999999,"x"]`, `[00,"x"]`, `[0,"<&>"]`, `[0,"\u0001"]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return // encoding/json hands UnmarshalJSON valid JSON only
		}
		var got Sample
		gotErr := got.UnmarshalJSON(data)
		want, wantErr := genericSample(data)
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("%s: error %v, encoding/json's %v", data, gotErr, wantErr)
		}
		if gotErr != nil {
			return
		}
		if got.Offset != want.Offset || !slices.Equal(got.Values, want.Values) {
			t.Fatalf("%s: read %+v, encoding/json reads %+v", data, got, want)
		}
		out, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		row := []any{got.Offset.Milliseconds()}
		for _, v := range got.Values {
			row = append(row, v)
		}
		ref, _ := json.Marshal(row)
		if !bytes.Equal(out, ref) {
			t.Fatalf("%+v writes %s, encoding/json %s", got, out, ref)
		}
	})
}

// FuzzSampleListJSON: an array of rows reads as encoding/json reads it
// into []Sample, row by row (the same rows, or an error for both), and a
// list writes what encoding/json writes for []Sample.
func FuzzSampleListJSON(f *testing.F) {
	for _, s := range []string{`[[0,"1031","7412.5"],[15000,"1062","7412.5"]]`, `[[0]]`, `[[15000,"",""]]`, `[]`, `null`, `5`,
		`[[0,"1"] ,[1,"2"]]`, `[[0,"a\"b"]]`, `[[0,"é"]]`, `[[-1,"x"]]`, `[[2678400001,"x"]]`, `[[00,"x"]]`, `[[0,"]"],[1,"],["]]`,
		`[[0,"x"],]`, `[[0,"x"]`, `[[0,"x"],5]`, `[[0,"<&>"]]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return // encoding/json hands UnmarshalJSON valid JSON only
		}
		var got SampleList
		gotErr := got.UnmarshalJSON(data)
		var want []Sample
		wantErr := json.Unmarshal(data, &want)
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("%s: error %v, encoding/json's %v", data, gotErr, wantErr)
		}
		if gotErr != nil {
			return
		}
		if (got == nil) != (want == nil) || !slices.EqualFunc(got, want, func(a, b Sample) bool {
			return a.Offset == b.Offset && slices.Equal(a.Values, b.Values)
		}) {
			t.Fatalf("%s: read %+v, encoding/json reads %+v", data, got, want)
		}
		out, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := json.Marshal(want)
		if !bytes.Equal(out, ref) {
			t.Fatalf("%+v writes %s, encoding/json %s", got, out, ref)
		}
	})
}
