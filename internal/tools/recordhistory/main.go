// Command recordhistory records the histories of osccr's workflows over whole lifecycles (index
// replication; a standalone service; a leader, its follower and their integration, which
// picks up a new leader index and removes a deleted one) on an embedded Temporal server, into
// workflows/testdata, for the replay test that guards determinism. The activities are stubs
// that answer at once: the history is real, the I/O is not needed. Run it from the repository
// root after a deliberate, versioned workflow change (workflows/versions.go), with a tag naming
// that version:
//
//	go run ./internal/tools/recordhistory -tag v2
//
// Each history is written as <name>_<tag>.json beside those of the earlier versions, which
// stay: they are what proves that running executions of those versions still replay. It never
// overwrites a file.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/devserver"
	"github.com/osccr/osccr/workflows"
)

const testdata = "workflows/testdata"

var tagPattern = regexp.MustCompile(`^[A-Za-z0-9-]+$`)

// tag names the workflow version the recorded histories belong to (-tag).
var tag = flag.String("tag", "", "the workflow version these histories record, e.g. v2: files are written as NAME_TAG.json")

func main() {
	flag.Parse()
	if !tagPattern.MatchString(*tag) {
		fmt.Fprintln(os.Stderr, "recordhistory: -tag is required (letters, digits, '-'), e.g. -tag v2: the histories of earlier versions are kept, never overwritten")
		os.Exit(2)
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "recordhistory:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "recordhistory-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, err := devserver.Start(ctx, devserver.Config{StateDir: dir, SearchAttributes: workflows.SearchAttributes(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer srv.Stop()
	quiet := sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	c, err := client.Dial(client.Options{HostPort: srv.HostPort(), Namespace: srv.Namespace(), Logger: quiet})
	if err != nil {
		return err
	}
	defer c.Close()

	// The shared queue's worker, and the one of the machine the local services are placed on:
	// every stub answers on both.
	const machine = "recorder"
	w := worker.New(c, workflows.TaskQueue, worker.Options{})
	wm := worker.New(c, workflows.MachineTaskQueue(machine), worker.Options{DisableWorkflowWorker: true})
	workflows.Register(w)
	stub := func(name string, fn any) {
		w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
		wm.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
	stub("PlaceService", func(context.Context, activities.ServiceSpec) (string, error) { return machine, nil })
	synced := activities.IndexStatus{Index: "orders", Status: "SYNCING", LeaderCheckpoint: 99, FollowerCheckpoint: 99}
	stub("ConnectRemote", func(context.Context, activities.ConnectInput) error { return nil })
	stub("StartReplication", func(context.Context, activities.IndexInput) error { return nil })
	stub("WaitSyncing", func(context.Context, activities.IndexInput) (activities.IndexStatus, error) { return synced, nil })
	for _, name := range []string{"PauseReplication", "ResumeReplication", "StopReplication"} {
		stub(name, func(context.Context, activities.IndexInput) error { return nil })
	}
	stub("ProvisionService", func(context.Context, activities.ServiceSpec) (activities.ServiceEndpoints, error) {
		return activities.ServiceEndpoints{HTTPURL: "http://127.0.0.1:9200", TransportAddress: "127.0.0.1:9300", PlannedNodes: 3}, nil
	})
	stub("DeprovisionService", func(context.Context, activities.ServiceSpec) error { return nil })
	leaderIndexes := map[string]string{"customers": "uuid-c", "orders": "uuid-o"}
	stub("ListLeaderIndexes", func(_ context.Context, c activities.ClusterRef) (activities.IndexPlan, error) {
		if c.Name == "events-dr" { // the empty service that becomes a follower
			return activities.IndexPlan{}, nil
		}
		return activities.IndexPlan{Replicate: []string{"customers", "orders"}, UUIDs: leaderIndexes, Excluded: []activities.Exclusion{{Index: ".kibana_1", Reason: "system"}}, Bytes: 4096}, nil
	})
	stub("ChangeServicePlan", func(context.Context, activities.ServiceSpec) error { return nil })
	stub("DisconnectRemote", func(context.Context, activities.ConnectInput) error { return nil })
	stub("SyncTemplates", func(context.Context, activities.SyncTemplatesInput) (activities.TemplateSync, error) {
		return activities.TemplateSync{Fingerprint: "tpl-1", Managed: []string{"index/catalog"}, Put: []string{"index/catalog"}}, nil
	})
	stub("WatchLeader", watchLeader(leaderIndexes))
	stub("RemoveFollowerIndex", func(context.Context, activities.IndexInput) error { return nil })
	stub("ReplicationStatus", func(_ context.Context, in activities.IndexInput) (activities.IndexStatus, error) {
		return activities.IndexStatus{Index: in.FollowerIndex, Status: "SYNCING", LeaderCheckpoint: 12, FollowerCheckpoint: 10}, nil
	})
	if err := w.Start(); err != nil {
		return err
	}
	defer w.Stop()
	if err := wm.Start(); err != nil {
		return err
	}
	defer wm.Stop()

	in := workflows.IndexReplicationInput{
		Leader:      activities.ClusterRef{Name: "leader", URL: "http://127.0.0.1:9200", TransportAddress: "127.0.0.1:9300"},
		Follower:    activities.ClusterRef{Name: "follower", URL: "http://127.0.0.1:9201"},
		LeaderAlias: "leader", LeaderIndex: "orders", FollowerIndex: "orders",
	}
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: in.WorkflowID(), TaskQueue: workflows.TaskQueue}, workflows.IndexReplicationWorkflow, in)
	if err != nil {
		return err
	}
	waitState := func(want string) error {
		for {
			v, err := c.QueryWorkflow(ctx, run.GetID(), run.GetRunID(), workflows.QueryState)
			if err == nil {
				var st workflows.IndexReplicationState
				if v.Get(&st) == nil && st.State == want {
					return nil
				}
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s: %w", want, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	steps := []struct{ signal, arg, then string }{
		{"", "", workflows.StateRunning},
		{workflows.SignalPause, "node recycle", workflows.StatePaused},
		{workflows.SignalResume, "", workflows.StateRunning},
	}
	for _, s := range steps {
		if s.signal != "" {
			if err := c.SignalWorkflow(ctx, run.GetID(), run.GetRunID(), s.signal, s.arg); err != nil {
				return err
			}
		}
		if err := waitState(s.then); err != nil {
			return err
		}
	}
	if err := c.SignalWorkflow(ctx, run.GetID(), run.GetRunID(), workflows.SignalStop, nil); err != nil {
		return err
	}
	if err := run.Get(ctx, nil); err != nil {
		return err
	}

	if err := save(ctx, c, run, "index_replication_lifecycle.json"); err != nil {
		return err
	}

	standalone := activities.ServiceSpec{Name: "orders", Plan: "business-4", Cloud: "local", Region: "local", Backend: activities.BackendLocal}
	svc, err := startService(ctx, c, workflows.ServiceInput{Spec: standalone})
	if err != nil {
		return err
	}
	if err := deleteService(ctx, c, svc); err != nil {
		return err
	}
	if err := save(ctx, c, svc, "service_lifecycle.json"); err != nil {
		return err
	}

	// A leader and its follower: registration, rebuild of two indexes, delete of the follower
	// (integration stopped, leader untagged), delete of the leader.
	leaderSpec := standalone
	leaderSpec.Name = "catalog"
	leader, err := startService(ctx, c, workflows.ServiceInput{Spec: leaderSpec})
	if err != nil {
		return err
	}
	followerSpec := standalone
	followerSpec.Name = "catalog-replica"
	follow := &workflows.FollowSpec{Leader: activities.ClusterRef{Name: "catalog", URL: "http://127.0.0.1:9200", TransportAddress: "127.0.0.1:9300"}}
	follower, err := startService(ctx, c, workflows.ServiceInput{Spec: followerSpec, Follow: follow})
	if err != nil {
		return err
	}
	// While RUNNING, the watch sees a new leader index, then a deleted one (see watchLeader).
	if err := waitIndexes(ctx, c, workflows.IntegrationWorkflowID("catalog", "catalog-replica"), []string{"invoices", "orders"}); err != nil {
		return err
	}
	if err := deleteService(ctx, c, follower); err != nil {
		return err
	}
	if err := deleteService(ctx, c, leader); err != nil {
		return err
	}
	integration := c.GetWorkflow(ctx, workflows.IntegrationWorkflowID("catalog", "catalog-replica"), "")
	if err := integration.Get(ctx, nil); err != nil {
		return err
	}
	for name, run := range map[string]client.WorkflowRun{"service_leader.json": leader, "service_follower.json": follower, "integration.json": integration} {
		if err := save(ctx, c, run, name); err != nil {
			return err
		}
	}
	return recordFollowAndPlan(ctx, c, standalone)
}

// recordFollowAndPlan records an existing service made a follower (integration create), then a
// plan change of its leader that moves the follower first, then both deleted.
func recordFollowAndPlan(ctx context.Context, c client.Client, standalone activities.ServiceSpec) error {
	leaderSpec, destSpec := standalone, standalone
	leaderSpec.Name, destSpec.Name = "events", "events-dr"
	leader, err := startService(ctx, c, workflows.ServiceInput{Spec: leaderSpec})
	if err != nil {
		return err
	}
	dest, err := startService(ctx, c, workflows.ServiceInput{Spec: destSpec})
	if err != nil {
		return err
	}
	req := workflows.FollowRequest{Leader: activities.ClusterRef{Name: "events", URL: "http://127.0.0.1:9200", TransportAddress: "127.0.0.1:9300"}, LeaderPlan: leaderSpec.Plan}
	if err := update(ctx, c, dest, workflows.UpdateFollow, req); err != nil {
		return err
	}
	if err := waitRunning(ctx, c, dest); err != nil {
		return err
	}
	if err := update(ctx, c, leader, workflows.UpdatePlan, workflows.PlanChange{Plan: "business-8"}); err != nil {
		return err
	}
	for _, run := range []client.WorkflowRun{dest, leader} {
		if err := deleteService(ctx, c, run); err != nil {
			return err
		}
	}
	for name, run := range map[string]client.WorkflowRun{"service_follow_leader.json": leader, "service_follow_follower.json": dest} {
		if err := save(ctx, c, run, name); err != nil {
			return err
		}
	}
	return nil
}

// update runs an update on a service and waits for its answer.
func update(ctx context.Context, c client.Client, run client.WorkflowRun, name string, arg any) error {
	upd, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: run.GetID(), RunID: run.GetRunID(), UpdateName: name, Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err != nil {
		return fmt.Errorf("%s update of %s: %w", name, run.GetID(), err)
	}
	if err := upd.Get(ctx, nil); err != nil {
		return fmt.Errorf("%s update of %s: %w", name, run.GetID(), err)
	}
	return nil
}

// watchLeader stubs the leader watch: the first watch sees the leader as the rebuild planned
// it, the next a new index (invoices), the next one deleted (customers); later ones see no
// change and wait, heartbeating, until cancelled.
func watchLeader(initial map[string]string) func(context.Context, activities.WatchInput) (activities.Observation, error) {
	view := func(indexes map[string]string) activities.Observation {
		v := &activities.LeaderView{Indexes: maps.Clone(indexes), Replicate: slices.Sorted(maps.Keys(indexes)), Excluded: []activities.Exclusion{{Index: ".kibana_1", Reason: "system"}}, Templates: "tpl-1"}
		v.Indexes[".kibana_1"] = "uuid-k"
		return activities.Observation{Leader: v, Follower: activities.ClusterHealth{Status: "green"}}
	}
	withNew := maps.Clone(initial)
	withNew["invoices"] = "uuid-i"
	withoutOld := maps.Clone(withNew)
	delete(withoutOld, "customers")
	return func(ctx context.Context, in activities.WatchInput) (activities.Observation, error) {
		known := in.Known
		switch {
		case known == nil || known.Leader == nil || known.Follower.Status == "":
			return view(initial), nil
		case known.Leader.Indexes["invoices"] == "":
			return view(withNew), nil
		case known.Leader.Indexes["customers"] != "":
			return view(withoutOld), nil
		}
		for {
			select {
			case <-ctx.Done():
				return *known, ctx.Err()
			case <-time.After(100 * time.Millisecond):
				activity.RecordHeartbeat(ctx)
			}
		}
	}
}

// waitIndexes waits until the integration replicates exactly the given follower indexes.
func waitIndexes(ctx context.Context, c client.Client, id string, want []string) error {
	for {
		upd, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: workflows.UpdateIntegrationStatus, WaitForStage: client.WorkflowUpdateStageCompleted})
		if err == nil {
			var st workflows.IntegrationStatus
			if upd.Get(ctx, &st) == nil && st.Syncing == len(want) {
				var got []string
				for _, ix := range st.Indexes {
					got = append(got, ix.Index)
				}
				if slices.Equal(got, want) {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s to replicate %v: %w", id, want, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// startService starts a service workflow and waits until it is RUNNING.
func startService(ctx context.Context, c client.Client, in workflows.ServiceInput) (client.WorkflowRun, error) {
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: workflows.ServiceWorkflowID(in.Spec.Name), TaskQueue: workflows.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.SearchService.ValueSet(in.Spec.Name)),
	}, workflows.ServiceWorkflow, in)
	if err != nil {
		return nil, err
	}
	return run, waitRunning(ctx, c, run)
}

// waitRunning waits until a service is RUNNING.
func waitRunning(ctx context.Context, c client.Client, run client.WorkflowRun) error {
	for {
		v, err := c.QueryWorkflow(ctx, run.GetID(), run.GetRunID(), workflows.QueryService)
		var st workflows.ServiceState
		if err == nil && v.Get(&st) == nil && st.State == workflows.StateRunning {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", run.GetID(), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// deleteService deletes a service and waits until its workflow has ended.
func deleteService(ctx context.Context, c client.Client, run client.WorkflowRun) error {
	upd, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: run.GetID(), RunID: run.GetRunID(), UpdateName: workflows.UpdateDelete, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err != nil {
		return err
	}
	if err := upd.Get(ctx, nil); err != nil {
		return err
	}
	return run.Get(ctx, nil)
}

// save writes a finished run's history as JSON into testdata.
func save(ctx context.Context, c client.Client, run client.WorkflowRun, name string) error {
	hist := &historypb.History{}
	iter := c.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
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
	out := filepath.Join(testdata, strings.TrimSuffix(name, ".json")+"_"+*tag+".json")
	if err := os.MkdirAll(testdata, 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("%w: a recorded history is never overwritten; choose another -tag", err)
	}
	if _, err := f.Write(raw); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Printf("recorded %d events into %s\n", len(hist.Events), out)
	return nil
}
