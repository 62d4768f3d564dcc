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
	})
}
