package api

// IDTokens is the fleet's register of RFID id tokens as the API uses it.
type IDTokens interface{}

// idTokenRoutes are the endpoints of the fleet's id tokens (see routes).
func (s *server) idTokenRoutes() []route { return nil }
