package bus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// Roles a bus client may have: the process roles of `izwi serve --role`.
// An `izwi keys` or `izwi users` command on a machine uses that machine's
// credentials, and so its role.
const (
	RoleGateway    = "gateway"
	RoleWorker     = "worker"
	RoleIdentifier = "identifier"
)

// Roles lists every role, in the order `izwi bus certs` writes them.
func Roles() []string { return []string{RoleGateway, RoleWorker, RoleIdentifier} }

// identifySubjects are the identifier service's subjects (internal/identify
// wire.go): workers ask on them, identifiers answer.
const identifySubjects = "izwi.identify.>"

// Permissions are what each role may do on the bus, from what the code of
// that role actually does (cmd/izwi roles.go):
//   - an identifier answers embedding requests and nothing else: it may
//     subscribe only to the identify subjects and publish only replies to
//     requests it received. It never sees a live session's audio, events or
//     JetStream (where leases, audio and captions live).
//   - a gateway never talks to identifiers, so it may neither publish nor
//     subscribe on their subjects (it cannot pose as one to receive
//     workers' voice audio).
//   - a worker asks identifiers but never answers them, so it may not
//     subscribe on their subjects.
//
// Gateways and workers share the rest (live subjects, notices, JetStream:
// leases, the audio and events streams), because both own sessions by
// lease: a gateway runs the schedules and ingests audio, a worker
// recognises it.
func Permissions(role string) (*server.Permissions, error) {
	switch role {
	case RoleIdentifier:
		return &server.Permissions{
			Publish:   &server.SubjectPermission{Deny: []string{">"}},
			Subscribe: &server.SubjectPermission{Allow: []string{"izwi.identify.info", "izwi.identify.embed"}},
			Response:  &server.ResponsePermission{MaxMsgs: 1},
		}, nil
	case RoleGateway:
		return &server.Permissions{
			Publish:   &server.SubjectPermission{Deny: []string{identifySubjects}},
			Subscribe: &server.SubjectPermission{Deny: []string{identifySubjects}},
		}, nil
	case RoleWorker:
		return &server.Permissions{Subscribe: &server.SubjectPermission{Deny: []string{identifySubjects}}}, nil
	}
	return nil, fmt.Errorf("bus: role %q: want one of %v", role, Roles())
}

// User is one bus client identity: a role and the public half of its NKey.
type User struct {
	Role string `json:"role"`
	NKey string `json:"nkey"`
}

// Users is the file a node reads (`izwi bus serve --users FILE`, written by
// `izwi bus certs`): public keys only, nothing secret.
type Users struct {
	Users []User `json:"users"`
}

// maxUsersFile bounds the users file.
const maxUsersFile = 1 << 20

// ParseUsers decodes and checks a users file: every role known, every key a
// valid NATS user public key (U…), no key twice.
func ParseUsers(data []byte) (Users, error) {
	if len(data) > maxUsersFile {
		return Users{}, fmt.Errorf("bus: users file is larger than %d bytes", maxUsersFile)
	}
	var u Users
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&u); err != nil {
		return Users{}, fmt.Errorf("bus: users file: %w", err)
	}
	if len(u.Users) == 0 {
		return Users{}, errors.New("bus: users file lists no users")
	}
	seen := map[string]bool{}
	for i, x := range u.Users {
		if !slices.Contains(Roles(), x.Role) {
			return Users{}, fmt.Errorf("bus: users file: user %d: role %q: want one of %v", i, x.Role, Roles())
		}
		if !nkeys.IsValidPublicUserKey(x.NKey) {
			return Users{}, fmt.Errorf("bus: users file: user %d: nkey is not a NATS user public key (U…)", i)
		}
		if seen[x.NKey] {
			return Users{}, fmt.Errorf("bus: users file: user %d: nkey listed twice", i)
		}
		seen[x.NKey] = true
	}
	return u, nil
}

// LoadUsers reads a users file.
func LoadUsers(path string) (Users, error) {
	f, err := os.Open(path)
	if err != nil {
		return Users{}, fmt.Errorf("bus: users file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxUsersFile+1))
	if err != nil {
		return Users{}, fmt.Errorf("bus: users file: %w", err)
	}
	return ParseUsers(data)
}

// nkeyUsers are the node's users with their role's permissions.
func (u Users) nkeyUsers() []*server.NkeyUser {
	out := make([]*server.NkeyUser, 0, len(u.Users))
	for _, x := range u.Users {
		p, _ := Permissions(x.Role) // ParseUsers checked the role
		out = append(out, &server.NkeyUser{Nkey: x.NKey, Permissions: p})
	}
	return out
}
