package syncproto

import (
	"fmt"
	"strings"
)

// Prefix starts every topic; the number is the protocol's major version
// (see [Major]): a new major lives on new topics, beside the old ones.
const Prefix = "cst/v1/"

// Direction says who publishes on a topic.
type Direction string

// Directions.
const (
	Up   Direction = "up"   // appliance → cloud
	Down Direction = "down" // cloud → appliance
)

// Kind names a message type; it is the last level of its topic.
type Kind string

// Upstream kinds.
const (
	KindBirth         Kind = "birth"
	KindDeath         Kind = "death"
	KindChargerStatus Kind = "status"
	KindTransaction   Kind = "tx"
	KindReadings      Kind = "readings"
	KindEvent         Kind = "event"
	KindReported      Kind = "reported"
	KindChargerConfig Kind = "config"
	KindCommandResult Kind = "result"
)

// Downstream kinds.
const (
	KindDesired  Kind = "desired"
	KindAuthList Kind = "auth"
	KindCommand  Kind = "command"
)

// kinds maps every kind to its direction.
var kinds = map[Kind]Direction{
	KindBirth: Up, KindDeath: Up, KindChargerStatus: Up, KindTransaction: Up, KindReadings: Up,
	KindEvent: Up, KindReported: Up, KindChargerConfig: Up, KindCommandResult: Up,
	KindDesired: Down, KindAuthList: Down, KindCommand: Down,
}

// Direction returns who publishes messages of kind k; "" for an unknown kind.
func (k Kind) Direction() Direction { return kinds[k] }

// MaxSiteIDLen bounds a site id.
const MaxSiteIDLen = 64

// ValidateSiteID checks a site id: 1 to 64 ASCII letters, digits, '-',
// '_' or '.', not starting with '.'. Nothing else may appear in a topic
// level that ACLs are written against (no '/', '+', '#', '$').
func ValidateSiteID(id string) error {
	if id == "" || len(id) > MaxSiteIDLen {
		return fmt.Errorf("%w: site id: want 1 to %d characters, got %d", ErrInvalid, MaxSiteIDLen, len(id))
	}
	if id[0] == '.' {
		return fmt.Errorf("%w: site id %q starts with '.'", ErrInvalid, id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("%w: site id %q: character %q not allowed", ErrInvalid, id, c)
		}
	}
	return nil
}

// Topic returns the topic of kind k for site (which must be valid).
func Topic(site string, k Kind) string {
	return Prefix + site + "/" + string(k.Direction()) + "/" + string(k)
}

// ParseTopic splits a topic into its site and kind, checking that the
// kind is known and published in the direction the topic says.
func ParseTopic(topic string) (site string, k Kind, err error) {
	rest, ok := strings.CutPrefix(topic, Prefix)
	if !ok {
		return "", "", fmt.Errorf("%w: topic %q does not start with %s", ErrInvalid, topic, Prefix)
	}
	// Cut, not Split: the watchtower parses each message's topic twice
	// (ACL, Decode), and a slice of parts was garbage each time.
	site, rest, ok1 := strings.Cut(rest, "/")
	d, kind, ok2 := strings.Cut(rest, "/")
	if !ok1 || !ok2 || strings.Contains(kind, "/") {
		return "", "", fmt.Errorf("%w: topic %q: want %s{site}/{up|down}/{kind}", ErrInvalid, topic, Prefix)
	}
	k = Kind(kind)
	dir := Direction(d)
	if err := ValidateSiteID(site); err != nil {
		return "", "", fmt.Errorf("topic %q: %w", topic, err)
	}
	want, known := kinds[k]
	switch {
	case !known:
		return "", "", fmt.Errorf("%w: topic %q: kind %q", ErrUnknownKind, topic, k)
	case want != dir:
		return "", "", fmt.Errorf("%w: topic %q: %s is published %s, not %s", ErrInvalid, topic, k, want, dir)
	}
	return site, k, nil
}

// ClientID is the MQTT client id of site's appliance; brokers admit the
// site's credentials with no other, so that no one takes over its
// session.
func ClientID(site string) string { return "cst-" + site }

// UpstreamFilter matches every upstream message of site ("+": of every
// site); an external broker's ACL lets a site's appliance publish there
// and nowhere else.
func UpstreamFilter(site string) string { return Prefix + site + "/up/+" }

// ApplianceSubscription is the filter an appliance subscribes to: every
// downstream message of its own site.
func ApplianceSubscription(site string) string { return DownstreamFilter(site) }

// DownstreamFilter matches every downstream message of site ("+": of
// every site); on an external broker only the cloud may publish there.
func DownstreamFilter(site string) string { return Prefix + site + "/down/+" }

// CloudSubscription is the filter the cloud subscribes to: every upstream
// message of every site. With group set, it is a shared subscription
// ($share/group/...), so that replicas of the cloud split the load.
func CloudSubscription(group string) string {
	f := UpstreamFilter("+")
	if group != "" {
		f = "$share/" + group + "/" + f
	}
	return f
}

// ApplianceMayPublish reports whether the appliance of site may publish on
// topic: only upstream topics of its own site. Brokers enforce it (the
// watchtower's embedded broker calls it; docs/sync.md gives the Mosquitto
// ACL that says the same).
func ApplianceMayPublish(site, topic string) bool {
	s, k, err := ParseTopic(topic)
	return err == nil && s == site && k.Direction() == Up
}

// ApplianceMaySubscribe reports whether the appliance of site may
// subscribe to filter: its own downstream topics, by name or with the
// filter of [ApplianceSubscription].
func ApplianceMaySubscribe(site, filter string) bool {
	if filter == ApplianceSubscription(site) {
		return true
	}
	s, k, err := ParseTopic(filter)
	return err == nil && s == site && k.Direction() == Down
}
