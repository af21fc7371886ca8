package workflows

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/contract"
)

// Simulated durations of the mocked activities.
const (
	watchEvery = 30 * time.Second // a watch returns this long after it started
	syncAfter  = 5 * time.Second  // an index reaches SYNCING this long after it started
)

// syncHarness drives IntegrationWorkflow against mocked activities: a leader whose indexes and
// templates, and a follower whose health and plugin states, the test changes over simulated
// time; and a record of every step the workflow takes and every progress it reports.
type syncHarness struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment
	in  IntegrationInput

	mu        sync.Mutex
	leader    map[string]string // leader index -> UUID
	templates string            // the leader's templates fingerprint
	// staleSync, when set, is what the next template sync returns instead (it read the leader
	// before the last change).
	staleSync string
	// conflicts are what a template sync of each fingerprint reports it left alone.
	conflicts map[string][]contract.ConfigConflict
	// syncs are the template syncs' inputs.
	syncs     []contract.SyncTemplatesInput
	health    string // the follower's
	halted    map[string]contract.IndexStatus
	failStart map[string]error
	failStop  map[string]error
	// leaderDown makes the leader probe of a stop answer that the leader does not answer.
	leaderDown bool
	status     map[string]contract.IndexStatus // what ReplicationStatus answers, when set
	statusErr  map[string]error
	// delay is how long (simulated) a call takes, by what it records ("templates", "start",
	// "status", "pause"): say, a leader that does not answer.
	delay   map[string]time.Duration
	calls   []call
	reports []IntegrationProgress
	// reportedAt is when (simulated) each report was sent.
	reportedAt []time.Duration
	watches    []contract.WatchInput
	// connects are ConnectRemote's inputs; connectErr is what it returns.
	connects   []contract.ConnectInput
	connectErr error
}

// call is one activity the workflow ran, when (simulated time) it started.
type call struct {
	at   time.Duration
	what string
}

func newSyncHarness(t *testing.T, env *testsuite.TestWorkflowEnvironment, leader map[string]string, waitSyncing time.Duration) *syncHarness {
	h := &syncHarness{
		t: t, env: env, leader: leader, templates: "t1", health: "green", halted: map[string]contract.IndexStatus{}, failStart: map[string]error{},
		failStop: map[string]error{}, status: map[string]contract.IndexStatus{}, statusErr: map[string]error{}, delay: map[string]time.Duration{},
		in: IntegrationInput{
			Leader:      contract.ClusterRef{Name: "l", URL: "http://127.0.0.1:9200", TransportAddress: "127.0.0.1:9300"},
			Follower:    contract.ClusterRef{Name: "f", URL: "http://127.0.0.1:9201"},
			LeaderAlias: "l",
			ParentID:    ServiceWorkflowID("f"),
		},
	}
	begin := env.Now()
	record := func(what string) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.calls = append(h.calls, call{env.Now().Sub(begin), what})
	}
	index := func(verb string, err error) func(context.Context, contract.IndexInput) error {
		return func(_ context.Context, ix contract.IndexInput) error {
			record(verb + " " + ix.FollowerIndex)
			return err
		}
	}
	delay := func(what string) func() time.Duration {
		return func() time.Duration {
			h.mu.Lock()
			defer h.mu.Unlock()
			return h.delay[what]
		}
	}
	var a *activities.Activities
	env.OnSignalExternalWorkflow(mock.Anything, h.in.ParentID, "", SignalIntegrationProgress, mock.Anything).Return(
		func(_, _, _, _ string, arg any) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.reports = append(h.reports, arg.(IntegrationProgress))
			h.reportedAt = append(h.reportedAt, env.Now().Sub(begin))
			return nil
		})
	env.OnActivity(a.ConnectRemote, mock.Anything, mock.Anything).Return(func(_ context.Context, in contract.ConnectInput) error {
		record("connect")
		h.mu.Lock()
		defer h.mu.Unlock()
		h.connects = append(h.connects, in)
		return h.connectErr
	})
	env.OnActivity(a.SyncTemplates, mock.Anything, mock.Anything).AfterFn(delay("templates")).Return(func(_ context.Context, in contract.SyncTemplatesInput) (contract.TemplateSync, error) {
		record("templates")
		h.mu.Lock()
		defer h.mu.Unlock()
		h.syncs = append(h.syncs, in)
		fp := h.templates
		if h.staleSync != "" {
			fp, h.staleSync = h.staleSync, ""
		}
		return contract.TemplateSync{Fingerprint: fp, Managed: []string{"index/tpl-" + fp}, Digests: map[string]string{"index/tpl-" + fp: "d-" + fp}, Conflicts: h.conflicts[fp]}, nil
	})
	env.OnActivity(a.ListLeaderIndexes, mock.Anything, mock.Anything).Return(func(context.Context, contract.ClusterRef) (contract.IndexPlan, error) {
		record("list")
		h.mu.Lock()
		defer h.mu.Unlock()
		names := slices.Sorted(maps.Keys(h.leader))
		return contract.IndexPlan{Replicate: names, UUIDs: maps.Clone(h.leader), Excluded: []contract.Exclusion{{Index: ".kibana", Reason: "system"}}, Bytes: 1234}, nil
	})
	env.OnActivity(a.WatchLeader, mock.Anything, mock.Anything).After(watchEvery).Return(func(_ context.Context, in contract.WatchInput) (contract.Observation, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.watches = append(h.watches, in)
		return h.observation(), nil
	})
	env.OnActivity(a.StartReplication, mock.Anything, mock.Anything).AfterFn(delay("start")).Return(func(_ context.Context, ix contract.IndexInput) error {
		record("start " + ix.FollowerIndex)
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.failStart[ix.FollowerIndex]
	})
	env.OnActivity(a.WaitSyncing, mock.Anything, mock.Anything).After(waitSyncing).Return(func(_ context.Context, ix contract.IndexInput) (contract.IndexStatus, error) {
		record("wait " + ix.FollowerIndex)
		return contract.IndexStatus{Index: ix.FollowerIndex, Status: "SYNCING"}, nil
	})
	env.OnActivity(a.RemoveFollowerIndex, mock.Anything, mock.Anything).Return(index("remove", nil))
	env.OnActivity(a.PauseReplication, mock.Anything, mock.Anything).AfterFn(delay("pause")).Return(index("pause", nil))
	env.OnActivity(a.ResumeReplication, mock.Anything, mock.Anything).Return(index("resume", nil))
	env.OnActivity(a.StopReplication, mock.Anything, mock.Anything).Return(func(_ context.Context, ix contract.IndexInput) error {
		record("stop " + ix.FollowerIndex)
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.failStop[ix.FollowerIndex]
	})
	env.OnActivity(a.DisconnectRemote, mock.Anything, mock.Anything).Return(func(context.Context, contract.ConnectInput) error { record("disconnect"); return nil })
	env.OnActivity(a.LeaderReachable, mock.Anything, mock.Anything).Return(func(context.Context, contract.ClusterRef) (bool, error) {
		record("probe leader")
		h.mu.Lock()
		defer h.mu.Unlock()
		return !h.leaderDown, nil
	})
	env.OnActivity(a.ReplicationStatus, mock.Anything, mock.Anything).AfterFn(delay("status")).Return(func(_ context.Context, ix contract.IndexInput) (contract.IndexStatus, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		if st, ok := h.status[ix.FollowerIndex]; ok {
			return st, h.statusErr[ix.FollowerIndex]
		}
		return contract.IndexStatus{Index: ix.FollowerIndex, Status: "SYNCING", LeaderCheckpoint: 7, FollowerCheckpoint: 5}, h.statusErr[ix.FollowerIndex]
	})
	return h
}

// observation is what the mocked watch sees now (h.mu held).
func (h *syncHarness) observation() contract.Observation {
	v := &contract.LeaderView{Indexes: maps.Clone(h.leader), Replicate: slices.Sorted(maps.Keys(h.leader)), Excluded: []contract.Exclusion{{Index: ".kibana", Reason: "system"}}, Templates: h.templates}
	return contract.Observation{Leader: v, Follower: contract.ClusterHealth{Status: h.health}, Halted: maps.Clone(h.halted)}
}

// at changes the world at a simulated time.
func (h *syncHarness) at(d time.Duration, change func()) {
	h.env.RegisterDelayedCallback(func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		change()
	}, d)
}

// between returns the calls that started in [from, to), sorted (steps of different indexes run
// side by side, in no fixed order).
func (h *syncHarness) between(from, to time.Duration) []string {
	out := h.inOrder(from, to)
	slices.Sort(out)
	return out
}

// inOrder is what was called from from to to, in the order of the calls.
func (h *syncHarness) inOrder(from, to time.Duration) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, c := range h.calls {
		if c.at >= from && c.at < to {
			out = append(out, c.what)
		}
	}
	return out
}

// states is the sequence of distinct states reported.
func (h *syncHarness) states() []string {
	var out []string
	for _, r := range h.reports {
		if len(out) == 0 || out[len(out)-1] != r.State {
			out = append(out, r.State)
		}
	}
	return out
}

// snapshot records the last report at simulated time d into *into.
func (h *syncHarness) snapshot(d time.Duration, into *IntegrationProgress) {
	h.env.RegisterDelayedCallback(func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		*into = h.reports[len(h.reports)-1]
	}, d)
}

func (h *syncHarness) signal(d time.Duration, name string, arg any) {
	h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(name, arg) }, d)
}

func TestIntegrationWorkflow(t *testing.T) {
	indexes := []string{"a", "b", "c", "d", "e", "f"}
	pluginMissing := temporal.NewNonRetryableApplicationError("start replication of a: the cross-cluster-replication plugin is not installed", contract.ErrTypePluginMissing, nil)
	tests := []struct {
		name        string
		failIndex   string
		wantStates  []string // distinct states reported, in order
		wantStopped []string // indexes whose replication is stopped at the end
		wantReason  string
	}{
		{name: "all indexes sync", wantStates: []string{StateConnecting, StateRebuilding, StateRunning, StateStopped}, wantStopped: indexes},
		// "a" fails at once while the three others launched with it are still bootstrapping
		// (simulated time): no further index may start, and exactly those three are stopped.
		{name: "one index cannot start", failIndex: "a", wantStates: []string{StateConnecting, StateRebuilding, StateFailed, StateStopped},
			wantStopped: []string{"b", "c", "d"}, wantReason: "start replication of a: the cross-cluster-replication plugin is not installed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			leader := map[string]string{}
			for _, ix := range indexes {
				leader[ix] = "uuid-" + ix
			}
			h := newSyncHarness(t, env, leader, 10*time.Minute)
			if tt.failIndex != "" {
				h.failStart[tt.failIndex] = pluginMissing
			}
			h.signal(time.Hour, SignalStopIntegration, nil)
			env.ExecuteWorkflow(IntegrationWorkflow, h.in)
			if err := env.GetWorkflowError(); err != nil {
				t.Fatalf("workflow error: %v", err)
			}

			if got := h.states(); !slices.Equal(got, tt.wantStates) {
				t.Errorf("reported states %v, want %v", got, tt.wantStates)
			}
			last := h.reports[len(h.reports)-2] // the state before STOPPED
			if last.Total != len(indexes) || last.Bytes != 1234 || len(last.Excluded) != 1 {
				t.Errorf("progress %+v: want total %d, 1234 bytes, 1 exclusion", last, len(indexes))
			}
			if tt.failIndex == "" && last.Syncing != len(indexes) {
				t.Errorf("syncing %d, want %d", last.Syncing, len(indexes))
			}
			if !slices.Equal(last.Templates, []string{"index/tpl-t1"}) {
				t.Errorf("templates %v, want the synced set", last.Templates)
			}
			if last.Reason != tt.wantReason {
				t.Errorf("reason %q, want %q", last.Reason, tt.wantReason)
			}
			var started, stopped []string
			for _, c := range h.between(0, 2*time.Hour) {
				if ix, ok := strings.CutPrefix(c, "start "); ok && ix != tt.failIndex {
					started = append(started, ix)
				}
				if ix, ok := strings.CutPrefix(c, "stop "); ok {
					stopped = append(stopped, ix)
				}
			}
			if !slices.Equal(stopped, tt.wantStopped) || !slices.Equal(started, tt.wantStopped) {
				t.Errorf("started %v and stopped %v, want exactly %v", started, stopped, tt.wantStopped)
			}
			final := h.reports[len(h.reports)-1]
			if final.Stopped != len(tt.wantStopped) || final.LagOps != int64(2*len(tt.wantStopped)) {
				t.Errorf("STOPPED report %+v: want %d stopped, lag %d ops", final, len(tt.wantStopped), 2*len(tt.wantStopped))
			}
			if l := final.Loss; l == nil || l.Operations != final.LagOps || len(l.Indexes) != len(tt.wantStopped) || l.AtLeast {
				t.Errorf("STOPPED loss %+v: want the lag of each of %v, the leader answering", l, tt.wantStopped)
			}
			if !slices.Contains(h.between(time.Hour, 2*time.Hour), "disconnect") {
				t.Error("the remote connection was not removed")
			}
			if len(h.watches) == 0 || (tt.failIndex != "" && h.watches[len(h.watches)-1].Known.Leader == nil) {
				t.Errorf("watches %d: want the leader watched from the rebuild on", len(h.watches))
			}
		})
	}
}

// TestIntegrationKeepsInSync: while RUNNING, each change the watch reports is acted on: a new
// leader index is started, a deleted one removed, a recreated one removed then started
// afresh, changed templates synced, and an index the plugin failed by itself reported.
func TestIntegrationKeepsInSync(t *testing.T) {
	env := newEnv(t)
	h := newSyncHarness(t, env, map[string]string{"a": "ua", "b": "ub"}, syncAfter)
	h.at(70*time.Second, func() { h.leader["c"] = "uc" })
	h.at(130*time.Second, func() { delete(h.leader, "b") })
	h.at(190*time.Second, func() { h.leader["a"] = "ua2" })
	h.at(250*time.Second, func() { h.templates = "t2" })
	h.at(310*time.Second, func() { h.halted["c"] = contract.IndexStatus{Index: "c", Status: "FAILED", Reason: "boom"} })
	h.at(370*time.Second, func() { delete(h.halted, "c") })
	var afterNew, withProblem, healed IntegrationProgress
	h.snapshot(110*time.Second, &afterNew)
	h.snapshot(350*time.Second, &withProblem)
	h.snapshot(410*time.Second, &healed)
	var status IntegrationStatus
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateIntegrationStatus, "s", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { t.Errorf("status refused: %v", err) },
			OnComplete: func(v any, err error) { status, _ = v.(IntegrationStatus) },
		})
	}, 115*time.Second)
	h.signal(7*time.Minute, SignalStopIntegration, nil)
	env.ExecuteWorkflow(IntegrationWorkflow, h.in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow error: %v", err)
	}

	steps := []struct {
		name     string
		from, to time.Duration
		want     []string
	}{
		{"rebuild", 0, 30 * time.Second, []string{"connect", "list", "start a", "start b", "templates", "wait a", "wait b"}},
		{"nothing changed", 30 * time.Second, 90 * time.Second, nil},
		{"new index", 90 * time.Second, 150 * time.Second, []string{"start c", "wait c"}},
		{"deleted index", 150 * time.Second, 210 * time.Second, []string{"remove b"}},
		{"recreated index", 210 * time.Second, 270 * time.Second, []string{"remove a", "start a", "wait a"}},
		{"templates changed", 270 * time.Second, 330 * time.Second, []string{"templates"}},
		{"plugin failed an index", 330 * time.Second, 7 * time.Minute, nil},
		{"stop", 7 * time.Minute, time.Hour, []string{"disconnect", "probe leader", "stop a", "stop c"}},
	}
	for _, s := range steps {
		if got := h.between(s.from, s.to); !slices.Equal(got, s.want) {
			t.Errorf("%s: calls %v, want %v", s.name, got, s.want)
		}
	}
	if afterNew.State != StateRunning || afterNew.Total != 3 || afterNew.Syncing != 3 {
		t.Errorf("after the new index: %+v, want RUNNING with 3 of 3 indexes syncing", afterNew)
	}
	if status.Total != 3 || len(status.Indexes) != 3 || status.Indexes[2].Index != "c" {
		t.Errorf("status %+v, want the 3 indexes a, b, c", status)
	}
	want := []Problem{{Index: "c", Status: "FAILED", Reason: "boom"}}
	if withProblem.State != StateRunning || !slices.Equal(withProblem.Problems, want) || withProblem.Reason != "index c FAILED: boom" {
		t.Errorf("with the plugin's failure: %+v, want RUNNING with problem %v", withProblem, want)
	}
	if healed.Reason != "" || len(healed.Problems) != 0 {
		t.Errorf("after the failure cleared: %+v, want no problem", healed)
	}
	if !slices.Equal(healed.Templates, []string{"index/tpl-t2"}) {
		t.Errorf("templates %v, want the new sync's", healed.Templates)
	}
	if got := h.states(); !slices.Equal(got, []string{StateConnecting, StateRebuilding, StateRunning, StateStopped}) {
		t.Errorf("states %v", got)
	}
	for _, w := range h.watches[1:] {
		if w.Known == nil || w.Known.Leader == nil || w.Known.Leader.Templates == "" {
			t.Fatalf("a watch was given %+v to compare with, want the last observation", w.Known)
		}
	}
}

// TestIntegrationPauses: pauses are keyed by source and overlap; replication resumes (and is
// waited for) when the last is lifted. The integration pauses itself while the follower is red
// (pausing every index) or unreachable (pausing nothing: it cannot be told), and resumes when
// it is healthy again.
func TestIntegrationPauses(t *testing.T) {
	env := newEnv(t)
	h := newSyncHarness(t, env, map[string]string{"x": "ux", "y": "uy"}, syncAfter)
	recycle := PauseRequest{Source: RecyclePauseSource("f"), Reason: "node recycle"}
	operator := PauseRequest{Source: PauseSourceOperator, Reason: "paused by an operator"}
	h.signal(time.Minute, SignalResumeIntegration, recycle) // not paused: ignored
	h.signal(2*time.Minute, SignalPauseIntegration, recycle)
	h.signal(150*time.Second, SignalPauseIntegration, operator)
	h.signal(3*time.Minute, SignalResumeIntegration, recycle)
	h.signal(210*time.Second, SignalResumeIntegration, operator)
	h.at(5*time.Minute, func() { h.health = "red" })
	h.at(370*time.Second, func() { h.health = "yellow" })
	h.at(490*time.Second, func() { h.health = "unreachable" })
	h.at(550*time.Second, func() { h.health = "green" })
	h.signal(11*time.Minute, SignalStopIntegration, nil)
	var twice, once, red, unreachable IntegrationProgress
	h.snapshot(170*time.Second, &twice)
	h.snapshot(190*time.Second, &once)
	h.snapshot(350*time.Second, &red)
	h.snapshot(530*time.Second, &unreachable)
	var status IntegrationStatus
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateIntegrationStatus, "s", &testsuite.TestUpdateCallback{
			OnComplete: func(v any, err error) { status, _ = v.(IntegrationStatus) },
		})
	}, 160*time.Second)
	env.ExecuteWorkflow(IntegrationWorkflow, h.in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}

	if twice.State != StatePaused || twice.Reason != "paused by an operator; node recycle" {
		t.Errorf("paused twice: %+v, want PAUSED with both reasons", twice)
	}
	if once.State != StatePaused || once.Reason != "paused by an operator" {
		t.Errorf("after the recycle ended: %+v, want still PAUSED by the operator", once)
	}
	if len(status.PausedBy) != 2 || len(status.Indexes) != 2 {
		t.Errorf("status %+v, want PAUSED by two sources, with indexes x and y", status)
	}
	if red.State != StatePaused || red.Reason != "follower cluster f is red" {
		t.Errorf("follower red: %+v, want PAUSED saying so", red)
	}
	if unreachable.State != StatePaused || unreachable.Reason != "follower cluster f is unreachable" {
		t.Errorf("follower unreachable: %+v, want PAUSED saying so", unreachable)
	}
	steps := []struct {
		name     string
		from, to time.Duration
		want     []string
	}{
		{"resume while not paused", time.Minute, 2 * time.Minute, nil},
		{"recycle pause", 2 * time.Minute, 210 * time.Second, []string{"pause x", "pause y"}},
		{"last pause lifted", 210 * time.Second, 5 * time.Minute, []string{"resume x", "resume y", "wait x", "wait y"}},
		{"follower red", 5 * time.Minute, 370 * time.Second, []string{"pause x", "pause y"}},
		{"follower healthy", 370 * time.Second, 490 * time.Second, []string{"resume x", "resume y", "wait x", "wait y"}},
		{"follower unreachable: nothing to tell it", 490 * time.Second, 550 * time.Second, nil},
		{"follower back", 550 * time.Second, 11 * time.Minute, []string{"resume x", "resume y", "wait x", "wait y"}},
	}
	for _, s := range steps {
		if got := h.between(s.from, s.to); !slices.Equal(got, s.want) {
			t.Errorf("%s: calls %v, want %v", s.name, got, s.want)
		}
	}
	want := []string{StateConnecting, StateRebuilding, StateRunning, StatePaused, StateRunning, StatePaused, StateRunning, StatePaused, StateRunning, StateStopped}
	if got := h.states(); !slices.Equal(got, want) {
		t.Errorf("states %v, want %v", got, want)
	}
}

// TestIntegrationContinueAsNew: when Temporal suggests it, the integration continues as new
// between two watches, carrying its state; the next run picks up where it was (paused, with
// its indexes and templates) without connecting or rebuilding again.
func TestIntegrationContinueAsNew(t *testing.T) {
	env := newEnv(t)
	h := newSyncHarness(t, env, map[string]string{"a": "ua"}, syncAfter)
	h.signal(time.Minute, SignalPauseIntegration, PauseRequest{Source: PauseSourceOperator, Reason: "maintenance"})
	env.RegisterDelayedCallback(func() { env.SetContinueAsNewSuggested(true) }, 2*time.Minute)
	env.ExecuteWorkflow(IntegrationWorkflow, h.in)
	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("workflow ended with %v, want continue-as-new", err)
	}
	var next IntegrationInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	st := next.State
	if st == nil || next.ParentID != h.in.ParentID || st.Progress.State != StatePaused || st.PausedBy[PauseSourceOperator] != "maintenance" ||
		!st.Indexes["a"].Paused || !st.Indexes["a"].Syncing || st.Indexes["a"].UUID != "ua" || st.Observed == nil || st.TemplatesSynced != "t1" {
		t.Fatalf("carried state %+v, want PAUSED by the operator with index a (paused, syncing), the observation and the templates", st)
	}

	// The next run.
	env2 := newEnv(t)
	h2 := newSyncHarness(t, env2, map[string]string{"a": "ua", "n": "un"}, syncAfter)
	h2.signal(time.Minute, SignalResumeIntegration, PauseRequest{Source: PauseSourceOperator})
	h2.signal(3*time.Minute, SignalStopIntegration, nil)
	env2.ExecuteWorkflow(IntegrationWorkflow, next)
	if err := env2.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	want := []string{"resume a", "start n", "probe leader", "stop a", "stop n", "disconnect", "wait a", "wait n"}
	slices.Sort(want)
	if got := h2.between(0, time.Hour); !slices.Equal(got, want) {
		t.Errorf("next run: calls %v, want %v (no connect, no rebuild; the index added meanwhile started once resumed)", got, want)
	}
	if len(h2.reports) == 0 || reflect.DeepEqual(h2.reports[0], st.Progress) {
		t.Errorf("next run reported %+v first: want no repeat of what the previous run reported", h2.reports)
	}
	if got := fmt.Sprint(h2.states()); got != fmt.Sprint([]string{StatePaused, StateRunning, StateStopped}) {
		t.Errorf("next run states %s, want resuming (PAUSED), RUNNING, STOPPED", got)
	}
}

// TestIntegrationCancelled: a cancelled integration (what deleting a follower does when the
// integration does not stop in time) ends at once, whatever it was doing.
func TestIntegrationCancelled(t *testing.T) {
	env := newEnv(t)
	h := newSyncHarness(t, env, map[string]string{"a": "ua"}, time.Hour) // still bootstrapping
	env.RegisterDelayedCallback(env.CancelWorkflow, 2*time.Minute)
	env.ExecuteWorkflow(IntegrationWorkflow, h.in)
	if err := env.GetWorkflowError(); !temporal.IsCanceledError(err) {
		t.Fatalf("workflow ended with %v, want cancelled", err)
	}
	if calls := h.between(time.Minute, time.Hour); len(calls) != 0 {
		t.Errorf("calls after the cancel %v, want none", calls)
	}
}

// TestIntegrationTemplateChangeDuringSync: a template change the watch sees while a template
// sync runs is synced as soon as that sync ends, not held back until the next observation.
func TestIntegrationTemplateChangeDuringSync(t *testing.T) {
	env := newEnv(t)
	h := newSyncHarness(t, env, map[string]string{"a": "ua"}, syncAfter)
	const took = 45 * time.Second
	h.at(70*time.Second, func() { h.templates = "t2"; h.delay["templates"] = took })
	// The watch at 90 s sees t2 and a sync starts; the leader changes again while it runs (the
	// sync read t2), and the watch at 120 s sees t3.
	h.at(100*time.Second, func() { h.templates, h.staleSync = "t3", "t2" })
	var synced IntegrationProgress
	h.snapshot(4*time.Minute, &synced)
	h.signal(6*time.Minute, SignalStopIntegration, nil)
	env.ExecuteWorkflow(IntegrationWorkflow, h.in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow error: %v", err)
	}
	var syncs []time.Duration // when each sync ended (the mock records on return)
	h.mu.Lock()
	for _, c := range h.calls {
		if c.what == "templates" {
			syncs = append(syncs, c.at)
		}
	}
	h.mu.Unlock()
	// The rebuild's, t2's (90+45 s), and t3's started at once when t2's ended.
	if want := []time.Duration{0, 90*time.Second + took, 90*time.Second + 2*took}; !slices.Equal(syncs, want) {
		t.Errorf("template syncs ended at %v, want %v", syncs, want)
	}
	if !slices.Equal(synced.Templates, []string{"index/tpl-t3"}) {
		t.Errorf("templates %v at 4 min, want t3's", synced.Templates)
	}
}

// TestIntegrationConfigConflict: objects a configuration sync left alone (the follower has its
// own, different ones) are a CONFIG_CONFLICT problem while they last, naming each; the
// integration keeps RUNNING and the next sync that reports none clears it.
func TestIntegrationConfigConflict(t *testing.T) {
	env := newEnv(t)
	h := newSyncHarness(t, env, map[string]string{"a": "ua"}, syncAfter)
	h.conflicts = map[string][]contract.ConfigConflict{"t1": {{Object: "pipeline/stamp", Reason: "the follower has another pipeline of this name, which osccr did not write"}}}
	h.at(70*time.Second, func() { h.templates = "t2" })
	var conflicted, resolved IntegrationProgress
	h.snapshot(60*time.Second, &conflicted)
	h.snapshot(150*time.Second, &resolved)
	h.signal(4*time.Minute, SignalStopIntegration, nil)
	env.ExecuteWorkflow(IntegrationWorkflow, h.in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow error: %v", err)
	}
	if conflicted.State != StateRunning || len(conflicted.Problems) != 1 || conflicted.Problems[0].Status != ProblemConfigConflict ||
		!strings.Contains(conflicted.Problems[0].Reason, "pipeline/stamp (the follower has another pipeline") {
		t.Errorf("with a conflict: %+v, want RUNNING with one CONFIG_CONFLICT problem naming pipeline/stamp", conflicted)
	}
	if resolved.State != StateRunning || len(resolved.Problems) != 0 {
		t.Errorf("after a sync without conflicts: %+v, want RUNNING without problems", resolved)
	}
	// Each sync is given what the one before wrote, with its digests.
	if len(h.syncs) != 2 || len(h.syncs[0].Managed) != 0 || !slices.Equal(h.syncs[1].Managed, []string{"index/tpl-t1"}) ||
		h.syncs[1].Digests["index/tpl-t1"] != "d-t1" {
		t.Errorf("template syncs given %+v, want the first nothing and the second t1's object and digest", h.syncs)
	}
}
