package network

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func validSettings() Settings {
	s := Settings{AP: APConfig{Enabled: true, SSID: "Chargers", Password: "secret-pass-1"}}
	s.Uplinks.Ethernet.Enabled = true
	return s.Normalize()
}

func TestNormalizeDefaults(t *testing.T) {
	s := validSettings()
	if s.AP.Interface != "wlan0" || s.AP.Address != "10.42.0.1/24" || s.AP.Security != SecurityAuto {
		t.Errorf("AP defaults = %+v", s.AP)
	}
	for i, k := range UplinkKinds {
		if got := s.Uplinks.Get(k).Priority; got != i+1 {
			t.Errorf("%s priority = %d, want %d", k, got, i+1)
		}
	}
	if s.Uplinks.Ethernet.Interface != "eth0" || s.Uplinks.WiFi.Interface != "wlan1" || s.Uplinks.Cellular.Interface != "" {
		t.Errorf("uplink interfaces = %+v", s.Uplinks)
	}
	if err := DefaultSettings().Validate(); err == nil || !strings.Contains(err.Error(), "ap.ssid") {
		t.Errorf("DefaultSettings().Validate() = %v, want ap.ssid and ap.password missing", err)
	}
}

func TestValidateNamesTheField(t *testing.T) {
	tests := []struct {
		field string
		edit  func(*Settings)
	}{
		{"ap.ssid", func(s *Settings) { s.AP.SSID = "" }},
		{"ap.ssid", func(s *Settings) { s.AP.SSID = strings.Repeat("x", 33) }},
		{"ap.password", func(s *Settings) { s.AP.Password = "short" }},
		{"ap.password", func(s *Settings) { s.AP.Password = "with\nnewline" }},
		{"ap.security", func(s *Settings) { s.AP.Security = "wep" }},
		{"ap.band", func(s *Settings) { s.AP.Band = "6g" }},
		{"ap.channel", func(s *Settings) { s.AP.Channel = 6 }},
		{"ap.channel", func(s *Settings) { s.AP.Band, s.AP.Channel = Band24GHz, 36 }},
		{"ap.channel", func(s *Settings) { s.AP.Band, s.AP.Channel = Band5GHz, 37 }},
		{"ap.interface", func(s *Settings) { s.AP.Interface = "wlan0/../x" }},
		{"ap.address", func(s *Settings) { s.AP.Address = "10.42.0.0/24" }},
		{"ap.address", func(s *Settings) { s.AP.Address = "10.42.0.255/24" }},
		{"ap.address", func(s *Settings) { s.AP.Address = "10.42.0.1/31" }},
		{"ap.address", func(s *Settings) { s.AP.Address = "fd00::1/64" }},
		{"ap.address", func(s *Settings) { s.AP.Address = "10.42.0.1" }},
		{"uplinks.ethernet.priority", func(s *Settings) { s.Uplinks.Ethernet.Priority = 100 }},
		{"uplinks.wifi.ssid", func(s *Settings) { s.Uplinks.WiFi.Enabled = true }},
		{"uplinks.wifi.interface", func(s *Settings) {
			s.Uplinks.WiFi = UplinkConfig{Enabled: true, Priority: 2, SSID: "Office", Interface: "wlan0"}
		}},
		{"uplinks.wifi.password", func(s *Settings) {
			s.Uplinks.WiFi = UplinkConfig{Enabled: true, Priority: 2, SSID: "Office", Interface: "wlan1", Password: "short"}
		}},
		{"uplinks.cellular.apn", func(s *Settings) { s.Uplinks.Cellular.Enabled = true }},
		{"uplinks.wifi.priority", func(s *Settings) {
			s.Uplinks.WiFi = UplinkConfig{Enabled: true, Priority: 1, SSID: "Office", Interface: "wlan1"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			s := validSettings()
			tt.edit(&s)
			err := s.Validate()
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.field+":") {
				t.Errorf("Validate() = %v, want ErrInvalid naming %s", err, tt.field)
			}
		})
	}
	good := []func(*Settings){
		func(*Settings) {},
		func(s *Settings) { s.AP.Band, s.AP.Channel = Band24GHz, 13 },
		func(s *Settings) { s.AP.Band, s.AP.Channel = Band5GHz, 149 },
		func(s *Settings) { s.AP.Address = "192.168.4.1/22" },
		func(s *Settings) { s.AP = APConfig{Enabled: false} },
		func(s *Settings) {
			s.Uplinks.Cellular = UplinkConfig{Enabled: true, Priority: 3, APN: "internet"}
			s.Uplinks.WiFi = UplinkConfig{Enabled: true, Priority: 2, SSID: "Office", Interface: "wlan1"}
		},
	}
	for i, edit := range good {
		s := validSettings()
		edit(&s)
		if err := s.Validate(); err != nil {
			t.Errorf("good settings %d: %v", i, err)
		}
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	s := validSettings()
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("settings", "s", s, "ap", s.AP, "pw", s.AP.Password)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s), fmt.Sprint(s.AP.Password), logs.String()} {
		if strings.Contains(out, "secret-pass-1") {
			t.Errorf("password printed: %s", out)
		}
	}
}

func TestDecodeSettings(t *testing.T) {
	s, err := DecodeSettings([]byte(`{"ap":{"enabled":true,"ssid":"Chargers","password":"secret-pass-1","band":"a","channel":36},"uplinks":{"ethernet":{"enabled":true}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if s.AP.Channel != 36 || s.AP.Address != DefaultAPAddress || s.AP.Password != "secret-pass-1" || !s.Uplinks.Ethernet.Enabled {
		t.Errorf("decoded %+v", s)
	}
	for _, bad := range []string{`{"ap":{"colour":1}}`, `{"ap":{"enabled":true}}`, `{} {}`, `[`} {
		if _, err := DecodeSettings([]byte(bad)); !errors.Is(err, ErrInvalid) {
			t.Errorf("DecodeSettings(%s) = %v, want ErrInvalid", bad, err)
		}
	}
}

// A change that names only the access point keeps the rest of base,
// the uplinks above all; DecodeChange replaces everything.
func TestDecodeOverKeepsWhatItLeavesOut(t *testing.T) {
	base := validSettings()
	base.Uplinks.WiFi = UplinkConfig{Enabled: true, SSID: "Office", Password: "office-pass-1"}
	base = base.Normalize()
	change := []byte(`{"ap":{"ssid":"Depot"}}`)
	s, err := DecodeOver(change, base, base)
	if err != nil {
		t.Fatal(err)
	}
	if s.AP.SSID != "Depot" || s.AP.Password != "secret-pass-1" || !s.AP.Enabled {
		t.Errorf("access point %+v: want the new SSID with base's password", s.AP)
	}
	if !s.Uplinks.WiFi.Enabled || s.Uplinks.WiFi.SSID != "Office" || s.Uplinks.WiFi.Password != "office-pass-1" || !s.Uplinks.Ethernet.Enabled {
		t.Errorf("uplinks %+v: want base's", s.Uplinks)
	}
	if s, err := DecodeChange(change, base); err != nil || s.Uplinks.WiFi.Enabled || s.AP.Enabled {
		t.Errorf("DecodeChange of a partial change = %+v, %v: want everything it leaves out off", s, err)
	}
}
