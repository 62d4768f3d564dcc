package load

import (
	"strconv"
	"time"

	"github.com/constellation-ev/constellation/syncproto"
)

// sampleEvery is the meter interval of the simulated chargers; a Readings
// record of 20 samples is the five minutes cloudsync batches by default.
const sampleEvery = 15 * time.Second

// The series every Readings record carries, as cloudsync writes a 1.6
// charger's periodic MeterValues.
var (
	colEnergy = syncproto.Column{Measurand: "Energy.Active.Import.Register", Unit: "Wh", Context: "Sample.Periodic", Location: "Outlet", Format: "Raw"}
	colPower  = syncproto.Column{Measurand: "Power.Active.Import", Unit: "W", Context: "Sample.Periodic", Location: "Outlet", Format: "Raw"}
)

// keys hands out a site's idempotency keys: the run's random id and a
// sequence, the shape of cloudsync's "{store}-{seq}", so keys never repeat
// across runs against the same site.
type keys struct {
	prefix string
	seq    uint64
}

func (k *keys) next() string {
	k.seq++
	return k.prefix + strconv.FormatUint(k.seq, 10)
}

// charger is one simulated charger: it produces the records an appliance
// queues for it, in the order it queues them. Once, at its boot: a status
// (identity, connector Available) and a boot event. Then sessions, each:
// transaction started (rev 1), status Charging, ReadingsPerSession
// Readings records of SamplesPerReadings samples, each but the last
// followed by a transaction updated (next rev), transaction stopped,
// status Available. Its time is virtual, running one sample interval per
// sample, so a run produces hours of sessions in seconds.
type charger struct {
	site, id    string
	readings    int // per session
	samples     int // per Readings record
	now         time.Time
	meterWh     int64
	nextTx      func() int64
	booted      bool
	step        int // position in the session script
	tx          *syncproto.Transaction
	readingsSeq int // Readings records sent in this session
}

// next returns the charger's next record, without its key and version
// (the sender stamps them).
func (c *charger) next() syncproto.Message {
	if !c.booted {
		if c.step == 0 {
			c.step = 1
			return &syncproto.ChargerStatus{Header: c.header(), Charger: c.id, Connected: true, Protocol: "ocpp1.6",
				Vendor: "Constellation", Model: "fleetsim", Serial: c.site + "-" + c.id, Firmware: "1.0.0", LastSeen: c.now,
				Connectors: []syncproto.Connector{{ID: 1, Status: "Available", Time: c.now}}}
		}
		c.booted, c.step = true, 0
		return &syncproto.Event{Header: c.header(), Event: syncproto.EventBoot, Charger: c.id, At: c.now,
			Detail: syncproto.Attributes{"vendor": "Constellation", "model": "fleetsim"}}
	}
	switch {
	case c.tx == nil: // a session starts
		c.now = c.now.Add(time.Minute)
		c.tx = &syncproto.Transaction{Event: syncproto.TxStarted, Rev: 1, ID: c.nextTx(), Charger: c.id, Protocol: "ocpp1.6",
			Connector: 1, IDTag: "CARD-" + c.id, Start: c.now, MeterStartWh: c.meterWh}
		c.readingsSeq, c.step = 0, 1
		return c.txRecord()
	case c.step == 1:
		c.step = 2
		return c.status("Charging")
	case c.step == 2: // a Readings batch
		c.readingsSeq++
		c.step = 3
		if c.readingsSeq == c.readings {
			c.step = 4
		}
		return c.batch()
	case c.step == 3: // the session's update after a batch
		c.tx.Event, c.tx.Rev = syncproto.TxUpdated, c.tx.Rev+1
		c.step = 2
		return c.txRecord()
	case c.step == 4:
		c.now = c.now.Add(sampleEvery)
		stop := c.meterWh
		c.tx.Event, c.tx.Rev, c.tx.Stop, c.tx.MeterStopWh, c.tx.StopReason = syncproto.TxStopped, c.tx.Rev+1, c.now, &stop, "Local"
		c.step = 5
		return c.txRecord()
	default:
		c.tx = nil
		return c.status("Available")
	}
}

func (c *charger) header() syncproto.Header {
	return syncproto.Header{Site: c.site, Time: c.now}
}

// txRecord is the session's whole record at its current revision.
func (c *charger) txRecord() *syncproto.Transaction {
	m := *c.tx
	m.Header = c.header()
	return &m
}

func (c *charger) status(s string) *syncproto.ChargerStatus {
	return &syncproto.ChargerStatus{Header: c.header(), Charger: c.id, Connected: true, LastSeen: c.now,
		Connectors: []syncproto.Connector{{ID: 1, Status: s, Time: c.now}}}
}

// batch is the next samples of the session's meter: energy rising at
// about 7.4 kW, and the power. It is built in columns directly (what
// AddReadings would make of the rows), which keeps the generator's share
// of a shared machine small.
func (c *charger) batch() *syncproto.Readings {
	r := &syncproto.Readings{Header: c.header(), Charger: c.id, Connector: 1, TransactionID: c.tx.ID,
		Columns: []syncproto.Column{colEnergy, colPower}, Samples: make([]syncproto.Sample, 0, c.samples)}
	values := make([]string, 0, 2*c.samples)
	for i := range c.samples {
		c.now = c.now.Add(sampleEvery)
		c.meterWh += 31 // 7.44 kW over 15 s
		if i == 0 {
			r.Start = c.now
		}
		values = append(values, strconv.FormatInt(c.meterWh, 10), "7412.5")
		r.Samples = append(r.Samples, syncproto.Sample{Offset: c.now.Sub(r.Start), Values: values[2*i : 2*i+2 : 2*i+2]})
	}
	r.Header.Time = c.now
	return r
}
