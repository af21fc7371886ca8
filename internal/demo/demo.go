// Package demo runs osccr's main job end to end on this machine, as an operator would: a
// leader service with data, then a follower of it that osccr provisions, connects and
// rebuilds, all as Temporal workflows that can be watched in the Web UI.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/workflows"
)

// Names of what the demo creates.
const (
	Leader   = "demo-leader"
	Follower = "demo-follower"
	Index    = "demo-orders"
	Plan     = "business-4"
)

// Options configure a demo run.
type Options struct {
	Control   *control.Control
	Docs      int
	UIURL     string
	Namespace string
	Out       io.Writer
	// ExitWhenDone deletes the services and returns as soon as the follower is RUNNING (or
	// FAILED) instead of waiting for Ctrl-C.
	ExitWhenDone bool
	// Promote promotes the follower once it is RUNNING, reports how long that took, and writes
	// a document to the promoted service.
	Promote bool
}

// Run creates the leader service, loads data, creates the follower and waits for it; then
// (Ctrl-C, or at once with ExitWhenDone) deletes both services, which stops their nodes.
func Run(ctx context.Context, o Options) (err error) {
	say := func(format string, args ...any) { fmt.Fprintf(o.Out, format+"\n", args...) }
	link := func(id string) string {
		return fmt.Sprintf("%s/namespaces/%s/workflows?query=%s", o.UIURL, o.Namespace, url.QueryEscape(fmt.Sprintf("WorkflowId=%q", id)))
	}
	defer func() {
		if ctx.Err() != nil {
			say("interrupted: deleting the demo services (follower first), which stops their nodes")
		}
		cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		for _, name := range []string{Follower, Leader} {
			began := time.Now()
			if derr := o.Control.DeleteService(cleanup, name); derr != nil {
				if !errors.Is(derr, control.ErrNotFound) {
					say("could not delete service %s: %v", name, derr)
					err = errors.Join(err, derr)
				}
				continue
			}
			if derr := o.Control.WaitServiceGone(cleanup, name); derr != nil {
				say("service %s is not gone: %v", name, derr)
				err = errors.Join(err, derr)
				continue
			}
			say("deleted service %s in %s (its nodes are stopped)", name, time.Since(began).Round(time.Millisecond))
		}
	}()

	began := time.Now()
	// A demo stopped hard leaves its services behind in the persistent state: reuse them.
	if err := o.Control.CreateService(ctx, control.CreateServiceRequest{Name: Leader, Plan: Plan}); errors.Is(err, control.ErrConflict) {
		say("service %s exists from an earlier run: reusing it", Leader)
	} else if err != nil {
		return err
	}
	say("service %s: PROVISIONING — %s", Leader, link(workflows.ServiceWorkflowID(Leader)))
	leader, err := o.Control.WaitService(ctx, Leader, nil)
	if err != nil {
		return err
	}
	say("service %s: RUNNING at %s in %s", Leader, leader.Endpoints.HTTPURL, time.Since(began).Round(time.Millisecond))

	if a := leader.ClusterRef().ClusterAuth; a.Username != "" {
		say("  secured: user %s, password in %s (osccr service credentials %s), CA %s", a.Username, a.PasswordFile, Leader, a.CAFile)
	}
	// The demo reaches the services as osccr does: through their references, read here.
	lc, err := activities.NewClient(leader.ClusterRef())
	if err != nil {
		return err
	}
	if err := load(ctx, lc, o.Docs); err != nil {
		return err
	}
	say("loaded %d documents into %s on %s", o.Docs, Index, Leader)

	began = time.Now()
	if err := o.Control.CreateFollower(ctx, control.CreateFollowerRequest{Leader: Leader, Name: Follower}); errors.Is(err, control.ErrConflict) {
		say("follower %s exists from an earlier run: reusing it", Follower)
	} else if err != nil {
		return err
	}
	say("follower %s: PROVISIONING — %s", Follower, link(workflows.ServiceWorkflowID(Follower)))
	say("  its replication integration: %s", link(workflows.IntegrationWorkflowID(Leader, Follower)))
	follower, waitErr := o.Control.WaitService(ctx, Follower, func(st workflows.ServiceState) {
		say("  %s %s", st.State, st.Reason)
	})
	if waitErr == nil {
		fc, err := activities.NewClient(follower.ClusterRef())
		if err != nil {
			return err
		}
		count, err := fc.Count(ctx, Index)
		if err != nil {
			return err
		}
		say("follower %s is RUNNING after %s: %d of %d documents replicated", Follower, time.Since(began).Round(time.Millisecond), count, o.Docs)
		if o.Promote {
			if err := promote(ctx, o.Control, fc, say); err != nil {
				return err
			}
		}
	}
	if o.ExitWhenDone || waitErr != nil {
		return waitErr
	}
	say("press Ctrl-C to delete the demo services (their workflows stay in Temporal's history)")
	<-ctx.Done()
	return nil
}

func load(ctx context.Context, c *opensearch.Client, n int) error {
	if err := c.CreateIndex(ctx, Index, map[string]any{"settings": map[string]any{"number_of_shards": 1, "number_of_replicas": 0}}); err != nil && !errors.Is(err, opensearch.ErrAlreadyExists) {
		return err
	}
	const batch = 1000
	for start := 0; start < n; start += batch {
		docs := make(map[string]any, batch)
		for i := start; i < start+batch && i < n; i++ {
			docs[fmt.Sprintf("order-%06d", i)] = map[string]any{"order": i, "amount": i % 997, "status": []string{"new", "paid", "shipped"}[i%3]}
		}
		if err := c.Bulk(ctx, Index, opensearch.DocsFromMap(docs)); err != nil {
			return fmt.Errorf("load demo data: %w", err)
		}
	}
	return c.Refresh(ctx, Index)
}

// promote makes the follower standalone and proves it writable.
func promote(ctx context.Context, ctl *control.Control, fc *opensearch.Client, say func(string, ...any)) error {
	began := time.Now()
	report, err := ctl.Promote(ctx, Follower)
	if err != nil {
		return err
	}
	say("promoted %s in %s (measured by the caller; the workflow reports %s): %d indexes stopped, %d operations behind %s at promotion",
		Follower, time.Since(began).Round(time.Millisecond), report.Duration.Round(time.Millisecond), report.IndexesStopped, report.LagOps, report.FormerLeader)
	if err := fc.IndexDocument(ctx, Index, "written-after-promotion", map[string]any{"order": -1}, opensearch.WithRefresh()); err != nil {
		return fmt.Errorf("write to the promoted service: %w", err)
	}
	say("a document was written to %s on %s: it is standalone and writable", Index, Follower)
	return nil
}
