package setup

import (
	"bytes"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/BurntSushi/toml"

	"github.com/constellation-ev/constellation/appliance/firstboot"
)

// field is one of the settings file's keys on the form, bound to its
// place in firstboot.Settings. The form's input names are the keys.
type field struct {
	key string
	// secret fields are never written back into the page.
	secret bool
	get    func(*firstboot.Settings) *string
}

// fields are the settings file's string keys; keysField is its list of
// SSH keys (a textarea, one key a line).
var fields = []field{
	{key: "site_name", get: func(s *firstboot.Settings) *string { return &s.SiteName }},
	{key: "time_zone", get: func(s *firstboot.Settings) *string { return &s.TimeZone }},
	{key: "cloud.url", get: func(s *firstboot.Settings) *string { return &s.Cloud.URL }},
	{key: "cloud.broker", get: func(s *firstboot.Settings) *string { return &s.Cloud.Broker }},
	{key: "cloud.site", get: func(s *firstboot.Settings) *string { return &s.Cloud.Site }},
	{key: "cloud.enrollment_token", secret: true, get: func(s *firstboot.Settings) *string { return &s.Cloud.EnrollmentToken }},
	{key: "uplink.wifi.ssid", get: func(s *firstboot.Settings) *string { return &s.Uplink.WiFi.SSID }},
	{key: "uplink.wifi.password", secret: true, get: func(s *firstboot.Settings) *string { return &s.Uplink.WiFi.Password }},
	{key: "access_point.ssid", get: func(s *firstboot.Settings) *string { return &s.AccessPoint.SSID }},
	{key: "access_point.password", secret: true, get: func(s *firstboot.Settings) *string { return &s.AccessPoint.Password }},
	{key: "display.language", get: func(s *firstboot.Settings) *string { return &s.Display.Language }},
}

const keysField = "ssh_authorized_keys"

// chargersField is the settings file's chargers: a textarea, one charger
// a line, "ID" or "ID PASSWORD".
const chargersField = "chargers"

// listNouns name one element of the lists the form edits as textareas,
// for their errors ("key 2: ...", "charger 3's id: ...").
var listNouns = map[string]string{keysField: "key", chargersField: "charger"}

// problems are the form's errors by field key; "" holds those of no field.
type problems map[string][]string

func (p problems) add(key, msg string) { p[key] = append(p[key], msg) }

// fromForm reads the settings from the form's values: text fields are
// trimmed (secrets are taken as typed), the SSH keys are the textarea's
// non-empty lines, and so are the chargers, each line's first word the
// id and the rest, if any, the password. It refuses only what TOML cannot
// carry (invalid UTF-8); every rule of the settings is checked by check.
func fromForm(v url.Values) (firstboot.Settings, problems) {
	var s firstboot.Settings
	bad := problems{}
	for _, f := range fields {
		val := v.Get(f.key)
		if !f.secret {
			val = strings.TrimSpace(val)
		}
		if !utf8.ValidString(val) {
			bad.add(f.key, "is not valid UTF-8")
			continue
		}
		*f.get(&s) = val
	}
	keys := v.Get(keysField)
	if !utf8.ValidString(keys) {
		bad.add(keysField, "is not valid UTF-8")
	} else {
		for line := range strings.Lines(keys) {
			if line = strings.TrimSpace(line); line != "" {
				s.SSHAuthorizedKeys = append(s.SSHAuthorizedKeys, line)
			}
		}
	}
	chargers := v.Get(chargersField)
	if !utf8.ValidString(chargers) {
		bad.add(chargersField, "is not valid UTF-8")
	} else {
		for line := range strings.Lines(chargers) {
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			// More than two words keep their place, the rest as the
			// password: the settings' rules refuse a password with a
			// space, and the errors keep the chargers' numbering.
			s.Chargers = append(s.Chargers, firstboot.Charger{ID: f[0], Password: strings.Join(f[1:], " ")})
		}
	}
	return s, bad
}

// header starts the setup file.
const header = "# The installer's settings from the setup page (docs/install.md), for\n" +
	"# constellation-setup.service to apply; it removes this file once applied.\n\n"

// check encodes s as the settings file and checks it with
// firstboot.Decode, the settings file's own rules: the file to write, or
// its problems by field.
func check(s firstboot.Settings) ([]byte, problems) {
	var buf bytes.Buffer
	buf.WriteString(header)
	if err := toml.NewEncoder(&buf).Encode(s); err != nil {
		return nil, problems{"": {fmt.Sprintf("the settings do not encode: %v", err)}}
	}
	if _, err := firstboot.Decode(buf.Bytes()); err != nil {
		return nil, byField(err)
	}
	return buf.Bytes(), nil
}

// byField sorts the settings' errors (one "key: message" a line) by the
// form's field; an element of a list (an SSH key, a charger) is named by
// its line among the textarea's non-empty lines.
func byField(err error) problems {
	p := problems{}
	for line := range strings.Lines(err.Error()) {
		line = strings.TrimRight(line, "\n")
		key, msg, ok := strings.Cut(line, ": ")
		if !ok {
			p.add("", line)
			continue
		}
		if base, index, ok := strings.Cut(key, "["); ok && listNouns[base] != "" {
			// index is "2]" or "2].id".
			i, sub, _ := strings.Cut(index, "]")
			if n, err := strconv.Atoi(i); err == nil {
				what := fmt.Sprintf("%s %d", listNouns[base], n+1)
				if sub = strings.TrimPrefix(sub, "."); sub != "" {
					what += "'s " + sub
				}
				msg = what + ": " + msg
			}
			key = base
		}
		if !known(key) {
			p.add("", line)
			continue
		}
		p.add(key, msg)
	}
	return p
}

func known(key string) bool {
	if listNouns[key] != "" {
		return true
	}
	for _, f := range fields {
		if f.key == key {
			return true
		}
	}
	return false
}

// values are the form's fields to show again: the non-secret ones.
func values(s firstboot.Settings) map[string]string {
	out := map[string]string{}
	for _, f := range fields {
		if !f.secret {
			out[f.key] = *f.get(&s)
		}
	}
	out[keysField] = strings.Join(s.SSHAuthorizedKeys, "\n")
	var ids []string
	for _, c := range s.Chargers {
		// A charger's line goes with its password: shown without it, and
		// sent again, it would admit that charger without one.
		if c.Password == "" {
			ids = append(ids, c.ID)
		}
	}
	out[chargersField] = strings.Join(ids, "\n")
	return out
}

// withheld says which of the chargers sent values leaves out of the form
// (those with a password), to be entered again; "" if none.
func withheld(s firstboot.Settings) string {
	ids := s.ChargersWithPasswords()
	if len(ids) == 0 {
		return ""
	}
	for i, id := range ids {
		ids[i] = strconv.Quote(id)
	}
	return fmt.Sprintf("the lines with a password (%s) are not shown again: enter them again", strings.Join(ids, ", "))
}
