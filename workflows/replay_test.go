package workflows

import (
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
)

// TestReplayRecordedHistories replays the histories recorded from real runs of every version
// (internal/tools/recordhistory; docs/workflow-versions.md). A change to a workflow that would
// break running executions — a step added, removed or reordered without a version — fails here.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded histories in testdata (%v)", err)
	}
	// Every workflow type has histories of its own.
	for _, prefix := range []string{"service_", "integration_", "index_replication_", "verify_", "preflight_", "local_follower_preflight_"} {
		found := false
		for _, f := range files {
			found = found || strings.HasPrefix(filepath.Base(f), prefix)
		}
		if !found {
			t.Errorf("no recorded history of %s* in testdata", prefix)
		}
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			Register(r)
			if err := r.ReplayWorkflowHistoryFromJSONFile(log.NewStructuredLogger(slog.New(slog.DiscardHandler)), f); err != nil {
				t.Fatalf("replay %s: %v", f, err)
			}
		})
	}
}
