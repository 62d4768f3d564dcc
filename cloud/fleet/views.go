package fleet

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/constellation-ev/constellation/syncproto"
)

// The fleet views: what the dashboard and the API's views read. Ingest
// keeps two things for them with every batch (applyFrequent): each
// connector status applied, appended to status_history, and per
// connector the latest active power and energy register of the
// readings (live_power). The rest is read from what ingest stores
// anyway.

// Tariffs. A price is stored in micro-units (millionths of the
// currency's unit) per kWh: exact, and multiplied as integers.

const microsPerUnit = 1_000_000

var (
	priceText    = regexp.MustCompile(`^[0-9]{1,12}(\.[0-9]{1,6})?$`)
	currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)
)

// parsePrice reads a decimal price per kWh ("0.295") into micro-units.
func parsePrice(s string) (int64, error) {
	if !priceText.MatchString(s) {
		return 0, errors.New("pricePerKwh: want a decimal of at most 12 digits and 6 decimals, like 0.295")
	}
	whole, frac, _ := strings.Cut(s, ".")
	w, _ := strconv.ParseInt(whole, 10, 64) // 12 digits fit
	f, _ := strconv.ParseInt((frac + "000000")[:6], 10, 64)
	return w*microsPerUnit + f, nil
}

// formatMicros writes a price in micro-units as a decimal without
// trailing zeros ("" for none).
func formatMicros(p sql.NullInt64) string {
	if !p.Valid {
		return ""
	}
	s := fmt.Sprintf("%d.%06d", p.Int64/microsPerUnit, p.Int64%microsPerUnit)
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}

// minorDigits is the number of decimals of a currency's minor unit (ISO
// 4217's exponent): 2 but for these.
var minorDigits = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0, "RWF": 0,
	"UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
	"CLF": 4, "UYW": 4,
}

// cost is energyWh at a price of micros per kWh, rounded half away
// from zero to the currency's minor unit, as a decimal. big.Int: a
// price of a currency of small units times a long session's energy
// passes int64.
func cost(energyWh, micros int64, currency string) string {
	digits, ok := minorDigits[currency]
	if !ok {
		digits = 2
	}
	// minor units = Wh × micros × 10^digits / (1000 × 10^6)
	num := new(big.Int).Mul(big.NewInt(energyWh), big.NewInt(micros))
	num.Mul(num, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(digits)), nil))
	den := big.NewInt(1000 * microsPerUnit)
	q, r := new(big.Int).QuoRem(num, den, new(big.Int))
	if r.Abs(r).Lsh(r, 1).Cmp(den) >= 0 {
		if num.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	s := q.String()
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	if digits > 0 {
		s = strings.Repeat("0", max(0, digits+1-len(s))) + s
		s = s[:len(s)-digits] + "." + s[len(s)-digits:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// SiteChange changes a site; nil fields stay. PricePerKWh "" removes
// the price.
type SiteChange struct {
	Name        *string
	PricePerKWh *string
	Currency    *string
}

// PatchSite changes a site's name and tariff. A price needs a currency
// (set with it, or before). It is audited through ctx's PendingAudit,
// in the change's transaction.
func (s *Store) PatchSite(ctx context.Context, site string, c SiteChange) (Site, error) {
	var price sql.NullInt64
	if c.Name != nil && len(*c.Name) > 255 {
		return Site{}, fmt.Errorf("fleet: update site %s: %w: name: longer than 255 bytes", site, ErrInvalid)
	}
	if c.PricePerKWh != nil && *c.PricePerKWh != "" {
		p, err := parsePrice(*c.PricePerKWh)
		if err != nil {
			return Site{}, fmt.Errorf("fleet: update site %s: %w: %w", site, ErrInvalid, err)
		}
		price = sql.NullInt64{Int64: p, Valid: true}
	}
	if c.Currency != nil && *c.Currency != "" && !currencyCode.MatchString(*c.Currency) {
		return Site{}, fmt.Errorf("fleet: update site %s: %w: currency: want an ISO 4217 code of 3 capital letters, like EUR", site, ErrInvalid)
	}
	p := pendingAudit(ctx)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var name, currency string
		var oldPrice sql.NullInt64
		err := s.queryRow(ctx, tx, `SELECT name, price_per_kwh, currency FROM sites WHERE id = ?`, site).Scan(&name, &oldPrice, &currency)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		var what []string
		if c.Name != nil && *c.Name != name {
			name = *c.Name
			what = append(what, "name")
		}
		if c.PricePerKWh != nil && price != oldPrice {
			oldPrice = price
			what = append(what, "pricePerKwh "+cmpOr(formatMicros(price), "none"))
		}
		if c.Currency != nil && *c.Currency != currency {
			currency = *c.Currency
			what = append(what, "currency "+cmpOr(currency, "none"))
		}
		if oldPrice.Valid && currency == "" {
			return fmt.Errorf("%w: currency: required with pricePerKwh", ErrInvalid)
		}
		if _, err := s.exec(ctx, tx, `UPDATE sites SET name = ?, price_per_kwh = ?, currency = ? WHERE id = ?`, name, oldPrice, currency, site); err != nil {
			return err
		}
		if p != nil {
			p.Message = strings.Join(what, ", ")
		}
		return nil
	})
	if err != nil {
		return Site{}, fmt.Errorf("fleet: update site %s: %w", site, err)
	}
	return s.Site(ctx, site)
}

func cmpOr(s, empty string) string {
	if s == "" {
		return empty
	}
	return s
}

// Ingest: status history and live power.

// Measurands of the live state.
const (
	measurandPower  = "Power.Active.Import"
	measurandEnergy = "Energy.Active.Import.Register"
)

// Columns of the multi-row statements of the views' tables.
const (
	historyColumns = 7
	liveColumns    = 9
)

// historyRow appends to rows a connector status of a ChargerStatus
// record: at the connector's time, or the record's when it has none.
func historyRow(rows []any, site string, m *syncproto.ChargerStatus, c syncproto.Connector) []any {
	at := c.Time
	if at.IsZero() {
		at = m.Time
	}
	return append(rows, site, m.Charger, ms(at), c.ID, c.Status, c.ErrorCode, c.Info)
}

type liveKey struct {
	site, charger string
	connector     int
}

// liveValue is a connector's latest power or energy: its time (0: none),
// value and session.
type liveValue struct{ at, value, tx int64 }

// newer reports whether v replaces old: only a later time does.
func (v liveValue) newer(old liveValue) bool { return v.at > old.at }

type liveRow struct{ power, energy liveValue }

// liveSet is the latest power and energy per connector of a batch's
// readings, reduced to one row per connector (a multi-row upsert may
// touch a row once).
type liveSet struct {
	rows  map[liveKey]*liveRow
	order []liveKey
}

// add takes the latest power and energy of a Readings record's series.
// Power is the column without phase, or else the sum of the phases
// L1..L3 at their latest common time; energy the register without
// phase. Units W and kW, Wh and kWh ("": W, Wh); other units, and
// values that are not numbers, are left out.
func (ls *liveSet) add(site string, m *syncproto.Readings, sr []series) {
	var power, phases, energy liveValue
	phaseOK := true
	for i := range sr {
		r := &sr[i]
		last := len(r.times) - 1
		at, text := r.times[last], r.values[last]
		switch c := r.col; {
		case c.Measurand == measurandPower && c.Phase == "":
			if v, ok := scaled(text, c.Unit, "W", "kW"); ok && at > power.at {
				power = liveValue{at, v, m.TransactionID}
			}
		case c.Measurand == measurandPower && isLinePhase(c.Phase):
			v, ok := scaled(text, c.Unit, "W", "kW")
			switch {
			case at > phases.at:
				phases, phaseOK = liveValue{at, v, m.TransactionID}, ok
			case at == phases.at:
				phases.value += v
				phaseOK = phaseOK && ok
			}
		case c.Measurand == measurandEnergy && c.Phase == "":
			if v, ok := scaled(text, c.Unit, "Wh", "kWh"); ok && at > energy.at {
				energy = liveValue{at, v, m.TransactionID}
			}
		}
	}
	if power.at == 0 && phaseOK {
		power = phases
	}
	if power.at == 0 && energy.at == 0 {
		return
	}
	k := liveKey{site, m.Charger, m.Connector}
	if ls.rows == nil {
		ls.rows = map[liveKey]*liveRow{}
	}
	row := ls.rows[k]
	if row == nil {
		row = &liveRow{}
		ls.rows[k] = row
		ls.order = append(ls.order, k)
	}
	if power.newer(row.power) {
		row.power = power
	}
	if energy.newer(row.energy) {
		row.energy = energy
	}
}

// isLinePhase: a phase's own value (L1, or L1 to neutral), of which the
// three sum to the total.
func isLinePhase(p string) bool {
	switch p {
	case "L1", "L2", "L3", "L1-N", "L2-N", "L3-N":
		return true
	}
	return false
}

// scaled reads a meter value in unit (base, or kilo: ×1000; "": base)
// as a whole number of the base unit.
func scaled(text, unit, base, kilo string) (int64, bool) {
	var f float64
	switch unit {
	case base, "":
		f = 1
	case kilo:
		f = 1000
	default:
		return 0, false
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsNaN(v) || math.Abs(v*f) > 1e15 {
		return 0, false
	}
	return int64(math.Round(v * f)), true
}

// queueViews queues the batch's status history and live power: one
// multi-row statement each.
func queueViews(q *txQueue, history []any, ls *liveSet) {
	q.insertRows("status history", `INSERT INTO status_history (site, charger, at, connector, status, error_code, info)`, historyColumns,
		` ON CONFLICT (site, charger, at, connector, status) DO NOTHING`, history, nil)
	args := make([]any, 0, len(ls.order)*liveColumns)
	for _, k := range ls.order {
		r := ls.rows[k]
		args = append(args, k.site, k.charger, k.connector, r.power.value, r.power.at, r.power.tx, r.energy.value, r.energy.at, r.energy.tx)
	}
	// Each value is replaced only by a later one: records arrive in any
	// order.
	q.insertRows("live power", `INSERT INTO live_power (site, charger, connector, power_w, power_at, power_tx, energy_wh, energy_at, energy_tx)`,
		liveColumns, ` ON CONFLICT (site, charger, connector) DO UPDATE SET
		power_w = CASE WHEN excluded.power_at > live_power.power_at THEN excluded.power_w ELSE live_power.power_w END,
		power_tx = CASE WHEN excluded.power_at > live_power.power_at THEN excluded.power_tx ELSE live_power.power_tx END,
		power_at = CASE WHEN excluded.power_at > live_power.power_at THEN excluded.power_at ELSE live_power.power_at END,
		energy_wh = CASE WHEN excluded.energy_at > live_power.energy_at THEN excluded.energy_wh ELSE live_power.energy_wh END,
		energy_tx = CASE WHEN excluded.energy_at > live_power.energy_at THEN excluded.energy_tx ELSE live_power.energy_tx END,
		energy_at = CASE WHEN excluded.energy_at > live_power.energy_at THEN excluded.energy_at ELSE live_power.energy_at END
		WHERE excluded.power_at > live_power.power_at OR excluded.energy_at > live_power.energy_at`, args, nil)
}

// The fleet overview.

// Overview states (OverviewFilter.State).
const (
	StateOnline  = "online"
	StateOffline = "offline"
	StateFaulted = "faulted"
	StateInUse   = "in-use"
)

// OverviewFilter selects the sites of the overview, by id.
type OverviewFilter struct {
	// Search is a substring of the id or the name, any case.
	Search string
	// State is "", StateOnline, StateOffline, StateFaulted or StateInUse.
	State string
	Limit int // 1..500; 0: 100
	// After is the last site id of the previous page (Overview.Next).
	After string
}

// Overview is a page of sites and the totals of every site the filter
// selects.
type Overview struct {
	Totals Totals        `json:"totals"`
	Sites  []SiteSummary `json:"sites"`
	// Next is the After of the next page; "" on the last.
	Next string `json:"next,omitempty"`
}

// Totals sum the sites a filter selects.
type Totals struct {
	Sites   int64 `json:"sites"`
	Online  int64 `json:"online"`
	Offline int64 `json:"offline"`
	// Faulted counts the sites with an open fault.
	Faulted       int64 `json:"faulted"`
	ChargersInUse int64 `json:"chargersInUse"`
	PowerW        int64 `json:"powerW"`
}

// SiteSummary is a site's line in the overview.
type SiteSummary struct {
	ID                string    `json:"id"`
	Name              string    `json:"name"`
	Online            bool      `json:"online"`
	LastSeen          time.Time `json:"lastSeen,omitzero"`
	Software          string    `json:"software,omitempty"`
	Backlog           int64     `json:"backlog"`
	Revoked           bool      `json:"revoked"`
	Enrolled          bool      `json:"enrolled"`
	Chargers          int64     `json:"chargers"`
	ChargersConnected int64     `json:"chargersConnected"`
	// ChargersInUse counts the chargers with an open session (a
	// transaction not stopped) on one of their connectors: the one
	// definition that holds for every OCPP version (2.x reports a
	// connector in use as Occupied, charging or not). A session the
	// appliance never stopped keeps its charger in use.
	ChargersInUse int64 `json:"chargersInUse"`
	// OpenFaults counts the connectors (0: the charger itself) whose
	// latest status is Faulted or has an error code other than NoError.
	OpenFaults int64 `json:"openFaults"`
	// PowerW sums the live power of the connectors whose latest power
	// reading belongs to an open session.
	PowerW int64 `json:"powerW"`
}

// siteSummaries selects every site's summary (columns as scanSummary
// reads them); search filters it.
const siteSummaries = `SELECT s.id, s.name, s.online, s.last_seen, s.software, s.backlog, s.revoked, s.password_hash <> '' AS enrolled,
	COALESCE(c.n, 0) AS chargers, COALESCE(c.connected, 0) AS connected, COALESCE(u.n, 0) AS in_use,
	COALESCE(f.n, 0) AS faults, COALESCE(p.w, 0) AS power_w
	FROM sites s
	LEFT JOIN (SELECT site, COUNT(*) AS n, CAST(SUM(CASE WHEN connected THEN 1 ELSE 0 END) AS BIGINT) AS connected
		FROM chargers GROUP BY site) c ON c.site = s.id
	LEFT JOIN (SELECT site, COUNT(DISTINCT charger) AS n FROM transactions WHERE stop_at = 0 GROUP BY site) u ON u.site = s.id
	LEFT JOIN (SELECT site, COUNT(*) AS n FROM connectors WHERE ` + faultCondition + ` GROUP BY site) f ON f.site = s.id
	LEFT JOIN (SELECT lp.site, CAST(SUM(lp.power_w) AS BIGINT) AS w FROM live_power lp
		JOIN transactions t ON t.site = lp.site AND t.id = lp.power_tx AND t.stop_at = 0 GROUP BY lp.site) p ON p.site = s.id`

// faultCondition: a connector's latest status is a fault.
const faultCondition = `(status = 'Faulted' OR error_code NOT IN ('', 'NoError'))`

var stateConditions = map[string]string{
	"":           `1 = 1`,
	StateOnline:  `online`,
	StateOffline: `NOT online`,
	StateFaulted: `faults > 0`,
	StateInUse:   `in_use > 0`,
}

func scanSummary(sc interface{ Scan(...any) error }) (SiteSummary, error) {
	var v SiteSummary
	var seen int64
	err := sc.Scan(&v.ID, &v.Name, &v.Online, &seen, &v.Software, &v.Backlog, &v.Revoked, &v.Enrolled,
		&v.Chargers, &v.ChargersConnected, &v.ChargersInUse, &v.OpenFaults, &v.PowerW)
	v.LastSeen = fromMS(seen)
	return v, err
}

// likePattern is a LIKE pattern matching text containing sub, any case
// (with ESCAPE '\').
func likePattern(sub string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(sub)) + "%"
}

// FleetOverview returns a page of the sites f selects, by id, and the
// totals of all of them.
func (s *Store) FleetOverview(ctx context.Context, f OverviewFilter) (Overview, error) {
	state, ok := stateConditions[f.State]
	if !ok {
		return Overview{}, fmt.Errorf("fleet: overview: %w: state: want online, offline, faulted or in-use", ErrInvalid)
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	f.Limit = min(f.Limit, 500)
	base, args := siteSummaries, []any{}
	if f.Search != "" {
		base += ` WHERE LOWER(s.id) LIKE ? ESCAPE '\' OR LOWER(s.name) LIKE ? ESCAPE '\'`
		args = append(args, likePattern(f.Search), likePattern(f.Search))
	}
	with := `WITH summary AS (` + base + `) `
	out := Overview{Sites: []SiteSummary{}}
	err := s.queryRow(ctx, s.db, with+`SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN online THEN 1 ELSE 0 END), 0) AS BIGINT),
		CAST(COALESCE(SUM(CASE WHEN faults > 0 THEN 1 ELSE 0 END), 0) AS BIGINT),
		CAST(COALESCE(SUM(in_use), 0) AS BIGINT), CAST(COALESCE(SUM(power_w), 0) AS BIGINT)
		FROM summary WHERE `+state, args...).
		Scan(&out.Totals.Sites, &out.Totals.Online, &out.Totals.Faulted, &out.Totals.ChargersInUse, &out.Totals.PowerW)
	if err != nil {
		return Overview{}, fmt.Errorf("fleet: overview totals: %w", err)
	}
	out.Totals.Offline = out.Totals.Sites - out.Totals.Online
	rows, err := s.query(ctx, s.db, with+`SELECT * FROM summary WHERE `+state+` AND id > ? ORDER BY id LIMIT ?`,
		append(args, f.After, f.Limit+1)...)
	if err != nil {
		return Overview{}, fmt.Errorf("fleet: overview: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scanSummary(rows)
		if err != nil {
			return Overview{}, fmt.Errorf("fleet: overview: %w", err)
		}
		out.Sites = append(out.Sites, v)
	}
	if err := rows.Err(); err != nil {
		return Overview{}, fmt.Errorf("fleet: overview: %w", err)
	}
	if len(out.Sites) > f.Limit {
		out.Sites = out.Sites[:f.Limit]
		out.Next = out.Sites[f.Limit-1].ID
	}
	return out, nil
}

// Live state of chargers.

// LivePower is a connector's latest active power and energy register
// as the readings gave them.
type LivePower struct {
	Connector int       `json:"connector"`
	PowerW    int64     `json:"powerW"`
	PowerAt   time.Time `json:"powerAt,omitzero"`
	// Transaction is the session of the power reading (0: none); Active:
	// that session is open, so the power is being drawn now.
	Transaction int64     `json:"transaction,omitempty"`
	Active      bool      `json:"active"`
	EnergyWh    *int64    `json:"energyWh,omitempty"`
	EnergyAt    time.Time `json:"energyAt,omitzero"`
}

// LiveCharger is a charger with its connectors' live power.
type LiveCharger struct {
	Charger
	Live []LivePower `json:"live"`
}

// liveChargers returns site's chargers (only charger's, when not "")
// with their live power.
func (s *Store) liveChargers(ctx context.Context, site, charger string) ([]LiveCharger, error) {
	chargers, err := s.Chargers(ctx, site)
	if err != nil {
		return nil, err
	}
	out := make([]LiveCharger, 0, len(chargers))
	index := map[string]int{}
	for _, c := range chargers {
		if charger == "" || c.ID == charger {
			index[c.ID] = len(out)
			out = append(out, LiveCharger{Charger: c, Live: []LivePower{}})
		}
	}
	rows, err := s.query(ctx, s.db, `SELECT lp.charger, lp.connector, lp.power_w, lp.power_at, lp.power_tx, t.id IS NOT NULL,
		lp.energy_wh, lp.energy_at FROM live_power lp
		LEFT JOIN transactions t ON t.site = lp.site AND t.id = lp.power_tx AND lp.power_tx <> 0 AND t.stop_at = 0
		WHERE lp.site = ? AND (? = '' OR lp.charger = ?) ORDER BY lp.charger, lp.connector`, site, charger, charger)
	if err != nil {
		return nil, fmt.Errorf("fleet: live power of %s: %w", site, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var l LivePower
		var powerAt, energyAt, energy int64
		if err := rows.Scan(&id, &l.Connector, &l.PowerW, &powerAt, &l.Transaction, &l.Active, &energy, &energyAt); err != nil {
			return nil, fmt.Errorf("fleet: live power of %s: %w", site, err)
		}
		l.PowerAt, l.EnergyAt = fromMS(powerAt), fromMS(energyAt)
		if energyAt != 0 {
			l.EnergyWh = &energy
		}
		if i, ok := index[id]; ok {
			out[i].Live = append(out[i].Live, l)
		}
	}
	return out, rows.Err()
}

// SiteDetail is a site's page: its health, its chargers live and its
// latest sessions.
type SiteDetail struct {
	Site Site `json:"site"`
	// Network is the appliance's last network report (nil: none yet).
	Network  *NetworkReport `json:"network,omitempty"`
	Chargers []LiveCharger  `json:"chargers"`
	// Sessions are the latest 20, newest first.
	Sessions []Session `json:"sessions"`
}

// NetworkReport is an appliance's latest network event
// (syncproto.EventNetwork): its uplink's connectivity (full, limited,
// portal, none, unknown) and the details (uplink kind and interface,
// access point state and SSID, devices on it).
type NetworkReport struct {
	Connectivity string               `json:"connectivity"`
	At           time.Time            `json:"at"`
	Detail       syncproto.Attributes `json:"detail,omitempty"`
}

// networkReport returns site's latest network event, nil if none.
func (s *Store) networkReport(ctx context.Context, site string) (*NetworkReport, error) {
	var r NetworkReport
	var at int64
	var detail string
	err := s.queryRow(ctx, s.db, `SELECT code, at, detail FROM events WHERE site = ? AND event = ? ORDER BY at DESC LIMIT 1`,
		site, syncproto.EventNetwork).Scan(&r.Connectivity, &at, &detail)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("fleet: network report of %s: %w", site, err)
	}
	r.At = fromMS(at)
	if err := json.Unmarshal([]byte(detail), &r.Detail); err != nil {
		return nil, fmt.Errorf("fleet: network report of %s: %w", site, err)
	}
	return &r, nil
}

// SiteView returns site's page.
func (s *Store) SiteView(ctx context.Context, site string) (SiteDetail, error) {
	st, err := s.Site(ctx, site)
	if err != nil {
		return SiteDetail{}, err
	}
	d := SiteDetail{Site: st}
	if d.Network, err = s.networkReport(ctx, site); err != nil {
		return SiteDetail{}, err
	}
	if d.Chargers, err = s.liveChargers(ctx, site, ""); err != nil {
		return SiteDetail{}, err
	}
	page, err := s.Sessions(ctx, SessionFilter{Site: site, Limit: 20})
	if err != nil {
		return SiteDetail{}, err
	}
	d.Sessions = page.Sessions
	return d, nil
}

// StatusChange is one connector status a charger reported.
type StatusChange struct {
	At        time.Time `json:"at"`
	Connector int       `json:"connector"`
	Status    string    `json:"status"`
	ErrorCode string    `json:"errorCode,omitempty"`
	Info      string    `json:"info,omitempty"`
}

// ChargerDetail is a charger's page.
type ChargerDetail struct {
	Site    string      `json:"site"`
	Charger LiveCharger `json:"charger"`
	// History is the charger's connector statuses, newest first, 100 a
	// page; HistoryNext is the before of the next page (zero: the last).
	History     []StatusChange `json:"history"`
	HistoryNext time.Time      `json:"historyNext,omitzero"`
	// Configuration is what the charger last reported: 1.6 keys and 2.x
	// variables in one map (nil: none reported).
	Configuration   map[string]syncproto.ConfigValue `json:"configuration"`
	ConfigurationAt time.Time                        `json:"configurationAt,omitzero"`
	// Commands are the charger's latest 100, newest first.
	Commands []Command `json:"commands"`
	// Reservations are the commands that reserve (reserve) or cancel a
	// reservation (cancel-reservation), newest 100, with their results:
	// the appliance does not sync its reservations, so these commands
	// are what the cloud knows of them.
	Reservations []Command `json:"reservations"`
}

// historyPage bounds a page of status history.
const historyPage = 100

// ChargerView returns a charger's page; its status history before
// before (zero: from the newest).
func (s *Store) ChargerView(ctx context.Context, site, charger string, before time.Time) (ChargerDetail, error) {
	if _, err := s.Site(ctx, site); err != nil {
		return ChargerDetail{}, err
	}
	live, err := s.liveChargers(ctx, site, charger)
	if err != nil {
		return ChargerDetail{}, err
	}
	if len(live) == 0 {
		return ChargerDetail{}, fmt.Errorf("fleet: charger %s/%s: %w", site, charger, ErrNotFound)
	}
	d := ChargerDetail{Site: site, Charger: live[0]}
	if d.History, d.HistoryNext, err = s.statusHistory(ctx, site, charger, before); err != nil {
		return ChargerDetail{}, err
	}
	var config string
	var at int64
	err = s.queryRow(ctx, s.db, `SELECT configuration, at FROM charger_config WHERE site = ? AND charger = ?`, site, charger).Scan(&config, &at)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return ChargerDetail{}, fmt.Errorf("fleet: configuration of %s/%s: %w", site, charger, err)
	default:
		d.ConfigurationAt = fromMS(at)
		if err := json.Unmarshal([]byte(config), &d.Configuration); err != nil {
			return ChargerDetail{}, fmt.Errorf("fleet: configuration of %s/%s: %w", site, charger, err)
		}
	}
	if d.Commands, err = s.Commands(ctx, CommandFilter{Site: site, Charger: charger}); err != nil {
		return ChargerDetail{}, err
	}
	if d.Reservations, err = s.commands(ctx, CommandFilter{Site: site, Charger: charger}, "reserve", "cancel-reservation"); err != nil {
		return ChargerDetail{}, err
	}
	return d, nil
}

// statusHistory returns a page of the charger's statuses before before
// (zero: from the newest), and the before of the next page. A page
// ends on a whole millisecond, so that the next, which starts before
// it, misses none.
func (s *Store) statusHistory(ctx context.Context, site, charger string, before time.Time) ([]StatusChange, time.Time, error) {
	upTo := int64(math.MaxInt64)
	if !before.IsZero() {
		upTo = ms(before)
	}
	rows, err := s.query(ctx, s.db, `SELECT at, connector, status, error_code, info FROM status_history
		WHERE site = ? AND charger = ? AND at < ? ORDER BY at DESC, connector, status LIMIT ?`, site, charger, upTo, historyPage+1)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("fleet: status history of %s/%s: %w", site, charger, err)
	}
	defer rows.Close()
	out := []StatusChange{}
	var ats []int64
	for rows.Next() {
		var c StatusChange
		var at int64
		if err := rows.Scan(&at, &c.Connector, &c.Status, &c.ErrorCode, &c.Info); err != nil {
			return nil, time.Time{}, fmt.Errorf("fleet: status history of %s/%s: %w", site, charger, err)
		}
		c.At = fromMS(at)
		out, ats = append(out, c), append(ats, at)
	}
	if err := rows.Err(); err != nil {
		return nil, time.Time{}, fmt.Errorf("fleet: status history of %s/%s: %w", site, charger, err)
	}
	if len(out) <= historyPage {
		return out, time.Time{}, nil
	}
	// Cut before the millisecond the page would split, unless the page
	// is that millisecond alone.
	n := historyPage
	for n > 0 && ats[n-1] == ats[historyPage] {
		n--
	}
	if n == 0 {
		n = historyPage
	}
	return out[:n], fromMS(ats[n-1]), nil
}

// CommandFilter selects commands, newest first.
type CommandFilter struct {
	Site    string // required
	Charger string // "": every charger's
	Limit   int    // 1..1000; 0: 100
	// Before is the id of the last command of the previous page.
	Before string
}

// Commands returns the commands f selects, newest first, expired first
// where their deadline passed without an answer.
func (s *Store) Commands(ctx context.Context, f CommandFilter) ([]Command, error) {
	return s.commands(ctx, f)
}

// commands is Commands of the given commands only (none given: all).
func (s *Store) commands(ctx context.Context, f CommandFilter, only ...string) ([]Command, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	f.Limit = min(f.Limit, 1000)
	if _, err := s.ExpireCommands(ctx); err != nil {
		return nil, err
	}
	q, args := `SELECT `+commandColumns+` FROM commands WHERE site = ?`, []any{f.Site}
	if f.Charger != "" {
		q, args = q+` AND charger = ?`, append(args, f.Charger)
	}
	if len(only) > 0 {
		q += ` AND command IN (?` + strings.Repeat(`, ?`, len(only)-1) + `)`
		for _, c := range only {
			args = append(args, c)
		}
	}
	if f.Before != "" {
		var created int64
		err := s.queryRow(ctx, s.db, `SELECT created_at FROM commands WHERE id = ? AND site = ?`, f.Before, f.Site).Scan(&created)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("fleet: commands of %s: %w: before: no such command of the site", f.Site, ErrInvalid)
		} else if err != nil {
			return nil, fmt.Errorf("fleet: commands of %s: %w", f.Site, err)
		}
		q, args = q+` AND (created_at, id) < (?, ?)`, append(args, created, f.Before)
	}
	rows, err := s.query(ctx, s.db, q+` ORDER BY created_at DESC, id DESC LIMIT ?`, append(args, f.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("fleet: commands of %s: %w", f.Site, err)
	}
	defer rows.Close()
	out := []Command{}
	for rows.Next() {
		c, err := scanCommand(rows)
		if err != nil {
			return nil, fmt.Errorf("fleet: commands of %s: %w", f.Site, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
