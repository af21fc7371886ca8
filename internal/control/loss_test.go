package control

import (
	"strings"
	"testing"
	"time"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/workflows"
)

func TestLossOf(t *testing.T) {
	stopped := time.Date(2026, 12, 2, 12, 0, 10, 0, time.UTC)
	seen := stopped.Add(-5200 * time.Millisecond)
	secs := func(f float64) *float64 { return &f }
	tests := []struct {
		name     string
		statuses map[string]contract.IndexStatus
		wantOps  int64
		atLeast  bool
		summary  []string // substrings of LossSummary
	}{
		{"caught up", map[string]contract.IndexStatus{
			"a": {Index: "a", LeaderCheckpoint: 10, FollowerCheckpoint: 10, LagSeconds: secs(0)},
		}, 0, false, []string{"0 operations, 0.0 s behind at promotion"}},
		{"behind with the leader answering", map[string]contract.IndexStatus{
			"a": {Index: "a", LeaderCheckpoint: 110, FollowerCheckpoint: 10, LagSeconds: secs(9.5), LeaderSeenAt: stopped},
			"b": {Index: "b", LeaderCheckpoint: 7, FollowerCheckpoint: 2, LagSeconds: secs(1)},
		}, 105, false, []string{"105 operations, 9.5 s behind", "by index: a 100, b 5"}},
		{"leader unreachable: at least, and when it was last seen", map[string]contract.IndexStatus{
			"a": {Index: "a", LeaderCheckpoint: 300, FollowerCheckpoint: 249, LagSeconds: secs(6), LeaderUnreachable: true, LeaderSeenAt: seen},
		}, 51, true, []string{"at least 51 operations behind", "last seen 5.2 s before promotion"}},
		{"leader never seen", map[string]contract.IndexStatus{
			"a": {Index: "a", LeaderCheckpoint: 20, FollowerCheckpoint: 10, LeaderUnreachable: true},
		}, 10, true, []string{"at least 10 operations", "never seen"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loss := workflows.LossOf(tt.statuses, stopped)
			if loss.Operations != tt.wantOps || loss.AtLeast != tt.atLeast || len(loss.Indexes) != len(tt.statuses) {
				t.Fatalf("loss %+v, want %d operations, at least %v, %d indexes", loss, tt.wantOps, tt.atLeast, len(tt.statuses))
			}
			got := LossSummary(workflows.PromotionReport{FormerLeader: "orders", LagOps: 0, Loss: loss})
			for _, want := range tt.summary {
				if !strings.Contains(got, want) {
					t.Errorf("summary %q, want it to say %q", got, want)
				}
			}
		})
	}
	if got := LossSummary(workflows.PromotionReport{LagOps: 3}); got != "3 operations behind at promotion" {
		t.Errorf("summary without a loss %q", got)
	}
}

func TestLagSummary(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 10, 0, time.UTC)
	s := 0.8
	for _, tt := range []struct {
		st   FollowerStatus
		want string
	}{
		{FollowerStatus{Leader: "orders", LagOps: 12, LagSeconds: &s}, "12 operations, 0.8 s behind"},
		{FollowerStatus{Leader: "orders", LagOps: 12}, "12 operations, ? s behind"},
		{FollowerStatus{Leader: "orders", LagOps: 251, LeaderUnreachable: true, LeaderLastSeen: now.Add(-5200 * time.Millisecond)},
			"at least 251 operations behind (leader orders unreachable, last seen 5.2 s ago)"},
	} {
		if got := tt.st.LagSummary(now); got != tt.want {
			t.Errorf("LagSummary %+v = %q, want %q", tt.st, got, tt.want)
		}
	}
}
