package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/rules"
)

// Signals and queries of IndexReplicationWorkflow.
const (
	SignalPause  = "pause"
	SignalResume = "resume"
	SignalStop   = "stop"
	QueryState   = "state"
)

// Replication states, in the vocabulary operators see.
const (
	StateConnecting = "CONNECTING"
	StateRebuilding = "REBUILDING"
	StateRunning    = rules.StateRunning
	StatePaused     = rules.StatePaused
	StateStopped    = "STOPPED"
)

// IndexReplicationInput names one leader index and the follower index that replicates it.
type IndexReplicationInput struct {
	Leader        contract.ClusterRef `json:"leader"`
	Follower      contract.ClusterRef `json:"follower"`
	LeaderAlias   string              `json:"leader_alias"`
	LeaderIndex   string              `json:"leader_index"`
	FollowerIndex string              `json:"follower_index"`
}

// IndexReplicationState is what the state query returns.
type IndexReplicationState struct {
	State       string                `json:"state"`
	Reason      string                `json:"reason,omitempty"`
	Status      *contract.IndexStatus `json:"status,omitempty"`
	RunningAt   time.Time             `json:"running_at,omitempty"`
	StartedAt   time.Time             `json:"started_at"`
	LastChanged time.Time             `json:"last_changed"`
}

// WorkflowID is the ID of the workflow replicating one follower index.
func (in IndexReplicationInput) WorkflowID() string {
	return fmt.Sprintf("index-replication/%s/%s", in.Follower.Name, in.FollowerIndex)
}

func (in IndexReplicationInput) validate() error {
	var problems []error
	if in.Leader.URL == "" || in.Follower.URL == "" {
		problems = append(problems, errors.New("both leader and follower need a URL"))
	}
	if in.LeaderAlias == "" {
		problems = append(problems, errors.New("leader alias is empty"))
	}
	if in.LeaderIndex == "" || in.FollowerIndex == "" {
		problems = append(problems, errors.New("leader and follower index names are required"))
	}
	return errors.Join(problems...)
}

// IndexReplicationWorkflow replicates one leader index into a follower index with the
// cross-cluster-replication plugin, and keeps it replicating until it is told to stop. It takes
// the same steps as the whole-cluster integration takes for each index (index_steps.go), on
// one index and driven by an operator's signals rather than by a watch:
//
//  1. connect the follower to the leader (remote-cluster seeds) and wait until connected;
//  2. REBUILDING: start replication and wait until the follower index is SYNCING and caught up;
//  3. RUNNING: serve pause / resume / stop signals; a pause keeps every operation on the
//     leader, and resume catches up from where the follower stopped;
//  4. stop: the follower index becomes an ordinary, writable index and the workflow ends.
func IndexReplicationWorkflow(ctx workflow.Context, in IndexReplicationInput) (IndexReplicationState, error) {
	_ = readVersion(ctx, changeIndexReplication, indexReplicationVersion) // branch on it once the workflow changes
	now := workflow.Now(ctx)
	st := IndexReplicationState{State: StateConnecting, StartedAt: now, LastChanged: now}
	set := func(state, reason string) {
		st.State, st.Reason, st.LastChanged = state, reason, workflow.Now(ctx)
	}
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (IndexReplicationState, error) { return st, nil }); err != nil {
		return st, err
	}
	if err := in.validate(); err != nil {
		return st, temporal.NewNonRetryableApplicationError("invalid replication request: "+err.Error(), "InvalidInput", nil)
	}
	var a *activities.Activities
	index := contract.IndexInput{Follower: in.Follower, Leader: in.Leader, LeaderAlias: in.LeaderAlias, LeaderIndex: in.LeaderIndex, FollowerIndex: in.FollowerIndex}
	short := withIO(ctx, time.Minute, 0)
	wait := withIO(ctx, 30*time.Minute, 30*time.Second)

	// Step 1: connect.
	if err := workflow.ExecuteActivity(wait, a.ConnectRemote, contract.ConnectInput{
		Follower: in.Follower, Leader: in.Leader, LeaderAlias: in.LeaderAlias,
	}).Get(ctx, nil); err != nil {
		return st, err // not wrapped: callers branch on the activity's application error type
	}

	// Step 2: rebuild.
	set(StateRebuilding, "")
	status, err := followIndex(ctx, short, wait, index, func() {})
	if err != nil {
		return st, err
	}
	st.Status = &status
	set(StateRunning, "")
	st.RunningAt = st.LastChanged

	// Step 3: run until stopped.
	pauses := workflow.GetSignalChannel(ctx, SignalPause)
	resumes := workflow.GetSignalChannel(ctx, SignalResume)
	stops := workflow.GetSignalChannel(ctx, SignalStop)
	for {
		var reason string
		sel := workflow.NewSelector(ctx)
		var next string
		sel.AddReceive(pauses, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, &reason); next = SignalPause })
		sel.AddReceive(resumes, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); next = SignalResume })
		sel.AddReceive(stops, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); next = SignalStop })
		sel.Select(ctx)

		switch {
		case next == SignalPause && st.State == StateRunning:
			if err := pauseIndex(ctx, short, index); err != nil {
				return st, err
			}
			if reason == "" {
				reason = "paused by operator"
			}
			set(StatePaused, reason)
		case next == SignalResume && st.State == StatePaused:
			status, err := resumeIndex(ctx, short, wait, index)
			if err != nil {
				return st, err
			}
			st.Status = &status
			set(StateRunning, "")
		case next == SignalStop:
			// Step 4: stop for good.
			if err := stopIndex(ctx, short, index); err != nil {
				return st, err
			}
			set(StateStopped, "replication stopped; the follower index is writable")
			return st, nil
		}
	}
}
