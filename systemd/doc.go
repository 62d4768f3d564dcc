// Package systemd holds the systemd units and the system configuration
// the image installs (see README.md); its tests check them. It has no
// code.
package systemd
