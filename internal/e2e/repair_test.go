package e2e

// Repair of local services beyond TestNodeKilledRepaired: a node that comes back on other ports
// (its old ones taken), a node that dies while the worker owning it is down too, and what
// health checking costs an idle service.

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
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

	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/internal/localnode"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/testcluster"
	"github.com/osccr/osccr/internal/testcontrol"
	"github.com/osccr/osccr/workflows"
)

// writer writes one document at a time to an index of a leader, each retried until the leader
// acknowledges it, until stopped.
type writer struct {
	mu    sync.Mutex
	acked []string
	stop  chan struct{}
	done  chan struct{}
}

func startWriter(ctx context.Context, c *opensearch.Client, index, prefix string) *writer {
	w := &writer{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for i := 0; ; {
			select {
			case <-w.stop:
				return
			case <-ctx.Done():
				return
			default:
			}
			id := fmt.Sprintf("%s-%06d", prefix, i)
			if err := c.IndexDocument(ctx, index, id, map[string]any{"n": i}); err != nil {
				select { // the leader may be the one restarting: ask again shortly
				case <-w.stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
				continue
			}
			w.mu.Lock()
			w.acked = append(w.acked, id)
			w.mu.Unlock()
			i++
		}
	}()
	return w
}

func (w *writer) count() int { w.mu.Lock(); defer w.mu.Unlock(); return len(w.acked) }

// halt stops the writer and returns every document the leader acknowledged.
func (w *writer) halt() []string {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.acked)
}

// holdsAll waits until the follower's index holds every id in want.
func holdsAll(t *testing.T, ctx context.Context, fc *opensearch.Client, index string, want []string, limit time.Duration) {
	t.Helper()
	eventually(t, limit, "the follower holds every acknowledged document", func() (bool, string) {
		if err := fc.Refresh(ctx, index); err != nil {
			return false, err.Error()
		}
		ids, err := fc.DocumentIDs(ctx, index)
		if err != nil {
			return false, err.Error()
		}
		slices.Sort(ids)
		for _, id := range want {
			if _, ok := slices.BinarySearch(ids, id); !ok {
				return false, fmt.Sprintf("%s missing (%d on the follower, %d acknowledged)", id, len(ids), len(want))
			}
		}
		return true, ""
	})
}

// occupy listens on the loopback ports as another program would once the node that had them
// died; the listeners close when the test ends.
func occupy(t *testing.T, ports ...int) {
	t.Helper()
	for _, p := range ports {
		var l net.Listener
		eventually(t, 10*time.Second, fmt.Sprintf("port %d free once its node died", p), func() (bool, string) {
			var err error
			l, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			return err == nil, fmt.Sprint(err)
		})
		t.Cleanup(func() { _ = l.Close() })
	}
}

// TestNodeMovedRepaired kills (SIGKILL) the leader's node and takes both its ports before
// osccr repairs it: the node must come back on other ports, with its data, and everything that
// knew the old address must follow it: the leader's health watch (RUNNING again), the
// follower's remote connection (its cluster.remote.<alias>.seeds), the integration's watch.
// Replication resumes by itself: every document the leader acknowledged, before the kill and
// at its new address after, ends on the follower.
func TestNodeMovedRepaired(t *testing.T) {
	d := testcluster.Distribution(t)
	testcluster.RequireCCR(t, d)
	base := testcluster.Dir(t)
	ctl, tc := controlPlane(t, base)
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	lc, fc := leaderAndFollower(t, ctx, ctl, "move-l", "move-f", func(lc *opensearch.Client) {
		must(t, lc.CreateIndex(ctx, "events", oneShard))
		writeDocs(t, ctx, lc, "events", 0, 100)
	})
	before := startWriter(ctx, lc, "events", "before")
	eventually(t, 30*time.Second, "writes flowing", func() (bool, string) { return before.count() > 50, fmt.Sprint(before.count()) })

	node, err := localnode.Find(filepath.Join(base, "services", "move-l", "move-l-0"))
	must(t, err)
	if err := syscall.Kill(node.PID, syscall.SIGKILL); err != nil {
		t.Fatalf("kill the leader's node: %v", err)
	}
	killed := time.Now()
	occupy(t, node.HTTPPort, node.TransportPort)
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	st, err := ctl.WaitServiceState(wctx, "move-l", workflows.StateRepairing, nil)
	wcancel()
	if err != nil {
		t.Fatalf("leader after its node was killed: %s %q (%v), want REPAIRING", st.State, st.Reason, err)
	}
	acked := before.halt() // its client knows the old address only
	wctx, wcancel = context.WithTimeout(ctx, 3*time.Minute)
	st, err = ctl.WaitServiceState(wctx, "move-l", workflows.StateRunning, nil)
	wcancel()
	if err != nil {
		t.Fatalf("leader after its node was killed and its ports taken: %s %q (%v), want RUNNING on new ports", st.State, st.Reason, err)
	}
	tr := transitions(t, ctx, tc, workflows.ServiceWorkflowID("move-l"), killed)
	t.Logf("leader moved: detected (REPAIRING) after %s, repair done after %s, RUNNING after %s; recorded: %v; %s -> %s",
		tr.down.Sub(killed).Round(time.Millisecond), tr.repaired.Sub(killed).Round(time.Millisecond), tr.running.Sub(killed).Round(time.Millisecond),
		tr.states, node.TransportAddress(), st.Endpoints.TransportAddress)
	if st.Endpoints.HTTPURL == node.HTTPURL() || st.Endpoints.TransportAddress == node.TransportAddress() || st.Repair == nil || !slices.Equal(st.Repair.Moved, []string{"move-l-0"}) {
		t.Fatalf("leader repaired at %s %s (repair %+v), want other ports than %s %s and its node recorded as moved",
			st.Endpoints.HTTPURL, st.Endpoints.TransportAddress, st.Repair, node.HTTPURL(), node.TransportAddress())
	}

	eventually(t, 2*time.Minute, "the follower's remote connection points at the leader's new transport address", func() (bool, string) {
		remotes, err := fc.RemoteInfo(ctx)
		r := remotes["move-l"]
		return err == nil && slices.Equal(r.Seeds, []string{st.Endpoints.TransportAddress}) && r.Connected, fmt.Sprintf("%+v %v", r, err)
	})
	moved := serviceClient(t, st)
	after := startWriter(ctx, moved, "events", "after")
	eventually(t, time.Minute, "writes at the leader's new address", func() (bool, string) { return after.count() > 50, fmt.Sprint(after.count()) })
	acked = append(acked, after.halt()...)
	must(t, moved.Refresh(ctx, "events"))
	holdsAll(t, ctx, fc, "events", acked, 3*time.Minute)
	if ok, why := sameIDs(ctx, moved, fc, "events"); !ok {
		t.Errorf("leader and follower differ: %s", why)
	}
	wctx, wcancel = context.WithTimeout(ctx, 2*time.Minute)
	if fs, err := ctl.WaitServiceState(wctx, "move-f", workflows.StateRunning, nil); err != nil {
		t.Errorf("follower: %s %q (%v), want RUNNING", fs.State, fs.Reason, err)
	}
	wcancel()
	t.Logf("%d documents acknowledged by the leader (before the kill and at its new address), all on the follower", len(acked))
}

// TestNodeKilledWorkerDown kills (SIGKILL) the leader's node while the worker of the machine
// that owns it is stopped too. Health is judged from the shared queue, so the leader leaves
// RUNNING all the same; its repair waits on the machine's queue (within MachineQueueBound)
// and nothing starts the node; once the machine's worker is started again it takes the repair
// and starts its node, and the follower ends RUNNING with every acknowledged document.
func TestNodeKilledWorkerDown(t *testing.T) {
	d := testcluster.Distribution(t)
	testcluster.RequireCCR(t, d)
	base := testcluster.Dir(t)
	plane := testcontrol.Start(t, base)
	ctl, tc := plane.Control, plane.Temporal
	machineB := startWorkerProcess(t, plane.Endpoint, "machine-b", filepath.Join(base, "machine-b"))
	awaitPoller(t, tc, machineB)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	if err := ctl.CreateService(ctx, control.CreateServiceRequest{Name: "down-l", Plan: "business-4", Machine: machineB.Machine, Security: control.SecurityNone}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testcontrol.DeleteAndWait(t, ctl, "down-l") })
	ls, err := ctl.WaitService(ctx, "down-l", nil)
	must(t, err)
	lc := serviceClient(t, ls)
	must(t, lc.CreateIndex(ctx, "events", oneShard))
	writeDocs(t, ctx, lc, "events", 0, 100)
	if err := ctl.CreateFollower(ctx, control.CreateFollowerRequest{Leader: "down-l", Name: "down-f"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testcontrol.DeleteAndWait(t, ctl, "down-f") })
	fs, err := ctl.WaitService(ctx, "down-f", nil)
	must(t, err)
	fc := serviceClient(t, fs)
	w := startWriter(ctx, lc, "events", "live")
	eventually(t, 30*time.Second, "writes flowing", func() (bool, string) { return w.count() > 50, fmt.Sprint(w.count()) })

	machineB.Stop()
	node, err := localnode.Find(filepath.Join(machineB.StateDir, "services", "down-l", "down-l-0"))
	must(t, err)
	if err := syscall.Kill(node.PID, syscall.SIGKILL); err != nil {
		t.Fatalf("kill the leader's node: %v", err)
	}
	killed := time.Now()
	wctx, wcancel := context.WithTimeout(ctx, 2*time.Minute)
	st, err := ctl.WaitServiceState(wctx, "down-l", workflows.StateRepairing, nil)
	wcancel()
	if err != nil {
		t.Fatalf("leader after its node was killed, its machine's worker down: %s %q (%v), want REPAIRING (health judged from the shared queue)", st.State, st.Reason, err)
	}
	t.Logf("leader REPAIRING %s after the kill, its machine's worker down: %q", time.Since(killed).Round(time.Millisecond), st.Reason)
	id := workflows.ServiceWorkflowID("down-l")
	eventually(t, time.Minute, "the repair waits on machine-b's queue, taken by no worker", func() (bool, string) {
		return repairWaiting(ctx, tc, id)
	})
	if bound := repairScheduleToStart(t, ctx, tc, id); bound != workflows.MachineQueueBound {
		t.Errorf("the repair's schedule-to-start bound is %s, want %s", bound, workflows.MachineQueueBound)
	}
	if n, err := localnode.Find(node.Dir); err != nil || n.Running() {
		t.Fatalf("the node runs again with its machine's worker down (%v)", err)
	}
	if st, err := ctl.GetService(ctx, "down-l"); err != nil || st.State == workflows.StateRunning {
		t.Fatalf("leader %s (%v) with its node dead, want not RUNNING", st.State, err)
	}

	machineB = startWorkerProcess(t, plane.Endpoint, machineB.Machine, machineB.StateDir)
	restarted := time.Now() // ready: it polls machine-b's queue
	// Deleted before the worker started again stops (cleanups run last first): its machine
	// holds the leader's node (and the follower's, when it was placed there too).
	t.Cleanup(func() {
		testcontrol.DeleteAndWait(t, ctl, "down-f")
		testcontrol.DeleteAndWait(t, ctl, "down-l")
	})
	wctx, wcancel = context.WithTimeout(ctx, 4*time.Minute)
	st, err = ctl.WaitServiceState(wctx, "down-l", workflows.StateRunning, nil)
	wcancel()
	if err != nil {
		t.Fatalf("leader once its machine's worker is back: %s %q (%v), want RUNNING, repaired", st.State, st.Reason, err)
	}
	tr := transitions(t, ctx, tc, id, killed)
	t.Logf("worker down: detected (REPAIRING) after %s; worker ready again %s after the kill; repair done %s after that, RUNNING %s after that; recorded %v",
		tr.down.Sub(killed).Round(time.Millisecond), restarted.Sub(killed).Round(time.Millisecond),
		tr.repaired.Sub(restarted).Round(time.Millisecond), tr.running.Sub(restarted).Round(time.Millisecond), tr.states)
	if q := activityQueues(t, tc, id)["RepairService"]; !slices.Contains(q, "queue "+workflows.MachineTaskQueue(machineB.Machine)) {
		t.Errorf("RepairService ran on %v, want machine-b's queue", q)
	}
	if n, err := localnode.Find(node.Dir); err != nil || !n.Running() || n.PID == node.PID {
		t.Fatalf("leader's node after the repair: %+v (%v), want a new running process", n, err)
	}
	atRepair := w.count()
	eventually(t, time.Minute, "writes after the repair", func() (bool, string) { return w.count() > atRepair+20, fmt.Sprint(w.count()) })
	acked := w.halt()
	must(t, lc.Refresh(ctx, "events"))
	holdsAll(t, ctx, fc, "events", acked, 3*time.Minute)
	wctx, wcancel = context.WithTimeout(ctx, 3*time.Minute)
	if fs, err := ctl.WaitServiceState(wctx, "down-f", workflows.StateRunning, nil); err != nil {
		t.Errorf("follower: %s %q (%v), want RUNNING", fs.State, fs.Reason, err)
	}
	wcancel()
	t.Logf("%d documents acknowledged by the leader, all on the follower", len(acked))
}

// repairWaiting says whether the workflow's RepairService is scheduled and not started.
func repairWaiting(ctx context.Context, tc client.Client, id string) (bool, string) {
	d, err := tc.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return false, err.Error()
	}
	var seen []string
	for _, a := range d.GetPendingActivities() {
		seen = append(seen, a.GetActivityType().GetName()+" "+a.GetState().String())
		if a.GetActivityType().GetName() == "RepairService" && a.GetState() == enumspb.PENDING_ACTIVITY_STATE_SCHEDULED {
			return true, ""
		}
	}
	return false, fmt.Sprint(seen)
}

// repairScheduleToStart is the schedule-to-start timeout of the workflow's last RepairService.
func repairScheduleToStart(t *testing.T, ctx context.Context, tc client.Client, id string) time.Duration {
	t.Helper()
	var bound time.Duration
	it := tc.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		must(t, err)
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == "RepairService" {
			bound = a.GetScheduleToStartTimeout().AsDuration()
		}
	}
	return bound
}

// TestHealthIdleCost measures what health checking costs while nothing happens: a leader (a
// registered cluster behind a counting proxy on 127.0.0.1, so every request osccr makes to it
// is seen) and its local follower are left idle for OSCCR_IDLE_FOR (20m by default); it reports
// the leader's HTTP requests per hour (health looks and the rest) and the history events per
// hour of each service's workflow and of the integration. make chaos runs it.
func TestHealthIdleCost(t *testing.T) {
	// The health watch returns (6 history events) once every 10 minutes when nothing changes:
	// a window much shorter than 20 minutes sees 0, 1 or 2 of them, not a rate.
	idle := 20 * time.Minute
	if v := os.Getenv("OSCCR_IDLE_FOR"); v != "" {
		var err error
		if idle, err = time.ParseDuration(v); err != nil || idle <= 0 {
			t.Fatalf("OSCCR_IDLE_FOR=%q: want a duration such as 5m", v)
		}
	}
	d := testcluster.Distribution(t)
	testcluster.RequireCCR(t, d)
	base := testcluster.Dir(t)
	node := testcluster.Start(t, d, base, "idle-l")
	target, err := url.Parse(node.HTTPURL())
	must(t, err)
	var mu sync.Mutex
	counting := false
	requests := map[string]int{}
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if counting {
			what := r.Method + " " + r.URL.Path
			if strings.HasPrefix(r.URL.Path, "/_cluster/health") {
				what = "GET /_cluster/health"
			}
			requests[what]++
		}
		mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)

	ctl, tc := controlPlane(t, base)
	ctx, cancel := context.WithTimeout(context.Background(), idle+10*time.Minute)
	defer cancel()
	if err := ctl.RegisterService(ctx, control.RegisterServiceRequest{Name: "idle-l", URL: proxy.URL, TransportAddress: node.TransportAddress(), Plan: "business-4"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testcontrol.DeleteAndWait(t, ctl, "idle-l") })
	if _, err := ctl.WaitService(ctx, "idle-l", nil); err != nil {
		t.Fatal(err)
	}
	lc := clientFor(t, node)
	must(t, lc.CreateIndex(ctx, "events", oneShard))
	writeDocs(t, ctx, lc, "events", 0, 100)
	if err := ctl.CreateFollower(ctx, control.CreateFollowerRequest{Leader: "idle-l", Name: "idle-f"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testcontrol.DeleteAndWait(t, ctl, "idle-f") })
	if _, err := ctl.WaitService(ctx, "idle-f", nil); err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	counting = true
	mu.Unlock()
	from := time.Now()
	select { // the measurement: nothing happens for idle
	case <-time.After(idle):
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	mu.Lock()
	counting = false
	counted := maps.Clone(requests)
	mu.Unlock()
	to := time.Now()
	perHour := func(n int) float64 { return float64(n) * float64(time.Hour) / float64(to.Sub(from)) }

	total := 0
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(counted)) {
		total += counted[k]
		lines = append(lines, fmt.Sprintf("%s %.0f/h", k, perHour(counted[k])))
	}
	t.Logf("idle %s: leader HTTP requests %.0f/h in all: %s", to.Sub(from).Round(time.Second), perHour(total), strings.Join(lines, ", "))
	health := perHour(counted["GET /_cluster/health"])
	if health < 900 || health > 2700 {
		t.Errorf("leader health looks %.0f/h, want about 1800 (one every 2 s)", health)
	}
	for _, id := range []string{workflows.ServiceWorkflowID("idle-l"), workflows.ServiceWorkflowID("idle-f"), workflows.IntegrationWorkflowID("idle-l", "idle-f")} {
		n := historyEventsBetween(t, ctx, tc, id, from, to)
		t.Logf("idle %s: %s: %d history events, %.0f per hour", to.Sub(from).Round(time.Second), id, n, perHour(n))
		if strings.HasPrefix(id, "service/") && perHour(n) > 200 {
			t.Errorf("%s: %.0f history events per idle hour, want the health watch's few (about 36)", id, perHour(n))
		}
	}
}

// historyEventsBetween counts the events of a workflow's current run recorded in [from, to).
func historyEventsBetween(t *testing.T, ctx context.Context, tc client.Client, id string, from, to time.Time) int {
	t.Helper()
	n := 0
	it := tc.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		must(t, err)
		if at := ev.GetEventTime().AsTime(); !at.Before(from) && at.Before(to) {
			n++
		}
	}
	return n
}
