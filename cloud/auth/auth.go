// Package auth is who may do what on the watchtower: the roles (viewer,
// operator, admin) and the one check between them, the authenticated
// principal a request carries in its context (the API sets it; the
// dashboard's sessions will set the same), and operators' password
// hashing (argon2id).
package auth

import (
	"context"
	"fmt"
)

// Role is a user's or an API token's role. Each role may do what the
// ones below it may.
type Role string

// Roles, lowest first.
const (
	Viewer   Role = "viewer"   // reads everything but users and the audit log
	Operator Role = "operator" // and commands, desired configuration, authorization lists, enrollment tokens
	Admin    Role = "admin"    // and sites' creation and revocation, users, others' tokens, the audit log
)

// rank orders the roles; 0 is no role.
func (r Role) rank() int {
	switch r {
	case Viewer:
		return 1
	case Operator:
		return 2
	case Admin:
		return 3
	}
	return 0
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r.rank() > 0 }

// Allows reports whether r may do what needs role need: the one role
// check of the API and the dashboard. An unknown role allows nothing.
func (r Role) Allows(need Role) bool { return r.rank() > 0 && r.rank() >= need.rank() }

// Min is the lower of r and o (an API token never outranks its owner).
func (r Role) Min(o Role) Role {
	if o.rank() < r.rank() {
		return o
	}
	return r
}

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	if r := Role(s); r.Valid() {
		return r, nil
	}
	return "", fmt.Errorf("role: want %s, %s or %s, not %q", Viewer, Operator, Admin, s)
}

// Principal kinds.
const (
	KindUser   = "user"   // a user's own credentials (password; the dashboard's session)
	KindToken  = "token"  // an API token, acting for its owner
	KindLegacy = "legacy" // the operator token file: an admin with no user
	KindCLI    = "cli"    // the command line on the server
)

// Principal is who makes a request, as authenticated.
type Principal struct {
	Kind string
	// UserID and UserName are the user acted for ("" for legacy and cli).
	UserID, UserName string
	// TokenID is the API token used (KindToken).
	TokenID string
	// Role is the effective role: a token's, capped by its owner's.
	Role Role
}

// Actor names the principal in the audit log: "user:NAME",
// "token:ID", "operator-token" or "cli".
func (p Principal) Actor() string {
	switch p.Kind {
	case KindUser:
		return "user:" + p.UserName
	case KindToken:
		return "token:" + p.TokenID
	case KindLegacy:
		return "operator-token"
	}
	return p.Kind
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// From returns the principal ctx carries.
func From(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
