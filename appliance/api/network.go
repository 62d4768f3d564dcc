package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/leases"
	"github.com/constellation-ev/constellation/appliance/network"
)

// Network is the appliance's control of the access point and the
// uplinks; network.Manager and Controller implement it, and Clients reads
// the access point's DHCP leases matched to the chargers.
type Network interface {
	Status(ctx context.Context) network.Status
	Settings() network.Settings
	Apply(ctx context.Context, s network.Settings) (network.ChangeResult, error)
	Clients(ctx context.Context) (Clients, error)
}

// Clients are the devices on the access point.
type Clients struct {
	Leases []leases.Lease `json:"leases"`
	// Problems are the lines of the leases file that could not be read.
	Problems []string `json:"problems,omitempty"`
}

// NetworkView is GET /api/v1/network's answer: the state, and the settings
// in force without their passwords.
type NetworkView struct {
	Status   network.Status   `json:"status"`
	Settings network.Settings `json:"settings"`
}

func (s *Server) networkStatus(w http.ResponseWriter, r *http.Request) error {
	if s.network == nil {
		return errNoNetwork
	}
	writeJSON(w, http.StatusOK, NetworkView{Status: s.network.Status(r.Context()), Settings: s.network.Settings().Redacted()})
	return nil
}

// errNoNetwork: network.driver is none.
var errNoNetwork = &httpError{status: http.StatusNotFound, msg: "the appliance does not manage the network (network.driver is none)"}

// putNetwork applies new network settings safely (network.DecodeChange:
// a password left out keeps the one in force): the answer is the change's
// result, applied or rolled back.
func (s *Server) putNetwork(w http.ResponseWriter, r *http.Request) error {
	if s.network == nil {
		return errNoNetwork
	}
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	next, err := network.DecodeChange(body, s.network.Settings())
	if err != nil {
		return badRequest("%s", network.Problems(err))
	}
	res, err := s.network.Apply(r.Context(), next)
	switch {
	case errors.Is(err, network.ErrInvalid):
		return badRequest("%s", network.Problems(err))
	case errors.Is(err, network.ErrUnavailable):
		return &httpError{status: http.StatusServiceUnavailable, msg: err.Error()}
	case err != nil && res.Outcome == "":
		return fmt.Errorf("network change: %w", err)
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) networkClients(w http.ResponseWriter, r *http.Request) error {
	if s.network == nil {
		return errNoNetwork
	}
	c, err := s.network.Clients(r.Context())
	if err != nil {
		return fmt.Errorf("network clients: %w", err)
	}
	c.Leases = nonNil(c.Leases)
	writeJSON(w, http.StatusOK, c)
	return nil
}

// ReadClients reads the leases file and matches its leases to the
// chargers connected from their addresses: the Clients of a Network.
func ReadClients(path string, addresses map[charging.ChargerID]netip.Addr) (Clients, error) {
	ls, problems, err := leases.Read(path)
	if err != nil {
		return Clients{}, err
	}
	c := Clients{Leases: leases.Match(ls, addresses)}
	for _, p := range problems {
		c.Problems = append(c.Problems, p.Error())
	}
	return c, nil
}
