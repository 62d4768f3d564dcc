package setup

import "syscall"

// freebind lets the socket bind an address the host does not have yet.
func freebind(network, _ string, c syscall.RawConn) error {
	if network != "tcp4" && network != "tcp" {
		return nil // IPv6: the access point has no IPv6 address
	}
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_FREEBIND, 1)
	}); err != nil {
		return err
	}
	return serr
}
