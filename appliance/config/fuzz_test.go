package config

import "testing"

// FuzzDecode: any file content is decoded or refused with an error, never
// a panic, and what decodes either validates or says why not.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("data_dir = \"/srv\"\n[ocpp]\naddr = \":9000\"\ncall_timeout = \"5s\"\n"))
	f.Add([]byte("[[ocpp.chargers]]\nid = \"CP1\"\nsecurity_profile = 1\npassword_hash = \"x\"\n"))
	f.Add([]byte("[auth]\nunknown_tokens = \"allowlist\"\nallowlist = [\"04A1*\"]\n"))
	f.Add([]byte("colour = 1"))
	f.Add([]byte("[ocpp\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := Default()
		if _, err := decode(data, &cfg); err != nil {
			return
		}
		_ = cfg.Validate()
	})
}
