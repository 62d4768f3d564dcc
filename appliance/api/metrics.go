package api

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/locallist"
	"github.com/constellation-ev/constellation/appliance/network"
)

// metrics answers GET /metrics in the Prometheus text format (0.0.4): the
// chargers and sessions, the cloud sync, the chargers' local lists and
// the station's reader and display, read when scraped.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	chargers, err := s.domain.Chargers(ctx)
	if err != nil {
		return fmt.Errorf("metrics: chargers: %w", err)
	}
	active, err := s.domain.Transactions(ctx, charging.TransactionFilter{ActiveOnly: true})
	if err != nil {
		return fmt.Errorf("metrics: transactions: %w", err)
	}
	m := &metricsWriter{}
	connected := 0
	for _, c := range chargers {
		if c.Connected {
			connected++
		}
	}
	m.gauge("constellation_chargers_known", "Chargers the appliance knows.", float64(len(chargers)))
	m.gauge("constellation_chargers_connected", "Chargers connected now.", float64(connected))
	m.gauge("constellation_transactions_active", "Charging sessions in progress.", float64(len(active)))

	var st StationStatus
	if s.station != nil {
		st = s.station.StationStatus()
	}
	type device struct {
		name, state string
		failures    uint64
	}
	var devices []device
	if st.Reader != nil {
		devices = append(devices, device{"reader", string(st.Reader.State), st.Reader.Failures})
		m.counter("constellation_reader_taps_total", "Cards tapped on the station's reader.", float64(st.Reader.Taps))
		m.counter("constellation_reader_card_errors_total", "Cards seen on the reader but not read.", float64(st.Reader.CardErrors))
	}
	if st.Display != nil {
		devices = append(devices, device{"display", string(st.Display.State), st.Display.Failures})
	}
	m.family("constellation_device_up", "Whether the station's device answers (1) or is missing, failing or stopped (0).", "gauge")
	for _, d := range devices {
		m.sample("constellation_device_up", bool01(d.state == "ok"), "device", d.name, "state", d.state)
	}
	m.family("constellation_device_failures_total", "Failed attempts to open or use the station's device.", "counter")
	for _, d := range devices {
		m.sample("constellation_device_failures_total", float64(d.failures), "device", d.name)
	}

	if s.sync != nil {
		sync, err := s.sync.Status()
		if err != nil {
			return fmt.Errorf("metrics: sync: %w", err)
		}
		m.gauge("constellation_sync_connected", "Whether the MQTT link to the cloud is up.", bool01(sync.Connected))
		m.gauge("constellation_sync_backlog_records", "Records waiting in the outbox for the cloud.", float64(sync.Backlog))
		m.gauge("constellation_sync_backlog_bytes", "Bytes of the records waiting in the outbox.", float64(sync.BacklogBytes))
		if !sync.LastSync.IsZero() {
			m.gauge("constellation_sync_last_ack_timestamp_seconds", "When the broker last acknowledged a record (Unix time).",
				float64(sync.LastSync.UnixMilli())/1000)
		}
		m.family("constellation_sync_dropped_records_total", "Records never sent: dropped when the outbox was full, or invalid.", "counter")
		m.sample("constellation_sync_dropped_records_total", float64(sync.Dropped.Readings), "class", "readings")
		m.sample("constellation_sync_dropped_records_total", float64(sync.Dropped.Other), "class", "other")
		m.sample("constellation_sync_dropped_records_total", float64(sync.Dropped.Invalid), "class", "invalid")
		m.counter("constellation_sync_refused_messages_total", "Downstream messages refused (malformed, another site's or version's).", float64(sync.Refused))
		m.gauge("constellation_sync_desired_version", "The desired configuration version applied.", float64(sync.DesiredVersion))
		m.gauge("constellation_sync_auth_list_version", "The authorization list version applied.", float64(sync.AuthListVersion))
	}

	if s.network != nil {
		st := s.network.Status(ctx)
		m.gauge("constellation_network_reachable", "Whether NetworkManager answers.", bool01(st.Reachable))
		m.family("constellation_network_ap_up", "Whether the chargers' access point is up, by its state.", "gauge")
		m.sample("constellation_network_ap_up", bool01(st.AP.State == network.APUp), "state", string(st.AP.State))
		m.family("constellation_network_uplink_connectivity", "NetworkManager's connectivity through the uplink (1 for the current state).", "gauge")
		for _, c := range []network.Connectivity{network.ConnectivityUnknown, network.ConnectivityNone, network.ConnectivityPortal, network.ConnectivityLimited, network.ConnectivityFull} {
			m.sample("constellation_network_uplink_connectivity", bool01(st.Uplink.Connectivity == c), "state", string(c), "kind", string(st.Uplink.Kind))
		}
	}
	if s.lists != nil {
		l := s.lists.Status()
		m.gauge("constellation_local_list_version", "The authorization cache's version, which chargers' local lists follow.", float64(l.Version))
		m.gauge("constellation_local_list_tokens", "Tokens in the authorization cache.", float64(l.Tokens))
		m.family("constellation_local_list_chargers", "Connected chargers by the state of their local list.", "gauge")
		for _, state := range []string{locallist.StatePending, locallist.StateCurrent, locallist.StateFailing, locallist.StateUnsupported} {
			n := 0
			for _, c := range l.Chargers {
				if c.State == state {
					n++
				}
			}
			m.sample("constellation_local_list_chargers", float64(n), "state", state)
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(m.b.Bytes())
	return nil
}

// metricsWriter writes the Prometheus text format.
type metricsWriter struct{ b bytes.Buffer }

// family starts a metric family: its help and type.
func (m *metricsWriter) family(name, help, typ string) {
	fmt.Fprintf(&m.b, "# HELP %s %s\n# TYPE %s %s\n", name, strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(help), name, typ)
}

// sample writes one sample; labels are name, value pairs.
func (m *metricsWriter) sample(name string, v float64, labels ...string) {
	m.b.WriteString(name)
	if len(labels) > 0 {
		m.b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				m.b.WriteByte(',')
			}
			fmt.Fprintf(&m.b, `%s="%s"`, labels[i], labelEscaper.Replace(labels[i+1]))
		}
		m.b.WriteByte('}')
	}
	m.b.WriteByte(' ')
	m.b.WriteString(formatValue(v))
	m.b.WriteByte('\n')
}

func (m *metricsWriter) gauge(name, help string, v float64) {
	m.family(name, help, "gauge")
	m.sample(name, v)
}

func (m *metricsWriter) counter(name, help string, v float64) {
	m.family(name, help, "counter")
	m.sample(name, v)
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
