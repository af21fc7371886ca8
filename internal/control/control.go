// Package control is osccr's application layer: the use cases the CLI and the HTTP API offer,
// on top of the Temporal client. Adapters parse input and print output; every rule lives here
// or in the workflows.
package control

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/workflows"
)

// Errors callers branch on (the CLI maps them to exit codes, the API to status codes).
var (
	// ErrInvalid: the request is wrong; nothing was changed.
	ErrInvalid = errors.New("invalid request")
	// ErrNotFound: no such replication.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the request contradicts what already exists; nothing was changed.
	ErrConflict = errors.New("conflict")
	// ErrUnreachable: the control plane (Temporal) cannot be reached.
	ErrUnreachable = errors.New("control plane unreachable")
	// ErrInProgress: what the request waits for was still under way when the wait ended; it
	// goes on, and asking again waits for it again.
	ErrInProgress = errors.New("still in progress")
)

// Control runs osccr's use cases against a Temporal namespace.
type Control struct {
	Temporal  client.Client
	TaskQueue string
	// DeleteWait bounds how long a delete waits for what must finish before it (an
	// integration's promotion, a leader's followers leaving); 0 is DefaultDeleteWait.
	DeleteWait time.Duration
	// PlanWait and PlanLeaderWait bound ApplyPlan's waits; 0 is DefaultPlanWait and
	// DefaultPlanLeaderWait.
	PlanWait, PlanLeaderWait time.Duration
}

// DefaultDeleteWait is how long a delete waits, by default, for what must finish before it:
// within the HTTP API's write timeout and below an HTTP client's usual patience, long past a
// promotion's or a follower delete's usual second or two.
const DefaultDeleteWait = time.Minute

func (c *Control) deleteWait() time.Duration {
	if c.DeleteWait > 0 {
		return c.DeleteWait
	}
	return DefaultDeleteWait
}

// New returns a Control that starts workflows on the osccr task queue.
func New(c client.Client) *Control { return &Control{Temporal: c, TaskQueue: workflows.TaskQueue} }

var indexName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,254}$`)

// StartIndexReplication starts replicating one leader index into a follower index and returns
// the workflow ID. Starting the same replication twice is refused with ErrConflict.
func (c *Control) StartIndexReplication(ctx context.Context, in workflows.IndexReplicationInput) (string, error) {
	if in.FollowerIndex == "" {
		in.FollowerIndex = in.LeaderIndex
	}
	if in.LeaderAlias == "" {
		in.LeaderAlias = in.Leader.Name
	}
	if err := validateIndexReplication(in); err != nil {
		return "", err
	}
	id := in.WorkflowID()
	_, err := c.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                    id,
		TaskQueue:             c.TaskQueue,
		TypedSearchAttributes: replicationSearchAttributes(in),
		// A replication that is running must be stopped first; one that ended (failed or
		// stopped) may be started again.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}, workflows.IndexReplicationWorkflow, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return "", fmt.Errorf("%w: %s is already being replicated into %s (workflow %s)", ErrConflict, in.LeaderIndex, in.Follower.Name, id)
	}
	if err != nil {
		return "", wrapTemporal("start replication", err)
	}
	return id, nil
}

func validateIndexReplication(in workflows.IndexReplicationInput) error {
	var problems []error
	for _, ref := range []struct {
		role string
		ref  contract.ClusterRef
	}{{"leader", in.Leader}, {"follower", in.Follower}} {
		if ref.ref.Name == "" {
			problems = append(problems, fmt.Errorf("the %s needs a name", ref.role))
		}
		if ref.ref.URL == "" {
			problems = append(problems, fmt.Errorf("the %s needs a URL (http://host:9200)", ref.role))
		}
	}
	if in.Leader.TransportAddress == "" {
		problems = append(problems, errors.New("the leader needs a transport address (host:9300): the follower's nodes connect to it"))
	}
	if in.Leader.Name != "" && in.Leader.Name == in.Follower.Name {
		problems = append(problems, errors.New("leader and follower must be different clusters"))
	}
	for _, idx := range []string{in.LeaderIndex, in.FollowerIndex} {
		if !indexName.MatchString(idx) {
			problems = append(problems, fmt.Errorf("index name %q is not valid: lowercase letters, digits, '.', '_' and '-', not starting with '.', '_' or '-'", idx))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalid, errors.Join(problems...))
	}
	return nil
}

func replicationSearchAttributes(in workflows.IndexReplicationInput) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(
		workflows.SearchService.ValueSet(in.Follower.Name),
		workflows.SearchRole.ValueSet("follower"),
		workflows.SearchLeader.ValueSet(in.Leader.Name),
	)
}

// IndexReplicationState returns the state of a replication workflow.
func (c *Control) IndexReplicationState(ctx context.Context, workflowID string) (workflows.IndexReplicationState, error) {
	var st workflows.IndexReplicationState
	v, err := c.Temporal.QueryWorkflow(ctx, workflowID, "", workflows.QueryState)
	if err != nil {
		return st, wrapTemporal("query "+workflowID, err)
	}
	if err := v.Get(&st); err != nil {
		return st, fmt.Errorf("decode state of %s: %w", workflowID, err)
	}
	return st, nil
}

// WaitIndexReplication waits until a replication workflow is RUNNING, or has ended, or ctx ends,
// calling progress with every state it sees.
func (c *Control) WaitIndexReplication(ctx context.Context, workflowID string, progress func(workflows.IndexReplicationState)) (workflows.IndexReplicationState, error) {
	run := c.Temporal.GetWorkflow(ctx, workflowID, "")
	ended := make(chan error, 1)
	go func() {
		var ignored workflows.IndexReplicationState
		ended <- run.Get(ctx, &ignored)
	}()
	var last workflows.IndexReplicationState
	tick := newTicker()
	defer tick.Stop()
	for {
		select {
		case err := <-ended:
			st, _ := c.IndexReplicationState(context.WithoutCancel(ctx), workflowID)
			if err != nil {
				return st, fmt.Errorf("replication %s failed: %w", workflowID, err)
			}
			return st, nil
		case <-ctx.Done():
			return last, fmt.Errorf("waiting for %s: %w", workflowID, ctx.Err())
		case <-tick.C:
		}
		st, err := c.IndexReplicationState(ctx, workflowID)
		if err != nil {
			continue
		}
		if progress != nil && (st.State != last.State || st.Reason != last.Reason) {
			progress(st)
		}
		last = st
		if st.State == workflows.StateRunning {
			return st, nil
		}
	}
}

// PauseIndexReplication, ResumeIndexReplication and StopIndexReplication signal a replication.
func (c *Control) PauseIndexReplication(ctx context.Context, workflowID, reason string) error {
	return c.signal(ctx, workflowID, workflows.SignalPause, reason)
}

// ResumeIndexReplication resumes a paused replication.
func (c *Control) ResumeIndexReplication(ctx context.Context, workflowID string) error {
	return c.signal(ctx, workflowID, workflows.SignalResume, nil)
}

// StopIndexReplication stops a replication for good; the follower index becomes writable.
func (c *Control) StopIndexReplication(ctx context.Context, workflowID string) error {
	return c.signal(ctx, workflowID, workflows.SignalStop, nil)
}

func (c *Control) signal(ctx context.Context, workflowID, name string, arg any) error {
	if err := c.Temporal.SignalWorkflow(ctx, workflowID, "", name, arg); err != nil {
		return wrapTemporal(name+" "+workflowID, err)
	}
	return nil
}

func wrapTemporal(op string, err error) error {
	var notFound *serviceerror.NotFound
	var unavailable *serviceerror.Unavailable
	switch {
	case errors.As(err, &notFound):
		return fmt.Errorf("%s: %w: %v", op, ErrNotFound, err)
	case errors.As(err, &unavailable), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w: %v", op, ErrUnreachable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}
