// Package access is who may do what at osccr's HTTP API and web console: named tokens with
// roles (read from a file of token hashes, re-read when it changes), the audit record of every
// state-changing request, the checks of the Host and Origin headers, and the throttle on
// failed sign-ins. The API and the console (and `osccr serve`, which mounts both) share it.
package access

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Role is what a token may do. Each role may do everything of the roles below it.
type Role int

// The roles, least first. A route that names no role (RoleNone) is a programming error: the
// API refuses to build with one.
const (
	RoleNone Role = iota
	// RoleReadOnly reads: services, followers, integrations, replication status.
	RoleReadOnly
	// RoleOperator also runs the day-to-day operations: pause, resume, recycle a node, create a
	// service or a follower, verify a follower against its leader.
	RoleOperator
	// RoleAdmin also does what cannot be undone or widens what osccr reaches: promote, delete,
	// change a plan or the termination protection, register a cluster, create an integration;
	// and sees a local service's generated password.
	RoleAdmin
)

var roleNames = map[Role]string{RoleReadOnly: "read-only", RoleOperator: "operator", RoleAdmin: "admin"}

func (r Role) String() string {
	if n, ok := roleNames[r]; ok {
		return n
	}
	return "none"
}

// Roles lists every role, least first.
func Roles() []Role { return []Role{RoleReadOnly, RoleOperator, RoleAdmin} }

// ParseRole reads a role's name.
func ParseRole(s string) (Role, error) {
	for r, n := range roleNames {
		if s == n {
			return r, nil
		}
	}
	return RoleNone, fmt.Errorf("role %q: use read-only, operator or admin", s)
}

// Identity is who a request comes from: a token's name and role. The token itself is never
// kept past its check.
type Identity struct {
	Name string
	Role Role
}

// Allows reports whether the identity may do what needs role need.
func (id Identity) Allows(need Role) bool { return need != RoleNone && id.Role >= need }

// Anonymous is the identity of every request when authentication is off (--insecure-dev).
var Anonymous = Identity{Name: "anonymous (--insecure-dev)", Role: RoleAdmin}

// DefaultTokenName is the name of the single token given as OSCCR_API_TOKEN or --token-file:
// an admin token, as it could do everything before roles existed.
const DefaultTokenName = "default"

// Tokens authenticates bearer tokens: a single admin token (the former OSCCR_API_TOKEN) and/or a
// tokens file of named, hashed tokens with roles. The file is re-read on the first request after
// it changes (its size, modification time or inode), so a token is added, revoked or given
// another role without a restart. A file that cannot be read or parsed keeps the tokens last
// read and the error is reported by Err; a file that disappears revokes its tokens.
type Tokens struct {
	path   string
	single *entry

	// OnReloadError is told when the file changed and could not be read or parsed (nil:
	// only Err says so).
	OnReloadError func(error)

	mu      sync.Mutex
	stamp   fileStamp
	entries []entry
	err     error
}

type entry struct {
	hash [sha256.Size]byte
	id   Identity
}

type fileStamp struct {
	size    int64
	modTime time.Time
	ino     uint64
	exists  bool
}

// NewTokens returns the authenticator over a tokens file (path, "" for none) and a single admin
// token (single, "" for none). At least one must be given; the file must parse at start.
func NewTokens(path, single string) (*Tokens, error) {
	t := &Tokens{path: path}
	if single != "" {
		t.single = &entry{hash: sha256.Sum256([]byte(single)), id: Identity{Name: DefaultTokenName, Role: RoleAdmin}}
	}
	if path == "" && single == "" {
		return nil, errors.New("no token: give a tokens file or a single token")
	}
	if path != "" {
		t.mu.Lock()
		t.reloadLocked()
		err := t.err
		t.mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
	return t, nil
}

// Err is the last problem reading the tokens file (nil when it was read).
func (t *Tokens) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Authenticate returns the identity of a presented token. Every known token's hash is compared
// in constant time, so the answer's timing says nothing of which matched.
func (t *Tokens) Authenticate(token string) (Identity, bool) {
	if token == "" {
		return Identity{}, false
	}
	sum := sha256.Sum256([]byte(token))
	var found Identity
	ok := false
	if t.single != nil && subtle.ConstantTimeCompare(sum[:], t.single.hash[:]) == 1 {
		found, ok = t.single.id, true
	}
	if t.path != "" {
		t.mu.Lock()
		t.reloadLocked()
		for _, e := range t.entries {
			if subtle.ConstantTimeCompare(sum[:], e.hash[:]) == 1 && !ok {
				found, ok = e.id, true
			}
		}
		t.mu.Unlock()
	}
	return found, ok
}

// reloadLocked re-reads the file when its stamp changed.
func (t *Tokens) reloadLocked() {
	info, err := os.Stat(t.path)
	var stamp fileStamp
	if err == nil {
		stamp = fileStamp{size: info.Size(), modTime: info.ModTime(), ino: inode(info), exists: true}
	}
	if stamp == t.stamp && (t.entries != nil || t.err != nil) {
		return
	}
	t.stamp = stamp
	defer func() {
		if t.err != nil && t.OnReloadError != nil {
			t.OnReloadError(t.err)
		}
	}()
	if !stamp.exists {
		t.entries, t.err = []entry{}, fmt.Errorf("tokens file %s: %w (every token of it is revoked until it is back)", t.path, err)
		return
	}
	raw, err := os.ReadFile(t.path)
	if err != nil {
		t.err = fmt.Errorf("tokens file %s: %w (the tokens read before stay)", t.path, err)
		return
	}
	entries, err := ParseTokens(raw)
	if err != nil {
		t.err = fmt.Errorf("tokens file %s: %w (the tokens read before stay)", t.path, err)
		if t.entries == nil {
			t.entries = []entry{}
		}
		return
	}
	t.entries, t.err = entries, nil
}

// ParseTokens reads a tokens file: one token a line, `NAME ROLE sha256:HEX` (the SHA-256 of
// the token, as `osccr token new` prints it); blank lines and lines starting with # are
// ignored. Names are unique.
func ParseTokens(raw []byte) ([]entry, error) {
	var out []entry
	var problems []error
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 3 {
			problems = append(problems, fmt.Errorf("line %d: want NAME ROLE sha256:HEX, got %d fields", n, len(fields)))
			continue
		}
		name, roleName, hashText := fields[0], fields[1], fields[2]
		role, err := ParseRole(roleName)
		if err != nil {
			problems = append(problems, fmt.Errorf("line %d: %w", n, err))
		}
		hexText, ok := strings.CutPrefix(hashText, "sha256:")
		sum, herr := hex.DecodeString(hexText)
		if !ok || herr != nil || len(sum) != sha256.Size {
			problems = append(problems, fmt.Errorf("line %d: token of %s: want sha256: and 64 hex digits (the hash, never the token itself)", n, name))
			continue
		}
		if seen[name] {
			problems = append(problems, fmt.Errorf("line %d: a second token named %s: give each token its own name", n, name))
		}
		seen[name] = true
		e := entry{id: Identity{Name: name, Role: role}}
		copy(e.hash[:], sum)
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		problems = append(problems, err)
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return out, nil
}

// NewToken makes a random token and its tokens-file line.
func NewToken(name string, role Role) (token, line string, err error) {
	if name == "" || strings.ContainsAny(name, " \t\n#") {
		return "", "", fmt.Errorf("token name %q: give a name without spaces or #", name)
	}
	if role == RoleNone {
		return "", "", errors.New("a token needs a role: read-only, operator or admin")
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token = "osccr_" + base64.RawURLEncoding.EncodeToString(b)
	return token, HashLine(name, role, token), nil
}

// HashLine is the tokens-file line of a token.
func HashLine(name string, role Role, token string) string {
	sum := sha256.Sum256([]byte(token))
	return fmt.Sprintf("%s %s sha256:%s", name, role, hex.EncodeToString(sum[:]))
}

func inode(info os.FileInfo) uint64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
