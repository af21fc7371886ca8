package workflows

import (
	"fmt"
	"time"

	"github.com/osccr/osccr/internal/contract"
	"go.temporal.io/sdk/workflow"
)

// Signals between a follower's service workflow and its integration workflow.
const (
	// SignalIntegrationProgress carries an IntegrationProgress from the integration to the
	// follower's service workflow.
	SignalIntegrationProgress = "integration-progress"
	// SignalStopIntegration asks the integration to stop replicating and disconnect.
	SignalStopIntegration = "stop-integration"
	// SignalPauseIntegration and SignalResumeIntegration, each with a PauseRequest, pause and
	// resume a RUNNING integration: for an operator, or while a node of the leader or follower
	// is recycled. Pauses are keyed by their source; replication resumes when the last is lifted.
	SignalPauseIntegration  = "pause-integration"
	SignalResumeIntegration = "resume-integration"
	// SignalClusterMoved, with a ClusterMoved, tells the integration that its leader or its
	// follower answers at a new address: a repaired node whose port another process took
	// (sent from serviceVersion 5, taken from integrationVersion 3).
	SignalClusterMoved = "cluster-moved"
	// UpdateIntegrationStatus answers with an IntegrationStatus: the integration's state and the
	// live status and checkpoints of every follower index.
	UpdateIntegrationStatus = "status"
)

// Sources of a pause. A recycle pauses with RecyclePauseSource(service). The integration
// itself pauses with PauseSourceHealth while the follower cluster is red or unreachable.
const (
	PauseSourceOperator = "operator"
	PauseSourceHealth   = "health"
)

// RecyclePauseSource is the pause source of a node recycle of the service.
func RecyclePauseSource(service string) string { return "recycle/" + service }

// Sides of an integration, in a ClusterMoved.
const (
	SideLeader   = "leader"
	SideFollower = "follower"
)

// ClusterMoved says where one side of an integration answers now. Only its addresses are
// taken: the integration keeps the credentials it was given.
type ClusterMoved struct {
	// Side is SideLeader or SideFollower.
	Side    string              `json:"side"`
	Cluster contract.ClusterRef `json:"cluster"`
	// From is the address it left (HTTP URL and transport address), for the record.
	From string `json:"from,omitempty"`
}

// PauseRequest pauses (or, with SignalResumeIntegration, lifts the pause of) one source.
type PauseRequest struct {
	Source string `json:"source"`
	Reason string `json:"reason,omitempty"`
	// ReplyTo, on a pause, is the workflow that waits for it to take effect: the integration
	// signals it SignalPauseApplied once replication has stopped (PAUSED), or at once when
	// nothing replicates yet (the pause is queued before any index started).
	ReplyTo string `json:"reply_to,omitempty"`
}

// SignalPauseApplied carries a PauseApplied from an integration to the workflow that asked
// for a pause with ReplyTo.
const SignalPauseApplied = "pause-applied"

// PauseApplied says that a pause took effect on an integration.
type PauseApplied struct {
	Integration string `json:"integration"`
	Source      string `json:"source"`
	// State is the integration's state then: PAUSED, or the state in which it queued the pause.
	State string `json:"state"`
}

// IntegrationStatus is the answer to UpdateIntegrationStatus, and what StatusView.Status makes
// of the status-view query's answer and the live figures.
type IntegrationStatus struct {
	IntegrationProgress
	// PausedBy maps each source holding a pause to its reason.
	PausedBy map[string]string `json:"paused_by,omitempty"`
	// QueuedPauses are pauses received before the integration was RUNNING: they apply once it is.
	QueuedPauses map[string]string `json:"queued_pauses,omitempty"`
	// Indexes is the live replication status of every follower index osccr started.
	Indexes []contract.IndexStatus `json:"indexes"`
	// SampledAt is when the live figures were read, for StatusView.Status (the leader watch's
	// last sample); zero from the status update, which reads them as it answers.
	SampledAt time.Time `json:"sampled_at,omitzero"`
}

const (
	// rebuildConcurrency bounds how many indexes bootstrap at once: each is a restore from the
	// leader, and the plugin itself starts at most a few at a time.
	rebuildConcurrency = 4
	// defaultHistoryLimit is how many history events a run may have before the integration
	// continues as new (sooner when Temporal suggests it). A watch that sees nothing adds 6
	// events every contract.DefaultWatchMaxWait.
	defaultHistoryLimit = 4000
	// watchRetryDelay is how long the integration waits before watching again after a watch
	// failed for good (a bad cluster reference, say: the watch retries everything else).
	watchRetryDelay = 30 * time.Second
)

// IntegrationWorkflowID is the ID of the replication integration between two services.
func IntegrationWorkflowID(leader, follower string) string {
	return fmt.Sprintf("integration/%s/%s", leader, follower)
}

// IntegrationInput starts the replication integration of a follower.
type IntegrationInput struct {
	Leader      contract.ClusterRef `json:"leader"`
	Follower    contract.ClusterRef `json:"follower"`
	LeaderAlias string              `json:"leader_alias"`
	// ParentID is the follower's service workflow, which receives progress signals.
	ParentID string `json:"parent_id"`
	// State is set when the workflow continues as new: what the previous run knew.
	State *IntegrationState `json:"state,omitempty"`
	// HistoryLimit is how many history events a run may grow to before it continues as new;
	// 0 means defaultHistoryLimit.
	HistoryLimit int `json:"history_limit,omitempty"`
}

// index is the replication of one leader index into the follower index of the same name.
func (in IntegrationInput) index(name string) contract.IndexInput {
	return contract.IndexInput{Follower: in.Follower, Leader: in.Leader, LeaderAlias: in.LeaderAlias, LeaderIndex: name, FollowerIndex: name}
}

// IntegrationProgress is what the integration tells the follower's service workflow.
type IntegrationProgress struct {
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
	// Total is how many leader indexes the follower replicates (or is starting to); Syncing
	// how many of them are SYNCING.
	Total    int                  `json:"total"`
	Syncing  int                  `json:"syncing"`
	Bytes    int64                `json:"bytes"`
	Excluded []contract.Exclusion `json:"excluded,omitempty"`
	// Stopped and LagOps are set with STOPPED: how many follower indexes were stopped, and how
	// many operations they were behind their leader indexes when they were stopped.
	Stopped int   `json:"stopped,omitempty"`
	LagOps  int64 `json:"lag_ops,omitempty"`
	// Loss is set with STOPPED (version 1): what the follower lacked of its leader, per index
	// and in total, as the stop read it.
	Loss *PromotionLoss `json:"loss,omitempty"`
	// DeletedRestoring, set with STOPPED, are the follower indexes that were still restoring
	// from the leader when replication was stopped: the plugin's _stop deletes such an index.
	DeletedRestoring []string `json:"deleted_restoring,omitempty"`
	// Templates are the configuration objects (templates, pipelines, stored scripts) osccr
	// keeps on the follower, as "<kind>/<name>" (docs/configuration-sync.md).
	Templates []string `json:"templates,omitempty"`
	// Problems are what needs an operator's attention: follower indexes the plugin paused by
	// itself (a leader index closed, say) or failed, and steps osccr could not take.
	Problems []Problem `json:"problems,omitempty"`
}

// Problem is one thing that needs an operator's attention.
type Problem struct {
	// Index is the follower index concerned; "" for the templates.
	Index string `json:"index,omitempty"`
	// Status is the plugin's (PAUSED, FAILED) or the step of osccr that failed.
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// Statuses of the steps osccr takes, when they fail (Problem.Status).
const (
	ProblemStartFailed        = "START_FAILED"
	ProblemRemoveFailed       = "REMOVE_FAILED"
	ProblemPauseFailed        = "PAUSE_FAILED"
	ProblemResumeFailed       = "RESUME_FAILED"
	ProblemTemplateSyncFailed = "TEMPLATE_SYNC_FAILED"
	// ProblemConfigConflict: objects of the follower's configuration osccr did not write
	// differ from the leader's; osccr left them alone (docs/configuration-sync.md).
	ProblemConfigConflict   = "CONFIG_CONFLICT"
	ProblemStopFailed       = "STOP_FAILED"
	ProblemDisconnectFailed = "DISCONNECT_FAILED"
	// ProblemReconnectFailed: the leader moved (a repaired node on a new port) and the
	// follower's remote connection could not be pointed at it yet; tried again at each
	// observation until it is (integrationVersion 3).
	ProblemReconnectFailed = "RECONNECT_FAILED"
)

// IntegrationState is everything the integration knows; it is carried into the next run when
// the workflow continues as new.
type IntegrationState struct {
	Progress IntegrationProgress `json:"progress"`
	// Indexes are the follower indexes whose replication osccr started, by name.
	Indexes map[string]FollowedIndex `json:"indexes"`
	// PausedBy maps each source holding a pause to its reason.
	PausedBy map[string]string `json:"paused_by,omitempty"`
	// QueuedPauses are pauses received while the integration was not yet RUNNING, by source:
	// the plugin refuses to pause an index that is bootstrapping. They apply once it is RUNNING.
	QueuedPauses map[string]string `json:"queued_pauses,omitempty"`
	// Observed is the last observation of the leader and the follower.
	Observed *contract.Observation `json:"observed,omitempty"`
	// TemplatesSynced is the leader's templates fingerprint at the last template sync.
	TemplatesSynced string `json:"templates_synced,omitempty"`
	// ConfigDigests are the digests of what osccr wrote of each object of Progress.Templates
	// (integrationVersion 2): an object changed on the follower since is not osccr's to overwrite.
	ConfigDigests map[string]string `json:"config_digests,omitempty"`
	// Failures are steps that failed, by step key (see indexKey), for Problems.
	Failures map[string]Problem `json:"failures,omitempty"`
	// Replies are the workflows waiting for a pause to take effect, by pause source.
	Replies map[string][]string `json:"replies,omitempty"`
	// Reconnect is set while the follower's remote connection must be pointed at a leader that
	// moved (integrationVersion 3).
	Reconnect bool `json:"reconnect,omitempty"`
}

// FollowedIndex is one follower index whose replication osccr started.
type FollowedIndex struct {
	// UUID is the leader index's: a leader index recreated under the same name has another.
	UUID string `json:"uuid"`
	// Syncing is set once the index has reached SYNCING and caught up.
	Syncing bool `json:"syncing"`
	// Held is set while a pause holds the index: it is resumed, and waited for until it has
	// caught up, when the last pause is lifted.
	Held bool `json:"held,omitempty"`
	// Paused is set when osccr paused the index in the plugin (a follower that does not
	// answer cannot be told to).
	Paused bool `json:"paused,omitempty"`
}

// IntegrationWorkflow replicates the whole leader cluster into the follower, and keeps it so:
//
//  1. connect the follower to the leader (and make its plugin sync index metadata every 5 s),
//     copy the leader's index and component templates (the plugin does not), and list the
//     leader's indexes: user indexes replicate; system, hidden and closed ones are excluded
//     with the reason;
//  2. REBUILDING: start replicating each index, at most rebuildConcurrency at a time, each
//     until SYNCING and caught up; FAILED with the reason if one cannot start;
//  3. RUNNING once every index is. A heartbeating activity watches both clusters and returns
//     as soon as something changed; the workflow then reconciles, without waiting for the
//     slow steps (they run beside the watch): a new leader index is replicated, a deleted (or
//     recreated) one is removed from the follower (and replicated afresh), changed templates
//     are synced, indexes the plugin paused or failed by itself are reported as problems;
//  4. PAUSED while any pause is held: an operator's, a node recycle's, or the integration's
//     own while the follower cluster is red or unreachable. Every index is paused (when the
//     follower answers: the leader keeps every operation meanwhile); when the last pause is
//     lifted every index is resumed and waited for until caught up, then RUNNING again;
//  5. on the stop signal (the follower is deleted or promoted): stop every index it started, in
//     parallel (each becomes an ordinary writable index), remove the remote connection, report
//     STOPPED with the ops lag at that moment, and end.
//
// It continues as new when its history grows long, carrying its state. Every change of state
// is signalled to the follower's service workflow, which holds the state operators see.
func IntegrationWorkflow(ctx workflow.Context, in IntegrationInput) error {
	w := newIntegration(ctx, in)
	w.version = readVersion(ctx, changeIntegration, integrationVersion)
	if err := workflow.SetUpdateHandler(ctx, UpdateIntegrationStatus, w.status); err != nil {
		return err
	}
	// A query adds no command: every run registers it, whatever its version.
	if err := workflow.SetQueryHandler(ctx, QueryIntegrationStatusView, w.statusView); err != nil {
		return err
	}
	if in.State == nil {
		w.report(ctx)
		w.launch(ctx, setupKey, w.setUp) // step 1
	}
	if err := w.serve(ctx); err != nil { // steps 2-4, until the stop signal
		return err // continue-as-new, or cancelled
	}
	return w.stop(ctx) // step 5
}
