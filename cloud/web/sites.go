package web

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/constellation-ev/constellation/cloud/fleet"
)

// sitePage is the site page: health, network, chargers live, recent
// sessions.
type sitePage struct {
	Site     fleet.Site
	Network  *fleet.NetworkReport
	Chargers []chargerRow
	Sessions []fleet.Session
	// Enrollment is a token just issued (shown once).
	Enrollment *enrollment
}

func (p sitePage) title() string { return "Site " + cmp.Or(p.Site.Name, p.Site.ID) }

// chargerRow is a charger on its site's page: its connectors with their
// power, and the power it draws now.
type chargerRow struct {
	fleet.LiveCharger
	Connectors []connectorView
	PowerW     int64
}

type enrollment struct {
	Token   string
	Expires time.Time
}

func (d *Dashboard) loadSite(r *http.Request, v *visitor) (any, error) {
	var detail fleet.SiteDetail
	if err := d.call(r, v, http.MethodGet, apiSite(r.PathValue("site"))+"/live", nil, nil, &detail); err != nil {
		return nil, err
	}
	p := sitePage{Site: detail.Site, Network: detail.Network, Sessions: detail.Sessions}
	for _, c := range detail.Chargers {
		row := chargerRow{LiveCharger: c, Connectors: connectorViews(c)}
		for _, con := range row.Connectors {
			if con.Power != nil {
				row.PowerW += con.Power.PowerW
			}
		}
		p.Chargers = append(p.Chargers, row)
	}
	return p, nil
}

// createSite registers a site (admin).
func (d *Dashboard) createSite(r *http.Request, v *visitor) (string, string, error) {
	id := strings.TrimSpace(r.PostFormValue("id"))
	req := map[string]string{"id": id, "name": strings.TrimSpace(r.PostFormValue("name"))}
	if err := d.call(r, v, http.MethodPost, "/api/v1/sites", nil, req, nil); err != nil {
		return "", "", err
	}
	return sitePath(id), "Site " + id + " created: issue an enrollment token for its appliance.", nil
}

// issueEnrollment issues an enrollment token and shows it once, on the
// site page itself (never in a redirect or a cookie).
func (d *Dashboard) issueEnrollment(w http.ResponseWriter, r *http.Request, v *visitor) {
	site := r.PathValue("site")
	type answer struct {
		Token   string    `json:"token"`
		Expires time.Time `json:"expires"`
	}
	showOnce(d, w, r, v, "site", sitePath(site), d.loadSite,
		func(a *answer) error {
			return d.call(r, v, http.MethodPost, apiSite(site)+"/tokens", nil, map[string]string{}, a)
		},
		func(page any, a answer) any {
			p := page.(sitePage)
			p.Enrollment = &enrollment{Token: a.Token, Expires: a.Expires}
			return p
		})
}

// configPage is the desired-state editor: the desired settings beside
// what the appliance reported.
type configPage struct {
	Site string
	// Info is the site's name and tariff.
	Info    fleet.Site
	Desired fleet.Desired
	// Form fields, from the desired settings.
	HeartbeatInterval, MeterInterval, UnknownTokens, APSSID, Network string
	// PowerLimitKW is the site power limit in kW ("" for none).
	PowerLimitKW string
	Keys         []configRow
}

func (p configPage) title() string { return "Configuration of " + p.Site }

// configRow is a setting's desired and reported value.
type configRow struct {
	Name, Label, Desired, Reported string
	Applied                        bool
}

// settingLabels name the settings the editor knows; another shows by
// its key.
var settingLabels = map[string]string{settingHeartbeat: "Heartbeat interval", settingMeter: "Meter values interval",
	settingPowerLimit: "Site power limit (W)", settingUnknownTokens: "Unknown RFID tokens", settingNetwork: "Network"}

// Desired settings the editor knows (the appliance's, see
// appliance/cloudsync).
const (
	settingHeartbeat     = "heartbeat_interval"
	settingMeter         = "meter_interval"
	settingUnknownTokens = "unknown_tokens"
	settingNetwork       = "network"
	settingPowerLimit    = "site_power_limit" // watts
)

func (d *Dashboard) loadConfig(r *http.Request, v *visitor) (any, error) {
	site := r.PathValue("site")
	p := configPage{Site: site}
	if err := d.call(r, v, http.MethodGet, apiSite(site), nil, nil, &p.Info); err != nil {
		return nil, err
	}
	if err := d.call(r, v, http.MethodGet, apiSite(site)+"/desired", nil, nil, &p.Desired); err != nil {
		return nil, err
	}
	s := p.Desired.Settings
	p.HeartbeatInterval, p.MeterInterval, p.UnknownTokens, p.Network = s[settingHeartbeat], s[settingMeter], s[settingUnknownTokens], s[settingNetwork]
	if w, err := strconv.ParseInt(s[settingPowerLimit], 10, 64); err == nil {
		p.PowerLimitKW = strconv.FormatFloat(float64(w)/1000, 'f', -1, 64)
	}
	var net struct {
		AP struct {
			SSID string `json:"ssid"`
		} `json:"ap"`
	}
	if json.Unmarshal([]byte(p.Network), &net) == nil {
		p.APSSID = net.AP.SSID
	}
	names := map[string]bool{}
	for k := range s {
		names[k] = true
	}
	var reported map[string]string
	if p.Desired.Reported != nil {
		reported = p.Desired.Reported.Settings
		for k := range reported {
			names[k] = true
		}
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range names {
			if !yield(k) {
				return
			}
		}
	}) {
		row := configRow{Name: k, Label: cmp.Or(settingLabels[k], k), Desired: redactNetwork(k, s[k]), Reported: redactNetwork(k, reported[k])}
		row.Applied = p.Desired.Reported != nil && p.Desired.Reported.DesiredVersion == p.Desired.Version && reported[k] == s[k]
		p.Keys = append(p.Keys, row)
	}
	return p, nil
}

// redactNetwork hides the passwords of a network setting's JSON.
func redactNetwork(name, value string) string {
	if name != settingNetwork || value == "" {
		return value
	}
	var m map[string]any
	if json.Unmarshal([]byte(value), &m) != nil {
		return value
	}
	if ap, ok := m["ap"].(map[string]any); ok && ap["password"] != nil {
		ap["password"] = "••••••"
	}
	if ups, ok := m["uplinks"].(map[string]any); ok {
		if wifi, ok := ups["wifi"].(map[string]any); ok && wifi["password"] != nil {
			wifi["password"] = "••••••"
		}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// saveConfig replaces the desired settings with the form's: an empty
// field stops setting it (the appliance's own value returns). The
// access point's name and password go into the network setting, over
// what it sets already (the appliance keeps what a network setting
// leaves out).
func (d *Dashboard) saveConfig(r *http.Request, v *visitor) (string, string, error) {
	site := r.PathValue("site")
	var cur fleet.Desired
	if err := d.call(r, v, http.MethodGet, apiSite(site)+"/desired", nil, nil, &cur); err != nil {
		return "", "", err
	}
	settings := map[string]string{}
	for k, val := range cur.Settings {
		settings[k] = val
	}
	set := func(name, value string) {
		if value = strings.TrimSpace(value); value == "" {
			delete(settings, name)
		} else {
			settings[name] = value
		}
	}
	for _, f := range []struct{ field, setting, label string }{
		{"heartbeat_interval", settingHeartbeat, "Heartbeat interval"},
		{"meter_interval", settingMeter, "Meter values interval"},
	} {
		d, err := formDuration(r.PostFormValue(f.field), f.label)
		if err != nil {
			return "", "", err
		}
		set(f.setting, d)
	}
	limit, err := formKW(r.PostFormValue("site_power_limit_kw"), "Site power limit")
	if err != nil {
		return "", "", err
	}
	set(settingPowerLimit, limit)
	set(settingUnknownTokens, r.PostFormValue("unknown_tokens"))
	network, err := withAP(settings[settingNetwork], strings.TrimSpace(r.PostFormValue("ap_ssid")), r.PostFormValue("ap_password"))
	if err != nil {
		return "", "", err
	}
	set(settingNetwork, network)
	var out fleet.Desired
	if err := d.call(r, v, http.MethodPut, apiSite(site)+"/desired", nil, map[string]any{"settings": settings}, &out); err != nil {
		return "", "", err
	}
	return sitePath(site) + "/config", fmt.Sprintf("Desired configuration version %d saved; the appliance applies it when it is online.", out.Version), nil
}

// formDuration reads a duration field: "300s", "5m", or a number of
// seconds ("" stays "").
func formDuration(v, label string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return v, nil
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return strconv.Itoa(n) + "s", nil
	}
	return "", formError(label + ": want a duration such as 300s or 5m")
}

// formKW reads a power field in kW ("22", "7.4") as whole watts ("" stays
// "").
func formKW(v, label string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	kw, err := strconv.ParseFloat(v, 64)
	if err != nil || kw < 0 || kw > 100_000 || math.IsNaN(kw) {
		return "", formError(label + ": want kilowatts, such as 22 or 7.4")
	}
	return strconv.FormatInt(int64(math.Round(kw*1000)), 10), nil
}

// withAP sets the access point's SSID and password (each when given) in
// a network setting's JSON.
func withAP(network, ssid, password string) (string, error) {
	if ssid == "" && password == "" {
		return network, nil
	}
	m := map[string]any{}
	if network != "" {
		if err := json.Unmarshal([]byte(network), &m); err != nil {
			return "", formError("The desired network setting is not valid JSON: " + err.Error())
		}
	}
	ap, _ := m["ap"].(map[string]any)
	if ap == nil {
		ap = map[string]any{"enabled": true}
	}
	if ssid != "" {
		ap["ssid"] = ssid
	}
	if password != "" {
		if n := len(password); n < 8 || n > 63 {
			return "", formError("Access point password: want 8 to 63 characters")
		}
		ap["password"] = password
	}
	m["ap"] = ap
	b, err := json.Marshal(m)
	return string(b), err
}

// revokeSite cuts a site off (admin): its credentials stop working and
// its appliance is disconnected.
func (d *Dashboard) revokeSite(r *http.Request, v *visitor) (string, string, error) {
	site := r.PathValue("site")
	if err := d.call(r, v, http.MethodPost, apiSite(site)+"/revoke", nil, nil, nil); err != nil {
		return "", "", err
	}
	return sitePath(site), "Site " + site + " revoked: its appliance is cut off until it is enrolled again.", nil
}

// saveSite changes the site's name and tariff (admin); an empty price
// removes it.
func (d *Dashboard) saveSite(r *http.Request, v *visitor) (string, string, error) {
	site := r.PathValue("site")
	req := map[string]string{"name": strings.TrimSpace(r.PostFormValue("name")),
		"pricePerKwh": strings.TrimSpace(r.PostFormValue("pricePerKwh")), "currency": strings.ToUpper(strings.TrimSpace(r.PostFormValue("currency")))}
	if req["pricePerKwh"] == "" && req["currency"] == "" {
		delete(req, "currency")
	}
	if err := d.call(r, v, http.MethodPatch, apiSite(site), nil, req, nil); err != nil {
		return "", "", err
	}
	return sitePath(site) + "/config", "Site " + site + " saved.", nil
}
