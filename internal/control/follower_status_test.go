package control

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/workflows"
)

// TestUnknownQuery: only a query the workflow does not know sends the status to the update.
func TestUnknownQuery(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{serviceerror.NewQueryFailed("unknown queryType status-view. KnownQueryTypes=[__stack_trace __open_sessions]"), true},
		{fmt.Errorf("query: %w", serviceerror.NewQueryFailed("unknown queryType status-view. KnownQueryTypes=[]")), true},
		{serviceerror.NewQueryFailed("decode: boom"), false},
		{serviceerror.NewNotFound("workflow not found"), false},
		{errors.New("unknown queryType status-view"), false}, // not the server's answer
		{nil, false},
	} {
		if got := UnknownQuery(tt.err); got != tt.want {
			t.Errorf("UnknownQuery(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// TestStatusFreshness: the answer says how old its figures are, or why it has none, and the
// lag then says it is unknown rather than 0.
func TestStatusFreshness(t *testing.T) {
	now := time.Now()
	view := workflows.StatusView{IntegrationProgress: workflows.IntegrationProgress{State: workflows.StateRunning},
		Indexes: []workflows.IndexView{{Index: "orders", FollowedIndex: workflows.FollowedIndex{Syncing: true}}}, Watching: true}
	sample := &contract.WatchSample{Version: contract.WatchSampleVersion, SampledAt: now.Add(-1200 * time.Millisecond),
		Indexes: map[string]contract.IndexSample{"orders": {State: "RUNNING", LeaderCheckpoint: 9, FollowerCheckpoint: 7, HasFollower: true}}}
	for _, tt := range []struct {
		name      string
		view      workflows.StatusView
		live      workflows.Live
		unsampled string
	}{
		{"sampled", view, workflows.Live{Watch: sample, HeartbeatAt: now}, ""},
		{"watch not reported yet", view, workflows.Live{}, "has not reported yet"},
		{"watch of an older worker", view, workflows.Live{Watch: &contract.WatchSample{Polls: 3}}, "older than its samples"},
		{"follower not read yet", view, workflows.Live{Watch: &contract.WatchSample{Version: 1, Follower: "unreachable"}}, "follower unreachable"},
		{"watch failed", func() workflows.StatusView {
			v := view
			v.Watching, v.WatchError = false, "watching the leader: bad reference"
			return v
		}(), workflows.Live{}, "bad reference"},
		{"not watched", func() workflows.StatusView { v := view; v.Watching, v.State = false, workflows.StateFailed; return v }(), workflows.Live{}, "not being watched (FAILED)"},
	} {
		got := status(tt.view, tt.live)
		if tt.unsampled == "" && got.unsampled != "" || !strings.Contains(got.unsampled, tt.unsampled) {
			t.Errorf("%s: unsampled %q, want it to say %q", tt.name, got.unsampled, tt.unsampled)
		}
		fs := FollowerStatus{Leader: "orders", SampledAt: got.SampledAt, Unsampled: got.unsampled, Indexes: []IndexStatus{{IndexStatus: got.Indexes[0], LagOps: got.Indexes[0].LagOps()}}}
		fs.LagOps = fs.Indexes[0].LagOps
		switch summary, fresh := fs.LagSummary(now), fs.Freshness(now); {
		case tt.unsampled == "" && (summary != "2 operations, ? s behind" || fresh != "sampled 1.2 s ago"):
			t.Errorf("%s: lag %q, %q; want 2 operations behind, sampled 1.2 s ago", tt.name, summary, fresh)
		case tt.unsampled != "" && (!strings.HasPrefix(summary, "unknown (no live figures") || fresh != ""):
			t.Errorf("%s: lag %q, %q; want unknown, no sample time", tt.name, summary, fresh)
		}
	}
}
