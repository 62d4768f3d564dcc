package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/syncproto"
)

// chargerPage is a charger's page: status, history, configuration,
// commands with their results, reservations, and the command forms.
type chargerPage struct {
	Site       string
	Detail     fleet.ChargerDetail
	Connectors []connectorView
	Open       []fleet.Session
	Commands   []commandForm
}

// connectorView is a connector's status with its live power.
type connectorView struct {
	syncproto.Connector
	Power *fleet.LivePower
}

// connectorViews joins a charger's connectors with their live power.
func connectorViews(c fleet.LiveCharger) []connectorView {
	out := make([]connectorView, 0, len(c.Connectors))
	for _, con := range c.Connectors {
		v := connectorView{Connector: con}
		for i := range c.Live {
			if c.Live[i].Connector == con.ID && c.Live[i].Active {
				v.Power = &c.Live[i]
			}
		}
		out = append(out, v)
	}
	return out
}

func (p chargerPage) title() string { return "Charger " + p.Detail.Charger.ID }

func (d *Dashboard) loadCharger(r *http.Request, v *visitor) (any, error) {
	site, charger := r.PathValue("site"), r.PathValue("charger")
	p := chargerPage{Site: site, Commands: commandForms}
	if err := d.call(r, v, http.MethodGet, apiSite(site)+"/chargers/"+url.PathEscape(charger), nil, nil, &p.Detail); err != nil {
		return nil, err
	}
	p.Connectors = connectorViews(p.Detail.Charger)
	var open fleet.SessionPage
	q := url.Values{"site": {site}, "charger": {charger}, "open": {"true"}}
	if err := d.call(r, v, http.MethodGet, "/api/v1/sessions", q, nil, &open); err != nil {
		return nil, err
	}
	p.Open = open.Sessions
	return p, nil
}

// commandForm is a command as a form: its fields, as docs/api.md
// lists them.
type commandForm struct {
	Name, Label string
	Fields      []commandField
}

type commandField struct {
	Name, Label string
	// Kind is "text", "number", "list" (comma-separated), "time" or
	// "choice" (one of Choices).
	Kind     string
	Required bool
	Choices  []string
}

var commandForms = []commandForm{
	{Name: "remote-start", Label: "Start a session", Fields: []commandField{
		{Name: "idTag", Label: "RFID token", Kind: "text", Required: true}, {Name: "connectorId", Label: "Connector", Kind: "number"}}},
	{Name: "remote-stop", Label: "Stop a session", Fields: []commandField{
		{Name: "transactionId", Label: "Session id", Kind: "number", Required: true}}},
	{Name: "reset", Label: "Reset", Fields: []commandField{
		{Name: "type", Label: "Type", Kind: "choice", Required: true, Choices: []string{"Soft", "Hard"}}}},
	{Name: "unlock", Label: "Unlock a connector", Fields: []commandField{
		{Name: "connectorId", Label: "Connector", Kind: "number", Required: true}}},
	{Name: "change-availability", Label: "Change availability", Fields: []commandField{
		{Name: "availability", Label: "Availability", Kind: "choice", Required: true, Choices: []string{"Operative", "Inoperative"}},
		{Name: "connectorId", Label: "Connector (empty: the whole charger)", Kind: "number"}}},
	{Name: "get-configuration", Label: "Read the configuration", Fields: []commandField{
		{Name: "keys", Label: "Keys (comma-separated; empty: all)", Kind: "list"}}},
	{Name: "set-configuration", Label: "Change a configuration key", Fields: []commandField{
		{Name: "key", Label: "Key", Kind: "text", Required: true}, {Name: "value", Label: "Value", Kind: "text", Required: true}}},
	{Name: "reserve", Label: "Reserve", Fields: []commandField{
		{Name: "idTag", Label: "RFID token", Kind: "text", Required: true}, {Name: "expiry", Label: "Until (UTC)", Kind: "time", Required: true},
		{Name: "connectorId", Label: "Connector (empty: any)", Kind: "number"}}},
	{Name: "cancel-reservation", Label: "Cancel a reservation", Fields: []commandField{
		{Name: "reservationId", Label: "Reservation id", Kind: "number", Required: true}}},
	{Name: "trigger-message", Label: "Trigger a message", Fields: []commandField{
		{Name: "message", Label: "Message", Kind: "choice", Required: true, Choices: []string{"StatusNotification", "MeterValues", "Heartbeat", "BootNotification", "FirmwareStatusNotification", "DiagnosticsStatusNotification"}},
		{Name: "connectorId", Label: "Connector", Kind: "number"}}},
	{Name: "clear-cache", Label: "Clear the charger's authorization cache"},
	{Name: "get-local-list-version", Label: "Read the local list version"},
	{Name: "update-firmware", Label: "Update the firmware", Fields: []commandField{
		{Name: "location", Label: "Firmware URL", Kind: "text", Required: true}}},
	{Name: "upload-diagnostics", Label: "Upload diagnostics", Fields: []commandField{
		{Name: "location", Label: "Upload URL", Kind: "text", Required: true}}},
}

// commandArgs builds a command's arguments from its form, refusing a
// missing or malformed field by its label.
func commandArgs(name string, form url.Values) (map[string]any, error) {
	var cf *commandForm
	for i := range commandForms {
		if commandForms[i].Name == name {
			cf = &commandForms[i]
		}
	}
	if cf == nil {
		return nil, formError(fmt.Sprintf("Command %q: no such command", name))
	}
	args := map[string]any{}
	for _, f := range cf.Fields {
		raw := strings.TrimSpace(form.Get(f.Name))
		if raw == "" {
			if f.Required {
				return nil, formError(f.Label + ": required")
			}
			continue
		}
		switch f.Kind {
		case "number":
			n, err := strconv.Atoi(raw)
			if err != nil {
				return nil, formError(f.Label + ": want a whole number")
			}
			args[f.Name] = n
		case "list":
			var keys []string
			for k := range strings.SplitSeq(raw, ",") {
				if k = strings.TrimSpace(k); k != "" {
					keys = append(keys, k)
				}
			}
			args[f.Name] = keys
		case "time":
			t, err := time.Parse("2006-01-02T15:04", raw)
			if err != nil {
				return nil, formError(f.Label + ": want a date and time")
			}
			args[f.Name] = t.UTC().Format(time.RFC3339)
		default:
			args[f.Name] = raw
		}
	}
	return args, nil
}

// sendCommand queues a command for the charger; its result shows on
// the charger's page as it comes.
func (d *Dashboard) sendCommand(r *http.Request, v *visitor) (string, string, error) {
	site, charger := r.PathValue("site"), r.PathValue("charger")
	name := r.PostFormValue("command")
	args, err := commandArgs(name, r.PostForm)
	if err != nil {
		return "", "", err
	}
	raw, _ := json.Marshal(args)
	var c fleet.Command
	req := map[string]any{"charger": charger, "command": name, "args": json.RawMessage(raw)}
	if err := d.call(r, v, http.MethodPost, apiSite(site)+"/commands", nil, req, &c); err != nil {
		return "", "", err
	}
	return sitePath(site) + "/chargers/" + url.PathEscape(charger), fmt.Sprintf("Command %s sent (%s); its result appears below.", name, c.Status), nil
}
