package load

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// ReadCredentials reads sites' credentials, one site a line: "site
// password" (the user name is the site id) or "site username password";
// blank lines and lines starting with '#' are skipped.
func ReadCredentials(r io.Reader) ([]Site, error) {
	var out []Site
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		switch len(f) {
		case 2:
			out = append(out, Site{ID: f[0], Password: f[1]})
		case 3:
			out = append(out, Site{ID: f[0], Username: f[1], Password: f[2]})
		default:
			// Not the line itself: it may hold a password.
			return nil, fmt.Errorf("load: credentials line %d: want 'site password' or 'site username password'", n)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("load: credentials: %w", err)
	}
	return out, nil
}

// WriteCredentials writes sites in ReadCredentials' format.
func WriteCredentials(w io.Writer, sites []Site) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "# site username password (fleetsim)")
	for _, s := range sites {
		fmt.Fprintln(bw, s.ID, s.username(), s.Password)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("load: credentials: %w", err)
	}
	return nil
}
