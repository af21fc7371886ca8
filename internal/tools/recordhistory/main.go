// Command recordhistory records, from real runs, the histories the replay test
// (workflows/replay_test.go) replays: the real worker with its real activities, real OpenSearch
// nodes with the CCR plugin (from `make opensearch`) and an embedded Temporal server. It drives
// every path of every workflow type through the application layer, as the CLI and the API do,
// then writes each workflow run's history as workflows/testdata/<type>_<path>_v<N>.json, N being
// the newest version of that workflow type (workflows.Versions; 0 is the v0.1.0 baseline,
// workflow.DefaultVersion; see docs/workflow-versions.md). A file that exists is kept as it is:
// the histories of earlier versions stay, and keep passing, and a run after a change adds the
// histories of the types whose version it raised.
//
//	make opensearch && go run ./internal/tools/recordhistory
//
// The paths, in the order they run (about 5 minutes on 2 cores):
//
//   - a leader and a follower: create (local-follower preflight first), REBUILDING, RUNNING, a
//     new leader index picked up and a deleted one removed, the status update, verify, an
//     operator's pause and resume, a node recycle, a plan change (the follower first), a
//     promotion with the leader up, both deleted;
//   - one index replicated between two services (IndexReplicationWorkflow): pause, resume, stop;
//     the standalone service it replicated into under termination protection (a delete refused);
//   - an existing cluster registered (its secret references checked), then deleted;
//   - an existing service made a follower (preflight, then the integration), then promoted with
//     its leader killed;
//   - a service deleted while it is provisioning;
//   - on a second Temporal server that suggests continuing as new early: a follower whose
//     service and integration workflows continue as new, then deleted.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.uber.org/fx"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/internal/devserver"
	"github.com/osccr/osccr/internal/localnode"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/workerapp"
	"github.com/osccr/osccr/workflows"
)

var (
	out = flag.String("out", "workflows/testdata", "where the histories are written")
)

// oneShard is the settings of every index the recorder creates.
var oneShard = map[string]any{"settings": map[string]any{"number_of_shards": 1, "number_of_replicas": 0}}

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "recordhistory:", err)
		os.Exit(1)
	}
}

func run() error {
	dist, err := localnode.DistributionFromEnv()
	if err != nil {
		return err
	}
	if !dist.HasPlugin(localnode.CCRPluginName) {
		return fmt.Errorf("the OpenSearch distribution at %s has no %s plugin: run `make opensearch` first", dist.Home, localnode.CCRPluginName)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	// The nodes run as an unprivileged account: their directory must be reachable by it.
	base, err := os.MkdirTemp("", "osccr-recordhistory-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(base)
	if err := os.Chmod(base, 0o755); err != nil {
		return err
	}
	defer stopNodes(base)

	r := &recorder{paths: map[string]string{}}
	if err := r.withPlane(ctx, filepath.Join(base, "main"), 0, r.mainPaths); err != nil {
		return err
	}
	// Continuing as new is suggested at 4k events by default; at 150 a follower's runs do.
	if err := r.withPlane(ctx, filepath.Join(base, "can"), 150, r.continueAsNew); err != nil {
		return err
	}
	return nil
}

// recorder drives the paths; paths names the path each workflow ID records.
type recorder struct {
	ctl   *control.Control
	c     client.Client
	base  string
	paths map[string]string
}

// withPlane runs paths on a fresh control plane (an embedded Temporal server, the worker with
// its real activities), then saves the history of every run it holds.
func (r *recorder) withPlane(ctx context.Context, dir string, suggestContinueAsNew int, paths func(context.Context) error) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	srv, err := devserver.Start(ctx, devserver.Config{StateDir: filepath.Join(dir, "temporal"), SearchAttributes: workflows.SearchAttributes(),
		SuggestContinueAsNewAfter: suggestContinueAsNew})
	if err != nil {
		return err
	}
	defer srv.Stop()
	logFile, err := os.Create(filepath.Join(dir, "worker.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	var c client.Client
	app := workerapp.New(workerapp.Config{
		StateDir: dir, TemporalAddress: srv.HostPort(), Namespace: srv.Namespace(), Machine: "recorder",
		Logger: slog.New(slog.NewTextHandler(logFile, nil)), Stdout: io.Discard,
	}, fx.Populate(&c))
	if err := app.Start(ctx); err != nil {
		return fmt.Errorf("start the worker: %w", err)
	}
	defer func() { _ = app.Stop(context.Background()) }()
	r.ctl, r.c, r.base = control.New(c), c, dir
	if err := paths(ctx); err != nil {
		return fmt.Errorf("%w (worker log: %s)", err, logFile.Name())
	}
	return r.saveAll(ctx)
}

// mainPaths runs every path but continue-as-new.
func (r *recorder) mainPaths(ctx context.Context) error {
	// A leader, and a follower created after its preflight.
	lc, err := r.service(ctx, "rec-leader", "")
	if err != nil {
		return err
	}
	if err := index(ctx, lc, "orders", 0, 50); err != nil {
		return err
	}
	if err := index(ctx, lc, "customers", 0, 20); err != nil {
		return err
	}
	want := control.CreateFollowerRequest{Leader: "rec-leader", Name: "rec-follower"}
	r.paths["preflight/rec-follower"] = "create"
	if rep, err := r.ctl.PreviewFollower(ctx, want); err != nil || !rep.OK {
		return fmt.Errorf("preview follower: %v %+v", err, rep)
	}
	r.paths[workflows.ServiceWorkflowID("rec-follower")] = "follower-lifecycle"
	r.paths[workflows.IntegrationWorkflowID("rec-leader", "rec-follower")] = "lifecycle"
	if err := r.ctl.CreateFollower(ctx, want); err != nil {
		return err
	}
	if _, err := r.ctl.WaitService(ctx, "rec-follower", nil); err != nil {
		return err
	}
	// While RUNNING: a new leader index is picked up, a deleted one removed.
	if err := index(ctx, lc, "invoices", 0, 10); err != nil {
		return err
	}
	if err := r.followed(ctx, "rec-follower", "customers", "invoices", "orders"); err != nil {
		return err
	}
	if err := lc.DeleteIndex(ctx, "customers"); err != nil {
		return err
	}
	if err := r.followed(ctx, "rec-follower", "invoices", "orders"); err != nil {
		return err
	}
	r.paths[workflows.VerifyWorkflowID("rec-follower")] = "follower"
	if rep, err := r.ctl.VerifyFollower(ctx, "rec-follower"); err != nil || rep.Diverged != 0 {
		return fmt.Errorf("verify: %v %+v", err, rep)
	}
	// An operator's pause and resume.
	if err := r.ctl.PauseFollower(ctx, "rec-follower", "recording a pause"); err != nil {
		return err
	}
	if _, err := r.ctl.WaitServiceState(ctx, "rec-follower", workflows.StatePaused, nil); err != nil {
		return err
	}
	if err := r.ctl.ResumeFollower(ctx, "rec-follower"); err != nil {
		return err
	}
	if _, err := r.ctl.WaitServiceState(ctx, "rec-follower", workflows.StateRunning, nil); err != nil {
		return err
	}
	// A node recycle of the follower, then a plan change of the leader (the follower first).
	if err := r.ctl.RecycleNode(ctx, "rec-follower", "", true); err != nil {
		return fmt.Errorf("recycle: %w", err)
	}
	if _, err := r.ctl.WaitServiceState(ctx, "rec-follower", workflows.StateRunning, nil); err != nil {
		return err
	}
	r.paths[workflows.ServiceWorkflowID("rec-leader")] = "leader-lifecycle"
	if _, err := r.ctl.UpdatePlan(ctx, "rec-leader", "business-8", true); err != nil {
		return fmt.Errorf("plan change: %w", err)
	}
	if _, err := r.ctl.WaitServiceState(ctx, "rec-follower", workflows.StateRunning, nil); err != nil {
		return err
	}
	// One index replicated by IndexReplicationWorkflow into a standalone service.
	tc, err := r.service(ctx, "rec-target", "standalone-lifecycle")
	if err != nil {
		return err
	}
	if err := r.indexReplication(ctx, "rec-leader", "rec-target", tc); err != nil {
		return err
	}
	// An existing cluster registered, then deleted.
	target, err := r.ctl.GetService(ctx, "rec-target")
	if err != nil {
		return err
	}
	r.paths[workflows.ServiceWorkflowID("rec-registered")] = "registered-lifecycle"
	r.paths["secret-refs/rec-registered"] = "register"
	if err := r.ctl.RegisterService(ctx, control.RegisterServiceRequest{Name: "rec-registered", Plan: "business-4", URL: target.Endpoints.HTTPURL, TransportAddress: target.Endpoints.TransportAddress}); err != nil {
		return err
	}
	if _, err := r.ctl.WaitService(ctx, "rec-registered", nil); err != nil {
		return err
	}
	// Termination protection on rec-target: a delete refused, then the protection lifted.
	if _, err := r.ctl.SetTerminationProtection(ctx, "rec-target", true); err != nil {
		return fmt.Errorf("termination protection: %w", err)
	}
	if err := r.ctl.DeleteService(ctx, "rec-target"); err == nil {
		return fmt.Errorf("rec-target was deleted under termination protection")
	}
	if _, err := r.ctl.SetTerminationProtection(ctx, "rec-target", false); err != nil {
		return fmt.Errorf("termination protection: %w", err)
	}
	// The promotion with the leader up, then both deleted.
	if _, err := r.ctl.Promote(ctx, "rec-follower"); err != nil {
		return fmt.Errorf("promote: %w", err)
	}
	for _, name := range []string{"rec-registered", "rec-target", "rec-follower", "rec-leader"} {
		if err := r.delete(ctx, name); err != nil {
			return err
		}
	}

	// An existing service made a follower, then promoted with its leader killed.
	ec, err := r.service(ctx, "rec-events", "leader-killed")
	if err != nil {
		return err
	}
	if err := index(ctx, ec, "events", 0, 30); err != nil {
		return err
	}
	if _, err := r.service(ctx, "rec-events-dr", "follow-promote-leader-down"); err != nil {
		return err
	}
	follow := control.CreateIntegrationRequest{Type: control.IntegrationTypeCCR, Source: "rec-events", Dest: "rec-events-dr"}
	r.paths["preflight/rec-events-dr"] = "follow" // the integration's create runs it first
	r.paths[workflows.IntegrationWorkflowID("rec-events", "rec-events-dr")] = "promote-leader-down"
	if _, err := r.ctl.CreateIntegration(ctx, follow); err != nil {
		return err
	}
	if _, err := r.ctl.WaitServiceState(ctx, "rec-events-dr", workflows.StateRunning, nil); err != nil {
		return err
	}
	node, err := localnode.Find(filepath.Join(r.base, "services", "rec-events", "rec-events-0"))
	if err != nil {
		return err
	}
	if err := syscall.Kill(node.PID, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill the leader's node: %w", err)
	}
	if _, err := r.ctl.Promote(ctx, "rec-events-dr"); err != nil {
		return fmt.Errorf("promote with the leader down: %w", err)
	}
	for _, name := range []string{"rec-events-dr", "rec-events"} {
		if err := r.delete(ctx, name); err != nil {
			return err
		}
	}

	// A service deleted while it is provisioning.
	r.paths[workflows.ServiceWorkflowID("rec-doomed")] = "delete-while-provisioning"
	if err := r.ctl.CreateService(ctx, control.CreateServiceRequest{Name: "rec-doomed", Plan: "business-4", Security: control.SecurityNone}); err != nil {
		return err
	}
	// The delete comes while the node is starting: ProvisionService is under way, and is
	// cancelled.
	if err := waitFor(ctx, "rec-doomed's node to be starting", func() (bool, error) {
		d, err := r.c.DescribeWorkflowExecution(ctx, workflows.ServiceWorkflowID("rec-doomed"), "")
		if err != nil {
			return false, err
		}
		return slices.ContainsFunc(d.GetPendingActivities(), func(a *workflowpb.PendingActivityInfo) bool {
			return a.GetActivityType().GetName() == "ProvisionService"
		}), nil
	}); err != nil {
		return err
	}
	return r.delete(ctx, "rec-doomed")
}

// continueAsNew runs a follower on a server that suggests continuing as new early: its service
// and integration workflows continue as new while it rebuilds and runs.
func (r *recorder) continueAsNew(ctx context.Context) error {
	lc, err := r.service(ctx, "rec-can-leader", "leader-continue-as-new")
	if err != nil {
		return err
	}
	if err := index(ctx, lc, "orders", 0, 10); err != nil {
		return err
	}
	r.paths[workflows.ServiceWorkflowID("rec-can-follower")] = "follower-continue-as-new"
	r.paths[workflows.IntegrationWorkflowID("rec-can-leader", "rec-can-follower")] = "continue-as-new"
	if err := r.ctl.CreateFollower(ctx, control.CreateFollowerRequest{Leader: "rec-can-leader", Name: "rec-can-follower"}); err != nil {
		return err
	}
	if _, err := r.ctl.WaitService(ctx, "rec-can-follower", nil); err != nil {
		return err
	}
	// New indexes, one at a time, until the service has continued as new (the integration's
	// progress reports wake its loop).
	for i := 0; ; i++ {
		runs, err := r.runs(ctx, workflows.ServiceWorkflowID("rec-can-follower"))
		if err != nil {
			return err
		}
		if len(runs) > 1 {
			break
		}
		if i == 20 {
			return fmt.Errorf("the follower's service workflow did not continue as new after %d new indexes", i)
		}
		name := fmt.Sprintf("more-%02d", i)
		if err := index(ctx, lc, name, 0, 1); err != nil {
			return err
		}
		// Read by query, which adds nothing to the history (the status update would).
		if err := waitFor(ctx, "rec-can-follower to follow "+name, func() (bool, error) {
			st, err := r.ctl.GetService(ctx, "rec-can-follower")
			return err == nil && st.Replication != nil && st.Replication.Syncing == i+2, nil
		}); err != nil {
			return err
		}
	}
	// The integration continues as new once quiet: at the latest when its watch ends without a
	// change (contract.DefaultWatchMaxWait).
	if err := waitFor(ctx, "the integration to continue as new", func() (bool, error) {
		runs, err := r.runs(ctx, workflows.IntegrationWorkflowID("rec-can-leader", "rec-can-follower"))
		return len(runs) > 1, err
	}); err != nil {
		return err
	}
	for _, name := range []string{"rec-can-follower", "rec-can-leader"} {
		if err := r.delete(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

// indexReplication replicates leader's orders into target as orders-copy: pause, resume, stop.
func (r *recorder) indexReplication(ctx context.Context, leader, target string, tc *opensearch.Client) error {
	ls, err := r.ctl.GetService(ctx, leader)
	if err != nil {
		return err
	}
	ts, err := r.ctl.GetService(ctx, target)
	if err != nil {
		return err
	}
	in := workflows.IndexReplicationInput{Leader: ls.ClusterRef(), Follower: ts.ClusterRef(), LeaderAlias: leader, LeaderIndex: "orders", FollowerIndex: "orders-copy"}
	r.paths[in.WorkflowID()] = "lifecycle"
	id, err := r.ctl.StartIndexReplication(ctx, in)
	if err != nil {
		return err
	}
	waitState := func(want string) error {
		return waitFor(ctx, id+" "+want, func() (bool, error) {
			st, err := r.ctl.IndexReplicationState(ctx, id)
			return err == nil && st.State == want, nil
		})
	}
	if err := waitState(workflows.StateRunning); err != nil {
		return err
	}
	if err := r.ctl.PauseIndexReplication(ctx, id, "recording a pause"); err != nil {
		return err
	}
	if err := waitState(workflows.StatePaused); err != nil {
		return err
	}
	if err := r.ctl.ResumeIndexReplication(ctx, id); err != nil {
		return err
	}
	if err := waitState(workflows.StateRunning); err != nil {
		return err
	}
	if err := r.ctl.StopIndexReplication(ctx, id); err != nil {
		return err
	}
	if err := r.c.GetWorkflow(ctx, id, "").Get(ctx, nil); err != nil {
		return fmt.Errorf("%s: %w", id, err)
	}
	n, err := tc.Count(ctx, "orders-copy")
	if err != nil || n != 50 {
		return fmt.Errorf("orders-copy holds %d documents (%v), want 50", n, err)
	}
	return nil
}

// service creates a plain local service, waits until it is RUNNING and returns its client; path
// names its workflow's history ("" when another step names it).
func (r *recorder) service(ctx context.Context, name, path string) (*opensearch.Client, error) {
	if path != "" {
		r.paths[workflows.ServiceWorkflowID(name)] = path
	}
	if err := r.ctl.CreateService(ctx, control.CreateServiceRequest{Name: name, Plan: "business-4", Security: control.SecurityNone}); err != nil {
		return nil, err
	}
	st, err := r.ctl.WaitService(ctx, name, nil)
	if err != nil {
		return nil, err
	}
	cfg, err := activities.ClientConfig(st.ClusterRef())
	if err != nil {
		return nil, err
	}
	cfg.Timeout = time.Minute
	return opensearch.New(cfg)
}

// delete deletes a service and waits until its workflow has ended.
func (r *recorder) delete(ctx context.Context, name string) error {
	if err := r.ctl.DeleteService(ctx, name); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return r.ctl.WaitServiceGone(ctx, name)
}

// followed waits until a follower replicates exactly the given indexes.
func (r *recorder) followed(ctx context.Context, follower string, want ...string) error {
	return waitFor(ctx, fmt.Sprintf("%s to follow %v", follower, want), func() (bool, error) {
		fs, err := r.ctl.FollowerStatus(ctx, follower)
		if err != nil {
			return false, nil
		}
		var got []string
		for _, ix := range fs.Indexes {
			if ix.Status == "SYNCING" {
				got = append(got, ix.Index)
			}
		}
		slices.Sort(got)
		return slices.Equal(got, want), nil
	})
}

// index creates an index of one shard holding documents from..to.
func index(ctx context.Context, c *opensearch.Client, name string, from, to int) error {
	if err := c.CreateIndex(ctx, name, oneShard); err != nil {
		return err
	}
	docs := map[string]any{}
	for i := from; i < to; i++ {
		docs[fmt.Sprintf("doc-%05d", i)] = map[string]any{"n": i}
	}
	return c.Bulk(ctx, name, opensearch.DocsFromMap(docs), opensearch.WithRefresh())
}

// waitFor polls cond every second until it holds, for at most 5 minutes.
func waitFor(ctx context.Context, what string, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for {
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// runs lists the runs of a workflow ID, oldest first.
func (r *recorder) runs(ctx context.Context, id string) ([]*workflowExecution, error) {
	all, err := r.executions(ctx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(e *workflowExecution) bool { return e.id != id }), nil
}

type workflowExecution struct {
	id, run, typ string
	start        time.Time
}

// executions lists every workflow run the server holds, oldest first.
func (r *recorder) executions(ctx context.Context) ([]*workflowExecution, error) {
	var all []*workflowExecution
	var token []byte
	for {
		resp, err := r.c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{NextPageToken: token})
		if err != nil {
			return nil, err
		}
		for _, e := range resp.GetExecutions() {
			all = append(all, &workflowExecution{id: e.GetExecution().GetWorkflowId(), run: e.GetExecution().GetRunId(), typ: e.GetType().GetName(), start: e.GetStartTime().AsTime()})
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	slices.SortFunc(all, func(a, b *workflowExecution) int { return a.start.Compare(b.start) })
	return all, nil
}

// typeNames are the file name prefixes of the workflow types.
var typeNames = map[string]string{
	"ServiceWorkflow":                "service",
	"IntegrationWorkflow":            "integration",
	"IndexReplicationWorkflow":       "index_replication",
	"CheckSecretRefsWorkflow":        "secret_refs",
	"VerifyWorkflow":                 "verify",
	"PreflightWorkflow":              "preflight",
	"LocalFollowerPreflightWorkflow": "local_follower_preflight",
}

// saveAll waits until every run has ended, then writes each one's history. A workflow with
// several runs (continue-as-new) gets one file a run: PATH-run1, PATH-run2, ...
func (r *recorder) saveAll(ctx context.Context) error {
	all, err := r.executions(ctx)
	if err != nil {
		return err
	}
	count := map[string]int{}
	for _, e := range all {
		count[e.id]++
	}
	seen := map[string]int{}
	for _, e := range all {
		prefix, ok := typeNames[e.typ]
		if !ok {
			return fmt.Errorf("workflow type %s has no name in recordhistory's typeNames", e.typ)
		}
		path, ok := r.paths[e.id]
		if !ok {
			return fmt.Errorf("workflow %s (%s) ran without a path named for it", e.id, e.typ)
		}
		seen[e.id]++
		if count[e.id] > 1 {
			path = fmt.Sprintf("%s-run%d", path, seen[e.id])
		}
		if err := r.save(ctx, e, prefix+"_"+path); err != nil {
			return err
		}
	}
	return nil
}

// save writes a finished run's history as JSON.
func (r *recorder) save(ctx context.Context, e *workflowExecution, name string) error {
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	// Every run has ended (a delete waited for its service, the others end by themselves); a
	// failed run is a recorded path too (a stop's failure with the leader down): only a run
	// that has not ended is an error.
	if err := r.c.GetWorkflow(wctx, e.id, e.run).Get(wctx, nil); err != nil && wctx.Err() != nil {
		return fmt.Errorf("%s run %s has not ended: %w", e.id, e.run, err)
	}
	hist := &historypb.History{}
	iter := r.c.GetWorkflowHistory(ctx, e.id, e.run, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return err
		}
		hist.Events = append(hist.Events, ev)
	}
	raw, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	file := filepath.Join(*out, fmt.Sprintf("%s_v%d.json", name, max(workflows.Versions()[e.typ], 0)))
	if _, err := os.Stat(file); err == nil {
		fmt.Printf("kept            %s (this version's history is recorded already)\n", file)
		return nil
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(raw); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Printf("recorded %4d events: %s\n", len(hist.Events), file)
	return nil
}

// stopNodes stops, by pid, every node left under base (a path that failed half-way).
func stopNodes(base string) {
	dirs, _ := filepath.Glob(filepath.Join(base, "*", "services", "*", "*"))
	for _, dir := range dirs {
		if n, err := localnode.Find(dir); err == nil && n.PID != 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_ = n.Stop(ctx)
			cancel()
		}
	}
}
