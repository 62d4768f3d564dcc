package firstboot

import (
	"slices"
	"testing"
)

// FuzzDecode checks that no input panics the decoder and that an accepted
// file, rewritten without its secrets, decodes again to the same settings.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(fullSettings))
	f.Add([]byte("ssh_authorized_keys = [\"ssh-ed25519 AAAA\"]\n"))
	f.Add([]byte("[cloud]\nsite = \"a\"\nbroker = \"tls://x:8883\"\n"))
	f.Add([]byte("[[chargers]]\nid = \"CP-1\"\npassword = \"sixteen-chars-pw\"\n[[chargers]]\nid = \"CP 2\"\n"))
	f.Add([]byte("[[chargers]]\nid = \"a:b\"\n[[chargers]]\nid = \"a:b\"\npassword = \"\\u0000\"\n"))
	f.Add([]byte("chargers = [{id = \"\\\"\"}, {id = \"#\\n\", password = \"x\"}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Decode(data)
		if err != nil {
			return
		}
		chargers := slices.Clone(s.Chargers)
		cleaned, err := cleanedSettings(s)
		if err != nil {
			t.Fatalf("accepted settings do not encode: %v", err)
		}
		again, err := Decode(cleaned)
		if err != nil {
			t.Fatalf("rewritten settings refused: %v\n%s", err, cleaned)
		}
		if again.HasSecrets() || again.SiteName != s.SiteName || again.Cloud.Site != s.Cloud.Site || len(again.SSHAuthorizedKeys) != len(s.SSHAuthorizedKeys) ||
			!slices.Equal(chargerIDs(again), chargerIDs(s)) {
			t.Fatalf("rewritten settings = %+v, want %+v without secrets", again, s)
		}
		if !slices.Equal(s.Chargers, chargers) {
			t.Fatalf("rewriting changed the settings' chargers: %+v, were %+v", s.Chargers, chargers)
		}
	})
}

func chargerIDs(s Settings) []string {
	ids := make([]string, len(s.Chargers))
	for i, c := range s.Chargers {
		ids[i] = c.ID
	}
	return ids
}
