package v16

import "github.com/constellation-ev/constellation/appliance/ocpp/payload"

// DateTime is an RFC 3339 timestamp; the zero value means absent.
type DateTime = payload.DateTime

// Shared types.

// IdTagInfo is the CSMS's verdict on an idTag.
type IdTagInfo struct {
	ExpiryDate  DateTime            `json:"expiryDate,omitzero"`
	ParentIdTag string              `json:"parentIdTag,omitempty" ocpp:"maxLength=20"`
	Status      AuthorizationStatus `json:"status" ocpp:"required"`
}

// MeterValue is a set of sampled values taken at one time.
type MeterValue struct {
	Timestamp DateTime `json:"timestamp" ocpp:"required"`
	// The spec requires at least one sample; lenient mode accepts none.
	SampledValue []SampledValue `json:"sampledValue" ocpp:"required,minItems=1,quirkEmpty"`
}

// SampledValue is one measured value.
type SampledValue struct {
	Value     string         `json:"value" ocpp:"required"`
	Context   ReadingContext `json:"context,omitempty"`
	Format    ValueFormat    `json:"format,omitempty"`
	Measurand Measurand      `json:"measurand,omitempty"`
	Phase     Phase          `json:"phase,omitempty"`
	Location  Location       `json:"location,omitempty"`
	Unit      UnitOfMeasure  `json:"unit,omitempty"`
}

// ChargingProfile limits the power or current a charger may draw.
type ChargingProfile struct {
	ChargingProfileId      int                    `json:"chargingProfileId" ocpp:"required"`
	TransactionId          *int                   `json:"transactionId,omitempty"`
	StackLevel             int                    `json:"stackLevel" ocpp:"required"`
	ChargingProfilePurpose ChargingProfilePurpose `json:"chargingProfilePurpose" ocpp:"required"`
	ChargingProfileKind    ChargingProfileKind    `json:"chargingProfileKind" ocpp:"required"`
	RecurrencyKind         RecurrencyKind         `json:"recurrencyKind,omitempty"`
	ValidFrom              DateTime               `json:"validFrom,omitzero"`
	ValidTo                DateTime               `json:"validTo,omitzero"`
	ChargingSchedule       ChargingSchedule       `json:"chargingSchedule" ocpp:"required"`
}

// ChargingSchedule is a list of limits over time.
type ChargingSchedule struct {
	Duration               *int                     `json:"duration,omitempty"`
	StartSchedule          DateTime                 `json:"startSchedule,omitzero"`
	ChargingRateUnit       ChargingRateUnit         `json:"chargingRateUnit" ocpp:"required"`
	ChargingSchedulePeriod []ChargingSchedulePeriod `json:"chargingSchedulePeriod" ocpp:"required"`
	MinChargingRate        *float64                 `json:"minChargingRate,omitempty" ocpp:"multipleOf=0.1"`
}

// ChargingSchedulePeriod is one limit, from StartPeriod seconds after the
// schedule's start.
type ChargingSchedulePeriod struct {
	StartPeriod  int     `json:"startPeriod" ocpp:"required"`
	Limit        float64 `json:"limit" ocpp:"required,multipleOf=0.1"`
	NumberPhases *int    `json:"numberPhases,omitempty"`
}

// KeyValue is one configuration key in a GetConfiguration response.
type KeyValue struct {
	Key      string  `json:"key" ocpp:"required,maxLength=50"`
	Readonly bool    `json:"readonly" ocpp:"required"`
	Value    *string `json:"value,omitempty" ocpp:"maxLength=500"`
}

// AuthorizationData is one entry of a local authorization list.
type AuthorizationData struct {
	IdTag     string     `json:"idTag" ocpp:"required,maxLength=20"`
	IdTagInfo *IdTagInfo `json:"idTagInfo,omitempty"`
}

// Charger to CSMS.

// AuthorizeRequest asks whether an idTag may charge.
type AuthorizeRequest struct {
	IdTag string `json:"idTag" ocpp:"required,maxLength=20"`
}

// AuthorizeResponse answers an AuthorizeRequest.
type AuthorizeResponse struct {
	IdTagInfo IdTagInfo `json:"idTagInfo" ocpp:"required"`
}

// BootNotificationRequest is sent by a charger after (re)booting.
type BootNotificationRequest struct {
	ChargePointVendor       string `json:"chargePointVendor" ocpp:"required,maxLength=20"`
	ChargePointModel        string `json:"chargePointModel" ocpp:"required,maxLength=20"`
	ChargePointSerialNumber string `json:"chargePointSerialNumber,omitempty" ocpp:"maxLength=25"`
	ChargeBoxSerialNumber   string `json:"chargeBoxSerialNumber,omitempty" ocpp:"maxLength=25"`
	FirmwareVersion         string `json:"firmwareVersion,omitempty" ocpp:"maxLength=50"`
	Iccid                   string `json:"iccid,omitempty" ocpp:"maxLength=20"`
	Imsi                    string `json:"imsi,omitempty" ocpp:"maxLength=20"`
	MeterType               string `json:"meterType,omitempty" ocpp:"maxLength=25"`
	MeterSerialNumber       string `json:"meterSerialNumber,omitempty" ocpp:"maxLength=25"`
}

// BootNotificationResponse answers a BootNotificationRequest; Interval is
// the heartbeat interval in seconds.
type BootNotificationResponse struct {
	Status      RegistrationStatus `json:"status" ocpp:"required"`
	CurrentTime DateTime           `json:"currentTime" ocpp:"required"`
	Interval    int                `json:"interval" ocpp:"required"`
}

// DataTransferRequest carries vendor-specific data, in either direction.
type DataTransferRequest struct {
	VendorId  string  `json:"vendorId" ocpp:"required,maxLength=255"`
	MessageId string  `json:"messageId,omitempty" ocpp:"maxLength=50"`
	Data      *string `json:"data,omitempty"`
}

// DataTransferResponse answers a DataTransferRequest.
type DataTransferResponse struct {
	Status DataTransferStatus `json:"status" ocpp:"required"`
	Data   *string            `json:"data,omitempty"`
}

// DiagnosticsStatusNotificationRequest reports a diagnostics upload's state.
type DiagnosticsStatusNotificationRequest struct {
	Status DiagnosticsStatus `json:"status" ocpp:"required"`
}

// DiagnosticsStatusNotificationResponse is empty.
type DiagnosticsStatusNotificationResponse struct{}

// FirmwareStatusNotificationRequest reports a firmware update's state.
type FirmwareStatusNotificationRequest struct {
	Status FirmwareStatus `json:"status" ocpp:"required"`
}

// FirmwareStatusNotificationResponse is empty.
type FirmwareStatusNotificationResponse struct{}

// HeartbeatRequest is empty.
type HeartbeatRequest struct{}

// HeartbeatResponse gives the charger the CSMS's time.
type HeartbeatResponse struct {
	CurrentTime DateTime `json:"currentTime" ocpp:"required"`
}

// MeterValuesRequest reports meter readings of a connector (0: the main meter).
type MeterValuesRequest struct {
	ConnectorId   int          `json:"connectorId" ocpp:"required"`
	TransactionId *int         `json:"transactionId,omitempty"`
	MeterValue    []MeterValue `json:"meterValue" ocpp:"required,minItems=1"`
}

// MeterValuesResponse is empty.
type MeterValuesResponse struct{}

// StartTransactionRequest reports that a transaction started.
type StartTransactionRequest struct {
	ConnectorId   int      `json:"connectorId" ocpp:"required"`
	IdTag         string   `json:"idTag" ocpp:"required,maxLength=20"`
	MeterStart    int      `json:"meterStart" ocpp:"required"`
	ReservationId *int     `json:"reservationId,omitempty"`
	Timestamp     DateTime `json:"timestamp" ocpp:"required"`
}

// StartTransactionResponse gives the transaction its id.
type StartTransactionResponse struct {
	IdTagInfo     IdTagInfo `json:"idTagInfo" ocpp:"required"`
	TransactionId int       `json:"transactionId" ocpp:"required"`
}

// StatusNotificationRequest reports a connector's state.
type StatusNotificationRequest struct {
	ConnectorId     int                  `json:"connectorId" ocpp:"required"`
	ErrorCode       ChargePointErrorCode `json:"errorCode" ocpp:"required"`
	Info            string               `json:"info,omitempty" ocpp:"maxLength=50"`
	Status          ChargePointStatus    `json:"status" ocpp:"required"`
	Timestamp       DateTime             `json:"timestamp,omitzero"`
	VendorId        string               `json:"vendorId,omitempty" ocpp:"maxLength=255"`
	VendorErrorCode string               `json:"vendorErrorCode,omitempty" ocpp:"maxLength=50"`
}

// StatusNotificationResponse is empty.
type StatusNotificationResponse struct{}

// StopTransactionRequest reports that a transaction stopped.
//
// TransactionData shares MeterValue with MeterValues, so it follows the
// spec rather than the looser StopTransaction schema: at least one sample
// per meter value (lenient mode accepts none), and unit "Hertz" is allowed
// as in MeterValues.
type StopTransactionRequest struct {
	IdTag           string       `json:"idTag,omitempty" ocpp:"maxLength=20"`
	MeterStop       int          `json:"meterStop" ocpp:"required"`
	Timestamp       DateTime     `json:"timestamp" ocpp:"required"`
	TransactionId   int          `json:"transactionId" ocpp:"required"`
	Reason          Reason       `json:"reason,omitempty"`
	TransactionData []MeterValue `json:"transactionData,omitempty"`
}

// StopTransactionResponse answers a StopTransactionRequest.
type StopTransactionResponse struct {
	IdTagInfo *IdTagInfo `json:"idTagInfo,omitempty"`
}

// CSMS to charger.

// CancelReservationRequest cancels a reservation.
type CancelReservationRequest struct {
	ReservationId int `json:"reservationId" ocpp:"required"`
}

// CancelReservationResponse answers a CancelReservationRequest.
type CancelReservationResponse struct {
	Status CancelReservationStatus `json:"status" ocpp:"required"`
}

// ChangeAvailabilityRequest makes a connector (0: the whole charger)
// operative or inoperative.
type ChangeAvailabilityRequest struct {
	ConnectorId int              `json:"connectorId" ocpp:"required"`
	Type        AvailabilityType `json:"type" ocpp:"required"`
}

// ChangeAvailabilityResponse answers a ChangeAvailabilityRequest.
type ChangeAvailabilityResponse struct {
	Status AvailabilityStatus `json:"status" ocpp:"required"`
}

// ChangeConfigurationRequest sets one configuration key.
type ChangeConfigurationRequest struct {
	Key   string `json:"key" ocpp:"required,maxLength=50"`
	Value string `json:"value" ocpp:"required,maxLength=500"`
}

// ChangeConfigurationResponse answers a ChangeConfigurationRequest.
type ChangeConfigurationResponse struct {
	Status ConfigurationStatus `json:"status" ocpp:"required"`
}

// ClearCacheRequest clears the charger's authorization cache.
type ClearCacheRequest struct{}

// ClearCacheResponse answers a ClearCacheRequest.
type ClearCacheResponse struct {
	Status ClearCacheStatus `json:"status" ocpp:"required"`
}

// GetConfigurationRequest asks for configuration keys (none: all of them).
type GetConfigurationRequest struct {
	Key []string `json:"key,omitempty" ocpp:"maxLength=50"`
}

// GetConfigurationResponse lists known keys and the unknown ones asked for.
type GetConfigurationResponse struct {
	ConfigurationKey []KeyValue `json:"configurationKey,omitempty"`
	UnknownKey       []string   `json:"unknownKey,omitempty" ocpp:"maxLength=50"`
}

// GetDiagnosticsRequest asks the charger to upload diagnostics to Location.
type GetDiagnosticsRequest struct {
	Location      string   `json:"location" ocpp:"required,format=uri"`
	Retries       *int     `json:"retries,omitempty"`
	RetryInterval *int     `json:"retryInterval,omitempty"`
	StartTime     DateTime `json:"startTime,omitzero"`
	StopTime      DateTime `json:"stopTime,omitzero"`
}

// GetDiagnosticsResponse names the file that will be uploaded, if any.
type GetDiagnosticsResponse struct {
	FileName string `json:"fileName,omitempty" ocpp:"maxLength=255"`
}

// GetLocalListVersionRequest asks for the local list's version.
type GetLocalListVersionRequest struct{}

// GetLocalListVersionResponse answers a GetLocalListVersionRequest.
type GetLocalListVersionResponse struct {
	ListVersion int `json:"listVersion" ocpp:"required"`
}

// RemoteStartTransactionRequest asks the charger to start a transaction.
type RemoteStartTransactionRequest struct {
	ConnectorId     *int             `json:"connectorId,omitempty"`
	IdTag           string           `json:"idTag" ocpp:"required,maxLength=20"`
	ChargingProfile *ChargingProfile `json:"chargingProfile,omitempty"`
}

// RemoteStartTransactionResponse answers a RemoteStartTransactionRequest.
type RemoteStartTransactionResponse struct {
	Status RemoteStartStopStatus `json:"status" ocpp:"required"`
}

// RemoteStopTransactionRequest asks the charger to stop a transaction.
type RemoteStopTransactionRequest struct {
	TransactionId int `json:"transactionId" ocpp:"required"`
}

// RemoteStopTransactionResponse answers a RemoteStopTransactionRequest.
type RemoteStopTransactionResponse struct {
	Status RemoteStartStopStatus `json:"status" ocpp:"required"`
}

// ReserveNowRequest reserves a connector for an idTag until ExpiryDate.
type ReserveNowRequest struct {
	ConnectorId   int      `json:"connectorId" ocpp:"required"`
	ExpiryDate    DateTime `json:"expiryDate" ocpp:"required"`
	IdTag         string   `json:"idTag" ocpp:"required,maxLength=20"`
	ParentIdTag   string   `json:"parentIdTag,omitempty" ocpp:"maxLength=20"`
	ReservationId int      `json:"reservationId" ocpp:"required"`
}

// ReserveNowResponse answers a ReserveNowRequest.
type ReserveNowResponse struct {
	Status ReservationStatus `json:"status" ocpp:"required"`
}

// ResetRequest asks the charger to reboot.
type ResetRequest struct {
	Type ResetType `json:"type" ocpp:"required"`
}

// ResetResponse answers a ResetRequest.
type ResetResponse struct {
	Status ResetStatus `json:"status" ocpp:"required"`
}

// SendLocalListRequest replaces or patches the charger's local list.
type SendLocalListRequest struct {
	ListVersion            int                 `json:"listVersion" ocpp:"required"`
	LocalAuthorizationList []AuthorizationData `json:"localAuthorizationList,omitempty"`
	UpdateType             UpdateType          `json:"updateType" ocpp:"required"`
}

// SendLocalListResponse answers a SendLocalListRequest.
type SendLocalListResponse struct {
	Status UpdateStatus `json:"status" ocpp:"required"`
}

// TriggerMessageRequest asks the charger to send a message now.
type TriggerMessageRequest struct {
	RequestedMessage MessageTrigger `json:"requestedMessage" ocpp:"required"`
	ConnectorId      *int           `json:"connectorId,omitempty"`
}

// TriggerMessageResponse answers a TriggerMessageRequest.
type TriggerMessageResponse struct {
	Status TriggerMessageStatus `json:"status" ocpp:"required"`
}

// UnlockConnectorRequest asks the charger to unlock a connector.
type UnlockConnectorRequest struct {
	ConnectorId int `json:"connectorId" ocpp:"required"`
}

// UnlockConnectorResponse answers an UnlockConnectorRequest.
type UnlockConnectorResponse struct {
	Status UnlockStatus `json:"status" ocpp:"required"`
}

// UpdateFirmwareRequest asks the charger to fetch and install firmware.
type UpdateFirmwareRequest struct {
	Location      string   `json:"location" ocpp:"required,format=uri"`
	Retries       *int     `json:"retries,omitempty"`
	RetrieveDate  DateTime `json:"retrieveDate" ocpp:"required"`
	RetryInterval *int     `json:"retryInterval,omitempty"`
}

// UpdateFirmwareResponse is empty.
type UpdateFirmwareResponse struct{}

// SetChargingProfileRequest installs a charging profile on a connector.
type SetChargingProfileRequest struct {
	ConnectorId        int             `json:"connectorId" ocpp:"required"`
	CsChargingProfiles ChargingProfile `json:"csChargingProfiles" ocpp:"required"`
}

// SetChargingProfileResponse answers a SetChargingProfileRequest.
type SetChargingProfileResponse struct {
	Status ChargingProfileStatus `json:"status" ocpp:"required"`
}

// ClearChargingProfileRequest removes the charging profiles matching all
// the given criteria (none: all profiles).
type ClearChargingProfileRequest struct {
	Id                     *int                   `json:"id,omitempty"`
	ConnectorId            *int                   `json:"connectorId,omitempty"`
	ChargingProfilePurpose ChargingProfilePurpose `json:"chargingProfilePurpose,omitempty"`
	StackLevel             *int                   `json:"stackLevel,omitempty"`
}

// ClearChargingProfileResponse answers a ClearChargingProfileRequest.
type ClearChargingProfileResponse struct {
	Status ClearChargingProfileStatus `json:"status" ocpp:"required"`
}

// GetCompositeScheduleRequest asks for the schedule a connector will follow
// over the next Duration seconds.
type GetCompositeScheduleRequest struct {
	ConnectorId      int              `json:"connectorId" ocpp:"required"`
	Duration         int              `json:"duration" ocpp:"required"`
	ChargingRateUnit ChargingRateUnit `json:"chargingRateUnit,omitempty"`
}

// GetCompositeScheduleResponse answers a GetCompositeScheduleRequest.
type GetCompositeScheduleResponse struct {
	Status           GetCompositeScheduleStatus `json:"status" ocpp:"required"`
	ConnectorId      *int                       `json:"connectorId,omitempty"`
	ScheduleStart    DateTime                   `json:"scheduleStart,omitzero"`
	ChargingSchedule *ChargingSchedule          `json:"chargingSchedule,omitempty"`
}
