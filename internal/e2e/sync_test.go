package e2e

// These tests check what a RUNNING follower does with the plugin replicating for real.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/internal/localnode"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/testcluster"
	"github.com/osccr/osccr/internal/testcontrol"
	"github.com/osccr/osccr/workflows"
)

var oneShard = map[string]any{"settings": map[string]any{"number_of_shards": 1, "number_of_replicas": 0}}

// leaderAndFollower creates a plain leader service (with what prepare puts on it) and a RUNNING
// follower of it, and returns clients for both.
func leaderAndFollower(t *testing.T, ctx context.Context, ctl *control.Control, leader, follower string, prepare func(*opensearch.Client)) (lc, fc *opensearch.Client) {
	t.Helper()
	return leaderAndFollowerWith(t, ctx, ctl, control.SecurityNone, leader, follower, prepare)
}

// leaderAndFollowerWith is leaderAndFollower with the leader's security mode ("" secured, the
// default); the follower runs security as its leader does.
func leaderAndFollowerWith(t *testing.T, ctx context.Context, ctl *control.Control, security, leader, follower string, prepare func(*opensearch.Client)) (lc, fc *opensearch.Client) {
	t.Helper()
	began := time.Now()
	if err := ctl.CreateService(ctx, control.CreateServiceRequest{Name: leader, Plan: "business-4", Security: security}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testcontrol.DeleteAndWait(t, ctl, leader) })
	ls, err := ctl.WaitService(ctx, leader, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("leader %s RUNNING %s after it was asked for", leader, time.Since(began).Round(time.Millisecond))
	lc = serviceClient(t, ls)
	prepare(lc)
	began = time.Now()
	if err := ctl.CreateFollower(ctx, control.CreateFollowerRequest{Leader: leader, Name: follower}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testcontrol.DeleteAndWait(t, ctl, follower) }) // runs before the leader's
	fs, err := ctl.WaitService(ctx, follower, nil)
	if err != nil {
		t.Fatalf("follower: %v", err)
	}
	t.Logf("follower %s RUNNING %s after it was asked for", follower, time.Since(began).Round(time.Millisecond))
	return lc, serviceClient(t, fs)
}

// sameIDs says whether an index holds the same documents on both clusters.
func sameIDs(ctx context.Context, lc, fc *opensearch.Client, index string) (bool, string) {
	l, err1 := lc.DocumentIDs(ctx, index)
	f, err2 := fc.DocumentIDs(ctx, index)
	return err1 == nil && err2 == nil && slices.Equal(l, f), fmt.Sprintf("leader %d ids, follower %d ids (%v %v)", len(l), len(f), err1, err2)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestFollowerKeepsInSync changes the leader in every way a whole-cluster follower must follow
// while it is RUNNING, and checks each change reaches the follower: a new index (with its
// documents), a deleted one, one deleted and recreated under the same name, index and
// component templates created, changed and deleted, a mapping, an alias and a setting; and an
// index the plugin pauses by itself (its leader index closed) is reported in the follower's
// state.
func TestFollowerKeepsInSync(t *testing.T) {
	testcluster.RequireCCR(t, testcluster.Distribution(t))
	base := testcluster.Dir(t)
	ctl, _ := controlPlane(t, base)
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	lc, fc := leaderAndFollower(t, ctx, ctl, "sync-l", "sync-f", func(lc *opensearch.Client) {
		must(t, lc.CreateIndex(ctx, "orders", oneShard))
		writeDocs(t, ctx, lc, "orders", 0, 100)
		must(t, lc.PutComponentTemplate(ctx, "shared", raw(`{"template":{"settings":{"number_of_replicas":0}}}`)))
		must(t, lc.PutIndexTemplate(ctx, "orders-template", raw(`{"index_patterns":["orders-*"],"composed_of":["shared"],"priority":3}`)))
	})
	state := func() workflows.ServiceState {
		st, err := ctl.GetService(ctx, "sync-f")
		if err != nil {
			t.Fatal(err)
		}
		return st
	}

	t.Run("new index", func(t *testing.T) {
		created := time.Now()
		must(t, lc.CreateIndex(ctx, "events", oneShard))
		eventually(t, time.Minute, "events SYNCING on the follower", func() (bool, string) {
			st, err := fc.ReplicationStatus(ctx, "events")
			return err == nil && st.Status == opensearch.StatusSyncing, fmt.Sprintf("%+v %v", st, err)
		})
		t.Logf("new leader index SYNCING on the follower %s after it was created", time.Since(created).Round(time.Millisecond))
		writeDocs(t, ctx, lc, "events", 0, 50)
		eventually(t, time.Minute, "events documents on the follower", func() (bool, string) { return sameIDs(ctx, lc, fc, "events") })
		eventually(t, 30*time.Second, "the follower counts the new index", func() (bool, string) {
			r := state().Replication
			return r != nil && r.Total == 2 && r.Syncing == 2, fmt.Sprintf("%+v", r)
		})
	})

	t.Run("deleted index", func(t *testing.T) {
		deleted := time.Now()
		must(t, lc.DeleteIndex(ctx, "orders"))
		eventually(t, time.Minute, "orders gone from the follower", func() (bool, string) {
			_, err := fc.GetIndex(ctx, "orders")
			return errors.Is(err, opensearch.ErrNotFound), fmt.Sprint(err)
		})
		t.Logf("deleted leader index gone from the follower %s after it was deleted", time.Since(deleted).Round(time.Millisecond))
	})

	t.Run("recreated index", func(t *testing.T) {
		old, err := fc.DocumentIDs(ctx, "events")
		must(t, err)
		must(t, lc.DeleteIndex(ctx, "events"))
		must(t, lc.CreateIndex(ctx, "events", oneShard))
		writeDocs(t, ctx, lc, "events", 1000, 1020)
		eventually(t, 2*time.Minute, "the recreated index's documents, and only those, on the follower", func() (bool, string) {
			return sameIDs(ctx, lc, fc, "events")
		})
		if now, _ := fc.DocumentIDs(ctx, "events"); slices.Contains(now, old[0]) {
			t.Errorf("the follower still holds %s of the deleted index", old[0])
		}
	})

	t.Run("templates", func(t *testing.T) {
		must(t, lc.PutIndexTemplate(ctx, "metrics", raw(`{"index_patterns":["metrics-*"],"composed_of":["shared"],"priority":4}`)))
		must(t, lc.PutIndexTemplate(ctx, "orders-template", raw(`{"index_patterns":["orders-*","sales-*"],"composed_of":["shared"],"priority":3}`)))
		eventually(t, 30*time.Second, "created and changed templates on the follower", func() (bool, string) {
			m, err1 := fc.GetIndexTemplate(ctx, "metrics")
			o, err2 := fc.GetIndexTemplate(ctx, "orders-template")
			return err1 == nil && err2 == nil && strings.Contains(string(o), "sales-*"), fmt.Sprintf("%s %v / %s %v", m, err1, o, err2)
		})
		must(t, lc.DeleteIndexTemplate(ctx, "metrics"))
		must(t, lc.DeleteIndexTemplate(ctx, "orders-template"))
		must(t, lc.DeleteComponentTemplate(ctx, "shared"))
		eventually(t, 30*time.Second, "deleted templates gone from the follower", func() (bool, string) {
			_, err1 := fc.GetIndexTemplate(ctx, "metrics")
			_, err2 := fc.GetComponentTemplate(ctx, "shared")
			return errors.Is(err1, opensearch.ErrNotFound) && errors.Is(err2, opensearch.ErrNotFound), fmt.Sprintf("%v / %v", err1, err2)
		})
	})

	t.Run("mapping, alias and setting", func(t *testing.T) {
		changed := time.Now()
		must(t, lc.PutMapping(ctx, "events", map[string]any{"properties": map[string]any{"sku": map[string]any{"type": "keyword"}}}))
		must(t, lc.IndexDocument(ctx, "events", "with-sku", map[string]any{"sku": "A-1"}, opensearch.WithRefresh()))
		must(t, lc.UpdateAliases(ctx, opensearch.AliasAction{Op: opensearch.AliasAdd, Index: "events", Alias: "events-read"}))
		must(t, lc.PutIndexSettings(ctx, "events", map[string]any{"index.max_result_window": 20000}))
		eventually(t, time.Minute, "mapping, alias and setting on the follower", func() (bool, string) {
			d, err := fc.GetIndex(ctx, "events")
			if err != nil {
				return false, err.Error()
			}
			_, alias := d.Aliases["events-read"]
			return strings.Contains(string(d.Mappings), `"sku"`) && alias && d.Setting("index.max_result_window") == "20000",
				fmt.Sprintf("mappings %s aliases %v settings %v", d.Mappings, d.Aliases, d.Settings["index.max_result_window"])
		})
		t.Logf("mapping, alias and setting on the follower %s after the change", time.Since(changed).Round(time.Millisecond))
	})

	t.Run("leader index closed", func(t *testing.T) {
		must(t, lc.CreateIndex(ctx, "archive", oneShard))
		writeDocs(t, ctx, lc, "archive", 0, 10)
		eventually(t, time.Minute, "archive replicated", func() (bool, string) { return sameIDs(ctx, lc, fc, "archive") })
		must(t, lc.CloseIndex(ctx, "archive"))
		// The plugin notices a closed leader index within a minute and pauses the follower index.
		eventually(t, 3*time.Minute, "the plugin's pause reported in the follower's state", func() (bool, string) {
			st := state()
			ok := st.State == workflows.StateRunning && st.Replication != nil && slices.ContainsFunc(st.Replication.Problems, func(p workflows.Problem) bool {
				return p.Index == "archive" && p.Status == "PAUSED"
			}) && strings.Contains(st.Reason, "index archive PAUSED")
			return ok, fmt.Sprintf("%s %q %+v", st.State, st.Reason, st.Replication)
		})
		must(t, lc.DeleteIndex(ctx, "archive"))
		eventually(t, time.Minute, "problem gone with the index", func() (bool, string) {
			st := state()
			_, err := fc.GetIndex(ctx, "archive")
			return st.Reason == "" && len(st.Replication.Problems) == 0 && errors.Is(err, opensearch.ErrNotFound), fmt.Sprintf("%q %+v %v", st.Reason, st.Replication.Problems, err)
		})
	})

	status, err := ctl.FollowerStatus(ctx, "sync-f")
	if err != nil || status.State != workflows.StateRunning || len(status.Indexes) != 1 || status.Indexes[0].Index != "events" || status.Indexes[0].Status != "SYNCING" {
		t.Errorf("follower status %+v (%v), want RUNNING with events SYNCING", status, err)
	}
}

// TestNodeKilledRepaired kills (SIGKILL, out of band) the follower's node, then the leader's,
// while a writer keeps writing to the leader (OSCCR_KILL_ROUNDS times, 1 by default: it logs
// the p50 and max of each time). Nobody restarts them by hand: osccr must see each
// service down (REPAIRING), start its node again on its machine, and bring it back to RUNNING,
// and the follower must end holding every document the leader acknowledged. That a service
// was never RUNNING while down is read from the state transitions its workflow recorded
// (its search attribute upserts), not by polling.
func TestNodeKilledRepaired(t *testing.T) {
	d := testcluster.Distribution(t)
	testcluster.RequireCCR(t, d)
	base := testcluster.Dir(t)
	rounds := 1
	if v := os.Getenv("OSCCR_KILL_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("OSCCR_KILL_ROUNDS=%q: want a number of rounds, 1 or more", v)
		}
		rounds = n
	}
	ctl, tc := controlPlane(t, base)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(8+4*rounds)*time.Minute)
	defer cancel()
	lc, fc := leaderAndFollower(t, ctx, ctl, "kill-l", "kill-f", func(lc *opensearch.Client) {
		must(t, lc.CreateIndex(ctx, "events", oneShard))
		writeDocs(t, ctx, lc, "events", 0, 100)
	})

	// The writer: one document at a time on the leader, each retried until acknowledged.
	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id := fmt.Sprintf("live-%06d", i)
			if err := lc.IndexDocument(ctx, "events", id, map[string]any{"n": i}); err != nil {
				i--
				time.Sleep(50 * time.Millisecond) // the leader may be the one restarting
				continue
			}
			mu.Lock()
			acked = append(acked, id)
			mu.Unlock()
		}
	}()
	written := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	eventually(t, 30*time.Second, "writes flowing", func() (bool, string) { return written() > 50, fmt.Sprint(written()) })

	// figures[service]: from each kill to REPAIRING, to the repair's completion, to RUNNING.
	figures := map[string]*[3][]time.Duration{"kill-f": {}, "kill-l": {}}
	for round := 1; round <= rounds; round++ {
		for _, service := range []string{"kill-f", "kill-l"} {
			killAndRepair(t, ctx, ctl, tc, base, service, written, figures[service])
		}
	}
	for _, service := range []string{"kill-f", "kill-l"} {
		f := figures[service]
		t.Logf("%s killed %d times: REPAIRING after p50 %s max %s; repair done after p50 %s max %s; RUNNING after p50 %s max %s",
			service, rounds, p50(f[0]), slices.Max(f[0]), p50(f[1]), slices.Max(f[1]), p50(f[2]), slices.Max(f[2]))
	}
	wctx, wcancel := context.WithTimeout(ctx, 3*time.Minute)
	if st, err := ctl.WaitServiceState(wctx, "kill-f", workflows.StateRunning, nil); err != nil {
		t.Fatalf("follower after both repairs: %s %q (%v), want RUNNING", st.State, st.Reason, err)
	}
	wcancel()
	close(stop)
	<-done
	must(t, lc.Refresh(ctx, "events"))
	eventually(t, 3*time.Minute, "the follower holds every acknowledged document", func() (bool, string) {
		if err := fc.Refresh(ctx, "events"); err != nil {
			return false, err.Error()
		}
		ids, err := fc.DocumentIDs(ctx, "events")
		if err != nil {
			return false, err.Error()
		}
		slices.Sort(ids)
		mu.Lock()
		defer mu.Unlock()
		for _, id := range acked {
			if _, ok := slices.BinarySearch(ids, id); !ok {
				return false, fmt.Sprintf("%s missing (%d on the follower, %d acknowledged)", id, len(ids), len(acked))
			}
		}
		return true, ""
	})
	if ok, why := sameIDs(ctx, lc, fc, "events"); !ok {
		t.Errorf("leader and follower differ: %s", why)
	}
	t.Logf("%d documents acknowledged by the leader, all on the follower", written())
}

// killAndRepair kills the node of a service (SIGKILL) and waits until osccr has repaired it and
// the service is RUNNING again, checking from the recorded history that it never was RUNNING
// while down; it adds the times from the kill to REPAIRING, to the repair's completion and to
// RUNNING to figures.
func killAndRepair(t *testing.T, ctx context.Context, ctl *control.Control, tc client.Client, base, service string, written func() int, figures *[3][]time.Duration) {
	t.Helper()
	node, err := localnode.Find(filepath.Join(base, "services", service, service+"-0"))
	must(t, err)
	if err := syscall.Kill(node.PID, syscall.SIGKILL); err != nil {
		t.Fatalf("kill the node of %s: %v", service, err)
	}
	killed := time.Now()
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	st, err := ctl.WaitServiceState(wctx, service, workflows.StateRepairing, nil)
	wcancel()
	if err != nil {
		t.Fatalf("%s after its node was killed: %s %q (%v), want REPAIRING", service, st.State, st.Reason, err)
	}
	wctx, wcancel = context.WithTimeout(ctx, 4*time.Minute) // the plugin backs off up to 60 s after leader errors
	st, err = ctl.WaitServiceState(wctx, service, workflows.StateRunning, nil)
	wcancel()
	if err != nil {
		t.Fatalf("%s after its node was killed: %s %q (%v), want RUNNING again, repaired by osccr", service, st.State, st.Reason, err)
	}
	after, err := localnode.Find(node.Dir)
	must(t, err)
	if after.PID == node.PID || !after.Running() {
		t.Fatalf("%s: node pid %d after the repair (killed: %d), want a new running process", service, after.PID, node.PID)
	}
	tr := transitions(t, ctx, tc, workflows.ServiceWorkflowID(service), killed)
	t.Logf("%s killed: detected (REPAIRING) after %s, repair done after %s, RUNNING after %s; recorded: %v",
		service, tr.down.Sub(killed).Round(time.Millisecond), tr.repaired.Sub(killed).Round(time.Millisecond), tr.running.Sub(killed).Round(time.Millisecond), tr.states)
	figures[0] = append(figures[0], tr.down.Sub(killed).Round(100*time.Millisecond))
	figures[1] = append(figures[1], tr.repaired.Sub(killed).Round(100*time.Millisecond))
	figures[2] = append(figures[2], tr.running.Sub(killed).Round(100*time.Millisecond))
	if st.Repair == nil || len(st.Repair.Restarted) != 1 {
		t.Errorf("%s: repair record %+v, want its node restarted", service, st.Repair)
	}
	atRepair := written()
	eventually(t, time.Minute, "writes after the repair of "+service, func() (bool, string) { return written() > atRepair+20, fmt.Sprint(written()) })
}

// p50 is the median of ds (the lower middle one of an even count).
func p50(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// recorded is what a service's workflow recorded after a kill: the states it upserted, when it
// left RUNNING, when its repair completed and when it was RUNNING again.
type recorded struct {
	states                  []string
	down, repaired, running time.Time
}

// transitions reads a service workflow's history from since: its state upserts and the
// completion of its repair, and fails the test when the service was RUNNING again before the
// repair completed, or never left RUNNING.
func transitions(t *testing.T, ctx context.Context, tc client.Client, id string, since time.Time) recorded {
	t.Helper()
	var r recorded
	scheduled := map[int64]string{}
	it := tc.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		must(t, err)
		at := ev.GetEventTime().AsTime()
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			scheduled[ev.GetEventId()] = ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			if at.After(since) && r.repaired.IsZero() && scheduled[ev.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()] == "RepairService" {
				r.repaired = at
			}
		case enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
			p, ok := ev.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes().GetIndexedFields()[workflows.SearchState.GetName()]
			if !ok || !at.After(since) {
				continue
			}
			var state string
			must(t, converter.GetDefaultDataConverter().FromPayload(p, &state))
			r.states = append(r.states, state)
			switch {
			case state == workflows.StateRepairing && r.down.IsZero():
				r.down = at
			case state == workflows.StateRunning && r.running.IsZero() && !r.down.IsZero():
				r.running = at
				if r.repaired.IsZero() {
					t.Errorf("%s: RUNNING recorded at %s, before its repair completed: %v", id, at, r.states)
				}
			}
		}
	}
	if r.down.IsZero() || r.running.IsZero() {
		t.Errorf("%s: recorded states after the kill %v, want REPAIRING then RUNNING", id, r.states)
	}
	return r
}

// TestWorkerRestartDuringRebuild stops the control plane (worker and its embedded Temporal, as
// a restarted osccr-worker --dev would) while the follower is REBUILDING several indexes, and
// starts it again on the same state: the follower must still end RUNNING with every document.
func TestWorkerRestartDuringRebuild(t *testing.T) {
	testcluster.RequireCCR(t, testcluster.Distribution(t))
	base := testcluster.Dir(t)
	plane := testcontrol.Start(t, base)
	ctl := plane.Control
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()

	// Services are deleted through the first control plane if the test ends before the restart,
	// through the second (registered below, so before it stops) if after.
	restarted := false
	cleanup := func(name string) {
		t.Cleanup(func() {
			if !restarted {
				testcontrol.DeleteAndWait(t, ctl, name)
			}
		})
	}
	if err := ctl.CreateService(ctx, control.CreateServiceRequest{Name: "rb-l", Plan: "business-4", Security: control.SecurityNone}); err != nil {
		t.Fatal(err)
	}
	cleanup("rb-l")
	ls, err := ctl.WaitService(ctx, "rb-l", nil)
	must(t, err)
	lc := serviceClient(t, ls)
	const indexes, docs = 10, 2000
	var names []string
	for i := range indexes {
		name := fmt.Sprintf("data-%02d", i)
		names = append(names, name)
		must(t, lc.CreateIndex(ctx, name, oneShard))
		writeDocs(t, ctx, lc, name, 0, docs)
	}

	began := time.Now()
	if err := ctl.CreateFollower(ctx, control.CreateFollowerRequest{Leader: "rb-l", Name: "rb-f"}); err != nil {
		t.Fatal(err)
	}
	cleanup("rb-f")
	st, err := ctl.WaitServiceState(ctx, "rb-f", workflows.StateRebuilding, nil)
	must(t, err)
	eventually(t, 2*time.Minute, "the rebuild under way", func() (bool, string) {
		st, err = ctl.GetService(ctx, "rb-f")
		r := st.Replication
		return err == nil && st.State == workflows.StateRebuilding && r != nil && r.Total == indexes && r.Syncing < indexes, fmt.Sprintf("%s %+v %v", st.State, r, err)
	})
	t.Logf("stopping the worker %s into the rebuild: %s", time.Since(began).Round(time.Millisecond), st.Reason)
	plane.Stop()
	restarted = true

	plane = testcontrol.Start(t, base)
	ctl = plane.Control
	t.Cleanup(func() { testcontrol.DeleteAndWait(t, ctl, "rb-l") })
	t.Cleanup(func() { testcontrol.DeleteAndWait(t, ctl, "rb-f") })
	began = time.Now()
	fs, err := ctl.WaitService(ctx, "rb-f", nil)
	if err != nil {
		t.Fatalf("after the worker restart: %s %q (%v), want RUNNING", fs.State, fs.Reason, err)
	}
	// Activities the stopped worker was running are retried once their timeouts notice: a wait
	// for SYNCING after its 30 s heartbeat timeout, a start after its 1 min start-to-close.
	t.Logf("RUNNING %s after the worker was started again", time.Since(began).Round(time.Millisecond))
	if r := fs.Replication; r == nil || r.Total != indexes || r.Syncing != indexes {
		t.Errorf("replication %+v, want %d of %d syncing", r, indexes, indexes)
	}
	fc := serviceClient(t, fs)
	for _, name := range names {
		if n, err := fc.Count(ctx, name); err != nil || n != docs {
			t.Errorf("follower %s: %d documents (%v), want %d", name, n, err, docs)
		}
	}
}
