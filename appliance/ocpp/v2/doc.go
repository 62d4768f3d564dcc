// Package v2 maps OCPP 2.0.1 and 2.1 onto the charging domain. An
// [Adapter] serves one of the two versions: it answers the CALLs of that
// version's chargers (it is an rpc.Handler), checks commands before they
// are sent, and records the effects of the chargers' answers.
//
// # One code path for both versions
//
// The mapping is written once, against the 2.1 types of package v21. A 2.1
// charger's payloads are decoded with v21 directly. A 2.0.1 charger's are
// decoded with v201 (strictly, or leniently when the charger is configured
// so), so that the charger gets 2.0.1's limits and error codes, and then
// converted to the 2.1 struct with encoding/json: every 2.0.1 message
// carries over to its 2.1 counterpart and back to a valid 2.0.1 payload (a
// test checks this for the whole registry). Answers are built as 2.1
// structs; for a 2.0.1 charger they are converted to the 2.0.1 type and
// validated against it when encoded, and an answer 2.0.1 cannot carry is an
// internal error, never sent. Where the domain gives an authorization status
// the charger's version lacks (one only 2.1 knows, for a 2.0.1 charger),
// the answer says Invalid, the value every version has. The conversion writes
// date-times as UTC with at most millisecond precision (payload.DateTime),
// so a 2.0.1 charger's timestamps are stored at that precision; 2.1's are
// stored as sent.
//
// # Charger to CSMS
//
// Handled: Authorize, BootNotification, DataTransfer (answered
// UnknownVendorId: no vendor extension is known), FirmwareStatusNotification,
// Heartbeat, LogStatusNotification (the charger's diagnostics status),
// MeterValues, NotifyEvent, NotifyReport, SecurityEventNotification (logged),
// StatusNotification, TransactionEvent, and in 2.1 OpenPeriodicEventStream
// (Accepted), ClosePeriodicEventStream and NotifyPeriodicEventStream (a
// SEND: taken and ignored). Every other action of the version's
// registry is answered NotSupported (the action is known, this CSMS does not
// support it, or it is not sent by chargers); an action the registry does
// not know is NotImplemented. A SEND of an action that is not sent with
// SEND is logged and dropped (a SEND has no answer, not even an error); a
// CALL of a SEND-only action is answered RpcFrameworkError.
//
// Mapping decisions:
//
//   - EVSEs: the domain's connector id is the EVSE id, its EVSEConnectorID
//     the connector within the EVSE. The appliance does not know a charger's
//     EVSE layout; whatever EVSE a charger names is recorded.
//   - Meter readings store every field explicitly, with the 2.x defaults
//     (measurand Energy.Active.Import.Register, context Sample.Periodic,
//     location Outlet, unit Wh from unitOfMeasure.unit, multiplier from
//     unitOfMeasure.multiplier, format Raw: a 2.x value is always the plain
//     reading). The value is the decimal text exactly as the charger wrote
//     it. A signedMeterValue beside it is not stored.
//   - TransactionEvent becomes a [charging.TransactionEvent]; the domain
//     applies the session rules (seqNo gaps and reordering, implicit starts,
//     first stop wins). An idToken with an empty idToken (type
//     NoAuthorization) counts as no token. chargingState is logged, not
//     stored.
//   - NotifyReport attributes are stored with their defaults made explicit
//     (attribute type Actual, mutability ReadWrite). Only the first part
//     (seqNo 0) of a FullInventory base report this CSMS asked for replaces
//     the stored device model, once and only while no other part of it has
//     arrived; every other part, and every other report, is merged in. A
//     full report's first part without reportData replaces nothing.
//   - NotifyEvent records each event's actualValue as the Actual value of
//     its variable (merged, value only).
//
// # Commands
//
// CheckCommand validates a command strictly for the version; any action of
// the registry that the CSMS may send is allowed. CommandAnswered decodes
// the answer with the charger's leniency and records: CancelReservation
// Accepted (the reservation is cancelled), ReserveNow Accepted (the
// reservation: evseId as connector, 0 when absent; idToken and
// groupIdToken as id and parent tags), GetVariables results Accepted (the
// values), SetVariables results Accepted or RebootRequired (the values set,
// as a 1.6 ChangeConfiguration is recorded). GetBaseReport is remembered as
// it is sent ([Adapter.CommandSending]), so that the NotifyReport answering
// it may replace the device model.
package v2
