package access

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTokensReloadWithoutRestart: a token added, given another role or revoked in the file is
// seen on the next request; a file that no longer parses keeps the tokens read before.
func TestTokensReloadWithoutRestart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens")
	write := func(lines ...string) {
		t.Helper()
		// A new file renamed over the old one, as an editor or a deployment writes it: a new
		// inode even when the size and the second are the same.
		tmp := file + ".new"
		if err := os.WriteFile(tmp, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, file); err != nil {
			t.Fatal(err)
		}
	}
	write(HashLine("alice", RoleOperator, "a-token"))
	tokens, err := NewTokens(file, "single")
	if err != nil {
		t.Fatal(err)
	}
	check := func(token string, want Identity, ok bool) {
		t.Helper()
		if got, gotOK := tokens.Authenticate(token); got != want || gotOK != ok {
			t.Errorf("token %s: %+v %v, want %+v %v", token, got, gotOK, want, ok)
		}
	}
	check("a-token", Identity{Name: "alice", Role: RoleOperator}, true)
	check("single", Identity{Name: DefaultTokenName, Role: RoleAdmin}, true)
	check("b-token", Identity{}, false)
	check("", Identity{}, false)

	write(HashLine("alice", RoleAdmin, "a-token"), HashLine("bob", RoleReadOnly, "b-token"))
	check("a-token", Identity{Name: "alice", Role: RoleAdmin}, true)
	check("b-token", Identity{Name: "bob", Role: RoleReadOnly}, true)

	write("alice admin sha256:nothex")
	check("b-token", Identity{Name: "bob", Role: RoleReadOnly}, true)
	if err := tokens.Err(); err == nil || !strings.Contains(err.Error(), "line 1: token of alice: want sha256: and 64 hex digits (the hash, never the token itself) (the tokens read before stay)") {
		t.Errorf("a broken file: %v", err)
	}

	write(HashLine("bob", RoleReadOnly, "b-token"))
	check("a-token", Identity{}, false)
	if tokens.Err() != nil {
		t.Errorf("after a good file: %v", tokens.Err())
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	check("b-token", Identity{}, false)
	check("single", Identity{Name: DefaultTokenName, Role: RoleAdmin}, true)
}

func TestParseTokens(t *testing.T) {
	good := HashLine("alice", RoleAdmin, "x")
	for _, tt := range []struct{ name, file, want string }{
		{"comments and blanks", "# tokens\n\n" + good + "\n", ""},
		{"plain token instead of a hash", "alice admin s3cret\n", "want sha256: and 64 hex digits"},
		{"unknown role", strings.Replace(good, "admin", "root", 1), `role "root": use read-only, operator or admin`},
		{"two fields", "alice admin\n", "want NAME ROLE sha256:HEX, got 2 fields"},
		{"a name twice", good + "\n" + good + "\n", "line 2: a second token named alice"},
	} {
		_, err := ParseTokens([]byte(tt.file))
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
	if _, err := NewTokens(filepath.Join(t.TempDir(), "none"), ""); err == nil {
		t.Error("a missing tokens file at start was accepted")
	}
	token, line, err := NewToken("carol", RoleOperator)
	if err != nil || !strings.HasPrefix(line, "carol operator sha256:") || strings.Contains(line, token) {
		t.Errorf("NewToken: %q %q %v", token, line, err)
	}
}

// TestAuditLogAppends: records are appended as JSON lines to a 0600 file, across reopenings.
func TestAuditLogAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit", "audit.jsonl")
	for i, actor := range []string{"alice", "bob"} {
		l, err := OpenLog(path)
		if err != nil {
			t.Fatal(err)
		}
		l.Audit(Record{Actor: actor, Via: "api", Action: "POST x", Outcome: OutcomeAccepted})
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		raw, _ := os.ReadFile(path)
		if lines := bytes.Count(raw, []byte("\n")); lines != i+1 {
			t.Fatalf("after %d records: %d lines", i+1, lines)
		}
	}
	raw, _ := os.ReadFile(path)
	var r Record
	if err := json.Unmarshal(bytes.Split(raw, []byte("\n"))[1], &r); err != nil || r.Actor != "bob" || r.Time.IsZero() {
		t.Errorf("second record: %+v %v", r, err)
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Errorf("audit log mode %v", info.Mode().Perm())
	}
}

// TestThrottleFigures measures what the default throttle leaves a guesser: one address hammering
// for a simulated minute gets the burst and then one guess a second; many addresses together get
// the global burst and then the global rate.
func TestThrottleFigures(t *testing.T) {
	now := time.Unix(0, 0)
	th := DefaultThrottle()
	th.now = func() time.Time { return now }
	tried, refused := 0, 0
	for range 60 * 100 { // 100 attempts a second for 60 s from one address
		if ok, _ := th.Allow("198.51.100.1:1"); ok {
			tried++
			th.Fail("198.51.100.1:1")
		} else {
			refused++
		}
		now = now.Add(10 * time.Millisecond)
	}
	// 10 at once, then one a second: about 10 + 60.
	if tried < 65 || tried > 71 {
		t.Errorf("one address, 60 s at 100/s: %d tokens tried, %d refused; want about 70 tried", tried, refused)
	}
	t.Logf("one address, 60 s at 100 attempts/s: %d tokens tried, %d refused (429)", tried, refused)

	th = DefaultThrottle()
	th.now = func() time.Time { return now }
	tried = 0
	for i := range 60 * 1000 { // 1000 addresses, each once a second, for 60 s
		addr := "203.0.113." + string(rune('0'+i%10)) + ":" + string(rune('0'+i%1000/100)) + string(rune('0'+i%100/10))
		if ok, _ := th.Allow(addr); ok {
			tried++
			th.Fail(addr)
		}
		now = now.Add(time.Millisecond)
	}
	// 50 at once, then 10 a second: about 50 + 600.
	if tried < 620 || tried > 660 {
		t.Errorf("1000 addresses, 60 s: %d tokens tried; want about 650", tried)
	}
	t.Logf("1000 addresses, 60 s at 1000 attempts/s: %d tokens tried", tried)
}
