package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/internal/localnode"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/testcluster"
	"github.com/osccr/osccr/internal/testcontrol"
	"github.com/osccr/osccr/workflows"
)

// TestFollowerLifecycle creates a follower of a leader service on the real stack. Every
// refusal of the product brief is checked to change nothing. The accepted follower is
// provisioned, tagged (the leader lists it; the leader becomes a leader), connected to the
// leader for real, and its integration sorts the leader's indexes into replicated and
// excluded ones; through the real CCR plugin it reaches RUNNING with the leader's documents.
// Deleting the leader is refused
// while it has the follower; deleting the follower disconnects it and untags the leader.
func TestFollowerLifecycle(t *testing.T) {
	testcluster.RequireCCR(t, testcluster.Distribution(t))
	base := testcluster.Dir(t)
	ctl, _ := controlPlane(t, base)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	// The leader, with a user index, a hidden one and a dot-prefixed one.
	if err := ctl.CreateService(ctx, control.CreateServiceRequest{Name: "ldr", Plan: "business-4", Security: control.SecurityNone}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testcontrol.DeleteAndWait(t, ctl, "ldr") })
	leader, err := ctl.WaitService(ctx, "ldr", nil)
	if err != nil {
		t.Fatal(err)
	}
	lc, err := opensearch.New(opensearch.Config{URLs: []string{leader.Endpoints.HTTPURL}})
	if err != nil {
		t.Fatal(err)
	}
	oneShard := map[string]any{"number_of_shards": 1, "number_of_replicas": 0}
	for name, settings := range map[string]map[string]any{
		"orders":      oneShard,
		"audit":       {"number_of_shards": 1, "number_of_replicas": 0, "hidden": true},
		".osccr-test": oneShard,
	} {
		if err := lc.CreateIndex(ctx, name, map[string]any{"settings": settings}); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	writeDocs(t, ctx, lc, "orders", 0, 300)
	if err := lc.PutIndexTemplate(ctx, "orders-template", json.RawMessage(`{"index_patterns":["orders-*"],"priority":3}`)); err != nil {
		t.Fatal(err)
	}

	// Services the refusals need: a hobbyist cluster and one that never answers (both static,
	// so they start no node).
	if err := ctl.RegisterService(ctx, control.RegisterServiceRequest{Name: "hob", URL: leader.Endpoints.HTTPURL, TransportAddress: leader.Endpoints.TransportAddress, Plan: "hobbyist"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testcontrol.DeleteAndWait(t, ctl, "hob") })
	if _, err := ctl.WaitService(ctx, "hob", nil); err != nil {
		t.Fatal(err)
	}
	closed, err := localnode.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	if err := ctl.RegisterService(ctx, control.RegisterServiceRequest{Name: "down", URL: fmt.Sprintf("http://127.0.0.1:%d", closed), TransportAddress: "127.0.0.1:1", Plan: "business-4"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testcontrol.DeleteAndWait(t, ctl, "down") })

	refusals := []struct {
		name string
		req  control.CreateFollowerRequest
		want error
		msg  string
	}{
		{"invalid name", control.CreateFollowerRequest{Leader: "ldr", Name: "F!"}, control.ErrInvalid, "F!"},
		{"follower is the leader", control.CreateFollowerRequest{Leader: "ldr", Name: "ldr"}, control.ErrInvalid, "would be the leader itself"},
		{"unknown leader", control.CreateFollowerRequest{Leader: "nobody", Name: "fol-x"}, control.ErrNotFound, "leader nobody is unknown"},
		{"leader not running", control.CreateFollowerRequest{Leader: "down", Name: "fol-x"}, control.ErrInvalid, "must be RUNNING"},
		{"hobbyist tier", control.CreateFollowerRequest{Leader: "hob", Name: "fol-x"}, control.ErrInvalid, "hobbyist"},
		{"plan differs", control.CreateFollowerRequest{Leader: "ldr", Name: "fol-x", Plan: "business-8"}, control.ErrInvalid, "business-4"},
		{"name taken", control.CreateFollowerRequest{Leader: "ldr", Name: "hob"}, control.ErrConflict, `"hob" is taken`},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			err := ctl.CreateFollower(ctx, r.req)
			if !errors.Is(err, r.want) || !strings.Contains(err.Error(), r.msg) {
				t.Fatalf("error %v, want %v mentioning %q", err, r.want, r.msg)
			}
		})
	}
	if _, err := ctl.GetService(ctx, "fol-x"); !errors.Is(err, control.ErrNotFound) {
		t.Errorf("a refused follower exists: %v", err)
	}

	// The accepted follower.
	began := time.Now()
	if err := ctl.CreateFollower(ctx, control.CreateFollowerRequest{Leader: "ldr", Name: "fol", Region: "eu-local"}); err != nil {
		t.Fatalf("create follower: %v", err)
	}
	t.Cleanup(func() { testcontrol.DeleteAndWait(t, ctl, "fol") })
	var seen []string
	fol, waitErr := ctl.WaitService(ctx, "fol", func(st workflows.ServiceState) { seen = append(seen, st.State) })
	t.Logf("follower went %v in %s: %s", seen, time.Since(began).Round(time.Millisecond), fol.Reason)
	if fol.Role != workflows.RoleFollower || fol.Leader != "ldr" || fol.Plan != "business-4" {
		t.Errorf("follower %+v: want role follower of ldr on business-4", fol)
	}
	// The rebuild step ran (REBUILDING can be too brief to see by polling): it sorted the
	// leader's indexes.
	if fol.Replication == nil || fol.Replication.Total != 1 || len(fol.Replication.Excluded) != 2 {
		t.Fatalf("replication progress %+v: want 1 index to replicate (orders) and 2 excluded (audit, .osccr-test)", fol.Replication)
	}
	fc, err := opensearch.New(opensearch.Config{URLs: []string{fol.Endpoints.HTTPURL}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fc.GetIndexTemplate(ctx, "orders-template"); err != nil || !slices.Contains(fol.Replication.Templates, "index/orders-template") {
		t.Errorf("the leader's template on the follower: %v (managed %v), want it copied", err, fol.Replication.Templates)
	}
	remotes, err := fc.RemoteInfo(ctx)
	if err != nil || !remotes["ldr"].Connected {
		t.Errorf("follower's remote ldr = %+v, %v; want connected", remotes["ldr"], err)
	}
	if waitErr != nil || fol.State != workflows.StateRunning {
		t.Fatalf("follower %s (%v), want RUNNING", fol.State, waitErr)
	}
	if n, err := fc.Count(ctx, "orders"); err != nil || n != 300 {
		t.Errorf("follower has %d orders (%v), want 300", n, err)
	}

	// Tags: the leader is a leader and lists its follower.
	eventually(t, 30*time.Second, "leader tagged", func() (bool, string) {
		l, err := ctl.GetService(ctx, "ldr")
		followers, ferr := ctl.ListFollowers(ctx, "ldr")
		leaders, lerr := ctl.ListServices(ctx, workflows.RoleLeader)
		ok := err == nil && ferr == nil && lerr == nil && l.Role == workflows.RoleLeader && slices.Equal(l.Followers, []string{"fol"}) &&
			len(followers) == 1 && followers[0].Name == "fol" && len(leaders) == 1 && leaders[0].Name == "ldr"
		return ok, fmt.Sprintf("leader %s %v; followers %+v; leaders %+v (%v %v %v)", l.Role, l.Followers, followers, leaders, err, ferr, lerr)
	})
	if err := ctl.CreateFollower(ctx, control.CreateFollowerRequest{Leader: "fol", Name: "fol-2"}); !errors.Is(err, control.ErrInvalid) || !strings.Contains(err.Error(), "itself a follower") {
		t.Errorf("follower of a follower: %v, want ErrInvalid saying it is itself a follower", err)
	}
	if err := ctl.DeleteService(ctx, "ldr"); !errors.Is(err, control.ErrConflict) || !strings.Contains(err.Error(), "followers first") {
		t.Errorf("delete a leader with a follower: %v, want ErrConflict", err)
	}

	// Deleting the follower disconnects it and untags the leader.
	if err := ctl.DeleteService(ctx, "fol"); err != nil {
		t.Fatalf("delete follower: %v", err)
	}
	if err := ctl.WaitServiceGone(ctx, "fol"); err != nil {
		t.Fatal(err)
	}
	leaderUntagged := func() (bool, string) {
		l, err := ctl.GetService(ctx, "ldr")
		return err == nil && l.Role == workflows.RoleStandalone && len(l.Followers) == 0, fmt.Sprintf("%s %v %v", l.Role, l.Followers, err)
	}
	eventually(t, 30*time.Second, "leader untagged", leaderUntagged)

	// Promotion: a second follower becomes standalone and writable, for good.
	if err := ctl.CreateFollower(ctx, control.CreateFollowerRequest{Leader: "ldr", Name: "fol2"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testcontrol.DeleteAndWait(t, ctl, "fol2") })
	fol2, _ := ctl.WaitService(ctx, "fol2", nil)
	if _, err := ctl.Promote(ctx, "ldr"); !errors.Is(err, control.ErrConflict) || !strings.Contains(err.Error(), "only a follower can be promoted") {
		t.Errorf("promote a leader: %v, want ErrConflict", err)
	}
	began = time.Now()
	report, err := ctl.Promote(ctx, "fol2")
	if err != nil {
		t.Fatalf("promote: %v", err)
	}
	t.Logf("promoted in %s (report %+v)", time.Since(began).Round(time.Millisecond), report)
	if report.FormerLeader != "ldr" {
		t.Errorf("report %+v, want former leader ldr", report)
	}
	promoted, err := ctl.GetService(ctx, "fol2")
	if err != nil || promoted.State != workflows.StateRunning || promoted.Role != workflows.RoleStandalone || promoted.Leader != "" || promoted.Promotion == nil {
		t.Fatalf("after promotion %+v (%v), want a RUNNING standalone service with a promotion report", promoted, err)
	}
	// Promoting again reports the promotion that was; the lag at promotion is measured by the
	// control layer when a promotion starts, so the repeat carries none.
	again, err := ctl.Promote(ctx, "fol2")
	first := report
	first.LagSecondsAtPromotion = nil
	if err != nil || again.LagSecondsAtPromotion != nil || !reflect.DeepEqual(again, first) {
		t.Errorf("promote again: %+v, %v; want the same report %+v, without a lag", again, err, first)
	}
	eventually(t, 30*time.Second, "leader untagged after promotion", leaderUntagged)
	f2, err := opensearch.New(opensearch.Config{URLs: []string{fol2.Endpoints.HTTPURL}})
	if err != nil {
		t.Fatal(err)
	}
	if remotes, err := f2.RemoteInfo(ctx); err != nil || remotes["ldr"].Connected {
		t.Errorf("promoted service's remote ldr = %+v (%v), want removed", remotes["ldr"], err)
	}
	if err := f2.IndexDocument(ctx, "orders", "after-promotion", map[string]any{"n": 1}, opensearch.WithRefresh()); err != nil {
		t.Errorf("write on the promoted service: %v, want accepted", err)
	}
	if err := ctl.CreateFollower(ctx, control.CreateFollowerRequest{Leader: "ldr", Name: "fol2"}); !errors.Is(err, control.ErrConflict) {
		t.Errorf("make the promoted service a follower again: %v, want ErrConflict", err)
	}
	checkTimeline(t, ctx, ctl, "fol2")
}

// checkTimeline checks a promoted follower's timeline: its states in order, its index's
// bootstrap from its integration's history, the promotion request with who made it, and the
// stop of its index; then the limit and the refusals.
func checkTimeline(t *testing.T, ctx context.Context, ctl *control.Control, name string) {
	t.Helper()
	events, err := ctl.ServiceEvents(ctx, name, 0)
	if err != nil {
		t.Fatalf("service events %s: %v", name, err)
	}
	var states []string
	var sawStart, sawStop bool
	var promote *control.Event
	for i, e := range events {
		if i > 0 && e.Time.Before(events[i-1].Time) {
			t.Errorf("event %d (%+v) before the one ahead of it (%+v): want oldest first", i, e, events[i-1])
		}
		switch {
		case e.Kind == control.EventState:
			states = append(states, e.What)
		case e.Kind == control.EventStep && e.What == "StartReplication orders" && strings.HasPrefix(e.Workflow, "integration/"):
			sawStart = true
		case e.Kind == control.EventStep && e.What == "StopReplication orders":
			sawStop = true
		case e.Kind == control.EventRequest && e.What == workflows.UpdatePromote:
			promote = &events[i]
		}
	}
	t.Logf("timeline of %s: %d events, states %v", name, len(events), states)
	want := []string{workflows.StateProvisioning, workflows.StateRebuilding, workflows.StateRunning, workflows.StatePromoting, workflows.StateRunning}
	if !isSubsequence(want, states) {
		t.Errorf("states in the timeline %v, want %v in that order", states, want)
	}
	if !sawStart || !sawStop {
		t.Errorf("timeline: bootstrap of orders %v, its stop %v; want both (events %+v)", sawStart, sawStop, events)
	}
	if promote == nil || promote.By == "" {
		t.Errorf("timeline: promotion request %+v, want one with who made it", promote)
	}
	if last, err := ctl.ServiceEvents(ctx, name, 2); err != nil || len(last) != 2 || !reflect.DeepEqual(last, events[len(events)-2:]) {
		t.Errorf("the newest 2 events: %+v (%v), want %+v", last, err, events[len(events)-2:])
	}
	if _, err := ctl.ServiceEvents(ctx, name, -1); !errors.Is(err, control.ErrInvalid) {
		t.Errorf("events with limit -1: %v, want ErrInvalid", err)
	}
	if _, err := ctl.ServiceEvents(ctx, "no-such-service", 0); !errors.Is(err, control.ErrNotFound) {
		t.Errorf("events of an unknown service: %v, want ErrNotFound", err)
	}
}

// isSubsequence says whether want appears in got in order, not necessarily together.
func isSubsequence(want, got []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}
