package charging

import (
	"fmt"
	"strings"
)

// PolicyMode decides what happens to an id token that is not in the
// authorization cache. Known tokens are always answered from the cache.
type PolicyMode string

// Policy modes.
const (
	// PolicyStrict refuses unknown tokens (Invalid). The default.
	PolicyStrict PolicyMode = "strict"
	// PolicyAllowlist accepts unknown tokens that match one of the policy's
	// patterns and records them in the cache (Source "allowlist-policy");
	// others are Invalid.
	PolicyAllowlist PolicyMode = "allowlist"
	// PolicyOpen accepts every unknown token and records it as seen
	// (Source "open-policy"), so an operator can later block it.
	PolicyOpen PolicyMode = "open"
)

// Token sources set by the service.
const (
	SourceOpenPolicy      = "open-policy"
	SourceAllowlistPolicy = "allowlist-policy"
)

// AuthPolicy is the policy for unknown tokens.
type AuthPolicy struct {
	Mode PolicyMode `toml:"mode" json:"mode"`
	// Allow holds the allowlist patterns: an exact token id, or a prefix
	// followed by a single trailing "*" ("04A1*"). Matching is case-sensitive.
	Allow []string `toml:"allow" json:"allow,omitempty"`
}

// PolicyConfig is the appliance-wide policy with per-charger overrides.
type PolicyConfig struct {
	Default    AuthPolicy               `toml:"default" json:"default"`
	PerCharger map[ChargerID]AuthPolicy `toml:"charger" json:"perCharger,omitempty"`
}

// Validate reports a malformed policy (unknown mode, bad pattern).
func (c PolicyConfig) Validate() error {
	if err := c.Default.validate(); err != nil {
		return fmt.Errorf("default policy: %w", err)
	}
	for id, p := range c.PerCharger {
		if err := p.validate(); err != nil {
			return fmt.Errorf("policy for charger %q: %w", id, err)
		}
	}
	return nil
}

// For returns the policy that applies to charger id.
func (c PolicyConfig) For(id ChargerID) AuthPolicy {
	if p, ok := c.PerCharger[id]; ok {
		return p
	}
	return c.Default
}

func (p AuthPolicy) validate() error {
	switch p.Mode {
	case "", PolicyStrict, PolicyOpen, PolicyAllowlist:
	default:
		return fmt.Errorf("%w: unknown policy mode %q", ErrInvalid, p.Mode)
	}
	for _, pat := range p.Allow {
		if pat == "" || pat == "*" || strings.Contains(strings.TrimSuffix(pat, "*"), "*") {
			return fmt.Errorf("%w: allowlist pattern %q (want an id or a prefix ending in a single *)", ErrInvalid, pat)
		}
	}
	return nil
}

// allows reports whether tag matches an allowlist pattern.
func (p AuthPolicy) allows(tag string) bool {
	for _, pat := range p.Allow {
		if prefix, ok := strings.CutSuffix(pat, "*"); ok {
			if strings.HasPrefix(tag, prefix) {
				return true
			}
		} else if pat == tag {
			return true
		}
	}
	return false
}
