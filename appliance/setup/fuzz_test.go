package setup

import (
	"net/url"
	"reflect"
	"testing"

	"github.com/constellation-ev/constellation/appliance/firstboot"
)

// FuzzSetupForm: no form body panics the parser, and settings the form
// accepts are written as a file that decodes to exactly those settings.
func FuzzSetupForm(f *testing.F) {
	f.Add(goodForm.Encode())
	f.Add("site_name=%00&time_zone=Local&display.language=fr")
	f.Add("ssh_authorized_keys=ssh-ed25519+AAAA%0A%0Dx&cloud.site=a&cloud.broker=tls://x:1")
	f.Add(`site_name="""&access_point.ssid=\u0000&uplink.wifi.password=12345678`)
	f.Add("chargers=CP-1+cp1-basic-auth-password%0D%0A%0D%0A++CP-2%0ACP-3+a+b%0A%3Cb%3E%0ACP-2")
	f.Add("chargers=%22%5C+%23%0Aa%3Ab+sixteen-chars-pw%0A%C2%A0x%E2%80%A8y&ssh_authorized_keys=%0A")
	f.Add("chargers=%80")
	f.Fuzz(func(t *testing.T, body string) {
		v, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		s, bad := fromForm(v)
		if len(bad) > 0 {
			return // refused before the settings' rules are checked
		}
		data, invalid := check(s)
		if len(invalid) > 0 {
			if data != nil {
				t.Fatal("a file for refused settings")
			}
			return
		}
		got, err := firstboot.Decode(data)
		if err != nil {
			t.Fatalf("accepted settings do not decode: %v\n%s", err, data)
		}
		if !reflect.DeepEqual(got, s) {
			t.Fatalf("decoded %+v, sent %+v", got, s)
		}
	})
}
