package v2

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/payload"
	"github.com/constellation-ev/constellation/appliance/ocpp/v201"
	"github.com/constellation-ev/constellation/appliance/ocpp/v21"
)

// This file is the only place that knows the two versions' types apart:
// payloads come in as v21 structs and answers go out from v21 structs,
// whatever the charger speaks.

// convert copies src into dst, both pointers to payload structs of the same
// message in 2.0.1 and 2.1, through encoding/json: the two versions name
// their properties alike, and what one has and the other lacks is dropped.
// A value src holds that JSON cannot carry (a date-time whose UTC year is
// outside 0000-9999) is a *json.MarshalerError.
func convert(dst, src any) error {
	b, err := json.Marshal(src)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, dst)
}

// convertIn converts a 2.0.1 payload a charger sent (already validated) to
// its 2.1 struct. A value that cannot be carried over is the charger's:
// PropertyConstraintViolation; any other failure is a bug (internal).
func convertIn(action string, dst, src any) error {
	err := convert(dst, src)
	var me *json.MarshalerError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &me):
		return ocppj.Errorf(ocppj.PropertyConstraintViolation, "%s: a value cannot be represented: %v", action, me.Err)
	}
	return fmt.Errorf("v2: converting %s from 2.0.1: %w", action, err)
}

// decode decodes data as action's request (or response) payload of the
// adapter's version (with its limits and error codes) and returns it as the
// 2.1 struct.
func (a *Adapter) decode(action string, data json.RawMessage, response, lenient bool) (any, []string, error) {
	if a.version == ocppj.V21 {
		if response {
			return v21.DecodeResponse(action, data, lenient)
		}
		return v21.DecodeRequest(action, data, lenient)
	}
	decode, new21 := v201.DecodeRequest, v21.NewRequest
	if response {
		decode, new21 = v201.DecodeResponse, v21.NewResponse
	}
	src, warnings, err := decode(action, data, lenient)
	if err != nil {
		return nil, warnings, err
	}
	dst, ok := new21(action)
	if !ok {
		return nil, warnings, fmt.Errorf("v2: %s has no 2.1 payload type (response %t)", action, response)
	}
	return dst, warnings, convertIn(action, dst, src)
}

// encodeResponse encodes resp, a 2.1 response struct of action, for the
// adapter's version, validating it. An answer the version cannot carry is
// an internal error (not an *ocppj.Error: nothing of it reaches the charger
// but a generic InternalError).
func (a *Adapter) encodeResponse(action string, resp any) (json.RawMessage, error) {
	out := resp
	if a.version == ocppj.V201 {
		dst, ok := v201.NewResponse(action)
		if !ok {
			return nil, fmt.Errorf("v2: %s has no 2.0.1 response type", action)
		}
		if err := convert(dst, resp); err != nil {
			return nil, fmt.Errorf("v2: converting the %s answer to 2.0.1: %v", action, err)
		}
		out = dst
	}
	b, err := payload.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("v2: the %s answer is not valid %s: %v", action, a.version, err)
	}
	return b, nil
}
