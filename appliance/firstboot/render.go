package firstboot

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/constellation-ev/constellation/appliance/config"
	"github.com/constellation-ev/constellation/appliance/ocpp/security"
)

// render returns the appliance configuration: opts.Base with the
// installer's values put in, and the access point's name.
func render(opts Options, s Settings, apPassword, enrollTokenFile string, from origin) ([]byte, string, error) {
	// A generic map keeps every key of the base, including ones this
	// package does not know about.
	base := map[string]any{}
	if _, err := toml.Decode(opts.Base, &base); err != nil {
		return nil, "", fmt.Errorf("firstboot: base configuration: %w", err)
	}
	set := func(key string, v any) error {
		if err := setKey(base, key, v); err != nil {
			return fmt.Errorf("firstboot: base configuration: %w", err)
		}
		return nil
	}
	ssid := s.AccessPoint.SSID
	if ssid == "" {
		if v, ok := getKey(base, "network.ap.ssid").(string); ok && v != "" {
			ssid = v
		} else {
			suffix, err := generate(4)
			if err != nil {
				return nil, "", err
			}
			ssid = "Constellation-" + strings.ToUpper(suffix)
		}
	}
	values := []struct {
		key string
		v   any
	}{
		{"data_dir", opts.DataDir},
		{"network.driver", config.NetworkManager},
		{"network.ap.ssid", ssid},
		{"network.ap.password", apPassword},
		// Setup mode only with the defaults: settings from the installer,
		// the boot partition's or the setup page's, end it.
		{"setup.enabled", from.defaults},
	}
	add := func(key string, v any) {
		values = append(values, struct {
			key string
			v   any
		}{key, v})
	}
	if s.SiteName != "" {
		add("station.site_name", s.SiteName)
	}
	if s.Display.Language != "" {
		add("screen.language", s.Display.Language)
	}
	if w := s.Uplink.WiFi; w != (WiFi{}) {
		add("network.uplinks.wifi.enabled", true)
		add("network.uplinks.wifi.ssid", w.SSID)
		add("network.uplinks.wifi.password", w.Password)
	}
	if len(s.Chargers) > 0 {
		chargers, err := mergeChargers(getKey(base, "ocpp.chargers"), s.Chargers)
		if err != nil {
			return nil, "", err
		}
		add("ocpp.chargers", chargers)
	}
	if s.SyncEnabled() {
		add("sync.enabled", true)
		add("sync.broker", s.Cloud.Broker)
		add("sync.site", s.Cloud.Site)
		add("sync.password_file", filepath.Join(opts.DataDir, MQTTPasswordName))
		if s.Cloud.URL != "" {
			add("sync.enroll_url", s.Cloud.URL)
		}
		if enrollTokenFile != "" {
			add("sync.enroll_token_file", enrollTokenFile)
		}
	}
	for _, kv := range values {
		if err := set(kv.key, kv.v); err != nil {
			return nil, "", err
		}
	}
	var buf bytes.Buffer
	switch {
	case from.defaults:
		buf.WriteString("# Written by constellation-appliance first-boot from the image's defaults: there was\n" +
			"# no settings file, and the appliance awaits its settings from the setup page.\n")
	case from.setupDigest != "":
		buf.WriteString("# Written by constellation-appliance first-boot from the image's defaults and the\n" +
			"# installer's settings from the setup page.\n")
	default:
		buf.WriteString("# Written by constellation-appliance first-boot from the image's defaults and the\n" +
			"# installer's constellation.toml.\n")
	}
	buf.WriteString("# Keys: docs/configuration.md. Holds the Wi-Fi passwords: keep it\n" +
		"# root:constellation, mode 0640.\n")
	if from.setupDigest != "" {
		buf.WriteString(setupAppliedMarker + from.setupDigest + "\n")
	}
	buf.WriteString("\n")
	if err := toml.NewEncoder(&buf).Encode(base); err != nil {
		return nil, "", fmt.Errorf("firstboot: encode configuration: %w", err)
	}
	return buf.Bytes(), ssid, nil
}

// mergeChargers returns the configuration's [[ocpp.chargers]]: the
// base's (decoded TOML, nil for none) but those the settings list again,
// which they replace, then the settings' chargers, with their passwords
// hashed.
func mergeChargers(base any, chargers []Charger) ([]map[string]any, error) {
	tables, err := tableArray(base)
	if err != nil {
		return nil, fmt.Errorf("firstboot: base configuration: ocpp.chargers: %w", err)
	}
	listed := map[string]bool{}
	for _, c := range chargers {
		listed[c.ID] = true
	}
	out := make([]map[string]any, 0, len(tables)+len(chargers))
	for _, t := range tables {
		if id, _ := t["id"].(string); !listed[id] {
			out = append(out, t)
		}
	}
	for i, c := range chargers {
		t := map[string]any{"id": c.ID, "security_profile": c.profile()}
		if c.Password != "" {
			hash, err := security.HashPassword(c.Password)
			if err != nil {
				return nil, fmt.Errorf("firstboot: chargers[%d].password: %w", i, err)
			}
			t["password_hash"] = hash
		}
		out = append(out, t)
	}
	return out, nil
}

// tableArray returns a decoded TOML array of tables, written as
// [[tables]] or as an array of inline tables; nil is none.
func tableArray(v any) ([]map[string]any, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case []map[string]any:
		return v, nil
	case []any:
		out := make([]map[string]any, len(v))
		for i, e := range v {
			t, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("element %d is not a table", i)
			}
			out[i] = t
		}
		return out, nil
	}
	return nil, errors.New("not an array of tables")
}

// setKey sets a dotted key in a decoded TOML document, making the tables
// on its way.
func setKey(doc map[string]any, key string, v any) error {
	parts := strings.Split(key, ".")
	for i, p := range parts[:len(parts)-1] {
		next, ok := doc[p]
		if !ok {
			next = map[string]any{}
			doc[p] = next
		}
		table, ok := next.(map[string]any)
		if !ok {
			return fmt.Errorf("%s is not a table", strings.Join(parts[:i+1], "."))
		}
		doc = table
	}
	doc[parts[len(parts)-1]] = v
	return nil
}

// getKey returns a dotted key's value in a decoded TOML document, or nil.
func getKey(doc map[string]any, key string) any {
	var v any = doc
	for _, p := range strings.Split(key, ".") {
		table, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = table[p]
	}
	return v
}
