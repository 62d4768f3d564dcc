//go:build !linux

package setup

import "syscall"

// freebind does nothing off Linux (development machines): the address
// must exist when the appliance starts.
func freebind(string, string, syscall.RawConn) error { return nil }
