// The OCPP 1.6 enumerations. Each type's Values method is the set
// payload.Decode and payload.Validate check against.

package v16

// AuthorizationStatus is the outcome of an authorization (IdTagInfo.status).
type AuthorizationStatus string

// AuthorizationStatus values.
const (
	AuthorizationAccepted     AuthorizationStatus = "Accepted"
	AuthorizationBlocked      AuthorizationStatus = "Blocked"
	AuthorizationExpired      AuthorizationStatus = "Expired"
	AuthorizationInvalid      AuthorizationStatus = "Invalid"
	AuthorizationConcurrentTx AuthorizationStatus = "ConcurrentTx"
)

// Values lists every valid AuthorizationStatus.
func (AuthorizationStatus) Values() []string {
	return []string{string(AuthorizationAccepted), string(AuthorizationBlocked), string(AuthorizationExpired), string(AuthorizationInvalid), string(AuthorizationConcurrentTx)}
}

// RegistrationStatus is whether the CSMS accepts a charger's BootNotification.
type RegistrationStatus string

// RegistrationStatus values.
const (
	RegistrationAccepted RegistrationStatus = "Accepted"
	RegistrationPending  RegistrationStatus = "Pending"
	RegistrationRejected RegistrationStatus = "Rejected"
)

// Values lists every valid RegistrationStatus.
func (RegistrationStatus) Values() []string {
	return []string{string(RegistrationAccepted), string(RegistrationPending), string(RegistrationRejected)}
}

// DataTransferStatus is the outcome of a DataTransfer.
type DataTransferStatus string

// DataTransferStatus values.
const (
	DataTransferAccepted         DataTransferStatus = "Accepted"
	DataTransferRejected         DataTransferStatus = "Rejected"
	DataTransferUnknownMessageId DataTransferStatus = "UnknownMessageId"
	DataTransferUnknownVendorId  DataTransferStatus = "UnknownVendorId"
)

// Values lists every valid DataTransferStatus.
func (DataTransferStatus) Values() []string {
	return []string{string(DataTransferAccepted), string(DataTransferRejected), string(DataTransferUnknownMessageId), string(DataTransferUnknownVendorId)}
}

// DiagnosticsStatus is the state of a diagnostics upload.
type DiagnosticsStatus string

// DiagnosticsStatus values.
const (
	DiagnosticsIdle         DiagnosticsStatus = "Idle"
	DiagnosticsUploaded     DiagnosticsStatus = "Uploaded"
	DiagnosticsUploadFailed DiagnosticsStatus = "UploadFailed"
	DiagnosticsUploading    DiagnosticsStatus = "Uploading"
)

// Values lists every valid DiagnosticsStatus.
func (DiagnosticsStatus) Values() []string {
	return []string{string(DiagnosticsIdle), string(DiagnosticsUploaded), string(DiagnosticsUploadFailed), string(DiagnosticsUploading)}
}

// FirmwareStatus is the state of a firmware update.
type FirmwareStatus string

// FirmwareStatus values.
const (
	FirmwareDownloaded         FirmwareStatus = "Downloaded"
	FirmwareDownloadFailed     FirmwareStatus = "DownloadFailed"
	FirmwareDownloading        FirmwareStatus = "Downloading"
	FirmwareIdle               FirmwareStatus = "Idle"
	FirmwareInstallationFailed FirmwareStatus = "InstallationFailed"
	FirmwareInstalling         FirmwareStatus = "Installing"
	FirmwareInstalled          FirmwareStatus = "Installed"
)

// Values lists every valid FirmwareStatus.
func (FirmwareStatus) Values() []string {
	return []string{string(FirmwareDownloaded), string(FirmwareDownloadFailed), string(FirmwareDownloading), string(FirmwareIdle), string(FirmwareInstallationFailed), string(FirmwareInstalling), string(FirmwareInstalled)}
}

// ReadingContext is why a sampled value was taken.
type ReadingContext string

// ReadingContext values.
const (
	ContextInterruptionBegin ReadingContext = "Interruption.Begin"
	ContextInterruptionEnd   ReadingContext = "Interruption.End"
	ContextSampleClock       ReadingContext = "Sample.Clock"
	ContextSamplePeriodic    ReadingContext = "Sample.Periodic"
	ContextTransactionBegin  ReadingContext = "Transaction.Begin"
	ContextTransactionEnd    ReadingContext = "Transaction.End"
	ContextTrigger           ReadingContext = "Trigger"
	ContextOther             ReadingContext = "Other"
)

// Values lists every valid ReadingContext.
func (ReadingContext) Values() []string {
	return []string{string(ContextInterruptionBegin), string(ContextInterruptionEnd), string(ContextSampleClock), string(ContextSamplePeriodic), string(ContextTransactionBegin), string(ContextTransactionEnd), string(ContextTrigger), string(ContextOther)}
}

// ValueFormat is how a sampled value is written.
type ValueFormat string

// ValueFormat values.
const (
	FormatRaw        ValueFormat = "Raw"
	FormatSignedData ValueFormat = "SignedData"
)

// Values lists every valid ValueFormat.
func (ValueFormat) Values() []string {
	return []string{string(FormatRaw), string(FormatSignedData)}
}

// Measurand is what a sampled value measures.
type Measurand string

// Measurand values.
const (
	MeasurandEnergyActiveExportRegister   Measurand = "Energy.Active.Export.Register"
	MeasurandEnergyActiveImportRegister   Measurand = "Energy.Active.Import.Register"
	MeasurandEnergyReactiveExportRegister Measurand = "Energy.Reactive.Export.Register"
	MeasurandEnergyReactiveImportRegister Measurand = "Energy.Reactive.Import.Register"
	MeasurandEnergyActiveExportInterval   Measurand = "Energy.Active.Export.Interval"
	MeasurandEnergyActiveImportInterval   Measurand = "Energy.Active.Import.Interval"
	MeasurandEnergyReactiveExportInterval Measurand = "Energy.Reactive.Export.Interval"
	MeasurandEnergyReactiveImportInterval Measurand = "Energy.Reactive.Import.Interval"
	MeasurandPowerActiveExport            Measurand = "Power.Active.Export"
	MeasurandPowerActiveImport            Measurand = "Power.Active.Import"
	MeasurandPowerOffered                 Measurand = "Power.Offered"
	MeasurandPowerReactiveExport          Measurand = "Power.Reactive.Export"
	MeasurandPowerReactiveImport          Measurand = "Power.Reactive.Import"
	MeasurandPowerFactor                  Measurand = "Power.Factor"
	MeasurandCurrentImport                Measurand = "Current.Import"
	MeasurandCurrentExport                Measurand = "Current.Export"
	MeasurandCurrentOffered               Measurand = "Current.Offered"
	MeasurandVoltage                      Measurand = "Voltage"
	MeasurandFrequency                    Measurand = "Frequency"
	MeasurandTemperature                  Measurand = "Temperature"
	MeasurandSoC                          Measurand = "SoC"
	MeasurandRPM                          Measurand = "RPM"
)

// Values lists every valid Measurand.
func (Measurand) Values() []string {
	return []string{string(MeasurandEnergyActiveExportRegister), string(MeasurandEnergyActiveImportRegister), string(MeasurandEnergyReactiveExportRegister), string(MeasurandEnergyReactiveImportRegister), string(MeasurandEnergyActiveExportInterval), string(MeasurandEnergyActiveImportInterval), string(MeasurandEnergyReactiveExportInterval), string(MeasurandEnergyReactiveImportInterval), string(MeasurandPowerActiveExport), string(MeasurandPowerActiveImport), string(MeasurandPowerOffered), string(MeasurandPowerReactiveExport), string(MeasurandPowerReactiveImport), string(MeasurandPowerFactor), string(MeasurandCurrentImport), string(MeasurandCurrentExport), string(MeasurandCurrentOffered), string(MeasurandVoltage), string(MeasurandFrequency), string(MeasurandTemperature), string(MeasurandSoC), string(MeasurandRPM)}
}

// Phase is the phase a sampled value was measured on.
type Phase string

// Phase values.
const (
	PhaseL1   Phase = "L1"
	PhaseL2   Phase = "L2"
	PhaseL3   Phase = "L3"
	PhaseN    Phase = "N"
	PhaseL1N  Phase = "L1-N"
	PhaseL2N  Phase = "L2-N"
	PhaseL3N  Phase = "L3-N"
	PhaseL1L2 Phase = "L1-L2"
	PhaseL2L3 Phase = "L2-L3"
	PhaseL3L1 Phase = "L3-L1"
)

// Values lists every valid Phase.
func (Phase) Values() []string {
	return []string{string(PhaseL1), string(PhaseL2), string(PhaseL3), string(PhaseN), string(PhaseL1N), string(PhaseL2N), string(PhaseL3N), string(PhaseL1L2), string(PhaseL2L3), string(PhaseL3L1)}
}

// Location is where a sampled value was measured.
type Location string

// Location values.
const (
	LocationCable  Location = "Cable"
	LocationEV     Location = "EV"
	LocationInlet  Location = "Inlet"
	LocationOutlet Location = "Outlet"
	LocationBody   Location = "Body"
)

// Values lists every valid Location.
func (Location) Values() []string {
	return []string{string(LocationCable), string(LocationEV), string(LocationInlet), string(LocationOutlet), string(LocationBody)}
}

// UnitOfMeasure is the unit of a sampled value. "Celcius" is the spec's own misspelling, kept because chargers send it.
type UnitOfMeasure string

// UnitOfMeasure values.
const (
	UnitWh         UnitOfMeasure = "Wh"
	UnitkWh        UnitOfMeasure = "kWh"
	Unitvarh       UnitOfMeasure = "varh"
	Unitkvarh      UnitOfMeasure = "kvarh"
	UnitW          UnitOfMeasure = "W"
	UnitkW         UnitOfMeasure = "kW"
	UnitVA         UnitOfMeasure = "VA"
	UnitkVA        UnitOfMeasure = "kVA"
	Unitvar        UnitOfMeasure = "var"
	Unitkvar       UnitOfMeasure = "kvar"
	UnitA          UnitOfMeasure = "A"
	UnitV          UnitOfMeasure = "V"
	UnitK          UnitOfMeasure = "K"
	UnitCelcius    UnitOfMeasure = "Celcius"
	UnitCelsius    UnitOfMeasure = "Celsius"
	UnitFahrenheit UnitOfMeasure = "Fahrenheit"
	UnitPercent    UnitOfMeasure = "Percent"
	UnitHertz      UnitOfMeasure = "Hertz"
)

// Values lists every valid UnitOfMeasure.
func (UnitOfMeasure) Values() []string {
	return []string{string(UnitWh), string(UnitkWh), string(Unitvarh), string(Unitkvarh), string(UnitW), string(UnitkW), string(UnitVA), string(UnitkVA), string(Unitvar), string(Unitkvar), string(UnitA), string(UnitV), string(UnitK), string(UnitCelcius), string(UnitCelsius), string(UnitFahrenheit), string(UnitPercent), string(UnitHertz)}
}

// ChargePointErrorCode is a connector's error in a StatusNotification.
type ChargePointErrorCode string

// ChargePointErrorCode values.
const (
	ErrConnectorLockFailure ChargePointErrorCode = "ConnectorLockFailure"
	ErrEVCommunicationError ChargePointErrorCode = "EVCommunicationError"
	ErrGroundFailure        ChargePointErrorCode = "GroundFailure"
	ErrHighTemperature      ChargePointErrorCode = "HighTemperature"
	ErrInternalError        ChargePointErrorCode = "InternalError"
	ErrLocalListConflict    ChargePointErrorCode = "LocalListConflict"
	ErrNoError              ChargePointErrorCode = "NoError"
	ErrOtherError           ChargePointErrorCode = "OtherError"
	ErrOverCurrentFailure   ChargePointErrorCode = "OverCurrentFailure"
	ErrPowerMeterFailure    ChargePointErrorCode = "PowerMeterFailure"
	ErrPowerSwitchFailure   ChargePointErrorCode = "PowerSwitchFailure"
	ErrReaderFailure        ChargePointErrorCode = "ReaderFailure"
	ErrResetFailure         ChargePointErrorCode = "ResetFailure"
	ErrUnderVoltage         ChargePointErrorCode = "UnderVoltage"
	ErrOverVoltage          ChargePointErrorCode = "OverVoltage"
	ErrWeakSignal           ChargePointErrorCode = "WeakSignal"
)

// Values lists every valid ChargePointErrorCode.
func (ChargePointErrorCode) Values() []string {
	return []string{string(ErrConnectorLockFailure), string(ErrEVCommunicationError), string(ErrGroundFailure), string(ErrHighTemperature), string(ErrInternalError), string(ErrLocalListConflict), string(ErrNoError), string(ErrOtherError), string(ErrOverCurrentFailure), string(ErrPowerMeterFailure), string(ErrPowerSwitchFailure), string(ErrReaderFailure), string(ErrResetFailure), string(ErrUnderVoltage), string(ErrOverVoltage), string(ErrWeakSignal)}
}

// ChargePointStatus is a connector's state in a StatusNotification.
type ChargePointStatus string

// ChargePointStatus values.
const (
	StatusAvailable     ChargePointStatus = "Available"
	StatusPreparing     ChargePointStatus = "Preparing"
	StatusCharging      ChargePointStatus = "Charging"
	StatusSuspendedEVSE ChargePointStatus = "SuspendedEVSE"
	StatusSuspendedEV   ChargePointStatus = "SuspendedEV"
	StatusFinishing     ChargePointStatus = "Finishing"
	StatusReserved      ChargePointStatus = "Reserved"
	StatusUnavailable   ChargePointStatus = "Unavailable"
	StatusFaulted       ChargePointStatus = "Faulted"
)

// Values lists every valid ChargePointStatus.
func (ChargePointStatus) Values() []string {
	return []string{string(StatusAvailable), string(StatusPreparing), string(StatusCharging), string(StatusSuspendedEVSE), string(StatusSuspendedEV), string(StatusFinishing), string(StatusReserved), string(StatusUnavailable), string(StatusFaulted)}
}

// Reason is why a transaction stopped.
type Reason string

// Reason values.
const (
	ReasonEmergencyStop  Reason = "EmergencyStop"
	ReasonEVDisconnected Reason = "EVDisconnected"
	ReasonHardReset      Reason = "HardReset"
	ReasonLocal          Reason = "Local"
	ReasonOther          Reason = "Other"
	ReasonPowerLoss      Reason = "PowerLoss"
	ReasonReboot         Reason = "Reboot"
	ReasonRemote         Reason = "Remote"
	ReasonSoftReset      Reason = "SoftReset"
	ReasonUnlockCommand  Reason = "UnlockCommand"
	ReasonDeAuthorized   Reason = "DeAuthorized"
)

// Values lists every valid Reason.
func (Reason) Values() []string {
	return []string{string(ReasonEmergencyStop), string(ReasonEVDisconnected), string(ReasonHardReset), string(ReasonLocal), string(ReasonOther), string(ReasonPowerLoss), string(ReasonReboot), string(ReasonRemote), string(ReasonSoftReset), string(ReasonUnlockCommand), string(ReasonDeAuthorized)}
}

// CancelReservationStatus is the answer to CancelReservation.
type CancelReservationStatus string

// CancelReservationStatus values.
const (
	CancelReservationAccepted CancelReservationStatus = "Accepted"
	CancelReservationRejected CancelReservationStatus = "Rejected"
)

// Values lists every valid CancelReservationStatus.
func (CancelReservationStatus) Values() []string {
	return []string{string(CancelReservationAccepted), string(CancelReservationRejected)}
}

// AvailabilityType is the availability ChangeAvailability asks for.
type AvailabilityType string

// AvailabilityType values.
const (
	AvailabilityTypeInoperative AvailabilityType = "Inoperative"
	AvailabilityTypeOperative   AvailabilityType = "Operative"
)

// Values lists every valid AvailabilityType.
func (AvailabilityType) Values() []string {
	return []string{string(AvailabilityTypeInoperative), string(AvailabilityTypeOperative)}
}

// AvailabilityStatus is the answer to ChangeAvailability.
type AvailabilityStatus string

// AvailabilityStatus values.
const (
	AvailabilityStatusAccepted  AvailabilityStatus = "Accepted"
	AvailabilityStatusRejected  AvailabilityStatus = "Rejected"
	AvailabilityStatusScheduled AvailabilityStatus = "Scheduled"
)

// Values lists every valid AvailabilityStatus.
func (AvailabilityStatus) Values() []string {
	return []string{string(AvailabilityStatusAccepted), string(AvailabilityStatusRejected), string(AvailabilityStatusScheduled)}
}

// ConfigurationStatus is the answer to ChangeConfiguration.
type ConfigurationStatus string

// ConfigurationStatus values.
const (
	ConfigurationAccepted       ConfigurationStatus = "Accepted"
	ConfigurationRejected       ConfigurationStatus = "Rejected"
	ConfigurationRebootRequired ConfigurationStatus = "RebootRequired"
	ConfigurationNotSupported   ConfigurationStatus = "NotSupported"
)

// Values lists every valid ConfigurationStatus.
func (ConfigurationStatus) Values() []string {
	return []string{string(ConfigurationAccepted), string(ConfigurationRejected), string(ConfigurationRebootRequired), string(ConfigurationNotSupported)}
}

// ClearCacheStatus is the answer to ClearCache.
type ClearCacheStatus string

// ClearCacheStatus values.
const (
	ClearCacheAccepted ClearCacheStatus = "Accepted"
	ClearCacheRejected ClearCacheStatus = "Rejected"
)

// Values lists every valid ClearCacheStatus.
func (ClearCacheStatus) Values() []string {
	return []string{string(ClearCacheAccepted), string(ClearCacheRejected)}
}

// ChargingProfilePurpose is what a charging profile is for.
type ChargingProfilePurpose string

// ChargingProfilePurpose values.
const (
	PurposeChargePointMaxProfile ChargingProfilePurpose = "ChargePointMaxProfile"
	PurposeTxDefaultProfile      ChargingProfilePurpose = "TxDefaultProfile"
	PurposeTxProfile             ChargingProfilePurpose = "TxProfile"
)

// Values lists every valid ChargingProfilePurpose.
func (ChargingProfilePurpose) Values() []string {
	return []string{string(PurposeChargePointMaxProfile), string(PurposeTxDefaultProfile), string(PurposeTxProfile)}
}

// ChargingProfileKind is how a charging profile's schedule is anchored in time.
type ChargingProfileKind string

// ChargingProfileKind values.
const (
	KindAbsolute  ChargingProfileKind = "Absolute"
	KindRecurring ChargingProfileKind = "Recurring"
	KindRelative  ChargingProfileKind = "Relative"
)

// Values lists every valid ChargingProfileKind.
func (ChargingProfileKind) Values() []string {
	return []string{string(KindAbsolute), string(KindRecurring), string(KindRelative)}
}

// RecurrencyKind is the period of a recurring charging profile.
type RecurrencyKind string

// RecurrencyKind values.
const (
	RecurrencyDaily  RecurrencyKind = "Daily"
	RecurrencyWeekly RecurrencyKind = "Weekly"
)

// Values lists every valid RecurrencyKind.
func (RecurrencyKind) Values() []string {
	return []string{string(RecurrencyDaily), string(RecurrencyWeekly)}
}

// ChargingRateUnit is the unit of charging schedule limits.
type ChargingRateUnit string

// ChargingRateUnit values.
const (
	RateUnitA ChargingRateUnit = "A"
	RateUnitW ChargingRateUnit = "W"
)

// Values lists every valid ChargingRateUnit.
func (ChargingRateUnit) Values() []string {
	return []string{string(RateUnitA), string(RateUnitW)}
}

// RemoteStartStopStatus is the answer to RemoteStartTransaction and RemoteStopTransaction.
type RemoteStartStopStatus string

// RemoteStartStopStatus values.
const (
	RemoteStartStopAccepted RemoteStartStopStatus = "Accepted"
	RemoteStartStopRejected RemoteStartStopStatus = "Rejected"
)

// Values lists every valid RemoteStartStopStatus.
func (RemoteStartStopStatus) Values() []string {
	return []string{string(RemoteStartStopAccepted), string(RemoteStartStopRejected)}
}

// ReservationStatus is the answer to ReserveNow.
type ReservationStatus string

// ReservationStatus values.
const (
	ReservationAccepted    ReservationStatus = "Accepted"
	ReservationFaulted     ReservationStatus = "Faulted"
	ReservationOccupied    ReservationStatus = "Occupied"
	ReservationRejected    ReservationStatus = "Rejected"
	ReservationUnavailable ReservationStatus = "Unavailable"
)

// Values lists every valid ReservationStatus.
func (ReservationStatus) Values() []string {
	return []string{string(ReservationAccepted), string(ReservationFaulted), string(ReservationOccupied), string(ReservationRejected), string(ReservationUnavailable)}
}

// ResetType is the kind of Reset.
type ResetType string

// ResetType values.
const (
	ResetTypeHard ResetType = "Hard"
	ResetTypeSoft ResetType = "Soft"
)

// Values lists every valid ResetType.
func (ResetType) Values() []string {
	return []string{string(ResetTypeHard), string(ResetTypeSoft)}
}

// ResetStatus is the answer to Reset.
type ResetStatus string

// ResetStatus values.
const (
	ResetStatusAccepted ResetStatus = "Accepted"
	ResetStatusRejected ResetStatus = "Rejected"
)

// Values lists every valid ResetStatus.
func (ResetStatus) Values() []string {
	return []string{string(ResetStatusAccepted), string(ResetStatusRejected)}
}

// UpdateType is whether SendLocalList replaces or patches the list.
type UpdateType string

// UpdateType values.
const (
	UpdateTypeDifferential UpdateType = "Differential"
	UpdateTypeFull         UpdateType = "Full"
)

// Values lists every valid UpdateType.
func (UpdateType) Values() []string {
	return []string{string(UpdateTypeDifferential), string(UpdateTypeFull)}
}

// UpdateStatus is the answer to SendLocalList.
type UpdateStatus string

// UpdateStatus values.
const (
	UpdateStatusAccepted        UpdateStatus = "Accepted"
	UpdateStatusFailed          UpdateStatus = "Failed"
	UpdateStatusNotSupported    UpdateStatus = "NotSupported"
	UpdateStatusVersionMismatch UpdateStatus = "VersionMismatch"
)

// Values lists every valid UpdateStatus.
func (UpdateStatus) Values() []string {
	return []string{string(UpdateStatusAccepted), string(UpdateStatusFailed), string(UpdateStatusNotSupported), string(UpdateStatusVersionMismatch)}
}

// MessageTrigger is the message TriggerMessage asks for.
type MessageTrigger string

// MessageTrigger values.
const (
	TriggerBootNotification              MessageTrigger = "BootNotification"
	TriggerDiagnosticsStatusNotification MessageTrigger = "DiagnosticsStatusNotification"
	TriggerFirmwareStatusNotification    MessageTrigger = "FirmwareStatusNotification"
	TriggerHeartbeat                     MessageTrigger = "Heartbeat"
	TriggerMeterValues                   MessageTrigger = "MeterValues"
	TriggerStatusNotification            MessageTrigger = "StatusNotification"
)

// Values lists every valid MessageTrigger.
func (MessageTrigger) Values() []string {
	return []string{string(TriggerBootNotification), string(TriggerDiagnosticsStatusNotification), string(TriggerFirmwareStatusNotification), string(TriggerHeartbeat), string(TriggerMeterValues), string(TriggerStatusNotification)}
}

// TriggerMessageStatus is the answer to TriggerMessage.
type TriggerMessageStatus string

// TriggerMessageStatus values.
const (
	TriggerMessageAccepted       TriggerMessageStatus = "Accepted"
	TriggerMessageRejected       TriggerMessageStatus = "Rejected"
	TriggerMessageNotImplemented TriggerMessageStatus = "NotImplemented"
)

// Values lists every valid TriggerMessageStatus.
func (TriggerMessageStatus) Values() []string {
	return []string{string(TriggerMessageAccepted), string(TriggerMessageRejected), string(TriggerMessageNotImplemented)}
}

// UnlockStatus is the answer to UnlockConnector.
type UnlockStatus string

// UnlockStatus values.
const (
	UnlockUnlocked     UnlockStatus = "Unlocked"
	UnlockUnlockFailed UnlockStatus = "UnlockFailed"
	UnlockNotSupported UnlockStatus = "NotSupported"
)

// Values lists every valid UnlockStatus.
func (UnlockStatus) Values() []string {
	return []string{string(UnlockUnlocked), string(UnlockUnlockFailed), string(UnlockNotSupported)}
}

// ChargingProfileStatus is the answer to SetChargingProfile.
type ChargingProfileStatus string

// ChargingProfileStatus values.
const (
	ChargingProfileAccepted     ChargingProfileStatus = "Accepted"
	ChargingProfileRejected     ChargingProfileStatus = "Rejected"
	ChargingProfileNotSupported ChargingProfileStatus = "NotSupported"
)

// Values lists every valid ChargingProfileStatus.
func (ChargingProfileStatus) Values() []string {
	return []string{string(ChargingProfileAccepted), string(ChargingProfileRejected), string(ChargingProfileNotSupported)}
}

// ClearChargingProfileStatus is the answer to ClearChargingProfile.
type ClearChargingProfileStatus string

// ClearChargingProfileStatus values.
const (
	ClearChargingProfileAccepted ClearChargingProfileStatus = "Accepted"
	ClearChargingProfileUnknown  ClearChargingProfileStatus = "Unknown"
)

// Values lists every valid ClearChargingProfileStatus.
func (ClearChargingProfileStatus) Values() []string {
	return []string{string(ClearChargingProfileAccepted), string(ClearChargingProfileUnknown)}
}

// GetCompositeScheduleStatus is the answer to GetCompositeSchedule.
type GetCompositeScheduleStatus string

// GetCompositeScheduleStatus values.
const (
	CompositeScheduleAccepted GetCompositeScheduleStatus = "Accepted"
	CompositeScheduleRejected GetCompositeScheduleStatus = "Rejected"
)

// Values lists every valid GetCompositeScheduleStatus.
func (GetCompositeScheduleStatus) Values() []string {
	return []string{string(CompositeScheduleAccepted), string(CompositeScheduleRejected)}
}
