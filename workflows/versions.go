package workflows

import "go.temporal.io/sdk/workflow"

// Every change of behaviour of a workflow goes behind workflow.GetVersion under a named change
// ID listed here, so that a run recorded by earlier code (the histories in testdata/, and every
// execution running when a new worker is deployed) replays as it ran. A run reads its versions
// once, when it starts: a run that started before a change keeps the behaviour it started with
// to its end, and the next run (continue-as-new) takes the newest. README, "Changing workflow
// code", says how to add one.
//
// A change ID is never reused nor removed while a run that recorded it may exist; the code of
// the old behaviour goes when no run of that version can exist (then raise minSupported).

// Changes of ServiceWorkflow.
const (
	// changeServiceBoundedPromotion: promotion waits at most promotionStopTimeout for the
	// integration's STOPPED report, a failed promotion says why and leaves the service as it
	// was, and the report names the indexes the stop deleted or could not stop.
	changeServiceBoundedPromotion = "service-bounded-promotion"
	// changeServiceDrainBeforeContinue: continue-as-new waits for the handlers, a plan change and
	// the promotions started by signal, while the main loop keeps serving, and only then checks
	// that no signal is pending.
	changeServiceDrainBeforeContinue = "service-drain-before-continue"
	// changeServiceCheckedPause: a node recycle whose pause cannot be delivered is refused, with
	// the reason, instead of restarting the node with replication running.
	changeServiceCheckedPause = "service-checked-pause"
	// changeServiceNoStrandedState: a delete is refused while a node recycle or a promotion runs,
	// a run that starts DELETING deletes, and a follow whose integration cannot start leaves the
	// service standalone as it was, failing with the reason.
	changeServiceNoStrandedState = "service-no-stranded-state"
	// changeServiceMachineQueues: a local service is placed on a machine (PlaceService) before
	// it is provisioned, and its node-bound activities run on that machine's task queue.
	changeServiceMachineQueues = "service-machine-queues"
	// changeServiceAwaitPause: a node recycle or a plan change pauses replication with a
	// ReplyTo and restarts nodes only once every integration it paused answers that replication
	// has stopped (at most pauseConfirmTimeout).
	changeServiceAwaitPause = "service-await-pause"
)

// serviceVersions is what a run of ServiceWorkflow does of each change.
type serviceVersions struct {
	boundedPromotion, drainBeforeContinue, checkedPause, noStrandedState, machineQueues, awaitPause bool
}

// pauseRule is how a run pauses replication around a node restart.
type pauseRule struct {
	// checked: a pause that cannot be delivered refuses the restart; confirm: the restart
	// waits until replication has stopped.
	checked, confirm bool
}

func (v serviceVersions) pauseRule() pauseRule {
	return pauseRule{checked: v.checkedPause, confirm: v.awaitPause}
}

func readServiceVersions(ctx workflow.Context) serviceVersions {
	return serviceVersions{
		boundedPromotion:    changed(ctx, changeServiceBoundedPromotion),
		drainBeforeContinue: changed(ctx, changeServiceDrainBeforeContinue),
		checkedPause:        changed(ctx, changeServiceCheckedPause),
		noStrandedState:     changed(ctx, changeServiceNoStrandedState),
		machineQueues:       changed(ctx, changeServiceMachineQueues),
		awaitPause:          changed(ctx, changeServiceAwaitPause),
	}
}

// Changes of IntegrationWorkflow.
const (
	// changeIntegrationBoundedStop: the stop signal cancels every step under way at once (index
	// starts, template syncs, the watch), each stop call has a bounded budget, and the STOPPED
	// report always comes, naming what could not be stopped and the indexes still restoring
	// (which the plugin's _stop deletes).
	changeIntegrationBoundedStop = "integration-bounded-stop"
	// changeIntegrationDrainBeforeContinue: continue-as-new waits for the handlers, then checks
	// that no signal is pending; one that arrived meanwhile is handled first.
	changeIntegrationDrainBeforeContinue = "integration-drain-before-continue"
	// changeIntegrationQueuePauses: a pause received while the integration is not RUNNING (or
	// PAUSED) is queued and applied once it is, instead of being dropped.
	changeIntegrationQueuePauses = "integration-queue-pauses"
	// changeIntegrationDisconnectFirst: a stop first asks whether the leader answers; when it
	// does not, the follower is disconnected before the indexes are stopped, so that the
	// plugin's _stop does not wait on the leader to remove its retention leases.
	changeIntegrationDisconnectFirst = "integration-disconnect-first"
	// changeIntegrationBoundedFanOut: the status update and the stop keep at most fanOutLimit
	// calls under way at once, however many indexes the follower has.
	changeIntegrationBoundedFanOut = "integration-bounded-fan-out"
	// changeIntegrationConfirmPause: a pause that names a ReplyTo workflow is answered with
	// SignalPauseApplied once replication has stopped (or at once when the pause is queued).
	changeIntegrationConfirmPause = "integration-confirm-pause"
	// changeIntegrationFreshTemplateLook: a template sync holds the next sync back only while
	// no observation newer than the one it started from has arrived (a change seen while it
	// ran is synced at once, not at the next observation).
	changeIntegrationFreshTemplateLook = "integration-fresh-template-look"
	// changeIntegrationConfirmAppliedPause: a pause queued while the integration REBUILDS
	// (indexes already replicate) is answered once it has taken effect (PAUSED), not at once; a
	// pause queued before any index started is still answered at once.
	changeIntegrationConfirmAppliedPause = "integration-confirm-applied-pause"
)

// integrationVersions is what a run of IntegrationWorkflow does of each change.
type integrationVersions struct {
	boundedStop, drainBeforeContinue, queuePauses, disconnectFirst, boundedFanOut, confirmPause bool
	freshTemplateLook, confirmAppliedPause                                                      bool
}

func readIntegrationVersions(ctx workflow.Context) integrationVersions {
	return integrationVersions{
		boundedStop:         changed(ctx, changeIntegrationBoundedStop),
		drainBeforeContinue: changed(ctx, changeIntegrationDrainBeforeContinue),
		queuePauses:         changed(ctx, changeIntegrationQueuePauses),
		disconnectFirst:     changed(ctx, changeIntegrationDisconnectFirst),
		boundedFanOut:       changed(ctx, changeIntegrationBoundedFanOut),
		confirmPause:        changed(ctx, changeIntegrationConfirmPause),
		freshTemplateLook:   changed(ctx, changeIntegrationFreshTemplateLook),
		confirmAppliedPause: changed(ctx, changeIntegrationConfirmAppliedPause),
	}
}

// changed reports whether this run takes the change: a run recorded before it replays without.
func changed(ctx workflow.Context, id string) bool {
	return workflow.GetVersion(ctx, id, workflow.DefaultVersion, 1) >= 1
}
