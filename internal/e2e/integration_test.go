package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/testcluster"
	"github.com/osccr/osccr/internal/testcontrol"
	"github.com/osccr/osccr/workflows"
)

// TestIntegrationLifecycle turns an existing standalone service into a follower with the
// integration use case on the real stack, checking every refusal changes nothing; then the
// operations on a follower: integration list/get/delete, status with per-index checkpoints,
// operator pause and resume, promotion dry run, plan changes (a follower's refused, a leader's
// applied to its follower first, nodes restarted with the new heap), and promotion, after which
// the service can never follow again, and changes plan on its own. The follower replicates
// through the real CCR plugin.
func TestIntegrationLifecycle(t *testing.T) {
	d := testcluster.Distribution(t)
	testcluster.RequireCCR(t, d)
	base := testcluster.Dir(t)
	ctl, tc := controlPlane(t, base)
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()

	// The source (leader) with data, and the dest: an existing standalone service that holds a
	// user index at first.
	for _, name := range []string{"src", "dst"} {
		if err := ctl.CreateService(ctx, control.CreateServiceRequest{Name: name, Plan: "business-4", Security: control.SecurityNone}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { testcontrol.DeleteAndWait(t, ctl, name) }) // dst first: src leads it
	}
	src, err := ctl.WaitService(ctx, "src", nil)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := ctl.WaitService(ctx, "dst", nil)
	if err != nil {
		t.Fatal(err)
	}
	sc := serviceClient(t, src)
	dc := serviceClient(t, dst)
	oneShard := map[string]any{"settings": map[string]any{"number_of_shards": 1, "number_of_replicas": 0}}
	if err := sc.CreateIndex(ctx, "orders", oneShard); err != nil {
		t.Fatal(err)
	}
	writeDocs(t, ctx, sc, "orders", 0, 200)
	if err := dc.CreateIndex(ctx, "stale", oneShard); err != nil {
		t.Fatal(err)
	}
	// Registered (static) services over the dest's cluster, which start no node: one on another
	// plan, one on the same plan to serve as a second leader.
	for name, p := range map[string]string{"dst-b8": "business-8", "other": "business-4"} {
		if err := ctl.RegisterService(ctx, control.RegisterServiceRequest{Name: name, URL: dst.Endpoints.HTTPURL, TransportAddress: dst.Endpoints.TransportAddress, Plan: p}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { testcontrol.DeleteAndWait(t, ctl, name) })
		if _, err := ctl.WaitService(ctx, name, nil); err != nil {
			t.Fatal(err)
		}
	}

	ccr := control.IntegrationTypeCCR
	create := func(source, dest string) error {
		_, err := ctl.CreateIntegration(ctx, control.CreateIntegrationRequest{Type: ccr, Source: source, Dest: dest})
		return err
	}
	refusals := []struct {
		name string
		req  control.CreateIntegrationRequest
		want error
		msg  string
	}{
		{"other type", control.CreateIntegrationRequest{Type: "logs", Source: "src", Dest: "dst"}, control.ErrInvalid, `"logs" is not supported: osccr supports "opensearch_cross_cluster_replication"`},
		{"no type", control.CreateIntegrationRequest{Source: "src", Dest: "dst"}, control.ErrInvalid, "no integration type given"},
		{"invalid name", control.CreateIntegrationRequest{Type: ccr, Source: "src", Dest: "D!"}, control.ErrInvalid, "D!"},
		{"itself", control.CreateIntegrationRequest{Type: ccr, Source: "src", Dest: "src"}, control.ErrInvalid, "cannot follow itself"},
		{"unknown source", control.CreateIntegrationRequest{Type: ccr, Source: "nobody", Dest: "dst"}, control.ErrNotFound, "source service nobody is unknown"},
		{"unknown dest", control.CreateIntegrationRequest{Type: ccr, Source: "src", Dest: "nobody"}, control.ErrNotFound, "dest service nobody is unknown"},
		{"plan differs", control.CreateIntegrationRequest{Type: ccr, Source: "src", Dest: "dst-b8"}, control.ErrInvalid, "osccr service update dst-b8 --plan business-4"},
		{"dest holds user indexes", control.CreateIntegrationRequest{Type: ccr, Source: "src", Dest: "dst"}, control.ErrConflict, "holds user indexes (stale)"},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			_, err := ctl.CreateIntegration(ctx, r.req)
			if !errors.Is(err, r.want) || !strings.Contains(err.Error(), r.msg) {
				t.Fatalf("error %v, want %v mentioning %q", err, r.want, r.msg)
			}
		})
	}
	if st, err := ctl.GetService(ctx, "dst"); err != nil || st.Role != workflows.RoleStandalone || st.State != workflows.StateRunning || st.Follow != nil {
		t.Fatalf("dst after the refusals: %s %s (%v), want a RUNNING standalone service", st.Role, st.State, err)
	}
	if _, err := dc.GetIndex(ctx, "stale"); err != nil {
		t.Fatalf("a refused integration touched the dest's index: %v", err)
	}

	// Accepted once the dest is empty.
	if err := dc.DeleteIndex(ctx, "stale"); err != nil {
		t.Fatal(err)
	}
	in, err := ctl.CreateIntegration(ctx, control.CreateIntegrationRequest{Type: ccr, Source: "src", Dest: "dst"})
	if err != nil {
		t.Fatalf("create integration: %v", err)
	}
	if in.ID != "ccr.src.dst" || in.Source != "src" || in.Dest != "dst" || in.Type != ccr || in.State != workflows.StateRebuilding {
		t.Errorf("integration %+v, want ccr.src.dst REBUILDING", in)
	}
	fol, waitErr := ctl.WaitService(ctx, "dst", nil)
	if fol.Role != workflows.RoleFollower || fol.Leader != "src" || fol.Replication == nil || fol.Replication.Total != 1 {
		t.Fatalf("dst %+v: want a follower of src replicating 1 index", fol)
	}
	if waitErr != nil {
		t.Fatalf("dst: %v, want RUNNING", waitErr)
	}
	if n, err := dc.Count(ctx, "orders"); err != nil || n != 200 {
		t.Errorf("dst has %d orders (%v), want 200", n, err)
	}
	eventually(t, 30*time.Second, "src a leader", func() (bool, string) {
		l, err := ctl.GetService(ctx, "src")
		return err == nil && l.Role == workflows.RoleLeader && slices.Equal(l.Followers, []string{"dst"}), fmt.Sprintf("%s %v %v", l.Role, l.Followers, err)
	})
	// Refusals that need the integration in place.
	for _, r := range []struct{ name, source, dest, msg string }{
		{"dest follows already", "other", "dst", "already follows src"},
		{"dest is a leader", "other", "src", "is the leader of dst"},
	} {
		if err := create(r.source, r.dest); !errors.Is(err, control.ErrConflict) || !strings.Contains(err.Error(), r.msg) {
			t.Errorf("%s: %v, want ErrConflict saying %q", r.name, err, r.msg)
		}
	}
	if err := create("dst", "other"); !errors.Is(err, control.ErrInvalid) || !strings.Contains(err.Error(), "itself a follower") {
		t.Errorf("source is a follower: %v, want ErrInvalid", err)
	}

	// Integrations: list, get, delete (refused: it ends with its follower).
	eventually(t, 30*time.Second, "integration listed", func() (bool, string) {
		all, err := ctl.ListIntegrations(ctx, "")
		return err == nil && len(all) == 1 && all[0].ID == "ccr.src.dst", fmt.Sprintf("%+v %v", all, err)
	})
	for _, service := range []string{"src", "dst"} {
		if list, err := ctl.ListIntegrations(ctx, service); err != nil || len(list) != 1 || list[0].ID != "ccr.src.dst" || list[0].Source != "src" {
			t.Errorf("integrations of %s: %+v (%v), want ccr.src.dst", service, list, err)
		}
	}
	if list, err := ctl.ListIntegrations(ctx, "other"); err != nil || len(list) != 0 {
		t.Errorf("integrations of a standalone service: %+v (%v), want none", list, err)
	}
	if got, err := ctl.GetIntegration(ctx, "ccr.src.dst"); err != nil || got.Dest != "dst" || got.WorkflowID != workflows.IntegrationWorkflowID("src", "dst") {
		t.Errorf("get integration: %+v (%v)", got, err)
	}
	for id, want := range map[string]error{"ccr.dst.src": control.ErrNotFound, "ccr.src.nobody": control.ErrNotFound, "src-dst": control.ErrInvalid} {
		if _, err := ctl.GetIntegration(ctx, id); !errors.Is(err, want) {
			t.Errorf("get integration %s: %v, want %v", id, err, want)
		}
	}
	if _, err := ctl.DeleteIntegration(ctx, "ccr.src.nobody"); !errors.Is(err, control.ErrNotFound) {
		t.Errorf("delete an unknown integration: %v, want ErrNotFound", err)
	}
	// A leader whose follower stays is not deleted, and says which follower.
	if err := ctl.DeleteService(ctx, "src"); !errors.Is(err, control.ErrConflict) || !strings.Contains(err.Error(), "leader of dst (RUNNING)") {
		t.Errorf("delete a leader with a follower that stays: %v, want ErrConflict naming dst", err)
	}

	// Status, pause, resume: refused for what is not a follower.
	if _, err := ctl.FollowerStatus(ctx, "src"); !errors.Is(err, control.ErrConflict) || !strings.Contains(err.Error(), "not a follower") {
		t.Errorf("status of a leader: %v, want ErrConflict", err)
	}
	if err := ctl.PauseFollower(ctx, "src", ""); !errors.Is(err, control.ErrConflict) || !strings.Contains(err.Error(), "not a follower") {
		t.Errorf("pause a leader: %v, want ErrConflict", err)
	}
	status, err := ctl.FollowerStatus(ctx, "dst")
	if err != nil || status.Leader != "src" || status.IntegrationID != "ccr.src.dst" {
		t.Fatalf("status: %+v (%v)", status, err)
	}
	if len(status.Indexes) != 1 || status.Indexes[0].Index != "orders" || status.Indexes[0].Status != "SYNCING" || status.Indexes[0].LeaderCheckpoint < 199 {
		t.Errorf("status indexes %+v, want orders SYNCING at checkpoint 199", status.Indexes)
	}
	checkLagSeconds(t, ctx, ctl, "dst")
	checkStatusReadsAddNoHistory(t, ctx, ctl, tc, "src", "dst")
	checkPauseResume(t, ctx, ctl, sc, dc)

	// The promotion dry run changes nothing.
	if _, err := ctl.PreviewPromotion(ctx, "src"); !errors.Is(err, control.ErrConflict) || !strings.Contains(err.Error(), "only a follower") {
		t.Errorf("dry run of promoting a leader: %v, want ErrConflict", err)
	}
	preview, err := ctl.PreviewPromotion(ctx, "dst")
	if err != nil || preview.Leader != "src" || !preview.Irreversible || len(preview.Steps) != 4 {
		t.Fatalf("promotion preview %+v (%v)", preview, err)
	}
	if len(preview.Indexes) != 1 || preview.Indexes[0].Index != "orders" {
		t.Errorf("preview stops %+v, want orders", preview.Indexes)
	}
	if st, err := ctl.GetService(ctx, "dst"); err != nil || st.Role != workflows.RoleFollower || st.Promotion != nil {
		t.Fatalf("after the dry run dst is %s (%v), want still a follower", st.Role, err)
	}

	// Plan changes: refusals first.
	for _, r := range []struct {
		name, service, plan string
		want                error
		msg                 string
	}{
		{"unknown plan", "src", "gold", control.ErrInvalid, `unknown plan "gold"`},
		{"a follower's on its own", "dst", "business-8", control.ErrConflict, "change the leader's plan instead (osccr service update src --plan business-8)"},
		{"a leader below business", "src", "startup-4", control.ErrConflict, "business or premium"},
	} {
		if _, err := ctl.UpdatePlan(ctx, r.service, r.plan, true); !errors.Is(err, r.want) || !strings.Contains(err.Error(), r.msg) {
			t.Errorf("%s: %v, want %v saying %q", r.name, err, r.want, r.msg)
		}
	}
	// The leader's plan changes its follower's first; both nodes restart with the new heap and
	// replication goes on.
	began := time.Now()
	st, err := ctl.UpdatePlan(ctx, "src", "business-8", true)
	if err != nil || st.Plan != "business-8" {
		t.Fatalf("change the leader's plan: %s (%v)", st.Plan, err)
	}
	t.Logf("plan change of leader and follower: %s", time.Since(began).Round(time.Millisecond))
	checkPlan(t, ctx, ctl, "dst", "business-8", dc)
	checkPlan(t, ctx, ctl, "src", "business-8", sc)
	if _, err := ctl.WaitService(ctx, "dst", nil); err != nil {
		t.Fatalf("follower after the plan change: %v", err)
	}
	writeDocs(t, ctx, sc, "orders", 2000, 2050)
	eventually(t, time.Minute, "replication after the plan change", func() (bool, string) {
		n, err := dc.Count(ctx, "orders")
		return err == nil && n == 350, fmt.Sprintf("%d (%v)", n, err)
	})

	// Deleting the integration promotes dst, after which it never follows again; a second
	// delete finds no integration.
	report, err := ctl.DeleteIntegration(ctx, "ccr.src.dst")
	if err != nil || report.FormerLeader != "src" || report.IndexesStopped != 1 || report.PromotedAt.IsZero() {
		t.Fatalf("delete integration: %+v (%v), want dst promoted from src, 1 index stopped", report, err)
	}
	if st, err := ctl.GetService(ctx, "dst"); err != nil || st.Role != workflows.RoleStandalone || st.State != workflows.StateRunning || st.Promotion == nil {
		t.Fatalf("dst after its integration was deleted: %s %s (%v), want a RUNNING standalone service with its promotion report", st.Role, st.State, err)
	}
	if err := dc.IndexDocument(ctx, "orders", "after-promotion", map[string]any{"n": 1}); err != nil {
		t.Errorf("write to dst after its integration was deleted: %v", err)
	}
	if _, err := ctl.DeleteIntegration(ctx, "ccr.src.dst"); !errors.Is(err, control.ErrNotFound) {
		t.Errorf("delete the integration again: %v, want ErrNotFound", err)
	}
	eventually(t, 30*time.Second, "src standalone", func() (bool, string) {
		l, err := ctl.GetService(ctx, "src")
		return err == nil && l.Role == workflows.RoleStandalone, fmt.Sprintf("%s %v", l.Role, err)
	})
	if err := create("src", "dst"); !errors.Is(err, control.ErrConflict) || !strings.Contains(err.Error(), "was promoted from a follower of src") {
		t.Errorf("integration into a promoted service: %v, want ErrConflict saying it was promoted", err)
	}
	// A standalone service changes plan on its own: its node restarts with the new heap.
	if st, err := ctl.UpdatePlan(ctx, "src", "business-4", true); err != nil || st.Plan != "business-4" {
		t.Fatalf("change a standalone service's plan: %s (%v)", st.Plan, err)
	}
	checkPlan(t, ctx, ctl, "src", "business-4", sc)
	if list, err := ctl.ListIntegrations(ctx, "src"); err != nil || len(list) != 0 {
		t.Errorf("integrations of src after the promotion: %+v (%v), want none", list, err)
	}
}

// checkPauseResume pauses the follower for the operator while the leader takes writes, then
// resumes it: nothing written meanwhile is lost.
func checkPauseResume(t *testing.T, ctx context.Context, ctl *control.Control, lc, fc *opensearch.Client) {
	t.Helper()
	if err := ctl.PauseFollower(ctx, "dst", "leader maintenance"); err != nil {
		t.Fatalf("pause: %v", err)
	}
	paused, err := ctl.WaitServiceState(ctx, "dst", workflows.StatePaused, nil)
	if err != nil || paused.Reason != "leader maintenance" {
		t.Fatalf("pause: %s %q (%v), want PAUSED saying leader maintenance", paused.State, paused.Reason, err)
	}
	status, err := ctl.FollowerStatus(ctx, "dst")
	if err != nil || status.PausedBy[workflows.PauseSourceOperator] != "leader maintenance" || len(status.Indexes) != 1 || status.Indexes[0].Status != "PAUSED" {
		t.Errorf("status while paused: %+v (%v), want orders PAUSED by the operator", status, err)
	}
	writeDocs(t, ctx, lc, "orders", 1000, 1100)
	// The leader has 100 documents the paused follower lacks: verify says so, by index.
	report, err := ctl.VerifyFollower(ctx, "dst")
	if err != nil || report.Diverged != 1 || len(report.Indexes) != 1 || report.Indexes[0].Verdict != contract.VerifyDiverged ||
		report.Indexes[0].LeaderDocs != 300 || report.Indexes[0].FollowerDocs != 200 || !report.Indexes[0].MappingsEqual {
		t.Errorf("verify while paused behind the leader: %+v (%v), want orders diverged, 300 vs 200 documents", report, err)
	}
	if err := ctl.ResumeFollower(ctx, "dst"); err != nil {
		t.Fatalf("resume: %v", err)
	}
	if _, err := ctl.WaitServiceState(ctx, "dst", workflows.StateRunning, nil); err != nil {
		t.Fatalf("resume: %v", err)
	}
	eventually(t, time.Minute, "writes made while paused replicated", func() (bool, string) {
		n, err := fc.Count(ctx, "orders")
		return err == nil && n == 300, fmt.Sprintf("%d (%v)", n, err)
	})
	report, err = ctl.VerifyFollower(ctx, "dst")
	if err != nil || report.Diverged != 0 || len(report.Indexes) != 1 || report.Indexes[0].Verdict != contract.VerifyEqual ||
		report.Indexes[0].LeaderDigest != report.Indexes[0].FollowerDigest || report.Indexes[0].FollowerDocs != 300 {
		t.Errorf("verify after catching up: %+v (%v), want orders equal with 300 documents", report, err)
	}
	if _, err := ctl.VerifyFollower(ctx, "src"); !errors.Is(err, control.ErrConflict) || !strings.Contains(err.Error(), "not a follower") {
		t.Errorf("verify a leader: %v, want ErrConflict", err)
	}
}

// checkPlan checks a service's state shows the plan and its node runs with the plan's heap.
func checkPlan(t *testing.T, ctx context.Context, ctl *control.Control, name, planName string, c *opensearch.Client) {
	t.Helper()
	st, err := ctl.GetService(ctx, name)
	if err != nil || st.Plan != planName {
		t.Errorf("%s: plan %q (%v), want %q", name, st.Plan, err, planName)
	}
	// The list reads Temporal's visibility store, which the plan's search attribute reaches
	// a moment after the workflow's state has it.
	eventually(t, 10*time.Second, name+" listed with plan "+planName, func() (bool, string) {
		services, err := ctl.ListServices(ctx, "")
		if err != nil {
			return false, err.Error()
		}
		for _, s := range services {
			if s.Name == name {
				return s.Plan == planName, "listed with plan " + s.Plan
			}
		}
		return false, "not listed"
	})
	want := map[string]int64{"business-4": 256, "business-8": 384, "business-16": 512}[planName] << 20
	nodes, err := c.Nodes(ctx)
	if err != nil || len(nodes) != 1 || nodes[0].HeapMaxBytes != want {
		t.Errorf("%s nodes %+v (%v), want one with %d MB heap", name, nodes, err, want>>20)
	}
}

// serviceClient opens a client on a service as osccr reaches it: a secured one over HTTPS with
// its CA and admin password, read from the files its references name.
func serviceClient(t *testing.T, st workflows.ServiceState) *opensearch.Client {
	t.Helper()
	cfg, err := activities.ClientConfig(st.ClusterRef())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timeout = time.Minute
	c, err := opensearch.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkLagSeconds waits until a caught-up follower reports a lag of 0 seconds, in its status
// (the watch's checkpoint samples, on the worker) and in service show (the watch's heartbeat).
func checkLagSeconds(t *testing.T, ctx context.Context, ctl *control.Control, name string) {
	t.Helper()
	var status control.FollowerStatus
	var st workflows.ServiceState
	deadline := time.Now().Add(45 * time.Second)
	for {
		var err error
		if status, err = ctl.FollowerStatus(ctx, name); err != nil {
			t.Fatalf("status: %v", err)
		}
		if st, err = ctl.GetService(ctx, name); err != nil {
			t.Fatalf("show: %v", err)
		}
		if status.LagSeconds != nil && *status.LagSeconds == 0 && st.Lag != nil && st.Lag.Seconds == 0 && !st.Lag.LeaderUnreachable {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("caught-up follower %s: status lag %v s (%+v), service show lag %+v; want 0 seconds in both", name, status.LagSeconds, status.Indexes, st.Lag)
		}
		time.Sleep(time.Second) // polling a condition, with a deadline
	}
}
