package workflows

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/osccr/osccr/internal/contract"
)

// PromotionLoss is what a promotion lost: the operations the leader had acknowledged that the
// follower had not applied when replication stopped, and how far behind in time it was.
type PromotionLoss struct {
	// Operations sums the indexes'; Seconds is the worst index's (nil when unknown).
	Operations int64    `json:"operations"`
	Seconds    *float64 `json:"seconds,omitempty"`
	// AtLeast says the leader did not answer: the figures are from what was last known of it
	// (the leader watch's last sample), so the promoted service lacks at least that much, and
	// also whatever the leader acknowledged after LeaderLastSeen.
	AtLeast        bool      `json:"at_least,omitempty"`
	LeaderLastSeen time.Time `json:"leader_last_seen,omitzero"`
	// LeaderLastSeenBefore is how long before replication stopped the leader last answered.
	LeaderLastSeenBefore time.Duration `json:"leader_last_seen_before_ns,omitempty"`
	Indexes              []IndexLoss   `json:"indexes"`
}

// IndexLoss is one follower index's part of a PromotionLoss.
type IndexLoss struct {
	Index             string   `json:"index"`
	Operations        int64    `json:"operations"`
	Seconds           *float64 `json:"seconds,omitempty"`
	LeaderUnreachable bool     `json:"leader_unreachable,omitempty"`
}

// LossOf sums the follower indexes' statuses read as replication stopped at stoppedAt.
func LossOf(statuses map[string]contract.IndexStatus, stoppedAt time.Time) *PromotionLoss {
	out := &PromotionLoss{Indexes: []IndexLoss{}}
	for _, name := range slices.Sorted(maps.Keys(statuses)) {
		st := statuses[name]
		ix := IndexLoss{Index: name, Operations: st.LagOps(), Seconds: st.LagSeconds, LeaderUnreachable: st.LeaderUnreachable}
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
func (r PromotionReport) LossSummary() string {
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
