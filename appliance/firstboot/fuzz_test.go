package firstboot

import "testing"

// FuzzDecode checks that no input panics the decoder and that an accepted
// file, rewritten without its secrets, decodes again to the same settings.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(fullSettings))
	f.Add([]byte("ssh_authorized_keys = [\"ssh-ed25519 AAAA\"]\n"))
	f.Add([]byte("[cloud]\nsite = \"a\"\nbroker = \"tls://x:8883\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Decode(data)
		if err != nil {
			return
		}
		cleaned, err := cleanedSettings(s)
		if err != nil {
			t.Fatalf("accepted settings do not encode: %v", err)
		}
		again, err := Decode(cleaned)
		if err != nil {
			t.Fatalf("rewritten settings refused: %v\n%s", err, cleaned)
		}
		if again.HasSecrets() || again.SiteName != s.SiteName || again.Cloud.Site != s.Cloud.Site || len(again.SSHAuthorizedKeys) != len(s.SSHAuthorizedKeys) {
			t.Fatalf("rewritten settings = %+v, want %+v without secrets", again, s)
		}
	})
}
