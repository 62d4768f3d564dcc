package main

// directions says who sends each OCPP 2.x action's request, as the
// specification's message sections do (OCPP 2.0.1 and 2.1 part 2); the
// schemas do not say. An action missing here stops the generator, so a new
// schema version cannot slip through with a guessed direction.
// PublishFirmware and UnpublishFirmware go to a local controller, which the
// CSMS addresses as it does a charging station.
var directions = map[string]string{
	// Charging station to CSMS.
	"Authorize":                         "ChargerToCSMS",
	"BatterySwap":                       "ChargerToCSMS", // 2.1
	"BootNotification":                  "ChargerToCSMS",
	"ClearedChargingLimit":              "ChargerToCSMS",
	"ClosePeriodicEventStream":          "ChargerToCSMS", // 2.1
	"FirmwareStatusNotification":        "ChargerToCSMS",
	"Get15118EVCertificate":             "ChargerToCSMS",
	"GetCertificateChainStatus":         "ChargerToCSMS", // 2.1
	"GetCertificateStatus":              "ChargerToCSMS",
	"Heartbeat":                         "ChargerToCSMS",
	"LogStatusNotification":             "ChargerToCSMS",
	"MeterValues":                       "ChargerToCSMS",
	"NotifyChargingLimit":               "ChargerToCSMS",
	"NotifyCustomerInformation":         "ChargerToCSMS",
	"NotifyDERAlarm":                    "ChargerToCSMS", // 2.1
	"NotifyDERStartStop":                "ChargerToCSMS", // 2.1
	"NotifyDisplayMessages":             "ChargerToCSMS",
	"NotifyEVChargingNeeds":             "ChargerToCSMS",
	"NotifyEVChargingSchedule":          "ChargerToCSMS",
	"NotifyEvent":                       "ChargerToCSMS",
	"NotifyMonitoringReport":            "ChargerToCSMS",
	"NotifyPeriodicEventStream":         "ChargerToCSMS", // 2.1, SEND
	"NotifyPriorityCharging":            "ChargerToCSMS", // 2.1
	"NotifyQRCodeScanned":               "ChargerToCSMS", // 2.1
	"NotifyReport":                      "ChargerToCSMS",
	"NotifySettlement":                  "ChargerToCSMS", // 2.1
	"OpenPeriodicEventStream":           "ChargerToCSMS", // 2.1
	"PublishFirmwareStatusNotification": "ChargerToCSMS",
	"PullDynamicScheduleUpdate":         "ChargerToCSMS", // 2.1
	"ReportChargingProfiles":            "ChargerToCSMS",
	"ReportDERControl":                  "ChargerToCSMS", // 2.1
	"ReservationStatusUpdate":           "ChargerToCSMS",
	"SecurityEventNotification":         "ChargerToCSMS",
	"SignCertificate":                   "ChargerToCSMS",
	"StatusNotification":                "ChargerToCSMS",
	"TransactionEvent":                  "ChargerToCSMS",
	"VatNumberValidation":               "ChargerToCSMS", // 2.1

	// Either side.
	"DataTransfer": "Both",

	// CSMS to charging station.
	"AFRRSignal":                  "CSMSToCharger", // 2.1
	"AdjustPeriodicEventStream":   "CSMSToCharger", // 2.1
	"CancelReservation":           "CSMSToCharger",
	"CertificateSigned":           "CSMSToCharger",
	"ChangeAvailability":          "CSMSToCharger",
	"ChangeTransactionTariff":     "CSMSToCharger", // 2.1
	"ClearCache":                  "CSMSToCharger",
	"ClearChargingProfile":        "CSMSToCharger",
	"ClearDERControl":             "CSMSToCharger", // 2.1
	"ClearDisplayMessage":         "CSMSToCharger",
	"ClearTariffs":                "CSMSToCharger", // 2.1
	"ClearVariableMonitoring":     "CSMSToCharger",
	"CostUpdated":                 "CSMSToCharger",
	"CustomerInformation":         "CSMSToCharger",
	"DeleteCertificate":           "CSMSToCharger",
	"GetBaseReport":               "CSMSToCharger",
	"GetChargingProfiles":         "CSMSToCharger",
	"GetCompositeSchedule":        "CSMSToCharger",
	"GetDERControl":               "CSMSToCharger", // 2.1
	"GetDisplayMessages":          "CSMSToCharger",
	"GetInstalledCertificateIds":  "CSMSToCharger",
	"GetLocalListVersion":         "CSMSToCharger",
	"GetLog":                      "CSMSToCharger",
	"GetMonitoringReport":         "CSMSToCharger",
	"GetPeriodicEventStream":      "CSMSToCharger", // 2.1
	"GetReport":                   "CSMSToCharger",
	"GetTariffs":                  "CSMSToCharger", // 2.1
	"GetTransactionStatus":        "CSMSToCharger",
	"GetVariables":                "CSMSToCharger",
	"InstallCertificate":          "CSMSToCharger",
	"NotifyAllowedEnergyTransfer": "CSMSToCharger", // 2.1
	"NotifyWebPaymentStarted":     "CSMSToCharger", // 2.1
	"PublishFirmware":             "CSMSToCharger",
	"RequestBatterySwap":          "CSMSToCharger", // 2.1
	"RequestStartTransaction":     "CSMSToCharger",
	"RequestStopTransaction":      "CSMSToCharger",
	"ReserveNow":                  "CSMSToCharger",
	"Reset":                       "CSMSToCharger",
	"SendLocalList":               "CSMSToCharger",
	"SetChargingProfile":          "CSMSToCharger",
	"SetDERControl":               "CSMSToCharger", // 2.1
	"SetDefaultTariff":            "CSMSToCharger", // 2.1
	"SetDisplayMessage":           "CSMSToCharger",
	"SetMonitoringBase":           "CSMSToCharger",
	"SetMonitoringLevel":          "CSMSToCharger",
	"SetNetworkProfile":           "CSMSToCharger",
	"SetVariableMonitoring":       "CSMSToCharger",
	"SetVariables":                "CSMSToCharger",
	"TriggerMessage":              "CSMSToCharger",
	"UnlockConnector":             "CSMSToCharger",
	"UnpublishFirmware":           "CSMSToCharger",
	"UpdateDynamicSchedule":       "CSMSToCharger", // 2.1
	"UpdateFirmware":              "CSMSToCharger",
	"UsePriorityCharging":         "CSMSToCharger", // 2.1
}
