package watchtower

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/constellation-ev/constellation/cloud/auth"
	"github.com/constellation-ev/constellation/cloud/fleet"
)

// AdminStore is the store as CreateAdmin uses it.
type AdminStore interface {
	CreateUser(ctx context.Context, u fleet.NewUser, a fleet.Audit) (fleet.User, error)
}

// CreateAdmin creates the admin user name on the server's command line:
// the first admin, never a default password. The password is the first
// line of password when given (trailing newline dropped), or generated
// and printed to out. A taken name is refused (fleet.ErrExists). The
// audit log names the actor "cli".
func CreateAdmin(ctx context.Context, st AdminStore, name, displayName string, password io.Reader, out io.Writer) error {
	if err := fleet.ValidateUserName(name); err != nil {
		return fmt.Errorf("create-admin: %w", err)
	}
	var pw string
	if password != nil {
		line, err := bufio.NewReader(io.LimitReader(password, 4*auth.MaxPassword+2)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("create-admin: reading the password: %w", err)
		}
		pw = strings.TrimRight(line, "\r\n")
	} else {
		pw = auth.NewPassword()
	}
	hash, err := auth.HashPassword(pw)
	if err != nil {
		return fmt.Errorf("create-admin: %w", err)
	}
	u, err := st.CreateUser(ctx, fleet.NewUser{Name: name, DisplayName: displayName, Role: auth.Admin, PasswordHash: hash}, fleet.Audit{Actor: auth.KindCLI})
	if err != nil {
		return fmt.Errorf("create-admin: %w", err)
	}
	fmt.Fprintf(out, "admin %s created (id %s)\n", u.Name, u.ID)
	if password == nil {
		// To the operator's terminal only, never to the log.
		fmt.Fprintf(out, "password %s\n", pw)
	}
	return nil
}
