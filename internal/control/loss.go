package control

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/workflows"
)

// promotionLoss reads what a promotion lost from the integration's history: the statuses its
// stop read of every follower index (activities.ReplicationStatus: the follower's checkpoints
// read then, the leader's read then or, when it did not answer, as last known), just before
// the indexes stopped. Reading the history adds nothing to it. Nil when the history has no
// such statuses (an integration that had not started any index, or whose history is gone).
func (c *Control) promotionLoss(ctx context.Context, leader, follower string, stoppedAt time.Time) (*workflows.PromotionLoss, error) {
	id := workflows.IntegrationWorkflowID(leader, follower)
	it := c.Temporal.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var statuses map[string]activities.IndexStatus
	scheduled := map[int64]bool{}
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return nil, wrapTemporal("history of "+id, err)
		}
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
			if ev.GetWorkflowExecutionSignaledEventAttributes().GetSignalName() == workflows.SignalStopIntegration {
				statuses = map[string]activities.IndexStatus{} // the statuses of the last stop count
				clear(scheduled)
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			if statuses != nil && ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == "ReplicationStatus" {
				scheduled[ev.GetEventId()] = true
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			a := ev.GetActivityTaskCompletedEventAttributes()
			if !scheduled[a.GetScheduledEventId()] || len(a.GetResult().GetPayloads()) == 0 {
				continue
			}
			var st activities.IndexStatus
			if err := converter.GetDefaultDataConverter().FromPayload(a.GetResult().GetPayloads()[0], &st); err != nil {
				return nil, fmt.Errorf("decode a status in the history of %s: %w", id, err)
			}
			statuses[st.Index] = st
		}
	}
	if len(statuses) == 0 {
		return nil, nil
	}
	return lossOf(statuses, stoppedAt), nil
}

// lossOf sums the follower indexes' statuses read as replication stopped at stoppedAt.
func lossOf(statuses map[string]activities.IndexStatus, stoppedAt time.Time) *workflows.PromotionLoss {
	out := &workflows.PromotionLoss{Indexes: []workflows.IndexLoss{}}
	for _, name := range slices.Sorted(maps.Keys(statuses)) {
		st := statuses[name]
		ix := workflows.IndexLoss{Index: name, Operations: st.LagOps(), Seconds: st.LagSeconds, LeaderUnreachable: st.LeaderUnreachable}
		out.Indexes = append(out.Indexes, ix)
		out.Operations += ix.Operations
		if ix.Seconds != nil && (out.Seconds == nil || *ix.Seconds > *out.Seconds) {
			worst := *ix.Seconds
			out.Seconds = &worst
		}
		if st.LeaderUnreachable {
			out.AtLeast = true
			if !st.LeaderSeenAt.IsZero() && (out.LeaderLastSeen.IsZero() || st.LeaderSeenAt.Before(out.LeaderLastSeen)) {
				out.LeaderLastSeen = st.LeaderSeenAt
			}
		}
	}
	if out.AtLeast && !out.LeaderLastSeen.IsZero() {
		out.LeaderLastSeenBefore = max(stoppedAt.Sub(out.LeaderLastSeen), 0)
	}
	return out
}

// LossSummary says in words what a promotion lost, for the CLI, the console and the service's
// reason: "412 operations, 9.8 s behind" when the leader answered, "at least 251 operations
// (leader last seen 5.2 s before promotion)" when it did not; never 0 while the follower was
// behind.
func LossSummary(r workflows.PromotionReport) string {
	l := r.Loss
	if l == nil {
		return fmt.Sprintf("%d operations behind at promotion", r.LagOps)
	}
	var b strings.Builder
	if l.AtLeast {
		b.WriteString("at least ")
	}
	fmt.Fprintf(&b, "%d operations", l.Operations)
	if l.Seconds != nil && !l.AtLeast {
		fmt.Fprintf(&b, ", %.1f s", *l.Seconds)
	}
	b.WriteString(" behind at promotion")
	switch {
	case l.AtLeast && !l.LeaderLastSeen.IsZero():
		fmt.Fprintf(&b, " (leader %s unreachable, last seen %.1f s before promotion: writes it acknowledged after that are lost too)",
			r.FormerLeader, l.LeaderLastSeenBefore.Seconds())
	case l.AtLeast:
		fmt.Fprintf(&b, " (leader %s unreachable and never seen by this worker: figures from the plugin's last fetch)", r.FormerLeader)
	}
	var behind []string
	for _, ix := range l.Indexes {
		if ix.Operations > 0 {
			behind = append(behind, fmt.Sprintf("%s %d", ix.Index, ix.Operations))
		}
	}
	if len(behind) > 0 && len(l.Indexes) > 1 {
		fmt.Fprintf(&b, "; by index: %s", strings.Join(behind, ", "))
	}
	return b.String()
}
