package opensearch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

const secret = "hunter2-very-secret"

func TestConfigRedaction(t *testing.T) {
	// The replication password holds the secret too: either leaking fails the test.
	cfg := Config{URLs: []string{"https://os.example:9200"}, Username: "admin", Password: secret, Timeout: 5 * time.Second,
		ReplicationUsername: "repl", ReplicationPassword: "R" + secret}

	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("connect", "config", cfg)
	asJSON, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var clientLogged bytes.Buffer
	slog.New(slog.NewTextHandler(&clientLogged, nil)).Info("client", "client", c)

	outputs := map[string]string{
		"String":     cfg.String(),
		"%v":         fmt.Sprintf("%v", cfg),
		"%+v":        fmt.Sprintf("%+v", cfg),
		"%#v":        fmt.Sprintf("%#v", cfg),
		"%v pointer": fmt.Sprintf("%v", &cfg),
		//lint:ignore S1025 the %s verb itself is under test: it must not print the password
		"%s":            fmt.Sprintf("%s", cfg),
		"in a struct":   fmt.Sprintf("%+v", struct{ C Config }{cfg}),
		"slog":          logged.String(),
		"json":          string(asJSON),
		"client %v":     fmt.Sprintf("%v", c),
		"client %+v":    fmt.Sprintf("%+v", c),
		"client %#v":    fmt.Sprintf("%#v", c),
		"client slog":   clientLogged.String(),
		"client String": c.String(),
	}
	for name, out := range outputs {
		if strings.Contains(out, secret) {
			t.Errorf("%s leaks the password: %s", name, out)
		}
		if !strings.Contains(out, "os.example") {
			t.Errorf("%s should still say which cluster: %s", name, out)
		}
	}
	for _, name := range []string{"String", "%#v", "slog", "json"} {
		if !strings.Contains(outputs[name], redacted) {
			t.Errorf("%s should show that a password is set: %s", name, outputs[name])
		}
	}
	if strings.Contains(Config{URLs: []string{"http://x:9200"}}.String(), redacted) {
		t.Errorf("a config without password should not claim one")
	}
}

func TestNewValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // in the error; "" means New succeeds
	}{
		{"no URLs", Config{}, "no cluster URL"},
		{"empty URL", Config{URLs: []string{""}}, "must start with http:// or https://"},
		{"no scheme", Config{URLs: []string{"127.0.0.1:9200"}}, "http:// or https://"},
		{"other scheme", Config{URLs: []string{"ftp://host:21"}}, "must start with http:// or https://"},
		{"no host", Config{URLs: []string{"http://"}}, "has no host"},
		{"unparseable", Config{URLs: []string{"http://[::1"}}, "not a valid URL"},
		{"query", Config{URLs: []string{"http://h:9200?x=1"}}, "query"},
		{"credentials in URL", Config{URLs: []string{"https://admin:" + secret + "@h:9200"}}, "carries credentials"},
		{"password without user", Config{URLs: []string{"http://h:9200"}, Password: secret}, "without a username"},
		{"ok", Config{URLs: []string{"http://127.0.0.1:9200", "https://h2:9200/"}}, ""},
		{"ok with path prefix", Config{URLs: []string{"https://proxy.example/opensearch/"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.cfg)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				for _, u := range c.URLs() {
					if strings.HasSuffix(u, "/") {
						t.Errorf("URL %q keeps a trailing slash", u)
					}
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New error = %v, want one mentioning %q", err, tt.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}

func TestAliasActionJSON(t *testing.T) {
	tests := []struct {
		a    AliasAction
		want string
	}{
		{AliasAction{Op: AliasAdd, Index: "i", Alias: "a"}, `{"add":{"alias":"a","index":"i"}}`},
		{AliasAction{Op: AliasAdd, Index: "i", Alias: "a", Definition: json.RawMessage(`{"is_write_index":true,"filter":{"term":{"x":1}}}`)},
			`{"add":{"alias":"a","filter":{"term":{"x":1}},"index":"i","is_write_index":true}}`},
		{AliasAction{Op: AliasRemove, Index: "i", Alias: "a"}, `{"remove":{"alias":"a","index":"i"}}`},
		{AliasAction{Op: AliasRemoveIndex, Index: "i"}, `{"remove_index":{"index":"i"}}`},
	}
	for _, tt := range tests {
		got, err := json.Marshal(tt.a)
		if err != nil || string(got) != tt.want {
			t.Errorf("Marshal(%+v) = %s, %v; want %s", tt.a, got, err, tt.want)
		}
	}
}

func TestReplicationStatusHelpers(t *testing.T) {
	for s, want := range map[Status]bool{
		StatusBootstrapping: true, StatusSyncing: true, StatusRunning: true, StatusPaused: true,
		StatusFailed: false, StatusStopped: false, StatusNotInProgress: false,
	} {
		if got := (ReplicationStatus{Status: s}).Replicating(); got != want {
			t.Errorf("Replicating() for %s = %v, want %v", s, got, want)
		}
	}
	if lag := (SyncingDetails{LeaderCheckpoint: 10, FollowerCheckpoint: 7}).Lag(); lag != 3 {
		t.Errorf("Lag = %d, want 3", lag)
	}
	if lag := (SyncingDetails{LeaderCheckpoint: -1, FollowerCheckpoint: 4}).Lag(); lag != 0 {
		t.Errorf("Lag = %d, want 0", lag)
	}
}
