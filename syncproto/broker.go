package syncproto

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
)

// The broker URL and its TLS settings are read the same way by both
// sides (the appliance's sync client, the watchtower's link to an
// external broker), so a URL that works for one works for the other.

// ParseBrokerURL parses and checks a broker URL: tcp:// or mqtt:// (plain),
// tls://, mqtts:// or ssl:// (TLS), with host and port and no
// credentials; caFile, if given, needs a TLS scheme. Errors start with
// the setting's name (broker, ca_file).
func ParseBrokerURL(s, caFile string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	switch u.Scheme {
	case "tcp", "mqtt", "tls", "mqtts", "ssl":
	default:
		return nil, fmt.Errorf("broker: %q: want tcp://, mqtt://, tls://, mqtts:// or ssl:// and host:port", u.Redacted())
	}
	if u.Host == "" || u.Port() == "" {
		return nil, fmt.Errorf("broker: %q: want host:port", u.Redacted())
	}
	if u.User != nil {
		return nil, errors.New("broker: credentials go in their own settings, not in the URL")
	}
	if caFile != "" && !isTLS(u) {
		return nil, fmt.Errorf("ca_file: given for a broker without TLS (%s)", u.Scheme)
	}
	return u, nil
}

func isTLS(u *url.URL) bool { return u.Scheme == "tls" || u.Scheme == "mqtts" || u.Scheme == "ssl" }

// BrokerTLS is the TLS configuration for a broker URL from
// [ParseBrokerURL]: nil for a plain one; roots nil trusts the system's.
func BrokerTLS(u *url.URL, roots *x509.CertPool) *tls.Config {
	if !isTLS(u) {
		return nil
	}
	return &tls.Config{ServerName: u.Hostname(), RootCAs: roots, MinVersion: tls.VersionTLS12}
}

// CAPool reads a CA file (PEM) for the setting ca_file; no file: nil,
// the system's roots.
func CAPool(caFile string) (*x509.CertPool, error) {
	if caFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("ca_file: no certificate in %s", caFile)
	}
	return pool, nil
}
