package api

// Views is what the store answers the dashboard's read-only views with:
// the fleet overview, sessions across sites, a charger's history.
type Views interface{}

// viewRoutes are the endpoints of the fleet views (see routes).
func (s *server) viewRoutes() []route { return nil }
