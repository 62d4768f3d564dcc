package network

import "strings"

// The appliance's own NetworkManager profiles are known by fixed UUIDs,
// so a profile renamed by hand is still found and corrected, and by the
// ProfileIDPrefix of their names, so stray copies are cleaned up. Nothing
// else (the installer's profiles) is ever touched.
const (
	// ProfileIDPrefix starts the name (connection.id) of every profile the
	// appliance owns.
	ProfileIDPrefix = "constellation-"
	// APProfileID and APProfileUUID identify the access point's profile.
	APProfileID   = ProfileIDPrefix + "ap"
	APProfileUUID = "0ae8320b-7c56-427d-bac5-021b67b5c179"
)

var uplinkUUIDs = map[UplinkKind]string{
	UplinkEthernet: "2a985fdb-80bf-4247-ad1f-c760dd2e1f0a",
	UplinkWiFi:     "8e4fddc3-8080-48b8-91fd-f3b2a6db38fc",
	UplinkCellular: "fbd3a679-260c-4724-8e0e-56c60514e9fc",
}

// ProfileID returns the name of the appliance's profile for uplink k.
func ProfileID(k UplinkKind) string { return ProfileIDPrefix + "uplink-" + string(k) }

// ProfileUUID returns the UUID of the appliance's profile for uplink k
// ("" for an unknown kind).
func ProfileUUID(k UplinkKind) string { return uplinkUUIDs[k] }

// Owned reports whether a profile with this name and UUID is the
// appliance's own.
func Owned(id, uuid string) bool {
	if uuid == APProfileUUID || strings.HasPrefix(id, ProfileIDPrefix) {
		return true
	}
	for _, u := range uplinkUUIDs {
		if uuid == u {
			return true
		}
	}
	return false
}
