package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/internal/localnode"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/testcluster"
	"github.com/osccr/osccr/workflows"
)

// full says whether this is `make chaos` (every scenario) or `make test` (a reduced set).
func full() bool { return os.Getenv("OSCCR_CHAOS") == "full" }

// recycleOnly is OSCCR_CHAOS=recycle: the recycle's scenarios alone (a leader, one follower,
// the recycle through its kill points and with Temporal restarted), to confirm a fix there
// without the whole suite.
func recycleOnly() bool { return os.Getenv("OSCCR_CHAOS") == "recycle" }

// kill is one kill point: the worker SIGKILLs itself at point (faults.Parse's syntax); with
// whole, the harness kills the Temporal process at once too, as the single osccr-worker --dev
// process (worker and Temporal in one) dies.
type kill struct {
	point string
	whole bool
}

// op is one operator request carried out under faults: start sends it, then the worker is
// killed at each point in turn (restarted, armed with the next point, after each), then finish
// waits for the request to complete and checks the end state.
type op struct {
	scenario string
	name     string
	kills    []kill
	start    func(ctx context.Context) error
	finish   func(ctx context.Context) error
}

// What each row of the table checked.
const (
	checkedEndState = "kill -9 at the point (marker + SIGKILL seen), restart; the request completes; no duplicate service; no orphaned node; every index SYNCING; every acked leader doc on the follower; verify equal"
	checkedTemporal = "Temporal SIGKILLed and restarted on its state while the request runs (worker untouched); the request completes; the same end-state checks"
	checkedNoFault  = "the same end-state checks after a request without a fault"
	noFault         = "no fault (the lifecycle's other requests)"
)

// checkedFor is what a scenario's row says was checked.
func checkedFor(scenario string) string {
	switch {
	case strings.HasPrefix(scenario, "Temporal"):
		return checkedTemporal
	case scenario == noFault:
		return checkedNoFault
	}
	return checkedEndState
}

// row is one line of the table printed at the end.
type row struct {
	scenario, checked string
	runs, passed      int
	notes             []string
}

// chaos is one run of the suite: the plane, the leader, its writer and what should exist.
type chaos struct {
	t      *testing.T
	p      *plane
	leader string
	lc     *opensearch.Client
	w      *writer
	// want maps each service that should exist to its kind: leader, follower or promoted.
	want map[string]string
	// promotedAcked holds, per promoted service, the leader's acked ids it must keep.
	promotedAcked map[string][]string
	rows          []*row
	figures       []string
}

// Indexes on the leader: orders takes the live writes; the others are written once.
var staticIndexes = []string{"static-0", "static-1", "static-2"}

const staticDocs = 300

func (c *chaos) row(scenario, checked string) *row {
	for _, r := range c.rows {
		if r.scenario == scenario {
			return r
		}
	}
	r := &row{scenario: scenario, checked: checked}
	c.rows = append(c.rows, r)
	return r
}

// record counts one run of a scenario; a failed one also fails the test.
func (c *chaos) record(scenario, checked string, err error, note string) {
	c.t.Helper()
	r := c.row(scenario, checked)
	r.runs++
	if err == nil {
		r.passed++
	} else {
		c.t.Errorf("%s: %s: %v", scenario, note, err)
		note += ": FAILED: " + err.Error()
	}
	if note != "" {
		r.notes = append(r.notes, note)
	}
	c.t.Logf("%s: %s", scenario, note)
}

// TestChaos is the suite. The reduced set (the default, run by make test) crashes the worker
// at three points (twice with Temporal) and Temporal alone once, during a rebuild;
// OSCCR_CHAOS=full (make chaos) runs every scenario. Kill points are named by activity type
// and listed here in the order a lifecycle reaches them, so every run is the same.
func TestChaos(t *testing.T) {
	testcluster.RequireCCR(t, testcluster.Distribution(t))
	c := &chaos{t: t, p: newPlane(t, testcluster.Dir(t)), leader: "chaos-l", want: map[string]string{}, promotedAcked: map[string][]string{}}
	t.Cleanup(c.cleanup)
	t.Cleanup(c.printTable)

	if full() {
		c.run(c.createLeader(kill{"ProvisionService:before:1", true}, kill{"ProvisionService:after:1", false}))
		c.run(c.createFollower("chaos-f1", false,
			kill{"ProvisionService:after:1", true}, kill{"ConnectRemote:after:1", false}, kill{"SyncTemplates:before:1", true},
			kill{"ListLeaderIndexes:after:1", false}, kill{"StartReplication:after:1", false}, kill{"StartReplication:before:2", true},
			kill{"WaitSyncing:after:1", false}))
		c.recycles("chaos-f1")
		c.leaderDown("chaos-f1", 60*time.Second)
		c.run(c.promote("chaos-f1", "leader up"))
		c.run(c.delete("chaos-f1", kill{"DeprovisionService:before:1", true}, kill{"DeprovisionService:after:1", false}))
		c.run(c.createFollower("chaos-f2", false, kill{"WaitSyncing:before:1", true}))
		c.diverge("chaos-f2", "static-0")
		c.run(c.delete("chaos-f2", kill{"StopReplication:after:1", false}, kill{"DisconnectRemote:before:1", true}))
		c.run(c.createFollower("chaos-f3", true))
		c.run(c.promote("chaos-f3", "", kill{"StopReplication:before:1", true}, kill{"StopReplication:after:1", false}, kill{"DisconnectRemote:after:1", true}))
		c.run(c.delete("chaos-f3"))
		c.run(c.createFollower("chaos-f4", false))
		c.promoteLeaderDown("chaos-f4", syscall.SIGSTOP)
		c.run(c.delete("chaos-f4"))
		c.run(c.createFollower("chaos-f5", false))
		c.promoteLeaderDown("chaos-f5", syscall.SIGKILL)
		c.run(c.delete("chaos-f5"))
		c.run(c.delete(c.leader, kill{"DeprovisionService:after:1", true}))
	} else if recycleOnly() {
		c.run(c.createLeader())
		c.run(c.createFollower("chaos-f1", false))
		c.recycles("chaos-f1")
		c.run(c.delete("chaos-f1"))
		c.run(c.delete(c.leader))
	} else {
		c.run(c.createLeader(kill{"ProvisionService:after:1", false}))
		c.run(c.createFollower("chaos-f1", true))
		c.run(c.promote("chaos-f1", "", kill{"StopReplication:after:1", true}))
		c.run(c.delete("chaos-f1", kill{"DeprovisionService:after:1", true}))
		c.run(c.delete(c.leader))
	}
}

// recycles recycles a follower's node through the recycle's kill points, then with Temporal
// restarted. A recycle restarts the node only once the integration says replication has paused
// (service-await-pause), and resumes it after: its points come in one order, so one recycle
// goes through all four.
func (c *chaos) recycles(name string) {
	c.run(c.recycle(name, false, kill{"PauseReplication:after:1", true}, kill{"RecycleServiceNode:before:1", false},
		kill{"RecycleServiceNode:after:1", true}, kill{"ResumeReplication:after:1", false}))
	c.run(c.recycle(name, true))
}

// run carries out one op under its kill points and records each point in the table.
func (c *chaos) run(o op) {
	t := c.t
	t.Helper()
	p := c.p
	if len(o.kills) > 0 {
		p.rearm(o.kills[0].point)
	}
	began := time.Now()
	ctx, cancel := bounded(20 * time.Minute)
	defer cancel()
	if len(o.kills) == 0 && !strings.HasPrefix(o.scenario, "Temporal") {
		o.scenario = noFault
	}
	if err := o.start(ctx); err != nil {
		c.record(o.scenario, checkedFor(o.scenario), err, o.name+": start")
		t.FailNow() // what follows builds on this request
	}
	results := make([]error, len(o.kills))
	notes := make([]string, len(o.kills))
	for i, k := range o.kills {
		at := time.Now()
		results[i] = p.awaitKill(4 * time.Minute)
		what := "worker"
		if results[i] == nil && k.whole {
			p.temporal.kill()
			p.startTemporal()
			what = "worker + Temporal"
		}
		notes[i] = fmt.Sprintf("%s at %s: %s killed %s after the previous start", o.name, k.point, what, time.Since(at).Round(time.Second))
		next := ""
		if i+1 < len(o.kills) {
			next = o.kills[i+1].point
		}
		if p.worker.exited() {
			p.startWorker(next)
		} else {
			p.rearm(next)
		}
	}
	ferr := o.finish(ctx)
	took := time.Since(began).Round(time.Second)
	if len(o.kills) == 0 {
		c.record(o.scenario, checkedFor(o.scenario), ferr, fmt.Sprintf("%s (no kill) in %s", o.name, took))
		if ferr != nil {
			t.FailNow()
		}
		return
	}
	for i := range o.kills {
		c.record(o.scenario, checkedEndState, errors.Join(results[i], ferr), notes[i])
	}
	t.Logf("%s: %d kill points, done and checked in %s", o.name, len(o.kills), took)
	if ferr != nil {
		t.FailNow() // what follows builds on this request's end state
	}
}

func (c *chaos) createLeader(kills ...kill) op {
	ctl := c.p.Control
	return op{scenario: "kill -9 during service create", name: "create leader " + c.leader, kills: kills,
		start: func(ctx context.Context) error {
			return ctl.CreateService(ctx, control.CreateServiceRequest{Name: c.leader, Plan: "business-4", Security: control.SecurityNone})
		},
		finish: func(ctx context.Context) error {
			st, err := ctl.WaitService(ctx, c.leader, nil)
			if err != nil {
				return err
			}
			c.lc, err = opensearch.New(opensearch.Config{URLs: []string{st.Endpoints.HTTPURL}, Timeout: 5 * time.Second})
			if err != nil {
				return err
			}
			one := map[string]any{"settings": map[string]any{"number_of_shards": 1, "number_of_replicas": 0}}
			for _, ix := range append([]string{"orders"}, staticIndexes...) {
				if err := c.lc.CreateIndex(ctx, ix, one); err != nil {
					return err
				}
			}
			for _, ix := range staticIndexes {
				docs := map[string]any{}
				for i := range staticDocs {
					docs[fmt.Sprintf("doc-%05d", i)] = map[string]any{"n": i}
				}
				if err := c.lc.Bulk(ctx, ix, opensearch.DocsFromMap(docs), opensearch.WithRefresh()); err != nil {
					return err
				}
			}
			c.w = startWriter(c.lc, "orders")
			c.want[c.leader] = "leader"
			return c.checkEnd(ctx)
		}}
}

// createFollower creates a follower of the leader; withTemporal kills and restarts the
// Temporal process (not the worker) once the follower is REBUILDING.
func (c *chaos) createFollower(name string, withTemporal bool, kills ...kill) op {
	ctl := c.p.Control
	scenario := "kill -9 during follower create and rebuild"
	if withTemporal {
		scenario = "Temporal server killed and restarted mid-rebuild (worker kept running)"
	}
	return op{scenario: scenario, name: "create follower " + name, kills: kills,
		start: func(ctx context.Context) error {
			if err := ctl.CreateFollower(ctx, control.CreateFollowerRequest{Leader: c.leader, Name: name}); err != nil {
				return err
			}
			if !withTemporal {
				return nil
			}
			st, err := ctl.WaitServiceState(ctx, name, workflows.StateRebuilding, nil)
			if err != nil {
				return err
			}
			c.p.restartTemporal()
			c.t.Logf("Temporal killed and restarted while %s was %s %q", name, st.State, st.Reason)
			return nil
		},
		finish: func(ctx context.Context) error {
			wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
			defer cancel()
			if _, err := ctl.WaitService(wctx, name, nil); err != nil {
				return err
			}
			c.want[name] = "follower"
			return c.checkEnd(ctx)
		}}
}

// recycle restarts the follower's node under writes; withTemporal kills and restarts the
// Temporal process (not the worker) while the node restarts.
func (c *chaos) recycle(name string, withTemporal bool, kills ...kill) op {
	ctl := c.p.Control
	scenario := "kill -9 during node recycle"
	if withTemporal {
		scenario = "Temporal server killed and restarted mid-recycle (worker kept running)"
	}
	var pid int
	return op{scenario: scenario, name: "recycle " + name, kills: kills,
		start: func(ctx context.Context) error {
			n, err := c.node(name)
			if err != nil {
				return err
			}
			pid = n.PID
			if err := ctl.RecycleNode(ctx, name, "", false); err != nil {
				return err
			}
			if !withTemporal {
				return nil
			}
			var st workflows.ServiceState
			if err := poll(ctx, time.Minute, func() bool {
				st, err = ctl.GetService(ctx, name)
				return err == nil && strings.Contains(st.Reason, "recycled")
			}); err != nil {
				return fmt.Errorf("the recycle under way: %w (%s %q)", err, st.State, st.Reason)
			}
			c.p.restartTemporal()
			c.t.Logf("Temporal killed and restarted while %s was %s %q", name, st.State, st.Reason)
			return nil
		},
		finish: func(ctx context.Context) error {
			var st workflows.ServiceState
			var newPID int
			err := poll(ctx, 8*time.Minute, func() bool {
				n, nerr := c.node(name)
				var gerr error
				st, gerr = ctl.GetService(ctx, name)
				if nerr != nil || gerr != nil {
					return false
				}
				newPID = n.PID
				return n.PID != pid && n.Running() && st.State == workflows.StateRunning && !strings.Contains(st.Reason, "recycled")
			})
			if err != nil {
				return fmt.Errorf("recycle of %s: %w (node pid %d, was %d; %s %q)", name, err, newPID, pid, st.State, st.Reason)
			}
			return c.checkEnd(ctx)
		}}
}

// promote promotes a follower with the leader up; timed (no kill points) it reports how long
// the operator waited.
func (c *chaos) promote(name, timed string, kills ...kill) op {
	ctl := c.p.Control
	var began time.Time
	var took time.Duration
	done := make(chan error, 1)
	return op{scenario: "kill -9 during promotion", name: "promote " + name, kills: kills,
		start: func(ctx context.Context) error {
			if err := c.caughtUp(ctx, name); err != nil {
				return err
			}
			began = time.Now()
			go func() {
				_, err := ctl.Promote(ctx, name)
				took = time.Since(began)
				done <- err
			}()
			return nil
		},
		finish: func(ctx context.Context) error {
			if timed != "" {
				if err := <-done; err != nil {
					return err
				}
				c.figures = append(c.figures, fmt.Sprintf("promotion, %s: %s (osccr follower promote, request to answer)", timed, took.Round(time.Millisecond)))
			}
			var st workflows.ServiceState
			if err := poll(ctx, 5*time.Minute, func() bool {
				var err error
				st, err = ctl.GetService(ctx, name)
				return err == nil && st.State == workflows.StateRunning && st.Role == workflows.RoleStandalone && st.Promotion != nil
			}); err != nil {
				return fmt.Errorf("promotion of %s: %w (%s %s %q)", name, err, st.State, st.Role, st.Reason)
			}
			c.want[name] = "promoted"
			return c.checkEnd(ctx)
		}}
}

// caughtUp pauses the writer until the follower holds every acked document, and records what
// a promotion of it must keep. The writer resumes at once.
func (c *chaos) caughtUp(ctx context.Context, name string) error {
	c.w.pause()
	defer c.w.resume()
	acked := c.w.acked()
	if err := c.followerHolds(ctx, name, acked); err != nil {
		return err
	}
	c.promotedAcked[name] = acked
	return nil
}

func (c *chaos) delete(name string, kills ...kill) op {
	ctl := c.p.Control
	return op{scenario: "kill -9 during delete", name: "delete " + name, kills: kills,
		start: func(ctx context.Context) error {
			if name == c.leader && c.w != nil {
				c.w.close()
			}
			go func() { _ = ctl.DeleteService(ctx, name) }()
			return nil
		},
		finish: func(ctx context.Context) error {
			err := poll(ctx, 8*time.Minute, func() bool {
				st, err := ctl.GetService(ctx, name)
				if errors.Is(err, control.ErrNotFound) {
					return true
				}
				if err == nil && st.State != workflows.StateDeleting {
					// The request was lost with the plane before it was accepted: ask again,
					// as the operator would.
					_ = ctl.DeleteService(ctx, name)
				}
				return false
			})
			if err == nil {
				err = ctl.WaitServiceGone(ctx, name)
			}
			if err != nil && !errors.Is(err, control.ErrNotFound) {
				return fmt.Errorf("delete %s: %w", name, err)
			}
			delete(c.want, name)
			delete(c.promotedAcked, name)
			return c.checkEnd(ctx)
		}}
}

// checkEnd checks the end state against what should exist, with the writer paused:
//  1. the services listed are exactly the ones wanted, each once, each RUNNING;
//  2. every running node under the state dir belongs to a wanted service, and each wanted
//     service has one;
//  3. every follower replicates every leader index, all SYNCING, holds every acked leader
//     document, and `follower verify` finds no divergence;
//  4. every promoted service holds the documents acked before its promotion.
func (c *chaos) checkEnd(ctx context.Context) error {
	ctl := c.p.Control
	if c.w != nil {
		c.w.pause()
		defer c.w.resume()
	}
	want := slices.Sorted(func(yield func(string) bool) {
		for n := range c.want {
			if !yield(n) {
				return
			}
		}
	})
	var listed []string
	if err := poll(ctx, time.Minute, func() bool {
		list, err := ctl.ListServices(ctx, "")
		listed = listed[:0]
		for _, s := range list {
			listed = append(listed, s.Name)
		}
		return err == nil && slices.Equal(listed, want)
	}); err != nil {
		return fmt.Errorf("services listed %v, want %v (a duplicate or a leftover): %w", listed, want, err)
	}
	var errs []error
	running, err := c.runningNodes()
	if err != nil {
		return err
	}
	for svc, n := range running {
		if _, ok := c.want[svc]; !ok {
			errs = append(errs, fmt.Errorf("orphaned node: %d node(s) of %s, which does not exist, still running", n, svc))
		}
	}
	for _, name := range want {
		if c.want[name] == "down" {
			continue // killed on purpose: no node, and its workflow does not watch its health
		}
		if running[name] != 1 {
			errs = append(errs, fmt.Errorf("service %s has %d running nodes, want 1", name, running[name]))
		}
		st, err := ctl.GetService(ctx, name)
		if err != nil || st.State != workflows.StateRunning {
			errs = append(errs, fmt.Errorf("service %s is %s %q (%v), want RUNNING", name, st.State, st.Reason, err))
			continue
		}
		switch c.want[name] {
		case "follower":
			errs = append(errs, c.checkFollower(ctx, name))
		case "promoted":
			if st.Role != workflows.RoleStandalone {
				errs = append(errs, fmt.Errorf("promoted %s is %s, want standalone", name, st.Role))
			}
			errs = append(errs, c.holds(ctx, name, c.promotedAcked[name]))
		}
	}
	return errors.Join(errs...)
}

// checkFollower: every leader index replicated and SYNCING, every acked document there, and
// verification equal.
func (c *chaos) checkFollower(ctx context.Context, name string) error {
	ctl := c.p.Control
	indexes := len(staticIndexes) + 1
	var fs control.FollowerStatus
	if err := poll(ctx, 2*time.Minute, func() bool {
		var err error
		fs, err = ctl.FollowerStatus(ctx, name)
		if err != nil || fs.Replication == nil || len(fs.Indexes) != indexes {
			return false
		}
		for _, ix := range fs.Indexes {
			if ix.Status != "SYNCING" {
				return false
			}
		}
		return fs.Replication.Syncing == indexes && fs.Replication.Total == indexes
	}); err != nil {
		return fmt.Errorf("follower %s: not every index SYNCING (%+v, %d indexes): %w", name, fs.Replication, len(fs.Indexes), err)
	}
	if err := c.followerHolds(ctx, name, c.w.acked()); err != nil {
		return err
	}
	report, err := ctl.VerifyFollower(ctx, name)
	if err != nil {
		return fmt.Errorf("verify %s: %w", name, err)
	}
	if report.Diverged != 0 || len(report.Indexes) != indexes {
		return fmt.Errorf("verify %s: %d of %d indexes diverged: %+v", name, report.Diverged, len(report.Indexes), report.Indexes)
	}
	return nil
}

// followerHolds waits (2 min: a follower trails by a moment) until the follower's orders
// holds every id in acked.
func (c *chaos) followerHolds(ctx context.Context, name string, acked []string) error {
	var last error
	if err := poll(ctx, 2*time.Minute, func() bool {
		last = c.holds(ctx, name, acked)
		return last == nil
	}); err != nil {
		return fmt.Errorf("%w: %w", last, err)
	}
	return nil
}

// holds checks that a service's orders index holds every id in acked.
func (c *chaos) holds(ctx context.Context, name string, acked []string) error {
	fc, err := c.client(ctx, name)
	if err != nil {
		return err
	}
	_ = fc.Refresh(ctx, "orders")
	ids, err := fc.DocumentIDs(ctx, "orders")
	if err != nil {
		return fmt.Errorf("%s: ids of orders: %w", name, err)
	}
	slices.Sort(ids)
	var missing []string
	for _, id := range acked {
		if _, ok := slices.BinarySearch(ids, id); !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s lacks %d of the %d acked leader documents (first %s)", name, len(missing), len(acked), missing[0])
	}
	return nil
}

func (c *chaos) client(ctx context.Context, name string) (*opensearch.Client, error) {
	st, err := c.p.Control.GetService(ctx, name)
	if err != nil {
		return nil, err
	}
	return opensearch.New(opensearch.Config{URLs: []string{st.Endpoints.HTTPURL}, Timeout: 10 * time.Second})
}

// node is the (first) node of a local service, from its directory under the state dir.
func (c *chaos) node(service string) (*localnode.Node, error) {
	return localnode.Find(filepath.Join(c.p.dir, "services", service, service+"-0"))
}

// runningNodes counts the live node processes under the state dir, by service.
func (c *chaos) runningNodes() (map[string]int, error) {
	out := map[string]int{}
	base := filepath.Join(c.p.dir, "services")
	services, err := os.ReadDir(base)
	if err != nil {
		return nil, fmt.Errorf("services directory: %w", err)
	}
	for _, s := range services {
		if !s.IsDir() {
			continue
		}
		nodes, err := os.ReadDir(filepath.Join(base, s.Name()))
		if err != nil {
			continue
		}
		for _, n := range nodes {
			if node, err := localnode.Find(filepath.Join(base, s.Name(), n.Name())); err == nil && n.IsDir() && node.PID > 0 && node.Running() {
				out[s.Name()]++
			}
		}
	}
	return out, nil
}

// poll checks cond until it holds, or limit (or ctx) ends.
func poll(ctx context.Context, limit time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not true after %s", limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return nil
}

// leaderDown black-holes the leader's node (SIGSTOP: its ports accept and never answer) for
// d under writes. All along the follower must answer searches and its status must say the
// leader is unreachable; after, it must catch up with every acked document.
func (c *chaos) leaderDown(follower string, d time.Duration) {
	const scenario = "leader down (black-holed) 60 s under writes"
	const checked = "follower serves searches all along; follower status names the leader problem; after SIGCONT catches up: every acked doc there, verify equal"
	ctx, cancel := bounded(10 * time.Minute)
	defer cancel()
	leader, err := c.node(c.leader)
	if err != nil {
		c.record(scenario, checked, err, "find the leader's node")
		return
	}
	fc, err := c.client(ctx, follower)
	if err != nil {
		c.record(scenario, checked, err, "follower client")
		return
	}
	ackedBefore := len(c.w.acked())
	if err := syscall.Kill(leader.PID, syscall.SIGSTOP); err != nil {
		c.record(scenario, checked, err, "SIGSTOP the leader")
		return
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			_ = syscall.Kill(leader.PID, syscall.SIGCONT)
		}
	}
	defer resume()
	var errs []error
	reads, failed := 0, 0
	said := ""
	began := time.Now()
	for time.Since(began) < d {
		reads++
		if _, err := fc.Count(ctx, "orders"); err != nil {
			failed++
			errs = append(errs, fmt.Errorf("search on the follower %s into the outage: %w", time.Since(began).Round(time.Second), err))
		}
		if said == "" && time.Since(began) > 30*time.Second {
			sctx, scancel := context.WithTimeout(ctx, 20*time.Second)
			fs, err := c.p.Control.FollowerStatus(sctx, follower)
			scancel()
			if err != nil {
				errs = append(errs, fmt.Errorf("follower status with the leader down: %w", err))
				said = "follower status: no answer in 20 s"
				if st, err := c.p.Control.GetService(ctx, follower); err == nil {
					said += "; service show: " + statusText(control.FollowerStatus{State: st.State, Reason: st.Reason, Replication: st.Replication})
				}
			} else {
				said = statusText(fs)
				if !strings.Contains(strings.ToLower(said), "leader") {
					errs = append(errs, fmt.Errorf("follower status with the leader down does not say why: %s", said))
				}
			}
		}
		time.Sleep(time.Second)
	}
	during := len(c.w.acked()) - ackedBefore
	resume()
	caught := time.Now()
	if err := c.followerHolds(ctx, follower, c.w.acked()); err != nil {
		errs = append(errs, fmt.Errorf("after the leader came back: %w", err))
	}
	catchUp := time.Since(caught).Round(time.Second)
	errs = append(errs, c.checkEnd(ctx))
	c.record(scenario, checked, errors.Join(errs...), fmt.Sprintf("%d/%d searches on the follower answered; status said: %s; %d writes acked during the outage; caught up %s after SIGCONT",
		reads-failed, reads, said, during, catchUp))
	c.figures = append(c.figures, fmt.Sprintf("leader black-holed %s: follower caught up %s after it came back", d, catchUp))
}

// statusText is what follower status tells the operator, flattened.
func statusText(fs control.FollowerStatus) string {
	parts := []string{fs.State}
	if fs.Reason != "" {
		parts = append(parts, fs.Reason)
	}
	if r := fs.Replication; r != nil {
		if r.Reason != "" {
			parts = append(parts, r.Reason)
		}
		for _, p := range r.Problems {
			parts = append(parts, p.Status+": "+p.Reason)
		}
	}
	return strings.Join(parts, "; ")
}

// promoteLeaderDown promotes a follower while its leader is black-holed (SIGSTOP: its ports
// accept and never answer; SIGCONT after) or killed (SIGKILL: its ports refuse; it stays down
// and the leader service is only deleted after), and reports the time.
func (c *chaos) promoteLeaderDown(name string, sig syscall.Signal) {
	how := map[syscall.Signal]string{syscall.SIGSTOP: "black-holed (SIGSTOP)", syscall.SIGKILL: "killed (SIGKILL)"}[sig]
	scenario := "promotion with the leader " + how
	const checked = "promote answers within 30 s; standalone RUNNING; every doc acked before the outage kept"
	ctx, cancel := bounded(5 * time.Minute)
	defer cancel()
	if err := c.caughtUp(ctx, name); err != nil {
		c.record(scenario, checked, err, "follower caught up before the outage")
		return
	}
	leader, err := c.node(c.leader)
	if err == nil {
		err = syscall.Kill(leader.PID, sig)
	}
	if err != nil {
		c.record(scenario, checked, err, "signal the leader")
		return
	}
	if sig == syscall.SIGKILL {
		c.want[c.leader] = "down"
	}
	began := time.Now()
	pctx, pcancel := context.WithTimeout(ctx, 30*time.Second)
	_, perr := c.p.Control.Promote(pctx, name)
	pcancel()
	took := time.Since(began)
	if sig == syscall.SIGSTOP {
		_ = syscall.Kill(leader.PID, syscall.SIGCONT)
	}
	if perr == nil {
		c.want[name] = "promoted"
		perr = c.checkEnd(ctx)
	}
	c.record(scenario, checked, perr, fmt.Sprintf("promoted %s in %s", name, took.Round(time.Millisecond)))
	c.figures = append(c.figures, fmt.Sprintf("promotion, leader %s: %s (request to answer)", how, took.Round(time.Millisecond)))
}

// diverge stops replication of one follower index behind osccr's back (the plugin's _stop),
// then writes to its leader index: follower verify, through the API and the CLI, must report
// that index diverged (the CLI exiting non-zero) and the others equal.
func (c *chaos) diverge(follower, index string) {
	const scenario = "divergence injected out of band"
	const checked = "plugin _stop on one follower index + leader writes; VerifyFollower and `osccr follower verify` (exit != 0) name that index, the others equal"
	ctx, cancel := bounded(5 * time.Minute)
	defer cancel()
	c.w.pause() // orders under live writes trails by a moment: only the injected divergence counts
	defer c.w.resume()
	err := func() error {
		fc, err := c.client(ctx, follower)
		if err != nil {
			return err
		}
		if err := fc.StopReplication(ctx, index); err != nil {
			return fmt.Errorf("_stop %s on %s: %w", index, follower, err)
		}
		docs := map[string]any{}
		for i := range 10 {
			docs[fmt.Sprintf("late-%02d", i)] = map[string]any{"n": i}
		}
		if err := c.lc.Bulk(ctx, index, opensearch.DocsFromMap(docs), opensearch.WithRefresh()); err != nil {
			return err
		}
		report, err := c.p.Control.VerifyFollower(ctx, follower)
		if err != nil {
			return err
		}
		if report.Diverged != 1 {
			return fmt.Errorf("verify: %d diverged, want 1 (%s): %+v", report.Diverged, index, report.Indexes)
		}
		for _, ix := range report.Indexes {
			if (ix.Index == index) == (ix.Verdict == "equal") {
				return fmt.Errorf("verify: %s is %s (%s)", ix.Index, ix.Verdict, ix.Detail)
			}
		}
		cmd := exec.CommandContext(ctx, c.p.bins.cli, "--temporal-address", c.p.hostPort(), "follower", "verify", follower)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() == 0 || !strings.Contains(string(out), index) {
			return fmt.Errorf("osccr follower verify %s: %v, output:\n%s\nwant a non-zero exit naming %s", follower, err, out, index)
		}
		c.t.Logf("osccr follower verify %s (exit %d):\n%s", follower, exit.ExitCode(), out)
		return nil
	}()
	c.record(scenario, checked, err, fmt.Sprintf("%s/%s stopped behind osccr's back, 10 leader writes", follower, index))
	// What follows deletes the follower: its checks no longer hold.
	c.want[follower] = "diverged"
}

// cleanup deletes what is left (after a failure) so no node outlives the test.
func (c *chaos) cleanup() {
	ctx, cancel := bounded(5 * time.Minute)
	defer cancel()
	if c.w != nil {
		c.w.close()
	}
	if c.p.worker == nil || c.p.worker.exited() {
		c.p.startWorker("")
	} else {
		c.p.rearm("")
	}
	for _, name := range []string{"chaos-f1", "chaos-f2", "chaos-f3", "chaos-f4", "chaos-f5", c.leader} {
		if err := c.p.Control.DeleteService(ctx, name); err == nil {
			_ = c.p.Control.WaitServiceGone(ctx, name)
		}
	}
	// A node the control plane lost track of is a failure already reported: stop it by pid.
	if running, err := c.runningNodes(); err == nil {
		for svc := range running {
			if n, err := c.node(svc); err == nil {
				_ = n.Stop(ctx)
			}
		}
	}
}

func (c *chaos) printTable() {
	var b strings.Builder
	mode := "reduced (make test)"
	if full() {
		mode = "full (make chaos)"
	}
	fmt.Fprintf(&b, "\nosccr chaos suite, %s\n\n", mode)
	fmt.Fprintf(&b, "| scenario | runs | passed | what was checked |\n|---|---|---|---|\n")
	for _, r := range c.rows {
		fmt.Fprintf(&b, "| %s | %d | %d | %s |\n", r.scenario, r.runs, r.passed, r.checked)
	}
	if full() {
		b.WriteString("| follower and leader nodes killed (repaired by osccr, 3 rounds), and recycled, under writes | - | - | internal/e2e TestNodeKilledRepaired, TestRecycleNode (run by make chaos before this suite) |\n")
		b.WriteString("| leader node killed and its ports taken (repaired on new ports, the follower reconnected) | - | - | internal/e2e TestNodeMovedRepaired (run by make chaos before this suite) |\n")
		b.WriteString("| leader node killed with its machine's worker stopped (repaired once it is back) | - | - | internal/e2e TestNodeKilledWorkerDown (run by make chaos before this suite) |\n")
		b.WriteString("| idle cost of health checking (leader requests and history events per hour) | - | - | internal/e2e TestHealthIdleCost (run by make chaos before this suite) |\n")
		b.WriteString("| bad inputs through the CLI and the API (126) | - | - | internal/api TestBadInputAPI, starter TestBadInputCLI (run by make chaos before this suite) |\n")
	}
	b.WriteString("\nFigures:\n")
	for _, f := range c.figures {
		fmt.Fprintf(&b, "- %s\n", f)
	}
	b.WriteString("\nRuns:\n")
	for _, r := range c.rows {
		for _, n := range r.notes {
			fmt.Fprintf(&b, "- %s: %s\n", r.scenario, n)
		}
	}
	fmt.Println(b.String())
}

// writer indexes one document into the leader every 100 ms and records the ids the leader
// acknowledged. pause waits for the write in flight.
type writer struct {
	c      *opensearch.Client
	index  string
	mu     sync.Mutex // held during each write
	paused bool
	ids    []string
	failed int
	stop   chan struct{}
	done   chan struct{}
}

func startWriter(c *opensearch.Client, index string) *writer {
	w := &writer{c: c, index: index, stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

func (w *writer) run() {
	defer close(w.done)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; {
		select {
		case <-w.stop:
			return
		case <-tick.C:
		}
		w.mu.Lock()
		if !w.paused {
			id := fmt.Sprintf("w-%07d", n)
			n++
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			if err := w.c.IndexDocument(ctx, w.index, id, map[string]any{"n": n}); err == nil {
				w.ids = append(w.ids, id)
			} else {
				w.failed++
			}
			cancel()
		}
		w.mu.Unlock()
	}
}

func (w *writer) pause() {
	w.mu.Lock()
	w.paused = true
	w.mu.Unlock()
}

func (w *writer) resume() {
	w.mu.Lock()
	w.paused = false
	w.mu.Unlock()
}

// acked returns the acknowledged ids, sorted.
func (w *writer) acked() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.ids) // ids are written in order, zero-padded: sorted already
}

func (w *writer) close() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}
