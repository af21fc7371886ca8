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
	changeSecretRefs       = "secret-refs"
)

// The newest version of each workflow type: what a run started by this code takes.
const (
	// serviceVersion 1: termination protection (as Aiven's): the termination-protection update
	// turns it on or off, and the delete update is refused while it is on.
	// 2: a promotion's report carries the loss its integration measured (per index, "at least"
	// with the leader last seen when it was gone), and the promoted service's reason says it.
	// 3: the service's cluster is watched (WatchServiceHealth); a service that is down or red
	// is UNHEALTHY or REPAIRING, never RUNNING, and a local service's dead nodes are started
	// again (RepairService) on its machine (service_health.go); force-delete.
	// 4: a plan change under way shows its target plan (ServiceState.PlanTarget), on the leader
	// from the moment it takes the change and on each follower while it applies it, so that a
	// follower's request for the plan its leader is moving to can wait for it
	// (control.ApplyPlan).
	// 5: a repaired service whose address moved (a port taken meanwhile) restarts its health
	// watch at the new address and tells its integrations (SignalClusterMoved: its followers'
	// as their leader, its own as their follower).
	serviceVersion workflow.Version = 5
	// integrationVersion 1: the stop of a promotion records the loss, per index and in total,
	// from the statuses it reads (IntegrationProgress.Loss); a status that failed while the
	// leader was gone still gives the checkpoints it carries (contract.StatusFromError), there
	// and in the status update.
	// 2: objects of the follower's configuration that osccr left alone (it did not write them
	// and they differ from the leader's) are a CONFIG_CONFLICT problem; the digests of what
	// osccr wrote live in the integration's state (ConfigDigests).
	// 3: SignalClusterMoved: a leader or follower repaired at a new address is taken up (the
	// integration's addresses, its watch restarted there); a moved leader is reconnected (the
	// follower's remote seeds, ConnectRemote), a RECONNECT_FAILED problem while it cannot be.
	integrationVersion      workflow.Version = 3
	indexReplicationVersion                  = workflow.DefaultVersion
	verifyVersion                            = workflow.DefaultVersion
	preflightVersion                         = workflow.DefaultVersion
	localPreflightVersion                    = workflow.DefaultVersion
	secretRefsVersion                        = workflow.DefaultVersion
)

// Versions is the newest version of each workflow type, by workflow type name: the recorder of
// replay histories names each history with its type's version.
func Versions() map[string]workflow.Version {
	return map[string]workflow.Version{
		"ServiceWorkflow":                serviceVersion,
		"IntegrationWorkflow":            integrationVersion,
		"IndexReplicationWorkflow":       indexReplicationVersion,
		"VerifyWorkflow":                 verifyVersion,
		"PreflightWorkflow":              preflightVersion,
		"LocalFollowerPreflightWorkflow": localPreflightVersion,
		"CheckSecretRefsWorkflow":        secretRefsVersion,
	}
}

// readVersion is the version a run of a workflow type takes: the newest for a new run, the one
// it recorded for a run being replayed (workflow.DefaultVersion for one recorded before it was
// read at all).
func readVersion(ctx workflow.Context, changeID string, newest workflow.Version) workflow.Version {
	return workflow.GetVersion(ctx, changeID, workflow.DefaultVersion, newest)
}
