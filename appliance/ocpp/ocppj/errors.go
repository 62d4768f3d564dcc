// Package ocppj implements OCPP-J message framing: the CALL, CALLRESULT and
// CALLERROR arrays shared by OCPP 1.6J, 2.0.1 and 2.1 (plus 2.1's
// CALLRESULTERROR and SEND), the RPC error codes in each version's spelling,
// and the websocket subprotocol names.
package ocppj

import "fmt"

// Version is an OCPP-J version, named by its websocket subprotocol.
type Version string

// The OCPP versions the CSMS speaks, in order of preference.
const (
	V21  Version = "ocpp2.1"
	V201 Version = "ocpp2.0.1"
	V16  Version = "ocpp1.6"
)

// Versions lists the supported subprotocols, most preferred first.
var Versions = []Version{V21, V201, V16}

// ErrorCode is a version-neutral RPC error code. Use [ErrorCode.For] to get
// the string a given version puts on the wire: 1.6 spells two of them
// differently ("FormationViolation", "OccurenceConstraintViolation").
type ErrorCode string

// RPC framework error codes (OCPP-J 1.6 section 4.2.3, 2.0.1 part 4 section 4.3).
const (
	NotImplemented                ErrorCode = "NotImplemented"
	NotSupported                  ErrorCode = "NotSupported"
	InternalError                 ErrorCode = "InternalError"
	ProtocolError                 ErrorCode = "ProtocolError"
	SecurityError                 ErrorCode = "SecurityError"
	FormatViolation               ErrorCode = "FormatViolation"
	PropertyConstraintViolation   ErrorCode = "PropertyConstraintViolation"
	OccurrenceConstraintViolation ErrorCode = "OccurrenceConstraintViolation"
	TypeConstraintViolation       ErrorCode = "TypeConstraintViolation"
	GenericError                  ErrorCode = "GenericError"
	MessageTypeNotSupported       ErrorCode = "MessageTypeNotSupported"
	RPCFrameworkError             ErrorCode = "RpcFrameworkError"
)

// For returns the code as version v writes it on the wire.
func (c ErrorCode) For(v Version) string {
	if v != V16 {
		return string(c)
	}
	switch c {
	case FormatViolation:
		return "FormationViolation"
	case OccurrenceConstraintViolation:
		return "OccurenceConstraintViolation"
	case MessageTypeNotSupported, RPCFrameworkError:
		// 1.6 has neither; ProtocolError is its nearest code.
		return string(ProtocolError)
	}
	return string(c)
}

// ParseErrorCode reads a wire error code of any version.
func ParseErrorCode(s string) ErrorCode {
	switch s {
	case "FormationViolation":
		return FormatViolation
	case "OccurenceConstraintViolation":
		return OccurrenceConstraintViolation
	}
	return ErrorCode(s)
}

// Error is an RPC error: what a CALLERROR carries. Handlers return it to
// answer a CALL with a specific code; any other error becomes InternalError.
type Error struct {
	Code        ErrorCode
	Description string
	// Details is the errorDetails object; nil is sent as {}.
	Details map[string]any
}

// Errorf returns an *Error with a formatted description.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Description: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	if e.Description == "" {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.Description
}
