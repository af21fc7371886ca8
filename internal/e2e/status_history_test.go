package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"

	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/workflows"
)

// statusReads is how many times checkStatusReadsAddNoHistory reads a follower's status each
// way; statusReadEvery spaces the reads, so that their samples' ages cover a few heartbeats.
const (
	statusReads     = 20
	statusReadEvery = 300 * time.Millisecond
	// maxSampleAge bounds how old a status read's figures may be: a sample a second, a
	// heartbeat every half second reaching Temporal at least every workerapp.HeartbeatThrottle
	// (2 s; the SDK's default with the watch's 10 s heartbeat timeout would be 8 s), plus slack
	// for a loaded machine.
	maxSampleAge = 6 * time.Second
)

// checkStatusReadsAddNoHistory measures what reading a RUNNING follower's status costs its
// integration workflow's history: statusReads reads through the status update (what every
// status read did before the status-view query, and still does for a run started by older
// code), then statusReads through control.FollowerStatus (the query and the watch's heartbeat).
// The update adds events; FollowerStatus must add none. It logs both figures and the age of
// the figures each read returned.
func checkStatusReadsAddNoHistory(t *testing.T, ctx context.Context, ctl *control.Control, tc client.Client, leader, follower string) {
	t.Helper()
	id := workflows.IntegrationWorkflowID(leader, follower)
	// A run that does not know the query (the service workflow never does; an integration run
	// of older code neither) answers what sends FollowerStatus to the update.
	if _, err := tc.QueryWorkflow(ctx, workflows.ServiceWorkflowID(follower), "", workflows.QueryIntegrationStatusView); !control.UnknownQuery(err) {
		t.Errorf("status-view query of a workflow without it: %v, want what control.UnknownQuery recognises", err)
	}

	// Before: the status update.
	start := historyLength(t, ctx, tc, id)
	for range statusReads {
		handle, err := tc.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: workflows.UpdateIntegrationStatus, WaitForStage: client.WorkflowUpdateStageCompleted})
		if err != nil {
			t.Fatalf("status update: %v", err)
		}
		var st workflows.IntegrationStatus
		if err := handle.Get(ctx, &st); err != nil || len(st.Indexes) == 0 {
			t.Fatalf("status update: %+v (%v)", st, err)
		}
	}
	byUpdate := historyLength(t, ctx, tc, id) - start
	if byUpdate == 0 {
		t.Errorf("%d status updates added no history event: the measurement measures nothing", statusReads)
	}

	// After: FollowerStatus. A watch that ends meanwhile (every contract.DefaultWatchMaxWait
	// while nothing changes) adds its own events: those are told apart by their kind.
	start = historyLength(t, ctx, tc, id)
	var ages []time.Duration
	for i := range statusReads {
		if i > 0 {
			time.Sleep(statusReadEvery) // spacing the reads, not waiting for a condition
		}
		st, err := ctl.FollowerStatus(ctx, follower)
		if err != nil {
			t.Fatalf("follower status: %v", err)
		}
		if st.SampledAt.IsZero() || len(st.Indexes) == 0 || st.Indexes[0].Status != "SYNCING" || st.Indexes[0].LeaderCheckpoint <= 0 {
			t.Fatalf("follower status %+v: want live figures of a SYNCING index", st)
		}
		ages = append(ages, time.Since(st.SampledAt))
	}
	added := historySince(t, ctx, tc, id, start)
	var byReads []string
	watchEnded := false
	for _, ev := range added {
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED:
			watchEnded = true // the only activity of an idle RUNNING integration is its watch
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED, enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			if name := ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName(); name != "" && name != workflows.WatchActivity {
				byReads = append(byReads, ev.GetEventType().String()+" "+name)
			}
		default:
			byReads = append(byReads, ev.GetEventType().String())
		}
	}
	if !watchEnded && len(added) > 0 {
		byReads = append(byReads, "and the workflow-task events around them")
	}
	slices.Sort(ages)
	t.Logf("history events per status read: update %.2f (%d for %d), FollowerStatus %d for %d (%d events meanwhile, a watch ended: %v); sample age min %s, median %s, max %s",
		float64(byUpdate)/statusReads, byUpdate, statusReads, len(byReads), statusReads, len(added), watchEnded,
		ages[0].Round(time.Millisecond), ages[len(ages)/2].Round(time.Millisecond), ages[len(ages)-1].Round(time.Millisecond))
	if len(byReads) > 0 {
		t.Errorf("%d status reads added history events: %v; want none", statusReads, byReads)
	}
	if ages[len(ages)-1] > maxSampleAge {
		t.Errorf("status figures up to %s old, want at most %s", ages[len(ages)-1].Round(time.Millisecond), maxSampleAge)
	}
}

// historyLength is how many events a workflow's history holds.
func historyLength(t *testing.T, ctx context.Context, tc client.Client, id string) int {
	t.Helper()
	desc, err := tc.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		t.Fatalf("describe %s: %v", id, err)
	}
	return int(desc.GetWorkflowExecutionInfo().GetHistoryLength())
}

// historySince returns a workflow's history events after the first n.
func historySince(t *testing.T, ctx context.Context, tc client.Client, id string, n int) []*historypb.HistoryEvent {
	t.Helper()
	var out []*historypb.HistoryEvent
	it := tc.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", id, err)
		}
		if ev.GetEventId() > int64(n) {
			out = append(out, ev)
		}
	}
	return out
}
