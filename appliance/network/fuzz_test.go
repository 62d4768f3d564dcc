package network

import (
	"encoding/json"
	"testing"
)

// FuzzDecodeSettings: any input decodes to valid settings or is refused
// with ErrInvalid, never a panic; what decodes survives a round trip.
func FuzzDecodeSettings(f *testing.F) {
	f.Add([]byte(`{"ap":{"enabled":true,"ssid":"Chargers","password":"secret-pass-1","band":"bg","channel":6}}`))
	f.Add([]byte(`{"ap":{"enabled":true,"ssid":"x","password":"12345678","address":"10.0.0.1/8"},"uplinks":{"cellular":{"enabled":true,"apn":"internet"}}}`))
	f.Add([]byte(`{"uplinks":{"wifi":{"enabled":true,"ssid":"o","interface":"wlan1","priority":99}}}`))
	f.Add([]byte(`{"ap":{"address":"::1/200"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeSettings(data)
		if err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("decoded settings do not validate: %v", err)
		}
		again, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := DecodeSettings(again)
		if err != nil || s2 != s {
			t.Fatalf("round trip: %+v, %v; want %+v", s2, err, s)
		}
	})
}

// FuzzParseAPAddress: any string parses to an IPv4 host address in a
// /8 to /30 subnet, or is refused, never a panic.
func FuzzParseAPAddress(f *testing.F) {
	for _, s := range []string{"10.42.0.1/24", "10.42.0.0/24", "192.168.1.254/30", "1.2.3.4/33", "::ffff:10.0.0.1/120", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseAPAddress(s)
		if err != nil {
			return
		}
		if !p.Addr().Is4() || p.Bits() < minPrefixBits || p.Bits() > maxPrefixBits || p.Addr() == p.Masked().Addr() {
			t.Fatalf("ParseAPAddress(%q) = %v", s, p)
		}
	})
}
