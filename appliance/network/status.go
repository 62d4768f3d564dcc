package network

import "time"

// Connectivity is NetworkManager's verdict on the internet connection.
type Connectivity string

// Connectivity states, as NetworkManager names them (NMConnectivityState).
const (
	ConnectivityUnknown Connectivity = "unknown"
	// ConnectivityNone: no network connection at all.
	ConnectivityNone Connectivity = "none"
	// ConnectivityPortal: a captive portal intercepts traffic.
	ConnectivityPortal Connectivity = "portal"
	// ConnectivityLimited: connected, but the internet is not reachable.
	ConnectivityLimited Connectivity = "limited"
	// ConnectivityFull: the internet is reachable.
	ConnectivityFull Connectivity = "full"
)

// APState is the access point's state.
type APState string

// Access point states.
const (
	// APDisabled: not configured (its profile is removed).
	APDisabled APState = "disabled"
	// APDown: configured but not active (device missing or busy).
	APDown APState = "down"
	// APActivating: NetworkManager is bringing it up.
	APActivating APState = "activating"
	// APUp: chargers can join.
	APUp APState = "up"
	// APFailed: the last activation failed; Reason says why.
	APFailed APState = "failed"
)

// APStatus is the access point as NetworkManager runs it.
type APStatus struct {
	State APState `json:"state"`
	// SSID, Interface and Address are those of the appliance's profile.
	SSID      string `json:"ssid,omitempty"`
	Interface string `json:"interface,omitempty"`
	Address   string `json:"address,omitempty"`
	// Security is the key management in use: "wpa3-sae" or "wpa2-psk".
	Security string `json:"security,omitempty"`
	// Reason says why the access point is down or failed.
	Reason string `json:"reason,omitempty"`
}

// Security names of APStatus.Security.
const (
	SecurityNameSAE = "wpa3-sae"
	SecurityNamePSK = "wpa2-psk"
)

// UplinkStatus is the connection carrying the appliance's internet traffic.
type UplinkStatus struct {
	// Connection is the primary connection's profile name ("" when there
	// is none) and UUID its profile's UUID.
	Connection string `json:"connection,omitempty"`
	UUID       string `json:"uuid,omitempty"`
	// Kind is ethernet, wifi or cellular; another NetworkManager type
	// (a VPN, a bridge) is reported by its type name.
	Kind UplinkKind `json:"kind,omitempty"`
	// Interface is the primary connection's device.
	Interface string `json:"interface,omitempty"`
	// Owned says whether the profile is one of the appliance's own.
	Owned bool `json:"owned"`
	// Connectivity is NetworkManager's connectivity state.
	Connectivity Connectivity `json:"connectivity"`
}

// Outcome is how a change ended.
type Outcome string

// Outcomes of a ChangeResult.
const (
	// OutcomeApplied: the change passed its check and is in effect.
	OutcomeApplied Outcome = "applied"
	// OutcomeRolledBack: the check failed and the last good settings
	// were restored.
	OutcomeRolledBack Outcome = "rolled-back"
	// OutcomeFailed: the change was not made (invalid settings,
	// NetworkManager unavailable) or its rollback failed too.
	OutcomeFailed Outcome = "failed"
)

// ChangeResult is the result of a safe change.
type ChangeResult struct {
	Outcome Outcome `json:"outcome"`
	// Reason says why the change was rolled back or failed.
	Reason string `json:"reason,omitempty"`
	// At is when the change started and Took how long it ran.
	At   time.Time     `json:"at"`
	Took time.Duration `json:"took"`
}

// Status is the network as the appliance sees it, for health, metrics,
// the LCD and the cloud.
type Status struct {
	// Reachable says whether NetworkManager answers; Since is when that
	// last changed.
	Reachable bool      `json:"reachable"`
	Since     time.Time `json:"since,omitzero"`
	// LastError is the last failure talking to NetworkManager or keeping
	// the profiles, and when it happened.
	LastError   string       `json:"lastError,omitempty"`
	LastErrorAt time.Time    `json:"lastErrorAt,omitzero"`
	AP          APStatus     `json:"ap"`
	Uplink      UplinkStatus `json:"uplink"`
	// LastChange is the result of the last safe change (nil: none yet).
	LastChange *ChangeResult `json:"lastChange,omitempty"`
}
