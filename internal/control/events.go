package control

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/osccr/osccr/workflows"
)

// Event is one entry of a service's timeline: what happened to it, when, and who asked.
type Event struct {
	Time time.Time `json:"time"`
	// Workflow is where it was recorded: service/NAME, or integration/LEADER/NAME for the
	// follower's replication.
	Workflow string `json:"workflow"`
	// Kind is request (an update osccr accepted), signal, state (the service's or the
	// integration's state changed), step (a step that changes the cluster or its replication
	// ended), failed (a step failed; Temporal retries it unless it was the last try), run (the
	// workflow started or ended).
	Kind string `json:"kind"`
	What string `json:"what"`
	// By is the Temporal identity of the client that made a request or sent a signal (the CLI:
	// osccr@HOST:USER, the API: osccr-serve@HOST:USER, a worker: osccr-worker@MACHINE[PID]).
	By string `json:"by,omitempty"`
}

// DefaultEventLimit is how many of a service's newest events ServiceEvents returns by default.
const DefaultEventLimit = 200

// maxEventLimit bounds what one call may ask for.
const maxEventLimit = 5000

// Event kinds.
const (
	EventRequest = "request"
	EventSignal  = "signal"
	EventState   = "state"
	EventStep    = "step"
	EventFailed  = "failed"
	EventRun     = "run"
)

// timelineSteps are the activities whose completion is an event: each changes a cluster or its
// replication. Reads and watches are not events (a watch's failure is).
var timelineSteps = map[string]bool{
	"PlaceService": true, "ProvisionService": true, "DeprovisionService": true, "RepairService": true,
	"RecycleServiceNode": true, "ChangeServicePlan": true, "ConnectRemote": true, "DisconnectRemote": true,
	"StartReplication": true, "PauseReplication": true, "ResumeReplication": true, "StopReplication": true,
	"RemoveFollowerIndex": true,
}

// quietRequests are requests that only read: they are not events.
var quietRequests = map[string]bool{workflows.UpdateIntegrationStatus: true}

// ServiceEvents returns a service's timeline, oldest first, the newest limit events (0:
// DefaultEventLimit): every run of its service workflow (a deleted service's too, while
// Temporal keeps it) and of the integrations that made it a follower, read from their
// histories, which are the record: reading adds nothing to them. A history outlives its
// workflow by the namespace's retention; a run that continued as new is read whole.
func (c *Control) ServiceEvents(ctx context.Context, name string, limit int) ([]Event, error) {
	switch {
	case limit < 0 || limit > maxEventLimit:
		return nil, fmt.Errorf("%w: limit %d: ask for 1 to %d events (0 for %d)", ErrInvalid, limit, maxEventLimit, DefaultEventLimit)
	case limit == 0:
		limit = DefaultEventLimit
	}
	serviceID := workflows.ServiceWorkflowID(name)
	runs, err := c.runs(ctx, serviceID)
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, serviceNotFound(name, fmt.Errorf("%w: no service %s, live or deleted, in Temporal's retention", ErrNotFound, name))
	}
	var events []Event
	leaders := map[string]bool{}
	for _, run := range runs {
		evs, lead, err := c.historyEvents(ctx, serviceID, run)
		if err != nil {
			return nil, err
		}
		events = append(events, evs...)
		for _, l := range lead {
			leaders[l] = true
		}
	}
	for _, leader := range slices.Sorted(maps.Keys(leaders)) {
		id := workflows.IntegrationWorkflowID(leader, name)
		iruns, err := c.runs(ctx, id)
		if err != nil {
			return nil, err
		}
		for _, run := range iruns {
			evs, _, err := c.historyEvents(ctx, id, run)
			if err != nil {
				return nil, err
			}
			events = append(events, evs...)
		}
	}
	slices.SortStableFunc(events, func(a, b Event) int { return a.Time.Compare(b.Time) })
	if len(events) > limit {
		events = events[len(events)-limit:]
	}
	return events, nil
}

// runs lists the run IDs of a workflow ID, oldest first.
func (c *Control) runs(ctx context.Context, id string) ([]string, error) {
	type run struct {
		id    string
		start time.Time
	}
	var out []run
	var token []byte
	for {
		resp, err := c.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query:         fmt.Sprintf("WorkflowId = %q", id),
			NextPageToken: token,
		})
		if err != nil {
			return nil, wrapTemporal("list the runs of "+id, err)
		}
		for _, e := range resp.GetExecutions() {
			out = append(out, run{e.GetExecution().GetRunId(), e.GetStartTime().AsTime()})
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	slices.SortFunc(out, func(a, b run) int { return a.start.Compare(b.start) })
	ids := make([]string, len(out))
	for i, r := range out {
		ids[i] = r.id
	}
	return ids, nil
}

// historyEvents reads one run's history into timeline events, and returns the leaders the
// service followed in it (from its follow requests).
func (c *Control) historyEvents(ctx context.Context, id, runID string) ([]Event, []string, error) {
	var out []Event
	var leaders []string
	scheduled := map[int64]string{}
	lastState := ""
	it := c.Temporal.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, nil, wrapTemporal("read the history of "+id, err)
		}
		ev, ok, leader := timelineEvent(e, scheduled)
		if leader != "" {
			leaders = append(leaders, leader)
		}
		if ok && ev.Kind == EventState && ev.What == lastState {
			ok = false // an upsert of other attributes: the state did not change
		}
		if ok {
			ev.Workflow = id
			out = append(out, ev)
			if ev.Kind == EventState {
				lastState = ev.What
			}
		}
		if state := startState(e); state != "" {
			out = append(out, Event{Time: ev.Time, Workflow: id, Kind: EventState, What: state})
			lastState = state
		}
	}
	return out, leaders, nil
}

// timelineEvent maps one history event onto the timeline: ok false for events that are not in
// it. scheduled remembers each scheduled activity's type (and index) by its event ID. leader is
// the leader a follow request named, or "".
func timelineEvent(e *historypb.HistoryEvent, scheduled map[int64]string) (ev Event, ok bool, leader string) {
	ev.Time = e.GetEventTime().AsTime()
	switch e.GetEventType() {
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
		a := e.GetWorkflowExecutionStartedEventAttributes()
		leader = startLeader(a.GetInput())
		if a.GetContinuedExecutionRunId() != "" {
			return ev, false, leader
		}
		ev.Kind, ev.What, ev.By = EventRun, "started", a.GetIdentity()
		return ev, true, leader
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
		ev.Kind, ev.What = EventRun, "ended"
		return ev, true, ""
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
		ev.Kind, ev.What = EventRun, "failed: "+e.GetWorkflowExecutionFailedEventAttributes().GetFailure().GetMessage()
		return ev, true, ""
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
		a := e.GetWorkflowExecutionTerminatedEventAttributes()
		ev.Kind, ev.What, ev.By = EventRun, "terminated: "+a.GetReason(), a.GetIdentity()
		return ev, true, ""
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
		req := e.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest()
		name := req.GetInput().GetName()
		if quietRequests[name] {
			return ev, false, ""
		}
		if name == workflows.UpdateFollow {
			leader = followLeader(req.GetInput().GetArgs())
		}
		ev.Kind, ev.What, ev.By = EventRequest, name+describeArgs(req.GetInput().GetArgs()), req.GetMeta().GetIdentity()
		return ev, true, leader
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
		a := e.GetWorkflowExecutionSignaledEventAttributes()
		ev.Kind, ev.What, ev.By = EventSignal, a.GetSignalName()+describeArgs(a.GetInput()), a.GetIdentity()
		return ev, true, ""
	case enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
		state := stateOf(e.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes())
		if state == "" {
			return ev, false, ""
		}
		ev.Kind, ev.What = EventState, state
		return ev, true, ""
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
		a := e.GetActivityTaskScheduledEventAttributes()
		scheduled[e.GetEventId()] = a.GetActivityType().GetName() + activityIndex(a.GetInput())
		return ev, false, ""
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
		step := scheduled[e.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()]
		if !timelineSteps[stepType(step)] {
			return ev, false, ""
		}
		ev.Kind, ev.What = EventStep, step
		return ev, true, ""
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED:
		a := e.GetActivityTaskFailedEventAttributes()
		ev.Kind, ev.What = EventFailed, scheduled[a.GetScheduledEventId()]+": "+a.GetFailure().GetMessage()
		return ev, true, ""
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
		a := e.GetActivityTaskTimedOutEventAttributes()
		ev.Kind, ev.What = EventFailed, scheduled[a.GetScheduledEventId()]+": timed out"
		return ev, true, ""
	}
	return ev, false, ""
}

// startState is the state a run starts in (set with its start, not upserted), or "" (a run
// continued as new keeps its state: not an event).
func startState(e *historypb.HistoryEvent) string {
	a := e.GetWorkflowExecutionStartedEventAttributes()
	if a == nil || a.GetContinuedExecutionRunId() != "" {
		return ""
	}
	return stateOf(a.GetSearchAttributes())
}

// stateOf is the service state among search attributes, or "".
func stateOf(sa *commonpb.SearchAttributes) string {
	p, found := sa.GetIndexedFields()[workflows.SearchState.GetName()]
	var state string
	if !found || converter.GetDefaultDataConverter().FromPayload(p, &state) != nil {
		return ""
	}
	return state
}

// stepType is the activity type of a scheduled step ("StartReplication orders" -> StartReplication).
func stepType(step string) string {
	t, _, _ := strings.Cut(step, " ")
	return t
}

// activityIndex is " INDEX" when an activity's input names a follower index, else "".
func activityIndex(in *commonpb.Payloads) string {
	var v struct {
		FollowerIndex string `json:"follower_index"`
	}
	for _, p := range in.GetPayloads() {
		if json.Unmarshal(p.GetData(), &v) == nil && v.FollowerIndex != "" {
			return " " + v.FollowerIndex
		}
	}
	return ""
}

// describeArgs is a short, secret-free description of a request's input: the few fields an
// operator asks about (a plan, a reason, a pause's source, a node), never the whole payload,
// which may carry cluster references.
func describeArgs(in *commonpb.Payloads) string {
	var parts []string
	for _, p := range in.GetPayloads() {
		var m map[string]any
		if json.Unmarshal(p.GetData(), &m) != nil {
			continue
		}
		for _, k := range []string{"plan", "Plan", "source", "Source", "node", "Node", "reason", "Reason", "enabled", "Enabled"} {
			if v, ok := m[k]; ok && v != nil && v != "" {
				parts = append(parts, fmt.Sprintf("%s=%v", strings.ToLower(k), v))
			}
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// startLeader is the leader a service workflow's run starts with: the one it is created to
// follow, or (a run continued as new) the one it follows or followed before its promotion.
func startLeader(in *commonpb.Payloads) string {
	var si workflows.ServiceInput
	for _, p := range in.GetPayloads() {
		if json.Unmarshal(p.GetData(), &si) != nil {
			continue
		}
		switch {
		case si.Follow != nil && si.Follow.Leader.Name != "":
			return si.Follow.Leader.Name
		case si.State != nil && si.State.Leader != "":
			return si.State.Leader
		case si.State != nil && si.State.Promotion != nil:
			return si.State.Promotion.FormerLeader
		}
	}
	return ""
}

// followLeader is the leader's name in a follow request's input.
func followLeader(in *commonpb.Payloads) string {
	var req workflows.FollowRequest
	for _, p := range in.GetPayloads() {
		if json.Unmarshal(p.GetData(), &req) == nil && req.Leader.Name != "" {
			return req.Leader.Name
		}
	}
	return ""
}
