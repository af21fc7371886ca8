package control

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/workflows"
)

// IndexStatus is one follower index: the plugin's status and checkpoints, and how many
// operations it is behind its leader index.
type IndexStatus struct {
	contract.IndexStatus
	LagOps int64 `json:"lag_ops"`
}

// FollowerStatus is a follower's state with the live status of every follower index.
type FollowerStatus struct {
	Service       string `json:"service"`
	Leader        string `json:"leader"`
	IntegrationID string `json:"integration_id"`
	// State and Reason are the follower service's (what service show says).
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
	// Replication is the integration's own progress: total indexes, syncing, bytes, exclusions.
	Replication *workflows.IntegrationProgress `json:"replication,omitempty"`
	// PausedBy maps each source holding a pause (operator, recycle/<service>, health) to its reason.
	PausedBy map[string]string `json:"paused_by,omitempty"`
	// Indexes is empty until the integration has started replicating.
	Indexes []IndexStatus `json:"indexes"`
	// LagOps sums the indexes' lag.
	LagOps int64 `json:"lag_ops"`
	// LagSeconds is the worst index's lag in seconds (see contract.IndexStatus.LagSeconds);
	// nil when no index has one.
	LagSeconds *float64 `json:"lag_seconds,omitempty"`
	// LeaderUnreachable says the leader did not answer: LagOps is then at least what the
	// follower lacks, from the leader as last seen (LeaderLastSeen, zero when never seen).
	LeaderUnreachable bool      `json:"leader_unreachable,omitempty"`
	LeaderLastSeen    time.Time `json:"leader_last_seen,omitzero"`
	// SampledAt is when the indexes' figures were read: the leader watch's last sample (it
	// reads both clusters every second, and its heartbeat reaches Temporal at least every
	// workerapp.HeartbeatThrottle), or the moment of the answer for a run that answers only
	// the status update. Zero when there are no live figures: Unsampled says why.
	SampledAt time.Time `json:"sampled_at,omitzero"`
	Unsampled string    `json:"unsampled,omitempty"`
}

// LagSummary says in words how far behind the follower is: "12 operations, 0.8 s behind",
// or, when the leader does not answer, "at least 251 operations behind (leader unreachable,
// last seen 5.2 s ago)".
func (s FollowerStatus) LagSummary(now time.Time) string {
	if s.Unsampled != "" && len(s.Indexes) > 0 {
		return "unknown (" + s.Unsampled + ")"
	}
	seconds := "?"
	if s.LagSeconds != nil {
		seconds = fmt.Sprintf("%.1f", *s.LagSeconds)
	}
	if !s.LeaderUnreachable {
		return fmt.Sprintf("%d operations, %s s behind", s.LagOps, seconds)
	}
	if s.LeaderLastSeen.IsZero() {
		return fmt.Sprintf("at least %d operations behind (leader %s unreachable, never seen by this worker)", s.LagOps, s.Leader)
	}
	return fmt.Sprintf("at least %d operations behind (leader %s unreachable, last seen %.1f s ago)", s.LagOps, s.Leader, now.Sub(s.LeaderLastSeen).Seconds())
}

// Freshness says how old the figures are: "sampled 0.8 s ago"; "" without live figures.
func (s FollowerStatus) Freshness(now time.Time) string {
	if s.SampledAt.IsZero() {
		return ""
	}
	return fmt.Sprintf("sampled %.1f s ago", max(now.Sub(s.SampledAt).Seconds(), 0))
}

// FollowerStatus returns a follower's state and the live status and checkpoints of each of its
// indexes, without adding to any workflow's history: the integration workflow's status-view
// query says what it holds, and its leader watch's last heartbeat (read with
// DescribeWorkflowExecution) the live figures, at most a few seconds old (SampledAt). Only an
// integration run started by code older than the query is asked the status update, which
// reads the clusters through activities. Refused with ErrConflict for a service that is not a
// follower.
func (c *Control) FollowerStatus(ctx context.Context, name string) (FollowerStatus, error) {
	st, err := c.follower(ctx, name, "show replication status of")
	if err != nil {
		return FollowerStatus{}, err
	}
	return c.followerStatus(ctx, st)
}

// sampleWait bounds how long a status waits for a watch that has just started to heartbeat
// its first sample (its first look reads the leader, within a few seconds).
const sampleWait = 5 * time.Second

func (c *Control) followerStatus(ctx context.Context, st workflows.ServiceState) (FollowerStatus, error) {
	out := FollowerStatus{Service: st.Name, Leader: st.Leader, IntegrationID: IntegrationID(st.Leader, st.Name), State: st.State, Reason: st.Reason,
		Replication: st.Replication, Indexes: []IndexStatus{}}
	id := workflows.IntegrationWorkflowID(st.Leader, st.Name)
	live, err := c.integrationStatus(ctx, id)
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound), errors.Is(err, errEnded):
		return out, nil // not started yet (PROVISIONING) or ended: no live indexes
	case err != nil:
		return out, wrapTemporal("status of "+id, err)
	}
	out.PausedBy, out.SampledAt, out.Unsampled = live.PausedBy, live.SampledAt, live.unsampled
	for _, ix := range live.Indexes {
		lag := ix.LagOps()
		out.Indexes = append(out.Indexes, IndexStatus{IndexStatus: ix, LagOps: lag})
		out.LagOps += lag
		if ix.LagSeconds != nil && (out.LagSeconds == nil || *ix.LagSeconds > *out.LagSeconds) {
			worst := *ix.LagSeconds
			out.LagSeconds = &worst
		}
		if ix.LeaderUnreachable {
			out.LeaderUnreachable = true
			if !ix.LeaderSeenAt.IsZero() && (out.LeaderLastSeen.IsZero() || ix.LeaderSeenAt.Before(out.LeaderLastSeen)) {
				out.LeaderLastSeen = ix.LeaderSeenAt
			}
		}
	}
	return out, nil
}

// errEnded: the integration workflow has ended.
var errEnded = errors.New("integration ended")

// liveStatus is an integration's status, and why it has no live figures when it has none.
type liveStatus struct {
	workflows.IntegrationStatus
	unsampled string
}

// integrationStatus reads an integration's status by reads only: the status-view query and
// the pending activities' heartbeats. A run that does not know the query (started by older
// code), or one with no watch sample to answer from (between two watches), is asked the
// status update instead.
func (c *Control) integrationStatus(ctx context.Context, id string) (liveStatus, error) {
	desc, err := c.Temporal.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return liveStatus{}, err
	}
	if desc.GetWorkflowExecutionInfo().GetCloseTime() != nil {
		return liveStatus{}, errEnded
	}
	v, err := c.Temporal.QueryWorkflow(ctx, id, "", workflows.QueryIntegrationStatusView)
	if UnknownQuery(err) {
		return c.updateStatus(ctx, id)
	}
	if err != nil {
		return liveStatus{}, err
	}
	var view workflows.StatusView
	if err := v.Get(&view); err != nil {
		return liveStatus{}, fmt.Errorf("decode the status view of %s: %w", id, err)
	}
	live := workflows.LiveFigures(desc.GetPendingActivities())
	if sampled(live) || len(view.Indexes) == 0 {
		return status(view, live), nil
	}
	if view.Watching {
		// A watch that has just started has not heartbeat yet: wait a little for it (reads
		// only).
		if live, ok := c.awaitSample(ctx, id); ok {
			return status(view, live), nil
		}
	}
	// No sample to answer from: the integration is between two watches (a sync, a
	// reconcile step, a pause) or its watch has not reported in time. The status update reads
	// the clusters as it answers; it adds its activities to the history, as every read did
	// before the query.
	return c.updateStatus(ctx, id)
}

// awaitSample waits at most sampleWait for the integration's watch to heartbeat a sample.
func (c *Control) awaitSample(ctx context.Context, id string) (workflows.Live, bool) {
	wait, cancel := context.WithTimeout(ctx, sampleWait)
	defer cancel()
	tick := newTicker()
	defer tick.Stop()
	for {
		select {
		case <-wait.Done():
			return workflows.Live{}, false
		case <-tick.C:
		}
		if desc, err := c.Temporal.DescribeWorkflowExecution(wait, id, ""); err == nil {
			if live := workflows.LiveFigures(desc.GetPendingActivities()); sampled(live) {
				return live, true
			}
		}
	}
}

// sampled reports whether live holds a watch sample with per-index figures.
func sampled(live workflows.Live) bool {
	return live.Watch != nil && live.Watch.Version >= contract.WatchSampleVersion && !live.Watch.SampledAt.IsZero()
}

func status(view workflows.StatusView, live workflows.Live) liveStatus {
	out := liveStatus{IntegrationStatus: view.Status(live, time.Now())}
	switch {
	case sampled(live):
	case view.WatchError != "":
		out.unsampled = "no live figures: " + view.WatchError
	case !view.Watching:
		out.unsampled = "no live figures: the leader is not being watched (" + view.State + ")"
	case live.Watch != nil && live.Watch.Version < contract.WatchSampleVersion:
		out.unsampled = "no live figures: the leader watch runs on a worker older than its samples"
	case live.Watch != nil:
		out.unsampled = "no live figures: the leader watch has not read the follower's checkpoints yet (follower " + live.Watch.Follower + ")"
	default:
		out.unsampled = "no live figures: the leader watch has not reported yet"
	}
	return out
}

// updateStatus asks the status update (runs started before the status-view query): it reads
// the clusters as it answers, and adds its activities to the history.
func (c *Control) updateStatus(ctx context.Context, id string) (liveStatus, error) {
	handle, err := c.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   id,
		UpdateName:   workflows.UpdateIntegrationStatus,
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var out liveStatus
	if err == nil {
		err = handle.Get(ctx, &out.IntegrationStatus)
	}
	out.SampledAt = time.Now()
	return out, err
}

// UnknownQuery reports whether a query failed because the workflow does not know it.
func UnknownQuery(err error) bool {
	var failed *serviceerror.QueryFailed
	return errors.As(err, &failed) && strings.Contains(failed.Error(), "unknown queryType")
}

// follower returns a live follower's state; ErrConflict (op says what was asked) for a service
// that is not a follower.
func (c *Control) follower(ctx context.Context, name, op string) (workflows.ServiceState, error) {
	st, err := c.GetService(ctx, name)
	if err != nil {
		return st, err
	}
	if st.Role != workflows.RoleFollower {
		return st, fmt.Errorf("%w: cannot %s %s: it is not a follower (it is %s); osccr service list --role follower shows the followers", ErrConflict, op, name, st.Role)
	}
	return st, nil
}

// pausable refuses to pause or resume a follower that is not RUNNING or PAUSED.
func pausable(st workflows.ServiceState, op string) error {
	if st.State != workflows.StateRunning && st.State != workflows.StatePaused {
		return fmt.Errorf("%w: cannot %s %s: it is %s; replication can be paused and resumed while it is RUNNING or PAUSED", ErrConflict, op, st.Name, st.State)
	}
	return nil
}

// PauseFollower pauses a follower's replication on the operator's behalf: every follower index
// pauses, the leader keeps every operation for the resume. Pausing a paused follower adds the
// operator's pause (the last pause lifted resumes replication). Refused with ErrConflict for a
// service that is not a follower, or not RUNNING or PAUSED.
func (c *Control) PauseFollower(ctx context.Context, name, reason string) error {
	st, err := c.follower(ctx, name, "pause")
	if err != nil {
		return err
	}
	if err := pausable(st, "pause"); err != nil {
		return err
	}
	if reason == "" {
		reason = "paused by an operator"
	}
	return c.signal(ctx, workflows.IntegrationWorkflowID(st.Leader, name), workflows.SignalPauseIntegration,
		workflows.PauseRequest{Source: workflows.PauseSourceOperator, Reason: reason})
}

// ResumeFollower lifts the operator's pause of a follower; replication resumes once no other
// pause holds. Resuming a RUNNING follower changes nothing. Refused with ErrConflict for a
// service that is not a follower, not RUNNING or PAUSED, or paused by something else than an
// operator (a node recycle, bad health), which lifts its own pause.
func (c *Control) ResumeFollower(ctx context.Context, name string) error {
	st, err := c.follower(ctx, name, "resume")
	if err != nil {
		return err
	}
	if err := pausable(st, "resume"); err != nil {
		return err
	}
	if st.State == workflows.StatePaused {
		status, err := c.followerStatus(ctx, st)
		if err != nil {
			return err
		}
		if _, byOperator := status.PausedBy[workflows.PauseSourceOperator]; !byOperator && len(status.PausedBy) > 0 {
			return fmt.Errorf("%w: %s is not paused by an operator but by %v (%s): replication resumes by itself once that is over", ErrConflict, name,
				slices.Sorted(maps.Keys(status.PausedBy)), st.Reason)
		}
	}
	return c.signal(ctx, workflows.IntegrationWorkflowID(st.Leader, name), workflows.SignalResumeIntegration,
		workflows.PauseRequest{Source: workflows.PauseSourceOperator})
}

// PromotionPreview says what promoting a follower would do, and changes nothing.
type PromotionPreview struct {
	Service string `json:"service"`
	Leader  string `json:"leader"`
	State   string `json:"state"`
	// AlreadyPromoted is the report of an earlier promotion: promoting again answers with it.
	AlreadyPromoted *workflows.PromotionReport `json:"already_promoted,omitempty"`
	// Indexes are the follower indexes whose replication would stop, with their lag now.
	Indexes []IndexStatus `json:"indexes_to_stop"`
	LagOps  int64         `json:"lag_ops"`
	// ConfigLacking are the configuration objects of the leader the follower lacks now, as the
	// integration's last configuration sync left them (the CONFIG_CONFLICT problem): the
	// application would miss them after a promotion. `follower verify` compares them afresh.
	ConfigLacking []string `json:"config_would_lack,omitempty"`
	// NotCopied names the kinds of configuration osccr does not copy yet: a promoted follower
	// has only what was put on it by other means (docs/configuration-sync.md).
	NotCopied []string `json:"not_copied"`
	// Steps are what promotion does, in order.
	Steps        []string `json:"steps"`
	Irreversible bool     `json:"irreversible"`
}

// notCopiedConfiguration are the kinds of configuration a follower does not get from osccr yet.
var notCopiedConfiguration = []string{"security roles, role mappings, action groups, tenants and internal users"}

// PreviewPromotion is a promotion's dry run: the same refusals as Promote (ErrConflict), and
// otherwise what would be stopped, with each index's lag.
func (c *Control) PreviewPromotion(ctx context.Context, name string) (PromotionPreview, error) {
	st, err := c.GetService(ctx, name)
	if err != nil {
		return PromotionPreview{}, err
	}
	if err := workflows.CheckPromote(st); err != nil {
		return PromotionPreview{}, fmt.Errorf("%w: promote %s: %v", ErrConflict, name, err)
	}
	out := PromotionPreview{Service: name, State: st.State, Indexes: []IndexStatus{}, Steps: []string{}}
	if st.Promotion != nil {
		out.Leader, out.AlreadyPromoted = st.Promotion.FormerLeader, st.Promotion
		return out, nil
	}
	status, err := c.followerStatus(ctx, st)
	if err != nil {
		return out, err
	}
	out.Leader, out.Indexes, out.LagOps, out.Irreversible = st.Leader, status.Indexes, status.LagOps, true
	out.NotCopied = slices.Clone(notCopiedConfiguration)
	if status.Replication != nil {
		for _, p := range status.Replication.Problems {
			if p.Status == workflows.ProblemConfigConflict {
				out.ConfigLacking = append(out.ConfigLacking, p.Reason)
			}
		}
	}
	out.Steps = []string{
		fmt.Sprintf("stop replication of %d follower indexes, in parallel: each becomes an ordinary, writable index (the follower is %s)", len(status.Indexes), status.LagSummary(time.Now())),
		fmt.Sprintf("remove the remote connection to %s", st.Leader),
		fmt.Sprintf("end integration %s; %s drops %s from its followers", IntegrationID(st.Leader, name), st.Leader, name),
		fmt.Sprintf("%s becomes a standalone service for good: it can never follow again", name),
	}
	return out, nil
}
