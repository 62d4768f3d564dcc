package syncproto

import (
	"bytes"
	"compress/flate"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
)

// The protocol version this package writes. Readers accept every minor
// version of their major: a minor version only adds optional fields, and
// readers ignore fields they do not know. A new major version changes the
// topics' prefix too.
const (
	Major = 1
	Minor = 0
)

// Version is the "major.minor" this package writes in Header.Version.
var Version = strconv.Itoa(Major) + "." + strconv.Itoa(Minor)

// Errors of Decode and Validate; test them with errors.Is.
var (
	// ErrInvalid: the message or topic is malformed; the message names the
	// field.
	ErrInvalid = errors.New("syncproto: invalid")
	// ErrUnsupportedVersion: the message is of another major version.
	ErrUnsupportedVersion = errors.New("syncproto: unsupported version")
	// ErrUnknownKind: the topic names a kind this version does not know.
	ErrUnknownKind = errors.New("syncproto: unknown kind")
	// ErrTooLarge: the payload, or what it inflates to, is over the limits.
	ErrTooLarge = errors.New("syncproto: too large")
)

// Payload limits: MaxPayload on the wire, MaxDecoded once inflated.
const (
	MaxPayload = 256 << 10
	MaxDecoded = 4 << 20
)

// CompressAbove is the size of JSON from which Encode deflates it: below,
// the deflate header and the lost readability cost more than they save.
const CompressAbove = 512

// deflated starts a compressed payload: a JSON payload starts with '{'.
const deflated = 0x00

// deflaters keeps compressors for reuse: each holds about a megabyte of
// tables.
var deflaters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestCompression) // the level is valid
	return w
}}

// inflaters keeps decompressors for reuse: each holds tens of kilobytes
// of window and tables, which a new one per message would allocate.
var inflaters = sync.Pool{New: func() any { return flate.NewReader(bytes.NewReader(nil)) }}

// parseVersion reads "major.minor" and refuses another major.
func parseVersion(v string) (major, minor int, err error) {
	a, b, ok := strings.Cut(v, ".")
	major, errA := strconv.Atoi(a)
	minor, errB := strconv.Atoi(b)
	if !ok || errA != nil || errB != nil || major < 0 || minor < 0 {
		return 0, 0, invalid("v", "%q is not major.minor", v)
	}
	if major != Major {
		return 0, 0, fmt.Errorf("%w: %s (this side speaks %d.x)", ErrUnsupportedVersion, v, Major)
	}
	return major, minor, nil
}

// Encode validates m, stamps it with this package's Version, and returns
// its topic for site and its payload: JSON, deflated when longer than
// CompressAbove. m's Site must be site.
func Encode(site string, m Message) (topic string, payload []byte, err error) {
	h := m.Head()
	if h.Version == "" {
		h.Version = Version
	}
	if h.Site != site {
		return "", nil, invalid("site", "message for %q on site %q's topic", h.Site, site)
	}
	if err := m.Validate(); err != nil {
		return "", nil, fmt.Errorf("syncproto: encode %s: %w", m.Kind(), err)
	}
	data, err := json.Marshal(m)
	if err != nil {
		return "", nil, fmt.Errorf("syncproto: encode %s: %w", m.Kind(), err)
	}
	if len(data) > CompressAbove {
		var b bytes.Buffer
		b.WriteByte(deflated)
		w := deflaters.Get().(*flate.Writer)
		w.Reset(&b)
		_, _ = w.Write(data) // writes to a bytes.Buffer do not fail
		_ = w.Close()
		deflaters.Put(w)
		data = b.Bytes()
	}
	if len(data) > MaxPayload {
		return "", nil, fmt.Errorf("%w: %s payload of %d bytes (limit %d)", ErrTooLarge, m.Kind(), len(data), MaxPayload)
	}
	return Topic(site, m.Kind()), data, nil
}

// Decode reads a message received on topic: the topic names the site and
// the kind, the payload is JSON or deflated JSON. Unknown fields are
// ignored; a message of another major version, of another site than the
// topic's, or that fails Validate is refused. The error wraps ErrInvalid,
// ErrUnsupportedVersion, ErrUnknownKind or ErrTooLarge and names the
// field.
func Decode(topic string, payload []byte) (Message, error) {
	site, kind, err := ParseTopic(topic)
	if err != nil {
		return nil, err
	}
	data, buf, err := inflate(payload)
	if err != nil {
		return nil, fmt.Errorf("syncproto: %s: %w", topic, err)
	}
	m, _ := New(kind) // ParseTopic knows only kinds that have a type
	err = json.Unmarshal(data, m)
	// The message holds no part of data (encoding/json copies strings
	// and raw messages, SampleList its array): the buffer can go back.
	putInflated(buf)
	if err != nil {
		return nil, fmt.Errorf("syncproto: %s: %w", topic, describeJSON(err))
	}
	h := m.Head()
	if _, _, err := parseVersion(h.Version); err != nil {
		return nil, fmt.Errorf("syncproto: %s: %w", topic, err)
	}
	if h.Site != site {
		return nil, fmt.Errorf("syncproto: %s: %w", topic, invalid("site", "%q on site %q's topic", h.Site, site))
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("syncproto: %s: %w", topic, err)
	}
	return m, nil
}

// inflated keeps the buffers deflated payloads are inflated into: a
// watchtower inflates every Readings record, and growing a new buffer to
// its size each time was much of the garbage it made per record.
var inflated = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooled bounds the buffers kept in inflated: a rare large message
// does not pin its buffer.
const maxPooled = 64 << 10

// putInflated returns a buffer of inflate (nil: none) to the pool.
func putInflated(b *bytes.Buffer) {
	if b != nil && b.Cap() <= maxPooled {
		inflated.Put(b)
	}
}

// inflate returns the JSON of a payload, checking the limits. A
// deflated payload is inflated into buf, which the caller hands back
// to putInflated once done with data (nil for a payload sent as JSON).
func inflate(payload []byte) (data []byte, buf *bytes.Buffer, err error) {
	switch {
	case len(payload) > MaxPayload:
		return nil, nil, fmt.Errorf("%w: payload of %d bytes (limit %d)", ErrTooLarge, len(payload), MaxPayload)
	case len(payload) == 0:
		return nil, nil, invalid("payload", "empty")
	case payload[0] == '{':
		return payload, nil, nil
	case payload[0] != deflated:
		return nil, nil, invalid("payload", "starts with byte 0x%02x: neither JSON nor deflated JSON", payload[0])
	}
	buf = inflated.Get().(*bytes.Buffer)
	buf.Reset()
	r := inflaters.Get().(io.ReadCloser)
	err = r.(flate.Resetter).Reset(bytes.NewReader(payload[1:]), nil)
	if err == nil {
		_, err = buf.ReadFrom(io.LimitReader(r, MaxDecoded+1))
	}
	inflaters.Put(r) // Reset clears what this read left, an error included
	data = buf.Bytes()
	switch {
	case err != nil:
		err = invalid("payload", "bad deflate data: %v", err)
	case len(data) > MaxDecoded:
		err = fmt.Errorf("%w: payload inflates to more than %d bytes", ErrTooLarge, MaxDecoded)
	case len(data) == 0 || data[0] != '{':
		err = invalid("payload", "deflated data is not a JSON object")
	}
	if err != nil {
		putInflated(buf)
		return nil, nil, err
	}
	return data, buf, nil
}

// describeJSON names the field of an encoding/json error.
func describeJSON(err error) error {
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) && typ.Field != "" {
		return invalid(typ.Field, "want %s, got JSON %s", typ.Type, typ.Value)
	}
	return invalid("payload", "%v", err)
}
