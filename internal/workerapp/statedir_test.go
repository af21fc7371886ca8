package workerapp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckStateDir: a new directory is stamped, a stamped one accepted, one with a Temporal
// database from before v0.1.0 (no stamp) refused with what to do, one stamped by another
// version refused.
func TestCheckStateDir(t *testing.T) {
	for _, tt := range []struct {
		name    string
		files   map[string]string
		wantErr string
	}{
		{name: "new", files: nil},
		{name: "stamped", files: map[string]string{"temporal.db": "x", StateVersionFile: stateVersion + "\n"}},
		{name: "before v0.1.0", files: map[string]string{"temporal.db": "x"}, wantErr: "holds executions from before osccr v0.1.0"},
		{name: "other version", files: map[string]string{"temporal.db": "x", StateVersionFile: "v9.9.9\n"}, wantErr: "was written by osccr v9.9.9"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			for name, body := range tt.files {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err := checkStateDir(dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("checkStateDir: %v, want %q", err, tt.wantErr)
				}
				if _, serr := os.Stat(filepath.Join(dir, StateVersionFile)); tt.files[StateVersionFile] == "" && serr == nil {
					t.Errorf("a refused directory was stamped")
				}
				return
			}
			if err != nil {
				t.Fatalf("checkStateDir: %v", err)
			}
			raw, err := os.ReadFile(filepath.Join(dir, StateVersionFile))
			if err != nil || strings.TrimSpace(string(raw)) != stateVersion {
				t.Errorf("stamp %q (%v), want %s", raw, err, stateVersion)
			}
		})
	}
}
