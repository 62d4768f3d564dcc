package cloudsync

import (
	"cmp"
	"context"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/store"
	"github.com/constellation-ev/constellation/syncproto"
)

// OnChange is charging.Config.OnChange: it runs inside the bbolt
// transaction of every domain mutation and queues the upstream records
// that describe the change in that same transaction, so a change the
// charger was told is stored is also queued for the cloud. Token changes
// are not sent: the cloud owns the authorization list (see
// docs/sync.md).
func (c *Client) OnChange(tx *bbolt.Tx, ch charging.Change) error {
	msgs, err := messagesOf(tx, ch, c.clock.Now)
	if err != nil {
		return err
	}
	byCharger := chargerTimes(ch)
	for _, m := range msgs {
		if err := c.outbox.append(tx, m, byCharger); err != nil {
			return err
		}
	}
	return nil
}

// Record queues m for the cloud, durably, for what the appliance reports
// outside the charging domain (its network); m's times are the
// appliance's. It returns once m is committed to the outbox.
func (c *Client) Record(ctx context.Context, m syncproto.Message) error {
	err := c.st.Update(ctx, func(tx *bbolt.Tx) error { return c.outbox.append(tx, m, false) })
	if err != nil {
		return fmt.Errorf("cloudsync: record %s: %w", m.Kind(), err)
	}
	return nil
}

// messagesOf maps a domain change to the upstream records that describe it.
func messagesOf(tx *bbolt.Tx, ch charging.Change, now func() time.Time) ([]syncproto.Message, error) {
	id := string(ch.ChargerID)
	switch r := ch.Record.(type) {
	case charging.Charger:
		switch ch.Kind {
		case charging.ChangeBoot:
			return []syncproto.Message{
				&syncproto.ChargerStatus{Charger: id, Connected: true, Vendor: r.Vendor, Model: r.Model,
					Serial: r.SerialNumber, Firmware: r.FirmwareVersion, LastSeen: r.LastBoot},
				&syncproto.Event{Event: syncproto.EventBoot, Charger: id, At: r.LastBoot, Detail: nonEmpty(
					"vendor", r.Vendor, "model", r.Model, "serial", r.SerialNumber, "firmware", r.FirmwareVersion)},
			}, nil
		case charging.ChangeFirmwareStatus:
			return []syncproto.Message{&syncproto.Event{Event: syncproto.EventFirmware, Charger: id, At: now(), Code: r.FirmwareStatus}}, nil
		case charging.ChangeDiagnosticsStatus:
			return []syncproto.Message{&syncproto.Event{Event: syncproto.EventDiagnostics, Charger: id, At: now(), Code: r.DiagnosticsStatus}}, nil
		case charging.ChangeConfiguration:
			cfg := make(map[string]syncproto.ConfigValue, len(r.Configuration))
			for k, v := range r.Configuration {
				cfg[k] = syncproto.ConfigValue{Value: v.Value, Readonly: v.Readonly}
			}
			return []syncproto.Message{&syncproto.ChargerConfig{Charger: id, Configuration: cfg}}, nil
		}
	case charging.Connector:
		at := r.Timestamp
		if at.IsZero() {
			at = r.UpdatedAt
		}
		msgs := []syncproto.Message{&syncproto.ChargerStatus{Charger: id, Connected: true, LastSeen: r.UpdatedAt,
			Connectors: []syncproto.Connector{{ID: r.ID, Status: string(r.Status), ErrorCode: r.ErrorCode, Info: r.Info, Time: at}}}}
		if r.Status == charging.StatusFaulted {
			msgs = append(msgs, &syncproto.Event{Event: syncproto.EventFault, Charger: id, At: at, Code: r.ErrorCode,
				Detail: nonEmpty("connector", strconv.Itoa(r.ID), "info", r.Info, "vendorId", r.VendorID, "vendorErrorCode", r.VendorErrorCode)})
		}
		return msgs, nil
	case charging.Transaction:
		event := map[charging.ChangeKind]string{charging.ChangeTransactionStart: syncproto.TxStarted,
			charging.ChangeTransactionUpdate: syncproto.TxUpdated, charging.ChangeTransactionStop: syncproto.TxStopped}[ch.Kind]
		if event == "" {
			return nil, nil
		}
		rev, err := nextRev(tx, r.ID)
		if err != nil {
			return nil, err
		}
		return []syncproto.Message{transaction(r, event, rev)}, nil
	case charging.MeterValues:
		return readingsOf(r), nil
	case charging.Tap:
		var connector, txID string
		if r.ConnectorID > 0 {
			connector = strconv.Itoa(r.ConnectorID)
		}
		if r.TransactionID > 0 {
			txID = strconv.FormatInt(r.TransactionID, 10)
		}
		detail := nonEmpty("token", r.Token, "reason", r.Reason, "connector", connector, "transactionId", txID)
		return []syncproto.Message{&syncproto.Event{Event: syncproto.EventTap, Charger: id, At: r.At, Code: string(r.Result), Detail: detail}}, nil
	case charging.Reservation:
		return []syncproto.Message{&syncproto.Event{Event: "reservation", Charger: id, At: now(), Code: r.Status,
			Detail: nonEmpty("reservationId", strconv.Itoa(r.ID), "connector", strconv.Itoa(r.ConnectorID),
				"idTag", r.IDTag, "expiry", r.Expiry.UTC().Format(time.RFC3339))}}, nil
	}
	// Tokens (the cloud owns the authorization list) and kinds this
	// version does not know are not sent.
	return nil, nil
}

// nextRev bumps and returns the revision of transaction id.
func nextRev(tx *bbolt.Tx, id int64) (int, error) {
	b := tx.Bucket(bkTxRevs)
	key := store.U64(uint64(id))
	rev, _ := store.ParseU64(b.Get(key))
	rev++
	return int(rev), b.Put(key, store.U64(rev))
}

func transaction(t charging.Transaction, event string, rev int) *syncproto.Transaction {
	return &syncproto.Transaction{Event: event, Rev: rev, ID: t.ID, Charger: string(t.ChargerID), ChargerTxID: t.ChargerTxID,
		Protocol: t.Protocol, Connector: t.ConnectorID, EVSEConnector: t.EVSEConnectorID, IDTag: t.IDTag,
		Start: t.StartTime, MeterStartWh: t.MeterStartWh, ReservationID: t.ReservationID, Stop: t.StopTime,
		MeterStopWh: t.MeterStopWh, StopIDTag: t.StopIDTag, StopReason: t.StopReason, Orphan: t.Orphan,
		Offline: t.Offline, StartedImplicitly: t.StartedImplicitly, SeqNoGaps: t.SeqNoGaps}
}

// nonEmpty makes Attributes of the key, value pairs whose value is set.
func nonEmpty(kv ...string) syncproto.Attributes {
	a := syncproto.Attributes{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			a[kv[i]] = kv[i+1]
		}
	}
	if len(a) == 0 {
		return nil
	}
	return a
}

// maxSampleValue is syncproto's limit on one value of a Readings batch.
const maxSampleValue = 64

// maxBatchRows caps the values of one Readings record, queued or merged:
// an hour of a session's 15-second samples of several measurands fits,
// and the deflated payload stays far below syncproto.MaxPayload.
const maxBatchRows = 4096

// readingsOf maps a meter report to Readings records. Signed meter data
// stays on the appliance (its local API serves it): syncproto carries
// plain values only.
func readingsOf(mv charging.MeterValues) []syncproto.Message {
	rows := make([]syncproto.Reading, 0, len(mv.Readings))
	for _, r := range mv.Readings {
		if r.Format == "SignedData" {
			continue
		}
		v, ok := scaleDecimal(r.Value, r.Multiplier)
		if !ok || len(v) > maxSampleValue {
			continue
		}
		rows = append(rows, syncproto.Reading{Time: r.Timestamp, Value: v, Column: syncproto.Column{
			Measurand: cmp.Or(r.Measurand, charging.DefaultMeasurand), Phase: r.Phase, Unit: r.Unit,
			Context: r.Context, Location: r.Location, Format: r.Format}})
	}
	var out []syncproto.Message
	for _, b := range batches(string(mv.ChargerID), mv.ConnectorID, mv.TransactionID, rows) {
		out = append(out, b)
	}
	return out
}

// batches puts rows into Readings records within syncproto's limits (at
// most MaxColumns series and maxBatchRows values each), in order.
func batches(charger string, connector int, tx int64, rows []syncproto.Reading) []*syncproto.Readings {
	var out []*syncproto.Readings
	for len(rows) > 0 {
		cols := map[syncproto.Column]bool{}
		n := 0
		for n < len(rows) && n < maxBatchRows {
			if !cols[rows[n].Column] && len(cols) == syncproto.MaxColumns {
				break
			}
			cols[rows[n].Column] = true
			n++
		}
		r := &syncproto.Readings{Charger: charger, Connector: connector, TransactionID: tx}
		r.AddReadings(rows[:n]...)
		out = append(out, r)
		rows = rows[n:]
	}
	return out
}

// scaleDecimal returns the decimal text v times 10^exp (OCPP 2.x's
// unitOfMeasure multiplier), exactly: syncproto has no multiplier, so
// values travel scaled. exp 0 returns v as the charger wrote it.
func scaleDecimal(v string, exp int) (string, bool) {
	if exp == 0 {
		return v, true
	}
	r, ok := new(big.Rat).SetString(v)
	if !ok {
		return "", false
	}
	p := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(exp))), nil))
	if exp > 0 {
		r.Mul(r, p)
	} else {
		r.Quo(r, p)
	}
	// Enough decimals for the exact value: those written, plus the shift.
	decimals := -exp
	if _, frac, ok := strings.Cut(v, "."); ok {
		decimals += len(frac)
	}
	if strings.ContainsAny(v, "eE") {
		decimals += 32
	}
	s := r.FloatString(max(decimals, 0))
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s, true
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
