package workflows

import "go.temporal.io/sdk/workflow"

// Workflow versions: one change ID per workflow type, one ordered version number under it.
//
// v0.1.0 is the baseline of every type: workflow.DefaultVersion. A change of behaviour takes the
// next number of its workflow type: raise the type's newest version below, and branch where the
// behaviour changes on the run's version, `if s.version >= 1 { new } else { old }`. A run reads
// its version once, when it starts, and keeps it to its end: a run recorded by earlier code
// replays as it ran, and the next run (continue-as-new) takes the newest. Record a replay history
// of the new version (internal/tools/recordhistory) beside those of the earlier versions, which
// stay and keep passing. docs/workflow-versions.md says the same with an example.
const (
	changeService          = "service"
	changeIntegration      = "integration"
	changeIndexReplication = "index-replication"
	changeVerify           = "verify"
	changePreflight        = "preflight"
	changeLocalPreflight   = "local-follower-preflight"
)

// The newest version of each workflow type: what a run started by this code takes.
const (
	serviceVersion = workflow.DefaultVersion
	// 1: objects of the follower's configuration that osccr left alone (it did not write them
	// and they differ from the leader's) are a CONFIG_CONFLICT problem.
	integrationVersion      workflow.Version = 1
	indexReplicationVersion                  = workflow.DefaultVersion
	verifyVersion                            = workflow.DefaultVersion
	preflightVersion                         = workflow.DefaultVersion
	localPreflightVersion                    = workflow.DefaultVersion
)

// readVersion is the version a run of a workflow type takes: the newest for a new run, the one
// it recorded for a run being replayed (workflow.DefaultVersion for one recorded before it was
// read at all).
func readVersion(ctx workflow.Context, changeID string, newest workflow.Version) workflow.Version {
	return workflow.GetVersion(ctx, changeID, workflow.DefaultVersion, newest)
}
