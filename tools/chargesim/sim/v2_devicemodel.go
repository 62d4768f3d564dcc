package sim

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/constellation-ev/constellation/appliance/ocpp/v21"
)

// dmVar is one variable of the simulated 2.x device model (its Actual
// attribute).
type dmVar struct {
	comp       string
	evse, conn int // the component's EVSE and connector, 0 for none
	name, inst string
	mut        v21.Mutability
	typ        v21.Data
	unit       string
	min        *float64
	values     string // valuesList of the list types
	value      string
	// dynamic computes the value of a read-only variable; c.mu is held.
	dynamic func() string
	// valid adds a check to the data type's; apply puts an accepted value
	// into effect. c.mu is held for both.
	valid func(string) bool
	apply func(string)
}

// Device model values the rest of the simulation reads.
const (
	measurandList   = "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage"
	txPointList     = "ParkingBayOccupancy,EVConnected,Authorized,DataSigned,PowerPathClosed,EnergyTransfer"
	availabilityOpt = "Available,Occupied,Reserved,Unavailable,Faulted"
	reportItems     = 20 // DeviceDataCtrlr.ItemsPerMessage[GetReport]
)

// deviceModel builds the station's device model: the controller
// components the OCPP 2.x specification requires, and each EVSE and its
// connector.
func (p *v2Proto) deviceModel() []*dmVar {
	o := &p.s.opts
	var vars []*dmVar
	rw, ro, wo := v21.MutabilityReadWrite, v21.MutabilityReadOnly, v21.MutabilityWriteOnly
	zero, one := 0.0, 1.0
	add := func(comp, name, inst string, mut v21.Mutability, typ v21.Data, value string) *dmVar {
		d := &dmVar{comp: comp, name: name, inst: inst, mut: mut, typ: typ, value: value}
		if typ == v21.DataInteger {
			d.min = &zero
		}
		vars = append(vars, d)
		return d
	}
	boolean := func(comp, name string, mut v21.Mutability, v bool) *dmVar {
		return add(comp, name, "", mut, v21.DataBoolean, strconv.FormatBool(v))
	}
	seconds := func(comp, name, inst string, mut v21.Mutability, d time.Duration) *dmVar {
		v := add(comp, name, inst, mut, v21.DataInteger, "0")
		if d > 0 {
			v.value = secs(d)
		}
		v.unit = "s"
		return v
	}
	list := func(comp, name string, mut v21.Mutability, typ v21.Data, values, value string) *dmVar {
		v := add(comp, name, "", mut, typ, value)
		v.values = values
		return v
	}
	count := func(comp, name, inst string, n int) *dmVar {
		return add(comp, name, inst, ro, v21.DataInteger, strconv.Itoa(n))
	}

	hb := seconds("OCPPCommCtrlr", "HeartbeatInterval", "", rw, p.hbInterval)
	hb.min = &one
	hb.apply = func(v string) {
		n, _ := strconv.Atoi(v)
		p.hbInterval = time.Duration(n) * time.Second
		p.s.heartbeatChanged()
	}
	seconds("OCPPCommCtrlr", "MessageTimeout", "Default", ro, o.CallTimeout)
	count("OCPPCommCtrlr", "MessageAttempts", "TransactionEvent", transactionMessageAttempts)
	seconds("OCPPCommCtrlr", "MessageAttemptInterval", "TransactionEvent", ro, o.RetryInterval)
	list("OCPPCommCtrlr", "NetworkConfigurationPriority", rw, v21.DataSequenceList, "0", "0")
	add("OCPPCommCtrlr", "NetworkProfileConnectionAttempts", "", rw, v21.DataInteger, "3").min = &one
	seconds("OCPPCommCtrlr", "OfflineThreshold", "", rw, time.Minute)
	add("OCPPCommCtrlr", "ResetRetries", "", rw, v21.DataInteger, "2")
	boolean("OCPPCommCtrlr", "UnlockOnEVSideDisconnect", rw, true)
	list("OCPPCommCtrlr", "FileTransferProtocols", ro, v21.DataMemberList, "FTP,FTPS,HTTP,HTTPS,SFTP", "HTTPS,FTP")

	boolean("SampledDataCtrlr", "Enabled", rw, true)
	list("SampledDataCtrlr", "TxStartedMeasurands", rw, v21.DataMemberList, measurandList, "Energy.Active.Import.Register")
	list("SampledDataCtrlr", "TxUpdatedMeasurands", rw, v21.DataMemberList, measurandList, measurandList)
	upd := seconds("SampledDataCtrlr", "TxUpdatedInterval", "", rw, p.meterInterval)
	upd.apply = func(v string) {
		n, _ := strconv.Atoi(v)
		p.setMeterIntervalLocked(time.Duration(n) * time.Second) // 0: no periodic TransactionEvent
	}
	list("SampledDataCtrlr", "TxEndedMeasurands", rw, v21.DataMemberList, measurandList, "Energy.Active.Import.Register")
	seconds("SampledDataCtrlr", "TxEndedInterval", "", rw, 0)

	list("AlignedDataCtrlr", "Measurands", rw, v21.DataMemberList, measurandList, "Energy.Active.Import.Register")
	seconds("AlignedDataCtrlr", "Interval", "", rw, 0)
	list("AlignedDataCtrlr", "TxEndedMeasurands", rw, v21.DataMemberList, measurandList, "")
	seconds("AlignedDataCtrlr", "TxEndedInterval", "", rw, 0)

	boolean("AuthCtrlr", "Enabled", rw, true)
	boolean("AuthCtrlr", "AuthorizeRemoteStart", rw, false)
	boolean("AuthCtrlr", "LocalAuthorizeOffline", rw, true)
	boolean("AuthCtrlr", "LocalPreAuthorize", rw, false)
	boolean("AuthCtrlr", "OfflineTxForUnknownIdEnabled", rw, false)

	boolean("AuthCacheCtrlr", "Available", ro, true)
	boolean("AuthCacheCtrlr", "Enabled", rw, true)
	seconds("AuthCacheCtrlr", "LifeTime", "", rw, 24*time.Hour)

	boolean("LocalAuthListCtrlr", "Available", ro, true)
	boolean("LocalAuthListCtrlr", "Enabled", rw, true)
	count("LocalAuthListCtrlr", "Entries", "", 0).dynamic = func() string { return strconv.Itoa(len(p.localList)) }
	count("LocalAuthListCtrlr", "ItemsPerMessage", "", maxLocalListLength)
	count("LocalAuthListCtrlr", "BytesPerMessage", "", 65536)

	seconds("TxCtrlr", "EVConnectionTimeOut", "", rw, time.Minute)
	boolean("TxCtrlr", "StopTxOnEVSideDisconnect", rw, true)
	boolean("TxCtrlr", "StopTxOnInvalidId", rw, true)
	start := "PowerPathClosed"
	if o.LateToken {
		start = "EVConnected"
	}
	list("TxCtrlr", "TxStartPoint", rw, v21.DataMemberList, txPointList, start).valid = func(v string) bool { return v != "" }
	list("TxCtrlr", "TxStopPoint", rw, v21.DataMemberList, txPointList, "EVConnected,Authorized").valid = func(v string) bool { return v != "" }

	boolean("ReservationCtrlr", "Available", ro, true)
	boolean("ReservationCtrlr", "Enabled", rw, true)
	boolean("ReservationCtrlr", "NonEvseSpecific", ro, true)

	boolean("SmartChargingCtrlr", "Available", ro, true)
	boolean("SmartChargingCtrlr", "Enabled", rw, true)
	count("SmartChargingCtrlr", "Entries", "ChargingProfiles", 0).dynamic = func() string { return strconv.Itoa(len(p.profiles)) }
	lcs := add("SmartChargingCtrlr", "LimitChangeSignificance", "", rw, v21.DataDecimal, "1.0")
	lcs.min = &zero
	count("SmartChargingCtrlr", "PeriodsPerSchedule", "", maxPeriods)
	count("SmartChargingCtrlr", "ProfileStackLevel", "", maxStackLevel)
	list("SmartChargingCtrlr", "RateUnit", ro, v21.DataMemberList, "A,W", "A,W")

	for _, inst := range []string{"GetReport", "GetVariables", "SetVariables"} {
		n := 50
		if inst == "GetReport" {
			n = reportItems
		}
		count("DeviceDataCtrlr", "ItemsPerMessage", inst, n)
		count("DeviceDataCtrlr", "BytesPerMessage", inst, 65536)
	}

	add("ClockCtrlr", "DateTime", "", ro, v21.DataDateTime, "").dynamic = func() string {
		return p.s.clock.Now().UTC().Format(time.RFC3339)
	}
	list("ClockCtrlr", "TimeSource", rw, v21.DataSequenceList, "Heartbeat,NTP,GPS,RealTimeClock,MobileNetwork,RadioTimeTransmitter", "Heartbeat")

	pw := add("SecurityCtrlr", "BasicAuthPassword", "", wo, v21.DataString, "")
	pw.valid = func(v string) bool { return len(v) >= 16 && len(v) <= 40 }
	pw.apply = p.s.setPassword // used from the next connect
	add("SecurityCtrlr", "Identity", "", ro, v21.DataString, o.ID)
	add("SecurityCtrlr", "OrganizationName", "", rw, v21.DataString, o.Vendor)
	add("SecurityCtrlr", "SecurityProfile", "", ro, v21.DataInteger, strconv.Itoa(securityProfile(o)))

	availability := func(cn *connector) func() string {
		return func() string {
			if cn.id == 0 {
				return string(v2Status(cn.idleStatus(true)))
			}
			return string(v2Status(cn.status))
		}
	}
	st := list("ChargingStation", "AvailabilityState", ro, v21.DataOptionList, availabilityOpt, "")
	st.dynamic = availability(p.connectors[0])
	boolean("ChargingStation", "Available", ro, true)
	count("ChargingStation", "SupplyPhases", "", phases)
	for _, cn := range p.connectors[1:] {
		at := func(d *dmVar, conn int) {
			d.evse, d.conn = cn.id, conn
		}
		d := list("EVSE", "AvailabilityState", ro, v21.DataOptionList, availabilityOpt, "")
		d.dynamic = availability(cn)
		at(d, 0)
		at(boolean("EVSE", "Available", ro, true), 0)
		pwr := add("EVSE", "Power", "", ro, v21.DataDecimal, strconv.Itoa(int(maxCurrent*phases*nominalVoltage)))
		pwr.unit = "W"
		at(pwr, 0)
		at(count("EVSE", "SupplyPhases", "", phases), 0)
		d = list("Connector", "AvailabilityState", ro, v21.DataOptionList, availabilityOpt, "")
		d.dynamic = availability(cn)
		at(d, 1)
		at(boolean("Connector", "Available", ro, true), 1)
		at(add("Connector", "ConnectorType", "", ro, v21.DataString, "cType2"), 1)
		at(count("Connector", "SupplyPhases", "", phases), 1)
	}
	return vars
}

// securityProfile is the OCPP security profile the options amount to.
func securityProfile(o *Options) int {
	switch {
	case o.TLSConfig != nil && len(o.TLSConfig.Certificates) > 0:
		return 3
	case o.Password != "" && strings.HasPrefix(o.URL, "wss:"):
		return 2
	case o.Password != "":
		return 1
	}
	return 0
}

// current is the variable's value now; c.mu is held.
func (d *dmVar) current() string {
	if d.dynamic != nil {
		return d.dynamic()
	}
	return d.value
}

// check reports whether value is valid for the variable's data type.
func (d *dmVar) check(value string) bool {
	inList := func(v string) bool { return slices.Contains(strings.Split(d.values, ","), v) }
	ok := true
	switch d.typ {
	case v21.DataInteger:
		n, err := strconv.Atoi(value)
		ok = err == nil && (d.min == nil || float64(n) >= *d.min)
	case v21.DataDecimal:
		f, err := strconv.ParseFloat(value, 64)
		ok = err == nil && (d.min == nil || f >= *d.min)
	case v21.DataBoolean:
		ok = value == "true" || value == "false"
	case v21.DataDateTime:
		_, err := time.Parse(time.RFC3339, value)
		ok = err == nil
	case v21.DataOptionList:
		ok = inList(value)
	case v21.DataMemberList, v21.DataSequenceList:
		if value == "" {
			ok = d.typ == v21.DataMemberList
			break
		}
		items := strings.Split(value, ",")
		for i, v := range items {
			if !inList(v) || slices.Contains(items[:i], v) {
				ok = false
			}
		}
	}
	return ok && (d.valid == nil || d.valid(value))
}

// lookupLocked finds a variable; compKnown reports whether the component
// exists. c.mu is held.
func (p *v2Proto) lookupLocked(c v21.Component, v v21.Variable) (d *dmVar, compKnown bool) {
	evse, conn := 0, 0
	if c.Evse != nil {
		evse = c.Evse.Id
		if c.Evse.ConnectorId != nil {
			conn = *c.Evse.ConnectorId
		}
	}
	for _, d := range p.vars {
		if d.comp != c.Name || c.Instance != "" || d.evse != evse || d.conn != conn {
			continue
		}
		compKnown = true
		if d.name == v.Name && d.inst == v.Instance {
			return d, true
		}
	}
	return nil, compKnown
}

// varValue is the value of a charger-wide variable; c.mu is held.
func (p *v2Proto) varValue(comp, name, inst string) string {
	if d, _ := p.lookupLocked(v21.Component{Name: comp}, v21.Variable{Name: name, Instance: inst}); d != nil {
		return d.current()
	}
	return ""
}

// setVarLocked stores a value without validation or effect (the station
// itself changed it); c.mu is held.
func (p *v2Proto) setVarLocked(comp, name, inst, value string) {
	if d, _ := p.lookupLocked(v21.Component{Name: comp}, v21.Variable{Name: name, Instance: inst}); d != nil {
		d.value = value
	}
}

// getVariableLocked answers one GetVariables item; c.mu is held.
func (p *v2Proto) getVariableLocked(g v21.GetVariableData) v21.GetVariableResult {
	res := v21.GetVariableResult{Component: g.Component, Variable: g.Variable, AttributeType: g.AttributeType}
	d, known := p.lookupLocked(g.Component, g.Variable)
	switch {
	case !known:
		res.AttributeStatus = v21.GetVariableUnknownComponent
	case d == nil:
		res.AttributeStatus = v21.GetVariableUnknownVariable
	case g.AttributeType != "" && g.AttributeType != v21.AttributeActual:
		res.AttributeStatus = v21.GetVariableNotSupportedAttributeType
	case d.mut == v21.MutabilityWriteOnly:
		res.AttributeStatus = v21.GetVariableRejected
		res.AttributeStatusInfo = &v21.StatusInfo{ReasonCode: "WriteOnly"}
	default:
		res.AttributeStatus = v21.GetVariableAccepted
		res.AttributeValue = d.current()
	}
	return res
}

// setVariableLocked applies one SetVariables item; c.mu is held.
func (p *v2Proto) setVariableLocked(s v21.SetVariableData) v21.SetVariableResult {
	res := v21.SetVariableResult{Component: s.Component, Variable: s.Variable, AttributeType: s.AttributeType}
	d, known := p.lookupLocked(s.Component, s.Variable)
	switch {
	case !known:
		res.AttributeStatus = v21.SetVariableUnknownComponent
	case d == nil:
		res.AttributeStatus = v21.SetVariableUnknownVariable
	case s.AttributeType != "" && s.AttributeType != v21.AttributeActual:
		res.AttributeStatus = v21.SetVariableNotSupportedAttributeType
	case d.mut == v21.MutabilityReadOnly:
		res.AttributeStatus = v21.SetVariableRejected
		res.AttributeStatusInfo = &v21.StatusInfo{ReasonCode: "ReadOnly"}
	case !d.check(s.AttributeValue):
		res.AttributeStatus = v21.SetVariableRejected
		res.AttributeStatusInfo = &v21.StatusInfo{ReasonCode: "InvalidValue"}
	default:
		res.AttributeStatus = v21.SetVariableAccepted
		d.value = s.AttributeValue
		if d.apply != nil {
			d.apply(d.value)
		}
	}
	return res
}

// reportLocked returns the report data of a base report; c.mu is held.
func (p *v2Proto) reportLocked(base v21.ReportBase) []v21.ReportData {
	var out []v21.ReportData
	for _, d := range p.vars {
		switch base {
		case v21.ReportBaseConfigurationInventory:
			if d.mut == v21.MutabilityReadOnly {
				continue
			}
		case v21.ReportBaseSummaryInventory:
			if d.name != "AvailabilityState" {
				continue
			}
		}
		comp := v21.Component{Name: d.comp}
		if d.evse > 0 {
			comp.Evse = &v21.EVSE{Id: d.evse}
			if d.conn > 0 {
				comp.Evse.ConnectorId = ptr(d.conn)
			}
		}
		attr := v21.VariableAttribute{Type: v21.AttributeActual, Mutability: d.mut, Persistent: ptr(true), Constant: ptr(d.mut == v21.MutabilityReadOnly && d.dynamic == nil)}
		if d.mut != v21.MutabilityWriteOnly {
			attr.Value = d.current()
		}
		out = append(out, v21.ReportData{
			Component: comp, Variable: v21.Variable{Name: d.name, Instance: d.inst},
			VariableAttribute:       []v21.VariableAttribute{attr},
			VariableCharacteristics: &v21.VariableCharacteristics{DataType: d.typ, Unit: d.unit, MinLimit: d.min, ValuesList: d.values},
		})
	}
	return out
}
