package api

import (
	"testing"

	"github.com/constellation-ev/constellation/cloud/auth"
	"github.com/constellation-ev/constellation/cloud/fleet"
)

// Every request decoder refuses bad bodies with an error, never a panic.
func FuzzDecoders(f *testing.F) {
	for _, s := range []string{`{"site":"a","token":"t"}`, `{"site":"a","token":"t","password":"0123456789abcdef0123456789abcdef"}`, `{"id":"a","name":"n"}`, `{"ttl":"1h"}`, `{"settings":{"a":"b"}}`,
		`{"entries":[{"id":"A","status":"Accepted"}]}`, `{"put":[],"remove":["A"]}`,
		`{"charger":"CP1","command":"reset","args":{"type":"Soft"},"timeout":"5m"}`, `{"name":"olga","displayName":"Olga","role":"operator","password":"a long password"}`,
		`{"role":"viewer","disabled":true}`, `{"oldPassword":"old password!","password":"new password!"}`,
		`{"name":"script","role":"viewer","ttl":"24h"}`, `{"name":"s","expires":"2026-12-01T00:00:00Z"}`, `{"x":1}`, `{} {}`, `[`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = decode[enrollRequest](data)
		_, _ = decode[createSiteRequest](data)
		_, _ = decode[tokenRequest](data)
		_, _ = decode[desiredRequest](data)
		if r, err := decode[authListRequest](data); err == nil {
			_ = checkEntries("a", r.Entries, nil)
		}
		if r, err := decode[authChangeRequest](data); err == nil {
			_ = checkEntries("a", r.Put, r.Remove)
		}
		_, _ = decode[commandRequest](data)
		if r, err := decode[createUserRequest](data); err == nil {
			_ = fleet.ValidateUserName(r.Name)
			_, _ = auth.ParseRole(r.Role)
		}
		_, _ = decode[patchUserRequest](data)
		if r, err := decode[passwordRequest](data); err == nil {
			_ = auth.CheckPassword(r.Password)
		}
		_, _ = decode[apiTokenRequest](data)
		_, _ = decode[idTokenRequest](data)
		_, _ = decode[patchIDTokenRequest](data)
		_, _ = decode[patchSiteRequest](data)
	})
}

// The id tokens' CSV import refuses a bad file with an error naming the
// line, never a panic, and what it takes has a line each.
func FuzzIDTokensCSV(f *testing.F) {
	for _, s := range []string{
		"id_tag,status,expiry,owner,note,parent,sites\nCARD-1,Accepted,,Ada,,,*\nCARD-2,Blocked,2027-01-01T00:00:00Z,,note,,a;b\n",
		"\ufeffsites,id_tag\n*,X\n", "id_tag\n'=cmd\n", "id_tag,status\nA,Maybe\n", "id_tag,id_tag\nA,B\n", "\"unterminated\n", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tokens, lines, err := parseIDTokensCSV(data)
		if err == nil && len(tokens) != len(lines) {
			t.Fatalf("%d tokens, %d lines", len(tokens), len(lines))
		}
	})
}
