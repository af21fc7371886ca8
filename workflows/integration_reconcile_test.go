package workflows

import (
	"fmt"
	"maps"
	"reflect"
	"testing"

	"github.com/osccr/osccr/internal/contract"
)

func TestDecide(t *testing.T) {
	// leader builds an observation of a leader with the given index UUIDs (all replicated, in
	// name order) and a follower with the given health.
	observe := func(health string, uuids ...string) *contract.Observation {
		v := &contract.LeaderView{Indexes: map[string]string{}, Templates: "t1"}
		for i := 0; i+1 < len(uuids); i += 2 {
			v.Indexes[uuids[i]] = uuids[i+1]
			v.Replicate = append(v.Replicate, uuids[i])
		}
		return &contract.Observation{Leader: v, Follower: contract.ClusterHealth{Status: health}}
	}
	state := func(progress string, obs *contract.Observation, indexes map[string]FollowedIndex, pausedBy map[string]string) IntegrationState {
		if indexes == nil {
			indexes = map[string]FollowedIndex{}
		}
		if pausedBy == nil {
			pausedBy = map[string]string{}
		}
		return IntegrationState{Progress: IntegrationProgress{State: progress}, Observed: obs, Indexes: indexes, PausedBy: pausedBy, Failures: map[string]Problem{}, TemplatesSynced: "t1"}
	}
	all := func(string) bool { return true }
	synced := FollowedIndex{UUID: "u1", Syncing: true}

	tests := []struct {
		name     string
		st       IntegrationState
		due      func(string) bool
		starting int
		want     []string
		// check looks at the next state.
		check func(t *testing.T, next IntegrationState)
	}{
		{
			name: "nothing observed yet: nothing to do",
			st:   state(StateRebuilding, nil, nil, nil),
		},
		{
			name: "rebuild starts at most rebuildConcurrency indexes, in the leader's order",
			st:   state(StateRebuilding, observe("green", "a", "u1", "b", "u2", "c", "u3", "d", "u4", "e", "u5"), nil, nil),
			want: []string{"start a", "start b", "start c", "start d"},
		},
		{
			name:     "indexes already starting count against the bound",
			st:       state(StateRebuilding, observe("green", "a", "u1", "b", "u2", "c", "u3"), nil, nil),
			starting: 3,
			want:     []string{"start a"},
		},
		{
			name: "a step under way or held back until the next observation is not started again",
			st:   state(StateRebuilding, observe("green", "a", "u1", "b", "u2"), nil, nil),
			due:  func(key string) bool { return key != indexKey("a") },
			want: []string{"start b"},
		},
		{
			name: "a deleted leader index is removed from the follower",
			st:   state(StateRunning, observe("green", "b", "u2"), map[string]FollowedIndex{"a": synced, "b": {UUID: "u2", Syncing: true}}, nil),
			want: []string{"remove a"},
		},
		{
			name: "a recreated leader index (another UUID) is removed, to be followed afresh",
			st:   state(StateRunning, observe("green", "a", "u9"), map[string]FollowedIndex{"a": synced}, nil),
			want: []string{"remove a"},
		},
		{
			name: "changed templates are synced first",
			st: func() IntegrationState {
				s := state(StateRunning, observe("green", "a", "u1"), map[string]FollowedIndex{"a": synced}, nil)
				s.TemplatesSynced = "t0"
				return s
			}(),
			want: []string{"sync-templates"},
		},
		{
			name: "a held pause pauses every SYNCING index and starts no new one",
			st:   state(StateRunning, observe("green", "a", "u1", "b", "u2"), map[string]FollowedIndex{"a": synced}, map[string]string{PauseSourceOperator: "maintenance"}),
			want: []string{"pause a"},
			check: func(t *testing.T, next IntegrationState) {
				if !next.Indexes["a"].Held {
					t.Errorf("index a is not held: %+v", next.Indexes["a"])
				}
			},
		},
		{
			name: "a red follower holds the health pause",
			st:   state(StateRunning, observe("red", "a", "u1"), map[string]FollowedIndex{"a": synced}, nil),
			want: []string{"pause a"},
			check: func(t *testing.T, next IntegrationState) {
				if next.PausedBy[PauseSourceHealth] != "follower cluster f is red" {
					t.Errorf("health pause = %q", next.PausedBy[PauseSourceHealth])
				}
			},
		},
		{
			name: "an unreachable follower is told nothing, but its indexes are held",
			st:   state(StateRunning, observe("unreachable", "a", "u1", "b", "u2"), map[string]FollowedIndex{"a": synced}, nil),
			check: func(t *testing.T, next IntegrationState) {
				if !next.Indexes["a"].Held || next.PausedBy[PauseSourceHealth] == "" {
					t.Errorf("not held under the health pause: %+v %v", next.Indexes["a"], next.PausedBy)
				}
			},
		},
		{
			name: "the health pause is lifted once the follower is healthy, and held indexes resume",
			st:   state(StatePaused, observe("green", "a", "u1"), map[string]FollowedIndex{"a": {UUID: "u1", Syncing: true, Held: true, Paused: true}}, map[string]string{PauseSourceHealth: "red"}),
			want: []string{"resume a"},
			check: func(t *testing.T, next IntegrationState) {
				if _, held := next.PausedBy[PauseSourceHealth]; held {
					t.Errorf("health pause still held: %v", next.PausedBy)
				}
			},
		},
		{
			name: "the health pause is not taken while rebuilding: the plugin cannot pause a bootstrapping index",
			st:   state(StateRebuilding, observe("red", "a", "u1"), nil, nil),
			want: []string{"start a"},
		},
		{
			name: "a held index that never synced nor paused is just no longer held",
			st:   state(StateRunning, observe("green", "a", "u1"), map[string]FollowedIndex{"a": {UUID: "u1", Held: true}}, nil),
			check: func(t *testing.T, next IntegrationState) {
				if next.Indexes["a"].Held {
					t.Errorf("index a still held")
				}
			},
		},
		{
			name: "a FAILED integration starts nothing new but still removes",
			st:   state(StateFailed, observe("green", "b", "u2"), map[string]FollowedIndex{"a": synced}, nil),
			want: []string{"remove a"},
		},
		{
			name: "failures of indexes gone from both sides are dropped, others kept",
			st: func() IntegrationState {
				s := state(StateRunning, observe("green", "a", "u1", "b", "u2"), map[string]FollowedIndex{"a": synced}, nil)
				s.Failures = map[string]Problem{indexKey("gone"): {Index: "gone", Status: ProblemStartFailed}, indexKey("b"): {Index: "b", Status: ProblemStartFailed}, templatesKey: {Status: ProblemTemplateSyncFailed}}
				return s
			}(),
			due:  func(key string) bool { return key != indexKey("b") },
			want: nil,
			check: func(t *testing.T, next IntegrationState) {
				if got := len(next.Failures); got != 2 || next.Failures[indexKey("gone")].Status != "" {
					t.Errorf("failures = %v", next.Failures)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			due := tt.due
			if due == nil {
				due = all
			}
			before := fmt.Sprint(tt.st.Indexes, tt.st.PausedBy, tt.st.Failures)
			indexes, pausedBy := maps.Clone(tt.st.Indexes), maps.Clone(tt.st.PausedBy)
			next, steps := decide(tt.st, "f", due, tt.starting)
			var got []string
			for _, s := range steps {
				got = append(got, s.String())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("steps = %q, want %q", got, tt.want)
			}
			if tt.check != nil {
				tt.check(t, next)
			}
			if after := fmt.Sprint(tt.st.Indexes, tt.st.PausedBy, tt.st.Failures); after != before || !maps.Equal(indexes, tt.st.Indexes) || !maps.Equal(pausedBy, tt.st.PausedBy) {
				t.Errorf("decide changed the state it was given: %s -> %s", before, after)
			}
		})
	}
}
