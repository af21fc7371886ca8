package control

import (
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	updatepb "go.temporal.io/api/update/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/workflows"
)

func payloads(t *testing.T, v any) *commonpb.Payloads {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayloads(v)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTimelineEvent maps one history event of each kind onto the timeline, or leaves it out.
func TestTimelineEvent(t *testing.T) {
	at := time.Date(2026, 12, 2, 22, 0, 0, 0, time.UTC)
	state, err := converter.GetDefaultDataConverter().ToPayload(workflows.StatePromoting)
	if err != nil {
		t.Fatal(err)
	}
	scheduled := map[int64]string{}
	cases := []struct {
		name string
		e    *historypb.HistoryEvent
		want *Event // nil: not in the timeline
		lead string
	}{
		{"created to follow", &historypb.HistoryEvent{EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, Attributes: &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{
			WorkflowExecutionStartedEventAttributes: &historypb.WorkflowExecutionStartedEventAttributes{Identity: "osccr@host:me",
				Input: payloads(t, workflows.ServiceInput{Follow: &workflows.FollowSpec{Leader: contract.ClusterRef{Name: "orders"}}})}}},
			&Event{Kind: EventRun, What: "started", By: "osccr@host:me"}, "orders"},
		{"continued as new: only its leader", &historypb.HistoryEvent{EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, Attributes: &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{
			WorkflowExecutionStartedEventAttributes: &historypb.WorkflowExecutionStartedEventAttributes{ContinuedExecutionRunId: "r1",
				Input: payloads(t, workflows.ServiceInput{State: &workflows.ServiceState{Leader: "orders"}})}}},
			nil, "orders"},
		{"promotion request", &historypb.HistoryEvent{EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED, Attributes: &historypb.HistoryEvent_WorkflowExecutionUpdateAcceptedEventAttributes{
			WorkflowExecutionUpdateAcceptedEventAttributes: &historypb.WorkflowExecutionUpdateAcceptedEventAttributes{AcceptedRequest: &updatepb.Request{
				Meta: &updatepb.Meta{Identity: "osccr-serve@host:api"}, Input: &updatepb.Input{Name: workflows.UpdatePromote}}}}},
			&Event{Kind: EventRequest, What: workflows.UpdatePromote, By: "osccr-serve@host:api"}, ""},
		{"a status read is not an event", &historypb.HistoryEvent{EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED, Attributes: &historypb.HistoryEvent_WorkflowExecutionUpdateAcceptedEventAttributes{
			WorkflowExecutionUpdateAcceptedEventAttributes: &historypb.WorkflowExecutionUpdateAcceptedEventAttributes{AcceptedRequest: &updatepb.Request{
				Input: &updatepb.Input{Name: workflows.UpdateIntegrationStatus}}}}},
			nil, ""},
		{"an operator's pause, with its reason", &historypb.HistoryEvent{EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, Attributes: &historypb.HistoryEvent_WorkflowExecutionSignaledEventAttributes{
			WorkflowExecutionSignaledEventAttributes: &historypb.WorkflowExecutionSignaledEventAttributes{SignalName: workflows.SignalPauseIntegration, Identity: "osccr@host:me",
				Input: payloads(t, workflows.PauseRequest{Source: workflows.PauseSourceOperator, Reason: "maintenance"})}}},
			&Event{Kind: EventSignal, What: workflows.SignalPauseIntegration + " (source=operator, reason=maintenance)", By: "osccr@host:me"}, ""},
		{"state", &historypb.HistoryEvent{EventType: enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES, Attributes: &historypb.HistoryEvent_UpsertWorkflowSearchAttributesEventAttributes{
			UpsertWorkflowSearchAttributesEventAttributes: &historypb.UpsertWorkflowSearchAttributesEventAttributes{SearchAttributes: &commonpb.SearchAttributes{
				IndexedFields: map[string]*commonpb.Payload{workflows.SearchState.GetName(): state}}}}},
			&Event{Kind: EventState, What: workflows.StatePromoting}, ""},
		{"a step scheduled is not an event yet", &historypb.HistoryEvent{EventId: 7, EventType: enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, Attributes: &historypb.HistoryEvent_ActivityTaskScheduledEventAttributes{
			ActivityTaskScheduledEventAttributes: &historypb.ActivityTaskScheduledEventAttributes{ActivityType: &commonpb.ActivityType{Name: "StopReplication"},
				Input: payloads(t, map[string]string{"follower_index": "orders"})}}},
			nil, ""},
		{"the step done", &historypb.HistoryEvent{EventType: enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, Attributes: &historypb.HistoryEvent_ActivityTaskCompletedEventAttributes{
			ActivityTaskCompletedEventAttributes: &historypb.ActivityTaskCompletedEventAttributes{ScheduledEventId: 7}}},
			&Event{Kind: EventStep, What: "StopReplication orders"}, ""},
		{"a read done is not an event", &historypb.HistoryEvent{EventType: enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, Attributes: &historypb.HistoryEvent_ActivityTaskCompletedEventAttributes{
			ActivityTaskCompletedEventAttributes: &historypb.ActivityTaskCompletedEventAttributes{ScheduledEventId: 99}}},
			nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.e.EventTime = timestamppb.New(at)
			got, ok, lead := timelineEvent(tc.e, scheduled)
			if lead != tc.lead {
				t.Errorf("leader %q, want %q", lead, tc.lead)
			}
			if tc.want == nil {
				if ok {
					t.Errorf("got %+v, want no event", got)
				}
				return
			}
			tc.want.Time = at
			if !ok || got != *tc.want {
				t.Errorf("got %+v (%v), want %+v", got, ok, *tc.want)
			}
		})
	}
}
