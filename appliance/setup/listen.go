package setup

import (
	"context"
	"fmt"
	"net"
)

// Listen opens the setup page's TCP listener on addr. On Linux it binds
// with IP_FREEBIND: the appliance starts before NetworkManager has given
// the access point its address, and the listener must not fail (or wait)
// for it; it accepts once the address is up. No privilege is needed.
func Listen(ctx context.Context, addr string) (net.Listener, error) {
	lc := net.ListenConfig{Control: freebind}
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("setup: listen on %s: %w", addr, err)
	}
	return ln, nil
}
