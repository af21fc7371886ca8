package workerapp

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// StateVersionFile marks a state directory whose embedded Temporal holds executions this
// worker's workflow code can replay: those of v0.1.0 and later (docs/workflow-versions.md).
const StateVersionFile = "osccr-state-version"

// stateVersion is written into StateVersionFile. v0.1.0 removed the per-change version IDs that
// earlier executions recorded; a later break of that kind raises it.
const stateVersion = "v0.1.0"

// checkStateDir refuses a state directory whose Temporal database was written before v0.1.0 (a
// database and no StateVersionFile), saying what to do, and stamps a new or current one.
func checkStateDir(dir string) error {
	stamp := filepath.Join(dir, StateVersionFile)
	raw, err := os.ReadFile(stamp)
	switch {
	case err == nil:
		if got := strings.TrimSpace(string(raw)); got != stateVersion {
			return fmt.Errorf("state directory %s was written by osccr %s, and this worker replays %s executions: use the osccr that wrote it, or move the directory away", dir, got, stateVersion)
		}
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("state directory %s: %w", dir, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "temporal.db")); err == nil {
		return fmt.Errorf("state directory %s holds executions from before osccr v0.1.0, whose workflow code this worker no longer has: "+
			"with the osccr that created them, delete its services (osccr service delete NAME: it stops their nodes), then remove %s; "+
			"or stop their nodes yourself and move it away (mv %s %s.pre-v0.1.0). See docs/workflow-versions.md", dir, dir, dir, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("state directory %s: %w", dir, err)
	}
	return os.WriteFile(stamp, []byte(stateVersion+"\n"), 0o644)
}
