package extbroker

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/constellation-ev/constellation/syncproto"
)

// Mosquitto's dynamic security plugin takes commands as JSON published on
// its control topic and answers on the response topic, matched by the
// correlation data each command carries.
const (
	dynsecTopic         = "$CONTROL/dynamic-security/v1"
	dynsecResponseTopic = dynsecTopic + "/response"
	dynsecTimeout       = 15 * time.Second

	// WatchtowerRole is the role Setup gives the watchtower's own user.
	WatchtowerRole = "cst-watchtower"
)

// siteRole is the role that confines a site's appliance to its own
// topics. Mosquitto 2.0's dynamic security does not expand %u in ACLs,
// so each site has its own role.
func siteRole(site string) string { return "cst-site-" + site }

// Dynsec gives and takes sites' access to the broker through the dynamic
// security plugin, over the Link's connection. The Link's user must be
// the plugin's administrator (mosquitto_ctrl dynsec init FILE USER).
type Dynsec struct{ link *Link }

// Dynsec returns the Link's access manager.
func (l *Link) Dynsec() *Dynsec { return &Dynsec{link: l} }

// dynsecCommand is one command: its name and arguments.
type dynsecCommand map[string]any

type dynsecResponse struct {
	Command         string          `json:"command"`
	Error           string          `json:"error"`
	CorrelationData string          `json:"correlationData"`
	Data            json.RawMessage `json:"data"`
}

// Answers of the plugin that mean the state is already what a command
// asks for. (Mosquitto 2.0 answers adding a role a client has with
// "Internal error", so roles are checked with getClient first.)
const (
	roleExists     = "Role already exists"
	clientExists   = "Client already exists"
	clientNotFound = "Client not found"
	roleNotFound   = "Role not found"
)

// Setup gives the Link's user the role the watchtower needs: read every
// site's upstream topics (shared), publish to every site's downstream
// ones. Adding the role makes the broker drop the connection (so that
// the new ACL applies); the next connect finds the role in place.
func (d *Dynsec) Setup(ctx context.Context) error {
	_, err := d.run(ctx, []string{roleExists},
		dynsecCommand{"command": "createRole", "rolename": WatchtowerRole, "acls": []map[string]any{
			{"acltype": "subscribePattern", "topic": syncproto.UpstreamFilter("+"), "allow": true},
			{"acltype": "publishClientSend", "topic": syncproto.DownstreamFilter("+"), "allow": true},
		}})
	if err != nil {
		return err
	}
	return d.ensureRole(ctx, d.link.opts.Username, WatchtowerRole)
}

// Grant lets site's appliance connect with password and its own client
// id, publish only its upstream topics and subscribe only to its
// downstream ones. Granting again sets the password again.
func (d *Dynsec) Grant(ctx context.Context, site, password string) error {
	if err := syncproto.ValidateSiteID(site); err != nil {
		return fmt.Errorf("extbroker: grant: %w", err)
	}
	role := siteRole(site)
	answers, err := d.run(ctx, []string{roleExists, clientExists},
		dynsecCommand{"command": "createRole", "rolename": role, "acls": []map[string]any{
			{"acltype": "publishClientSend", "topic": syncproto.UpstreamFilter(site), "allow": true},
			{"acltype": "subscribePattern", "topic": syncproto.ApplianceSubscription(site), "allow": true},
		}},
		dynsecCommand{"command": "createClient", "username": site, "password": password,
			"clientid": syncproto.ClientID(site), "roles": []map[string]any{{"rolename": role}}},
	)
	if err != nil || answers[1].Error != clientExists {
		return err
	}
	// Granted before (an enrollment retried, or a site enrolled anew).
	if _, err := d.run(ctx, nil,
		dynsecCommand{"command": "setClientPassword", "username": site, "password": password},
		dynsecCommand{"command": "setClientId", "username": site, "clientid": syncproto.ClientID(site)},
		dynsecCommand{"command": "enableClient", "username": site},
	); err != nil {
		return err
	}
	return d.ensureRole(ctx, site, role)
}

// ensureRole gives user role unless it has it.
func (d *Dynsec) ensureRole(ctx context.Context, user, role string) error {
	answers, err := d.run(ctx, nil, dynsecCommand{"command": "getClient", "username": user})
	if err != nil {
		return err
	}
	var got struct {
		Client struct {
			Roles []struct {
				Name string `json:"rolename"`
			} `json:"roles"`
		} `json:"client"`
	}
	if err := json.Unmarshal(answers[0].Data, &got); err != nil {
		return fmt.Errorf("extbroker: dynsec: getClient %s: %w", user, err)
	}
	for _, r := range got.Client.Roles {
		if r.Name == role {
			return nil
		}
	}
	_, err = d.run(ctx, nil, dynsecCommand{"command": "addClientRole", "username": user, "rolename": role})
	return err
}

// Revoke deletes site's user, which disconnects its appliance, and role.
func (d *Dynsec) Revoke(ctx context.Context, site string) error {
	_, err := d.run(ctx, []string{clientNotFound, roleNotFound},
		dynsecCommand{"command": "deleteClient", "username": site},
		dynsecCommand{"command": "deleteRole", "rolename": siteRole(site)},
	)
	return err
}

// run sends cmds in one message and returns their answers, in order;
// an answer with an error that harmless does not list is an error.
func (d *Dynsec) run(ctx context.Context, harmless []string, cmds ...dynsecCommand) ([]dynsecResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, dynsecTimeout)
	defer cancel()
	var id [8]byte
	_, _ = rand.Read(id[:])
	answers := make(chan dynsecResponse, len(cmds))
	index := map[string]int{}
	for i, c := range cmds {
		corr := fmt.Sprintf("%x-%d", id, i)
		c["correlationData"] = corr
		index[corr] = i
		d.link.waiters.Store(corr, answers)
		defer d.link.waiters.Delete(corr)
	}
	payload, err := json.Marshal(map[string]any{"commands": cmds})
	if err != nil {
		return nil, fmt.Errorf("extbroker: dynsec: %w", err)
	}
	if err := d.link.Publish(ctx, dynsecTopic, payload, false); err != nil {
		return nil, fmt.Errorf("extbroker: dynsec: %w", err)
	}
	out := make([]dynsecResponse, len(cmds))
	var errs []error
	for range cmds {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("extbroker: dynsec: no answer from the broker (is the dynamic security plugin loaded, and %q its administrator?): %w",
				d.link.opts.Username, ctx.Err())
		case a := <-answers:
			out[index[a.CorrelationData]] = a
			if a.Error != "" && !slices.Contains(harmless, a.Error) {
				errs = append(errs, fmt.Errorf("%s: %s", a.Command, a.Error))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("extbroker: dynsec: %w", err)
	}
	return out, nil
}

// dynsecAnswer hands the plugin's answers to their waiters.
func (l *Link) dynsecAnswer(payload []byte) {
	var msg struct {
		Responses []dynsecResponse `json:"responses"`
	}
	if err := json.Unmarshal(payload, &msg); err != nil {
		l.log.Warn("unreadable dynamic security answer", "err", err)
		return
	}
	for _, r := range msg.Responses {
		if w, ok := l.waiters.Load(r.CorrelationData); ok {
			select {
			case w.(chan dynsecResponse) <- r:
			default: // a second answer to a command the broker got twice
			}
		}
	}
}
