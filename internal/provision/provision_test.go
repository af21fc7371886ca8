package provision

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osccr/osccr/internal/localnode"
	"github.com/osccr/osccr/internal/plan"
)

func TestValidateServiceName(t *testing.T) {
	tests := []struct {
		name    string
		wantErr string // substring of the error; "" means valid
	}{
		{"abc", ""},
		{"logs-eu-1", ""},
		{"a1-b2-c3", ""},
		{"a--b", ""},
		{strings.Repeat("a", 63), ""},
		{"", "is empty"},
		{"ab", "shorter than 3"},
		{strings.Repeat("a", 64), "64 characters long"},
		{"1abc", "does not start with a lowercase letter"},
		{"-abc", "does not start with a lowercase letter"},
		{"Abc", "does not start with a lowercase letter"},
		{"abc-", "ends with a hyphen"},
		{"aBc", "uppercase"},
		{"ab_c", `'_' at position 3`},
		{"ab.c", `'.' at position 3`},
		{"ab c", `' ' at position 3`},
		{"ab/c", `'/' at position 3`},
		{"abé", `'é' at position 3`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateServiceName(tt.name)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidateServiceName(%q) = %v, want nil", tt.name, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("ValidateServiceName(%q) = %v, want ErrInvalidSpec", tt.name, err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ValidateServiceName(%q) = %q, want it to say %q", tt.name, err, tt.wantErr)
			}
		})
	}
}

func business4(t *testing.T) plan.Plan {
	t.Helper()
	p, err := plan.Default().Lookup("business-4")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSpecValidate(t *testing.T) {
	p := business4(t)
	tests := []struct {
		name    string
		spec    Spec
		wantErr string
	}{
		{"valid", Spec{Service: "logs", Plan: p, Cloud: "aws", Region: "eu-west-1"}, ""},
		{"valid with extra disk", Spec{Service: "logs", Plan: p, ExtraDiskGB: 100}, ""},
		{"bad name", Spec{Service: "Logs", Plan: p}, "service name"},
		{"no plan", Spec{Service: "logs"}, "has no plan"},
		{"no nodes", Spec{Service: "logs", Plan: plan.Plan{Name: "x", MemoryGB: 4, DiskGB: 80}}, "0 nodes"},
		{"no memory", Spec{Service: "logs", Plan: plan.Plan{Name: "x", Nodes: 1, DiskGB: 80}}, "0 GB memory"},
		{"no disk", Spec{Service: "logs", Plan: plan.Plan{Name: "x", Nodes: 1, MemoryGB: 4}}, "0 GB disk"},
		{"negative extra disk", Spec{Service: "logs", Plan: p, ExtraDiskGB: -1}, "extra disk"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want ErrInvalidSpec saying %q", err, tt.wantErr)
			}
		})
	}
}

func TestSpecDiff(t *testing.T) {
	p := business4(t)
	other, _ := plan.Default().Lookup("business-8")
	base := Spec{Service: "logs", Plan: p, Cloud: "aws", Region: "eu-west-1"}
	tests := []struct {
		name   string
		change func(*Spec)
		want   string
	}{
		{"same", func(*Spec) {}, ""},
		{"plan", func(s *Spec) { s.Plan = other }, `plan "business-4", not "business-8"`},
		{"plan size under same name", func(s *Spec) { s.Plan.Nodes = 1 }, "3 nodes"},
		{"cloud", func(s *Spec) { s.Cloud = "gcp" }, `cloud "aws", not "gcp"`},
		{"region", func(s *Spec) { s.Region = "us-east-1" }, `region "eu-west-1", not "us-east-1"`},
		{"disk", func(s *Spec) { s.ExtraDiskGB = 10 }, "0 GB extra disk, not 10"},
		{"security", func(s *Spec) { s.Secured = true }, "security off, not on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			asked := base
			tt.change(&asked)
			got := specDiff(base, asked)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("specDiff = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPickNode(t *testing.T) {
	nodes := []string{"logs-0", "logs-1"}
	tests := []struct {
		ask, want string
		wantErr   error
	}{
		{"", "logs-0", nil},
		{"logs-1", "logs-1", nil},
		{"logs-2", "", ErrUnknownNode},
	}
	for _, tt := range tests {
		got, err := pickNode("logs", nodes, tt.ask)
		if got != tt.want || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Errorf("pickNode(%q) = %q, %v; want %q, %v", tt.ask, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), "logs-0, logs-1") {
			t.Errorf("pickNode error %q does not list the nodes", err)
		}
	}
}

func TestStaticRegisterRejectsBadInput(t *testing.T) {
	tests := []struct {
		name, service, url, transport, wantErr string
	}{
		{"bad service", "A", "http://127.0.0.1:9200", "127.0.0.1:9300", "service name"},
		{"no url", "logs", "", "127.0.0.1:9300", "http:// or https://"},
		{"url with credentials", "logs", "http://u:secret@127.0.0.1:9200", "127.0.0.1:9300", "credentials"},
		{"url scheme", "logs", "ftp://127.0.0.1:9200", "127.0.0.1:9300", "http:// or https://"},
		{"no port", "logs", "http://127.0.0.1:9200", "127.0.0.1", "host:port"},
		{"bad port", "logs", "http://127.0.0.1:9200", "127.0.0.1:0", "valid port"},
		{"no host", "logs", "http://127.0.0.1:9200", ":9300", "no host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewStatic()
			err := s.Register(tt.service, tt.url, tt.transport)
			if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Register = %v, want ErrInvalidSpec saying %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("Register error leaks the password: %v", err)
			}
			if got := s.Services(); len(got) != 0 {
				t.Errorf("a refused registration was recorded: %v", got)
			}
		})
	}
}

func TestStaticUnknownService(t *testing.T) {
	ctx := context.Background()
	s := NewStatic()
	if _, err := s.Provision(ctx, Spec{Service: "logs", Plan: business4(t)}); !errors.Is(err, ErrUnknownService) || !strings.Contains(err.Error(), "register") {
		t.Errorf("Provision = %v, want ErrUnknownService with a hint to register", err)
	}
	if _, err := s.Health(ctx, "logs"); !errors.Is(err, ErrUnknownService) {
		t.Errorf("Health = %v, want ErrUnknownService", err)
	}
	if err := s.RecycleNode(ctx, "logs", ""); !errors.Is(err, ErrUnknownService) {
		t.Errorf("RecycleNode = %v, want ErrUnknownService", err)
	}
	if err := s.ChangePlan(ctx, Spec{Service: "logs", Plan: business4(t)}); !errors.Is(err, ErrUnknownService) {
		t.Errorf("ChangePlan = %v, want ErrUnknownService", err)
	}
	if err := s.Deprovision(ctx, "logs"); err != nil {
		t.Errorf("Deprovision of an unknown service = %v, want nil", err)
	}
}

// TestLocalWithoutNodes covers what Local decides before any node would start: no OpenSearch
// process is involved.
func TestLocalWithoutNodes(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	l := NewLocal(localnode.Distribution{Home: filepath.Join(base, "no-distribution")}, base)

	if _, err := l.Health(ctx, "logs"); !errors.Is(err, ErrUnknownService) {
		t.Errorf("Health = %v, want ErrUnknownService", err)
	}
	if err := l.RecycleNode(ctx, "logs", ""); !errors.Is(err, ErrUnknownService) {
		t.Errorf("RecycleNode = %v, want ErrUnknownService", err)
	}
	if err := l.Deprovision(ctx, "logs"); err != nil {
		t.Errorf("Deprovision of an unknown service = %v, want nil", err)
	}
	if err := l.Deprovision(ctx, "../etc"); !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("Deprovision(../etc) = %v, want ErrInvalidSpec", err)
	}
	if _, err := l.Provision(ctx, Spec{Service: "Logs", Plan: business4(t)}); !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("Provision with a bad name = %v, want ErrInvalidSpec", err)
	}
	// A secured service needs the security plugin's distribution (WithSecurity).
	if _, err := l.Provision(ctx, Spec{Service: "logs", Plan: business4(t), Secured: true}); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "--security=none") {
		t.Errorf("Provision of a secured service without security = %v, want ErrUnsupported naming the opt-out", err)
	}
	entries, err := os.ReadDir(base)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("refused calls left files behind: %v", entries)
	}
}

// A caller waiting for a busy service gives up when its context ends.
func TestLocalLockHonoursContext(t *testing.T) {
	l := NewLocal(localnode.Distribution{}, t.TempDir())
	unlock, err := l.lock(context.Background(), "logs")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.lock(ctx, "logs"); !errors.Is(err, context.Canceled) {
		t.Errorf("lock on a busy service = %v, want context.Canceled", err)
	}
	if _, err := l.lock(ctx, "other"); err != nil {
		t.Errorf("lock on another service = %v, want nil", err)
	}
	unlock()
	if u, err := l.lock(context.Background(), "logs"); err != nil {
		t.Errorf("lock after unlock = %v", err)
	} else {
		u()
	}
}
