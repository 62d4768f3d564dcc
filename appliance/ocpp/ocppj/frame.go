package ocppj

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// MessageType is the first element of every OCPP-J frame.
type MessageType int

// OCPP-J message type ids.
const (
	Call            MessageType = 2
	CallResult      MessageType = 3
	CallError       MessageType = 4
	CallResultError MessageType = 5 // OCPP 2.1 only
	Send            MessageType = 6 // OCPP 2.1 only
)

// Limits OCPP-J puts on frames.
const (
	MaxIDLen          = 36  // message id: string of at most 36 characters
	MaxDescriptionLen = 255 // errorDescription: at most 255 characters
	maxDepth          = 64  // payload nesting; OCPP payloads are far shallower
)

// Message is one parsed OCPP-J frame. Which fields are set depends on Type:
// Call and Send have Action and Payload, CallResult has Payload, CallError and
// CallResultError have Error (Details nil when the frame carried {}).
type Message struct {
	Type    MessageType
	ID      string
	Action  string
	Payload json.RawMessage
	Error   *Error
}

// ParseError is what [Parse] returns for a frame it cannot accept. Err is
// the RPC error to answer with (spell it with [ErrorCode.For]). ID and Type
// are set when they could be read, so the caller can answer a CALLERROR to
// a CALL; ID is empty otherwise and the frame can only be logged.
type ParseError struct {
	Type MessageType // 0 when unknown
	ID   string
	Err  *Error
}

func (e *ParseError) Error() string {
	if e.ID == "" {
		return "ocppj: " + e.Err.Error()
	}
	return "ocppj: message " + strconv.Quote(e.ID) + ": " + e.Err.Error()
}

// Unwrap returns the *Error, so errors.As(err, new(*Error)) works.
func (e *ParseError) Unwrap() error { return e.Err }

// Parse reads one OCPP-J frame. It accepts message types 2 to 6; whether 5
// and 6 are allowed in a session is the caller's decision (they are 2.1
// only). Payload aliases data.
//
// Errors, always a *ParseError:
//   - not valid JSON: FormatViolation, no id;
//   - valid JSON but not an array whose first two elements are a message
//     type number and a string id of at most 36 characters: RpcFrameworkError
//     (ProtocolError in 1.6), with the id when it is a string;
//   - unknown message type number: MessageTypeNotSupported (ProtocolError in 1.6);
//   - wrong element count for the type: ProtocolError;
//   - action, error code or description not a string, payload or details
//     not an object: FormatViolation.
func Parse(data []byte) (Message, error) {
	var m Message
	p := parser{data: data}
	p.ws()
	if !p.eat('[') {
		return m, p.invalidOr(RPCFrameworkError, "frame is not a JSON array")
	}
	// Element 1: message type number.
	p.ws()
	start := p.i
	if !p.number() {
		return m, p.invalidOr(RPCFrameworkError, "message type is not a number")
	}
	t, err := strconv.Atoi(string(data[start:p.i]))
	if err != nil {
		return m, p.invalidOr(RPCFrameworkError, "message type is not an integer")
	}
	m.Type = MessageType(t)
	// Element 2: message id.
	if !p.comma() {
		return m, p.invalidOr(RPCFrameworkError, "message id missing")
	}
	id, ok, isStr := p.str()
	if !ok {
		if isStr {
			return m, fail(0, "", FormatViolation, "invalid JSON")
		}
		return m, p.invalidOr(RPCFrameworkError, "message id is not a string")
	}
	if len(id) == 0 || utf8.RuneCountInString(id) > MaxIDLen {
		return m, p.invalidOr(RPCFrameworkError, "message id must be 1 to 36 characters")
	}
	m.ID = id

	var want int
	switch m.Type {
	case Call, Send:
		want = 4
	case CallResult:
		want = 3
	case CallError, CallResultError:
		want = 5
	default:
		return m, p.invalidOr(MessageTypeNotSupported, "message type "+strconv.Itoa(t)+" not supported")
	}
	switch m.Type {
	case Call, Send:
		action, ok := p.nextString()
		if !ok {
			return m, p.elemErr(m, want, "action is not a string")
		}
		if action == "" {
			return m, fail(m.Type, m.ID, FormatViolation, "action is empty")
		}
		m.Action = action
		if m.Payload, ok = p.nextObject(); !ok {
			return m, p.elemErr(m, want, "payload is not a JSON object")
		}
	case CallResult:
		var ok bool
		if m.Payload, ok = p.nextObject(); !ok {
			return m, p.elemErr(m, want, "payload is not a JSON object")
		}
	case CallError, CallResultError:
		code, ok := p.nextString()
		if !ok {
			return m, p.elemErr(m, want, "error code is not a string")
		}
		desc, ok := p.nextString()
		if !ok {
			return m, p.elemErr(m, want, "error description is not a string")
		}
		details, ok := p.nextObject()
		if !ok {
			return m, p.elemErr(m, want, "error details is not a JSON object")
		}
		m.Error = &Error{Code: ParseErrorCode(code), Description: desc}
		if !emptyObject(details) {
			if err := json.Unmarshal(details, &m.Error.Details); err != nil {
				return m, fail(m.Type, m.ID, FormatViolation, "error details: invalid JSON")
			}
		}
	}
	// Anything but the closing bracket is an extra element or garbage.
	p.ws()
	if p.eat(']') {
		p.ws()
		if p.i == len(p.data) {
			return m, nil
		}
		return m, fail(0, "", FormatViolation, "invalid JSON")
	}
	if p.eat(',') && p.skipRest() {
		return m, fail(m.Type, m.ID, ProtocolError, fmt.Sprintf("expected %d elements", want))
	}
	return m, fail(0, "", FormatViolation, "invalid JSON")
}

func fail(t MessageType, id string, code ErrorCode, desc string) *ParseError {
	return &ParseError{Type: t, ID: id, Err: &Error{Code: code, Description: desc}}
}

func emptyObject(b []byte) bool {
	for _, c := range b {
		switch c {
		case '{', '}', ' ', '\t', '\r', '\n':
		default:
			return false
		}
	}
	return true
}

// parser is a validating scanner over one frame. It never allocates except
// for strings that contain escapes.
type parser struct {
	data []byte
	i    int
}

func (p *parser) ws() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) eat(c byte) bool {
	if p.i < len(p.data) && p.data[p.i] == c {
		p.i++
		return true
	}
	return false
}

// comma consumes "," between elements; false at "]" or anything else.
func (p *parser) comma() bool {
	p.ws()
	if !p.eat(',') {
		return false
	}
	p.ws()
	return true
}

// invalidOr reports FormatViolation if the whole input is not valid JSON
// (the frame was garbage), else the given structural error. Any id already
// read is not known here; callers that have one use fail directly.
func (p *parser) invalidOr(code ErrorCode, desc string) *ParseError {
	if !json.Valid(p.data) {
		return fail(0, "", FormatViolation, "invalid JSON")
	}
	// Valid JSON with the wrong shape: try to recover type and id so the
	// caller can answer.
	var arr []json.RawMessage
	var t MessageType
	var id string
	if json.Unmarshal(p.data, &arr) == nil && len(arr) >= 1 {
		var n int
		if json.Unmarshal(arr[0], &n) == nil {
			t = MessageType(n)
		}
		if len(arr) >= 2 {
			_ = json.Unmarshal(arr[1], &id)
		}
	}
	return fail(t, id, code, desc)
}

// elemErr classifies a bad element: the array ended early (ProtocolError),
// or the element had the wrong JSON type (FormatViolation), or the frame is
// not JSON at all.
func (p *parser) elemErr(m Message, want int, desc string) *ParseError {
	var arr []json.RawMessage
	if json.Unmarshal(p.data, &arr) != nil {
		return fail(0, "", FormatViolation, "invalid JSON")
	}
	if len(arr) != want {
		return fail(m.Type, m.ID, ProtocolError, fmt.Sprintf("expected %d elements", want))
	}
	return fail(m.Type, m.ID, FormatViolation, desc)
}

// nextString reads ", string".
func (p *parser) nextString() (string, bool) {
	if !p.comma() {
		return "", false
	}
	s, ok, _ := p.str()
	return s, ok
}

// nextObject reads ", {...}" and returns the object's bytes.
func (p *parser) nextObject() (json.RawMessage, bool) {
	if !p.comma() {
		return nil, false
	}
	if p.i >= len(p.data) || p.data[p.i] != '{' {
		return nil, false
	}
	start := p.i
	if !p.value(0) {
		return nil, false
	}
	return json.RawMessage(p.data[start:p.i:p.i]), true
}

// str reads a JSON string. ok is false if the value is not a valid string;
// isStr tells a malformed string from another type.
func (p *parser) str() (s string, ok, isStr bool) {
	if p.i >= len(p.data) || p.data[p.i] != '"' {
		return "", false, false
	}
	start := p.i
	escaped, valid := p.skipString()
	if !valid {
		return "", false, true
	}
	raw := p.data[start:p.i]
	if !escaped && utf8.Valid(raw) {
		return string(raw[1 : len(raw)-1]), true, true
	}
	// Escapes or invalid UTF-8 (replaced by U+FFFD, as the encoder does).
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, true
	}
	return s, true, true
}

// skipString moves past a string starting at p.i.
func (p *parser) skipString() (escaped, ok bool) {
	p.i++ // opening quote
	for p.i < len(p.data) {
		c := p.data[p.i]
		switch {
		case c == '"':
			p.i++
			return escaped, true
		case c == '\\':
			escaped = true
			if p.i+1 >= len(p.data) {
				return escaped, false
			}
			switch p.data[p.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i += 2
			case 'u':
				if p.i+6 > len(p.data) {
					return escaped, false
				}
				for _, h := range p.data[p.i+2 : p.i+6] {
					if !isHex(h) {
						return escaped, false
					}
				}
				p.i += 6
			default:
				return escaped, false
			}
		case c < 0x20:
			return escaped, false
		default:
			p.i++
		}
	}
	return escaped, false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// number moves past a JSON number per RFC 8259.
func (p *parser) number() bool {
	d := p.data
	i := p.i
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			return false
		}
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			return false
		}
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	}
	p.i = i
	return true
}

func (p *parser) literal(s string) bool {
	if len(p.data)-p.i >= len(s) && string(p.data[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

// value moves past any JSON value, validating it.
func (p *parser) value(depth int) bool {
	if depth > maxDepth || p.i >= len(p.data) {
		return false
	}
	switch c := p.data[p.i]; c {
	case '{':
		p.i++
		p.ws()
		if p.eat('}') {
			return true
		}
		for {
			if p.i >= len(p.data) || p.data[p.i] != '"' {
				return false
			}
			if _, ok := p.skipString(); !ok {
				return false
			}
			p.ws()
			if !p.eat(':') {
				return false
			}
			p.ws()
			if !p.value(depth + 1) {
				return false
			}
			p.ws()
			if p.eat('}') {
				return true
			}
			if !p.eat(',') {
				return false
			}
			p.ws()
		}
	case '[':
		p.i++
		p.ws()
		if p.eat(']') {
			return true
		}
		for {
			if !p.value(depth + 1) {
				return false
			}
			p.ws()
			if p.eat(']') {
				return true
			}
			if !p.eat(',') {
				return false
			}
			p.ws()
		}
	case '"':
		_, ok := p.skipString()
		return ok
	case 't':
		return p.literal("true")
	case 'f':
		return p.literal("false")
	case 'n':
		return p.literal("null")
	default:
		return p.number()
	}
}

// skipRest validates the remaining elements and the closing bracket, so an
// over-long but well-formed frame is told apart from garbage.
func (p *parser) skipRest() bool {
	for {
		p.ws()
		if !p.value(0) {
			return false
		}
		p.ws()
		if p.eat(']') {
			p.ws()
			return p.i == len(p.data)
		}
		if !p.eat(',') {
			return false
		}
	}
}

// EncodeCall returns the CALL frame [2, id, action, payload]. A nil payload
// is sent as {}. payload must be a JSON object; it is not checked.
func EncodeCall(id, action string, payload []byte) []byte {
	return appendFrame(Call, id, action, payload)
}

// EncodeSend returns the OCPP 2.1 SEND frame [6, id, action, payload].
func EncodeSend(id, action string, payload []byte) []byte {
	return appendFrame(Send, id, action, payload)
}

func appendFrame(t MessageType, id, action string, payload []byte) []byte {
	if len(payload) == 0 {
		payload = emptyObj
	}
	b := make([]byte, 0, 8+len(id)+len(action)+len(payload)+4)
	b = append(b, '[', byte('0'+t), ',')
	b = appendString(b, id)
	b = append(b, ',')
	b = appendString(b, action)
	b = append(b, ',')
	b = append(b, payload...)
	return append(b, ']')
}

var emptyObj = []byte("{}")

// EncodeResult returns the CALLRESULT frame [3, id, payload]; nil payload is {}.
func EncodeResult(id string, payload []byte) []byte {
	if len(payload) == 0 {
		payload = emptyObj
	}
	b := make([]byte, 0, 6+len(id)+len(payload)+2)
	b = append(b, '[', '3', ',')
	b = appendString(b, id)
	b = append(b, ',')
	b = append(b, payload...)
	return append(b, ']')
}

// EncodeError returns the CALLERROR frame [4, id, code, description,
// details] with the code spelled for version v. The description is cut to
// 255 characters; nil (or unencodable) details are sent as {}.
func EncodeError(v Version, id string, e *Error) []byte {
	return encodeError(CallError, v, id, e)
}

// EncodeResultError returns the OCPP 2.1 CALLRESULTERROR frame, which
// answers a CALLRESULT that could not be processed.
func EncodeResultError(id string, e *Error) []byte {
	return encodeError(CallResultError, V21, id, e)
}

func encodeError(t MessageType, v Version, id string, e *Error) []byte {
	if e == nil {
		e = &Error{Code: GenericError}
	}
	details := emptyObj
	if len(e.Details) > 0 {
		if d, err := json.Marshal(e.Details); err == nil {
			details = d
		}
	}
	desc := truncate(e.Description, MaxDescriptionLen)
	code := e.Code.For(v)
	b := make([]byte, 0, 12+len(id)+len(code)+len(desc)+len(details))
	b = append(b, '[', byte('0'+t), ',')
	b = appendString(b, id)
	b = append(b, ',')
	b = appendString(b, code)
	b = append(b, ',')
	b = appendString(b, desc)
	b = append(b, ',')
	b = append(b, details...)
	return append(b, ']')
}

// truncate cuts s to at most n runes.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	count := 0
	for i := range s {
		if count == n {
			return s[:i]
		}
		count++
	}
	return s
}

// appendString appends s as a JSON string. Plain ASCII (the common case for
// ids, actions and codes) is copied as is; anything else goes through
// encoding/json, which also fixes invalid UTF-8.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
