package main

import (
	"strings"
	"testing"

	"github.com/osccr/osccr/workflows"
)

func TestRebuildBar(t *testing.T) {
	tests := []struct {
		syncing, total int
		want           string
	}{
		{0, 4, "f REBUILDING [" + strings.Repeat(".", 30) + "] 0/4 indexes syncing, 2.0 KiB in all"},
		{1, 4, "f REBUILDING [" + strings.Repeat("#", 7) + strings.Repeat(".", 23) + "] 1/4 indexes syncing, 2.0 KiB in all"},
		{4, 4, "f REBUILDING [" + strings.Repeat("#", 30) + "] 4/4 indexes syncing, 2.0 KiB in all"},
		{9, 4, "f REBUILDING [" + strings.Repeat("#", 30) + "] 9/4 indexes syncing, 2.0 KiB in all"},
	}
	for _, tt := range tests {
		if got := rebuildBar("f", tt.syncing, tt.total, 2048); got != tt.want {
			t.Errorf("rebuildBar(%d/%d) =\n%q, want\n%q", tt.syncing, tt.total, got, tt.want)
		}
	}
}

// TestProgress: a terminal gets the bar redrawn in place during REBUILDING and a new line for
// every other state; anything else gets one plain line per change.
func TestProgress(t *testing.T) {
	rebuilding := func(syncing int) workflows.ServiceState {
		return workflows.ServiceState{State: workflows.StateRebuilding, Reason: "x", Replication: &workflows.IntegrationProgress{State: workflows.StateRebuilding, Total: 2, Syncing: syncing, Bytes: 100}}
	}
	states := []workflows.ServiceState{
		{State: workflows.StateProvisioning},
		{State: workflows.StateRebuilding, Reason: "connecting to leader l", Replication: &workflows.IntegrationProgress{State: workflows.StateConnecting}},
		rebuilding(0), rebuilding(1), rebuilding(1), rebuilding(2),
		{State: workflows.StateRunning},
	}
	tests := []struct {
		terminal bool
		want     string
	}{
		{false, "service f: PROVISIONING\nservice f: REBUILDING connecting to leader l\n" +
			"service f: REBUILDING 0/2 indexes syncing, 100 B in all\nservice f: REBUILDING 1/2 indexes syncing, 100 B in all\n" +
			"service f: REBUILDING 2/2 indexes syncing, 100 B in all\nservice f: RUNNING\n"},
		{true, "service f: PROVISIONING\nservice f: REBUILDING connecting to leader l\n" +
			"\r\033[K" + rebuildBar("f", 0, 2, 100) + "\r\033[K" + rebuildBar("f", 1, 2, 100) + "\r\033[K" + rebuildBar("f", 1, 2, 100) +
			"\r\033[K" + rebuildBar("f", 2, 2, 100) + "\nservice f: RUNNING\n"},
	}
	for _, tt := range tests {
		var out strings.Builder
		p := newProgress(&out, tt.terminal, "f")
		for _, st := range states {
			p.update(st)
		}
		p.done()
		if out.String() != tt.want {
			t.Errorf("terminal=%v:\n%q\nwant\n%q", tt.terminal, out.String(), tt.want)
		}
	}
}
