package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/osccr/osccr/internal/contract"
	"github.com/stretchr/testify/mock"
)

// TestIntegrationStopBounded: the stop signal cancels the steps under way at once (a start and
// a template sync stuck on a leader that does not answer), the STOPPED report always comes,
// naming the indexes that could not be stopped and those still restoring (which the plugin's
// _stop deletes).
func TestIntegrationStopBounded(t *testing.T) {
	notFound := temporal.NewNonRetryableApplicationError("status of c: no such index", contract.ErrTypeNotFound, nil)
	tests := []struct {
		name        string
		waitSyncing time.Duration
		setUp       func(h *syncHarness)
		wantStopped []string // indexes told to stop
		wantCount   int
		wantDeleted []string
		wantProblem []Problem
		wantReason  string
	}{
		{name: "leader down: pending start and template sync cancelled", waitSyncing: syncAfter,
			setUp: func(h *syncHarness) {
				h.at(60*time.Second, func() {
					h.delay["start"], h.delay["templates"] = time.Hour, time.Hour // the leader stops answering
					h.leader["c"], h.templates = "uc", "t2"
					h.status["c"], h.statusErr["c"] = contract.IndexStatus{}, notFound
				})
			},
			wantStopped: []string{"a", "b"}, wantCount: 2, wantReason: "replication stopped and the remote connection removed"},
		{name: "promoted while rebuilding", waitSyncing: time.Hour,
			setUp: func(h *syncHarness) {
				h.status["a"] = contract.IndexStatus{Index: "a", Status: "BOOTSTRAPPING"}
				h.status["b"] = contract.IndexStatus{Index: "b", Status: "BOOTSTRAPPING"}
			},
			wantStopped: []string{"a", "b"}, wantCount: 2, wantDeleted: []string{"a", "b"},
			wantReason: "replication stopped and the remote connection removed; a, b were still restoring from the leader: the plugin's _stop deleted them"},
		{name: "an index cannot be stopped", waitSyncing: syncAfter,
			setUp: func(h *syncHarness) {
				h.failStop["b"] = temporal.NewNonRetryableApplicationError("stop replication of b on f: boom", contract.ErrTypeBadRequest, nil)
			},
			wantStopped: []string{"a", "b"}, wantCount: 1,
			wantProblem: []Problem{{Index: "b", Status: ProblemStopFailed, Reason: "stop replication of b on f: boom"}},
			wantReason:  "replication stopped, except: index b STOP_FAILED: stop replication of b on f: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			h := newSyncHarness(t, env, map[string]string{"a": "ua", "b": "ub"}, tt.waitSyncing)
			tt.setUp(h)
			h.signal(2*time.Minute, SignalStopIntegration, nil)
			env.ExecuteWorkflow(IntegrationWorkflow, h.in)
			err := env.GetWorkflowError()
			if (err != nil) != (len(tt.wantProblem) > 0) {
				t.Fatalf("workflow ended with %v, want an error only when something could not be stopped", err)
			}
			final := h.reports[len(h.reports)-1]
			if final.State != StateStopped {
				t.Fatalf("last report %+v, want STOPPED", final)
			}
			if at := h.reportedAt[len(h.reportedAt)-1]; at > 2*time.Minute+time.Second {
				t.Errorf("STOPPED reported at %s, want at once after the stop signal at 2m0s", at)
			}
			var stopped []string
			for _, c := range h.between(2*time.Minute, 3*time.Hour) {
				if ix, ok := strings.CutPrefix(c, "stop "); ok {
					stopped = append(stopped, ix)
				}
			}
			if !slices.Equal(stopped, tt.wantStopped) {
				t.Errorf("stopped %v, want %v", stopped, tt.wantStopped)
			}
			if final.Stopped != tt.wantCount || !slices.Equal(final.DeletedRestoring, tt.wantDeleted) ||
				!slices.Equal(final.Problems, tt.wantProblem) || final.Reason != tt.wantReason {
				t.Errorf("STOPPED report %+v, want %d stopped, deleted %v, problems %v, reason %q", final, tt.wantCount, tt.wantDeleted, tt.wantProblem, tt.wantReason)
			}
		})
	}
}

// TestIntegrationQueuesPauses: a pause that arrives while the integration is REBUILDING (the
// plugin refuses to pause a bootstrapping index) is queued and applied once it is RUNNING; a
// queued pause lifted before then never applies.
func TestIntegrationQueuesPauses(t *testing.T) {
	env := newEnv(t)
	h := newSyncHarness(t, env, map[string]string{"x": "ux", "y": "uy"}, 10*time.Minute)
	operator := PauseRequest{Source: PauseSourceOperator, Reason: "paused by an operator"}
	recycle := PauseRequest{Source: RecyclePauseSource("f"), Reason: "node recycle"}
	h.signal(time.Minute, SignalPauseIntegration, operator)
	h.signal(time.Minute, SignalPauseIntegration, recycle)
	h.signal(2*time.Minute, SignalResumeIntegration, recycle)
	var status IntegrationStatus
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateIntegrationStatus, "s", &testsuite.TestUpdateCallback{
			OnComplete: func(v any, err error) { status, _ = v.(IntegrationStatus) },
		})
	}, 3*time.Minute)
	var paused IntegrationProgress
	h.snapshot(12*time.Minute, &paused)
	h.signal(13*time.Minute, SignalResumeIntegration, operator)
	h.signal(20*time.Minute, SignalStopIntegration, nil)
	env.ExecuteWorkflow(IntegrationWorkflow, h.in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if status.State != StateRebuilding || status.QueuedPauses[PauseSourceOperator] != "paused by an operator" || len(status.QueuedPauses) != 1 {
		t.Errorf("status while rebuilding %+v, want REBUILDING with the operator's pause queued (and the lifted one gone)", status)
	}
	if paused.State != StatePaused || paused.Reason != "paused by an operator" {
		t.Errorf("once rebuilt: %+v, want PAUSED by the queued operator's pause", paused)
	}
	pauses := func(from, to time.Duration) []string {
		return slices.DeleteFunc(h.between(from, to), func(c string) bool { return !strings.HasPrefix(c, "pause ") })
	}
	if got := pauses(0, 10*time.Minute); len(got) != 0 {
		t.Errorf("while rebuilding: %v, want no pause (the plugin refuses to pause a bootstrapping index)", got)
	}
	if got, want := pauses(10*time.Minute, 12*time.Minute), []string{"pause x", "pause y"}; !slices.Equal(got, want) {
		t.Errorf("once rebuilt: calls %v, want %v", got, want)
	}
	if got := h.between(13*time.Minute, 14*time.Minute); !slices.Contains(got, "resume x") || !slices.Contains(got, "resume y") {
		t.Errorf("after the resume: calls %v, want x and y resumed", got)
	}
}

// TestIntegrationContinueAsNewDrainsSignals: continuing as new waits for the status update
// under way, and a pause that arrives during that wait is applied and carried into the next
// run, not dropped.
func TestIntegrationContinueAsNewDrainsSignals(t *testing.T) {
	env := newEnv(t)
	h := newSyncHarness(t, env, map[string]string{"a": "ua"}, syncAfter)
	h.at(110*time.Second, func() { h.delay["status"] = time.Minute })
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateIntegrationStatus, "s", &testsuite.TestUpdateCallback{})
	}, 115*time.Second)
	env.RegisterDelayedCallback(func() { env.SetContinueAsNewSuggested(true) }, 116*time.Second)
	h.signal(150*time.Second, SignalPauseIntegration, PauseRequest{Source: PauseSourceOperator, Reason: "maintenance"})
	env.ExecuteWorkflow(IntegrationWorkflow, h.in)
	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("workflow ended with %v, want continue-as-new", err)
	}
	var next IntegrationInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	if st := next.State; st == nil || st.PausedBy[PauseSourceOperator] != "maintenance" {
		t.Fatalf("carried state %+v, want the pause that arrived while the status update finished", next.State)
	}
}

// TestIntegrationStopWhileContinuingAsNew: while the run waits for a slow status update to
// finish before continuing as new, a stop is taken at once, not after the update, nor dropped.
func TestIntegrationStopWhileContinuingAsNew(t *testing.T) {
	env := newEnv(t)
	h := newSyncHarness(t, env, map[string]string{"a": "ua"}, syncAfter)
	h.at(110*time.Second, func() { h.delay["status"] = 10 * time.Minute }) // the update's calls
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateIntegrationStatus, "s", &testsuite.TestUpdateCallback{})
	}, 115*time.Second)
	env.RegisterDelayedCallback(func() { env.SetContinueAsNewSuggested(true) }, 116*time.Second)
	h.at(140*time.Second, func() { h.delay["status"] = 0 }) // the stop's own
	h.signal(150*time.Second, SignalStopIntegration, nil)
	env.ExecuteWorkflow(IntegrationWorkflow, h.in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow ended with %v, want it stopped", err)
	}
	final := h.reports[len(h.reports)-1]
	if at := h.reportedAt[len(h.reportedAt)-1]; final.State != StateStopped || at > 160*time.Second {
		t.Errorf("last report %s at %s, want STOPPED right after the stop signal at 2m30s", final.State, at)
	}
}

// TestIntegrationStopDisconnectsFirstWhenLeaderDown: a stop whose leader does not answer the
// probe removes the remote connection before it stops any index (the plugin's _stop would
// otherwise wait on the leader to remove its retention leases), and says so; with the leader
// answering, the connection goes last, after the leases were removed.
func TestIntegrationStopDisconnectsFirstWhenLeaderDown(t *testing.T) {
	for _, down := range []bool{true, false} {
		t.Run(fmt.Sprintf("leader down %v", down), func(t *testing.T) {
			env := newEnv(t)
			h := newSyncHarness(t, env, map[string]string{"a": "ua", "b": "ub"}, syncAfter)
			seen := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			h.at(90*time.Second, func() {
				h.leaderDown = down
				if down { // the plugin's status fails; the failure carries the checkpoints read
					for _, ix := range []string{"a", "b"} {
						known := contract.IndexStatus{Index: ix, Status: contract.StatusUnknown, LeaderCheckpoint: 30, FollowerCheckpoint: 20, LeaderUnreachable: true, LeaderSeenAt: seen}
						h.statusErr[ix] = temporal.NewApplicationErrorWithCause("status of "+ix+": 503", contract.ErrTypeStatusUnavailable, nil, known)
					}
				}
			})
			h.signal(2*time.Minute, SignalStopIntegration, nil)
			env.ExecuteWorkflow(IntegrationWorkflow, h.in)
			if err := env.GetWorkflowError(); err != nil {
				t.Fatalf("workflow ended with %v", err)
			}
			var order []string
			for _, c := range h.inOrder(2*time.Minute, 3*time.Hour) {
				if c == "probe leader" || c == "disconnect" || strings.HasPrefix(c, "stop ") {
					order = append(order, c)
				}
			}
			// The indexes stop at once: their calls may run in either order.
			var at []int
			var stops []string
			for i, c := range order {
				if strings.HasPrefix(c, "stop ") {
					at, stops = append(at, i), append(stops, c)
				}
			}
			slices.Sort(stops)
			for k, i := range at {
				order[i] = stops[k]
			}
			want := []string{"probe leader", "stop a", "stop b", "disconnect"}
			if down {
				want = []string{"probe leader", "disconnect", "stop a", "stop b"}
			}
			if !slices.Equal(order, want) {
				t.Errorf("calls of the stop %q, want %q", order, want)
			}
			final := h.reports[len(h.reports)-1]
			if final.State != StateStopped || final.Stopped != 2 || strings.Contains(final.Reason, "did not answer") != down {
				t.Errorf("last report %+v: want STOPPED, 2 stopped, saying the leader did not answer only when it did not", final)
			}
			if l := final.Loss; l == nil || l.AtLeast != down || len(l.Indexes) != 2 || (down && (l.Operations != 20 || !l.LeaderLastSeen.Equal(seen))) {
				t.Errorf("loss %+v: want both indexes, 'at least' (10 operations each, leader last seen %s) only with the leader down", l, seen)
			}
		})
	}
}

// TestIntegrationConfirmsPauses: a pause with ReplyTo is answered once replication has stopped
// (after the indexes are paused), at once when it is only queued (rebuilding), and never twice.
func TestIntegrationConfirmsPauses(t *testing.T) {
	const pauseTakes = 10 * time.Second
	env := newEnv(t)
	h := newSyncHarness(t, env, map[string]string{"x": "ux", "y": "uy"}, syncAfter)
	type answer struct {
		at time.Duration
		to string
		PauseApplied
	}
	var answers []answer
	begin := env.Now()
	env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", SignalPauseApplied, mock.Anything).Return(
		func(_, id, _, _ string, arg any) error {
			answers = append(answers, answer{env.Now().Sub(begin), id, arg.(PauseApplied)})
			return nil
		})
	// Queued while the indexes bootstrap, and lifted before it took effect: answered when
	// lifted, saying the state it left.
	h.signal(2*time.Second, SignalPauseIntegration, PauseRequest{Source: "recycle/early", ReplyTo: "service/early"})
	h.signal(3*time.Second, SignalResumeIntegration, PauseRequest{Source: "recycle/early"})
	// Queued while the indexes bootstrap (they replicate already): answered once the rebuild
	// is done and the queued pause has paused them.
	h.signal(4*time.Second, SignalPauseIntegration, PauseRequest{Source: "recycle/rebuilding", ReplyTo: "service/rebuilding"})
	h.signal(4*time.Minute, SignalResumeIntegration, PauseRequest{Source: "recycle/rebuilding"})
	// Held once RUNNING: answered when PAUSED, after the indexes were paused (each pause call
	// takes 10 s: the answer comes when they have returned, not when they are sent).
	h.at(4*time.Minute+30*time.Second, func() { h.delay["pause"] = pauseTakes })
	h.signal(5*time.Minute, SignalPauseIntegration, PauseRequest{Source: "recycle/f", Reason: "node recycle", ReplyTo: "service/f"})
	h.signal(10*time.Minute, SignalResumeIntegration, PauseRequest{Source: "recycle/f"})
	h.signal(20*time.Minute, SignalStopIntegration, nil)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: IntegrationWorkflowID("l", "f")})
	env.ExecuteWorkflow(IntegrationWorkflow, h.in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if len(answers) != 3 {
		t.Fatalf("answers %+v, want one per pause", answers)
	}
	if a := answers[0]; a.to != "service/early" || a.State != StateRebuilding || a.at > 3*time.Second {
		t.Errorf("pause lifted before it applied answered %+v, want when lifted, REBUILDING", a)
	}
	pausedAt := func(from time.Duration) time.Duration {
		for _, c := range h.calls {
			if c.what == "pause y" && c.at >= from {
				return c.at
			}
		}
		return -1
	}
	if a, at := answers[1], pausedAt(0); a.to != "service/rebuilding" || a.State != StatePaused || at < syncAfter || a.at < at || a.at > time.Minute {
		t.Errorf("pause queued while rebuilding answered %+v (index y paused at %s), want PAUSED, after the rebuild paused its indexes", a, at)
	}
	a := answers[2]
	pausedAt5 := pausedAt(5 * time.Minute)
	if a.to != "service/f" || a.State != StatePaused || a.Integration != IntegrationWorkflowID("l", "f") || pausedAt5 < 0 || a.at < pausedAt5 || a.at > 6*time.Minute {
		t.Errorf("held pause answered %+v (index y paused at %s), want PAUSED, after both indexes were paused", a, pausedAt5)
	}
}
