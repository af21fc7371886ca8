package provision_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/osccr/osccr/internal/localnode"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/plan"
	"github.com/osccr/osccr/internal/provision"
	"github.com/osccr/osccr/internal/testcluster"
)

// step bounds one provisioning step (a node start or restart) on a loaded 2-core machine.
const step = testcluster.StartTimeout

// isOpenSearch reports whether pid is a running OpenSearch node process.
func isOpenSearch(pid int) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && strings.Contains(string(cmdline), "org.opensearch.bootstrap.OpenSearch")
}

// waitGone waits until pid is no OpenSearch process any more.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for isOpenSearch(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("OpenSearch process %d still running", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func lookup(t *testing.T, name string) plan.Plan {
	t.Helper()
	p, err := plan.Default().Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func requireHealthy(t *testing.T, p provision.Provisioner, service string) provision.Health {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h, err := p.Health(ctx, service)
	if err != nil {
		t.Fatalf("Health(%s): %v", service, err)
	}
	if !h.Healthy() || h.Nodes != 1 {
		t.Fatalf("Health(%s) = %+v, want green or yellow with 1 node", service, h)
	}
	return h
}

// TestLocalLifecycle runs one service through the local backend against a real OpenSearch node:
// provision, provision again, write, recycle, plan change, restart after a crash, deprovision.
func TestLocalLifecycle(t *testing.T) {
	dist := testcluster.Distribution(t)
	base := testcluster.Dir(t)
	l := provision.NewLocal(dist, base)
	const service = "orders-eu"
	spec := provision.Spec{Service: service, Plan: lookup(t, "business-4"), Cloud: "aws", Region: "eu-west-1"}
	serviceDir := filepath.Join(base, service)

	var pids []int // every node process this test saw: none may outlive it
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := l.Deprovision(ctx, service); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		for _, pid := range pids {
			waitGone(t, pid)
		}
	})

	provisionNow := func(t *testing.T) (provision.Endpoints, time.Duration) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), step)
		defer cancel()
		started := time.Now()
		e, err := l.Provision(ctx, spec)
		if err != nil {
			t.Fatalf("Provision: %v", err)
		}
		for _, n := range e.Nodes {
			pids = append(pids, n.PID)
		}
		return e, time.Since(started)
	}

	// 1. A new service: one real node, whatever the plan's node count.
	first, took := provisionNow(t)
	t.Logf("provision (new node): %s -> %+v", took.Round(time.Millisecond), first)
	if len(first.Nodes) != 1 || first.PlannedNodes != 3 {
		t.Fatalf("Endpoints = %+v, want 1 node and 3 planned", first)
	}
	node := first.Nodes[0]
	if node.Name != service+"-0" || node.HTTPURL != first.HTTPURL || node.TransportAddress != first.TransportAddress || !isOpenSearch(node.PID) {
		t.Fatalf("node endpoint %+v does not match %+v or is not running", node, first)
	}
	client, err := opensearch.New(opensearch.Config{URLs: []string{first.HTTPURL}, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	info, err := client.Info(ctx)
	if err != nil || info.ClusterName != service {
		t.Fatalf("Info = %+v, %v; want cluster %q", info, err, service)
	}
	stats, err := client.Nodes(ctx)
	if err != nil || len(stats) != 1 {
		t.Fatalf("Nodes = %+v, %v", stats, err)
	}
	if want := int64(spec.Plan.LocalHeapMB()) << 20; stats[0].HeapMaxBytes != want {
		t.Errorf("heap = %d bytes, want %d (plan.LocalHeapMB)", stats[0].HeapMaxBytes, want)
	}
	t.Logf("health after provision: %+v", requireHealthy(t, l, service))

	// 2. Provisioning again finds the running node.
	again, took := provisionNow(t)
	t.Logf("provision (already running): %s", took.Round(time.Millisecond))
	if !reflect.DeepEqual(again, first) {
		t.Fatalf("second Provision = %+v, want %+v", again, first)
	}

	// 3. Another spec for the same service is refused and changes nothing.
	changed := spec
	changed.Plan = lookup(t, "business-8")
	if _, err := l.Provision(ctx, changed); !errors.Is(err, provision.ErrSpecMismatch) || !strings.Contains(err.Error(), "business-4") {
		t.Errorf("Provision with another plan = %v, want ErrSpecMismatch naming business-4", err)
	}
	if !isOpenSearch(node.PID) {
		t.Fatal("a refused Provision stopped the node")
	}

	// 4. Data written now must survive a recycle.
	if err := client.IndexDocument(ctx, "orders", "1", map[string]any{"item": "book"}, opensearch.WithRefresh()); err != nil {
		t.Fatalf("IndexDocument: %v", err)
	}

	// 5. Recycle: a new process on the same ports, with the data.
	if err := l.RecycleNode(ctx, service, "no-such-node"); !errors.Is(err, provision.ErrUnknownNode) || !strings.Contains(err.Error(), node.Name) {
		t.Errorf("RecycleNode(no-such-node) = %v, want ErrUnknownNode listing %s", err, node.Name)
	}
	rctx, cancel := context.WithTimeout(ctx, step)
	started := time.Now()
	err = l.RecycleNode(rctx, service, "")
	cancel()
	if err != nil {
		t.Fatalf("RecycleNode: %v", err)
	}
	t.Logf("recycle: %s", time.Since(started).Round(time.Millisecond))
	waitGone(t, node.PID)
	recycled, _ := provisionNow(t)
	if recycled.Nodes[0].PID == node.PID || recycled.HTTPURL != first.HTTPURL || recycled.TransportAddress != first.TransportAddress {
		t.Fatalf("after recycle: %+v, want a new pid (old %d) on the same ports as %+v", recycled, node.PID, first)
	}
	t.Logf("health after recycle: %+v", requireHealthy(t, l, service))
	ids, err := client.DocumentIDs(ctx, "orders")
	if err != nil || !reflect.DeepEqual(ids, []string{"1"}) {
		t.Fatalf("documents after recycle = %v, %v; want [1]", ids, err)
	}

	// 5b. A plan change restarts the node with the new plan's heap, on the same ports, with the
	//     data; changing to that plan again restarts nothing; anything else changed is refused.
	moved := spec
	moved.Region = "us-east-1"
	if err := l.ChangePlan(ctx, moved); !errors.Is(err, provision.ErrSpecMismatch) || !strings.Contains(err.Error(), "region") {
		t.Errorf("ChangePlan with another region = %v, want ErrSpecMismatch naming the region", err)
	}
	bigger := spec
	bigger.Plan = lookup(t, "business-8")
	if bigger.Plan.LocalHeapMB() == spec.Plan.LocalHeapMB() {
		t.Fatalf("business-8 and business-4 get the same heap: the plan change would restart nothing")
	}
	cctx, cancel := context.WithTimeout(ctx, step)
	started = time.Now()
	err = l.ChangePlan(cctx, bigger)
	cancel()
	if err != nil {
		t.Fatalf("ChangePlan: %v", err)
	}
	t.Logf("plan change: %s", time.Since(started).Round(time.Millisecond))
	spec = bigger
	resized, _ := provisionNow(t) // the record holds the new plan: provisioning it is no mismatch
	if resized.Nodes[0].PID == recycled.Nodes[0].PID || resized.HTTPURL != first.HTTPURL {
		t.Fatalf("after plan change: %+v, want a new pid (old %d) on the same ports as %+v", resized, recycled.Nodes[0].PID, first)
	}
	if stats, err := client.Nodes(ctx); err != nil || len(stats) != 1 || stats[0].HeapMaxBytes != int64(bigger.Plan.LocalHeapMB())<<20 {
		t.Errorf("after plan change: nodes %+v (%v), want one with %d MB heap", stats, err, bigger.Plan.LocalHeapMB())
	}
	if err := l.ChangePlan(ctx, bigger); err != nil {
		t.Fatalf("ChangePlan to the same plan: %v", err)
	}
	if same, _ := provisionNow(t); same.Nodes[0].PID != resized.Nodes[0].PID {
		t.Errorf("ChangePlan to the plan the service has restarted the node (pid %d -> %d)", resized.Nodes[0].PID, same.Nodes[0].PID)
	}
	if count, err := client.Count(ctx, "orders"); err != nil || count != 1 {
		t.Fatalf("documents after plan change = %d, %v; want 1", count, err)
	}

	// 6. A node that died (crash, reboot) is reported unreachable, then started again by
	//    Provision on the same ports with the same data.
	n, err := localnode.Find(filepath.Join(serviceDir, node.Name))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	h, err := l.Health(ctx, service)
	if err != nil || h.Status != provision.StatusUnreachable || !strings.Contains(h.Reason, "not running") {
		t.Errorf("Health of a stopped node = %+v, %v; want unreachable saying not running", h, err)
	}
	restarted, took := provisionNow(t)
	t.Logf("provision (stopped node): %s", took.Round(time.Millisecond))
	if restarted.Nodes[0].PID == n.PID || restarted.HTTPURL != first.HTTPURL || restarted.TransportAddress != first.TransportAddress {
		t.Fatalf("after restart: %+v, want a new pid on the same ports as %+v", restarted, first)
	}
	if count, err := client.Count(ctx, "orders"); err != nil || count != 1 {
		t.Fatalf("documents after restart = %d, %v; want 1", count, err)
	}

	// 7. Deprovision stops the process and removes everything; doing it again is a no-op.
	dctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	started = time.Now()
	if err := l.Deprovision(dctx, service); err != nil {
		t.Fatalf("Deprovision: %v", err)
	}
	t.Logf("deprovision: %s", time.Since(started).Round(time.Millisecond))
	if isOpenSearch(restarted.Nodes[0].PID) {
		t.Errorf("node process %d still running after Deprovision", restarted.Nodes[0].PID)
	}
	if _, err := os.Stat(serviceDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("service directory still there after Deprovision: %v", err)
	}
	if err := l.Deprovision(dctx, service); err != nil {
		t.Errorf("second Deprovision = %v, want nil", err)
	}
	if _, err := l.Health(dctx, service); !errors.Is(err, provision.ErrUnknownService) {
		t.Errorf("Health after Deprovision = %v, want ErrUnknownService", err)
	}
}

// TestLocalRepair: a node killed with SIGKILL is started again by Repair with its data; its
// transport port, still free, is kept; its HTTP port, taken by another process meanwhile, is
// replaced, and the report says so. A repair of a service whose nodes run changes nothing.
func TestLocalRepair(t *testing.T) {
	dist := testcluster.Distribution(t)
	l := provision.NewLocal(dist, testcluster.Dir(t))
	const service = "repair-me"
	spec := provision.Spec{Service: service, Plan: lookup(t, "business-4")}
	ctx, cancel := context.WithTimeout(context.Background(), 3*step)
	defer cancel()
	var pids []int
	t.Cleanup(func() {
		if err := l.Deprovision(context.Background(), service); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		for _, pid := range pids {
			waitGone(t, pid)
		}
	})
	first, err := l.Provision(ctx, spec)
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	pids = append(pids, first.Nodes[0].PID)
	client, err := opensearch.New(opensearch.Config{URLs: []string{first.HTTPURL}, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.CreateIndex(ctx, "kept", nil); err != nil {
		t.Fatal(err)
	}
	if err := client.Bulk(ctx, "kept", opensearch.DocsFromMap(map[string]any{"1": map[string]any{"v": 1}})); err != nil {
		t.Fatal(err)
	}

	same, err := l.Repair(ctx, service)
	if err != nil || len(same.Restarted) != 0 || same.Endpoints.Nodes[0].PID != first.Nodes[0].PID {
		t.Fatalf("Repair of a running service = %+v, %v; want nothing restarted", same, err)
	}

	if err := syscall.Kill(first.Nodes[0].PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, first.Nodes[0].PID)
	httpPort := first.HTTPURL[strings.LastIndex(first.HTTPURL, ":")+1:]
	var taken net.Listener
	for deadline := time.Now().Add(30 * time.Second); ; { // the dead process's sockets close
		if taken, err = net.Listen("tcp", "127.0.0.1:"+httpPort); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		out, _ := exec.Command("ss", "-tanp").CombinedOutput()
		t.Fatalf("take the dead node's HTTP port %s: %v\n%s", httpPort, err, out)
	}
	defer taken.Close()

	began := time.Now()
	rep, err := l.Repair(ctx, service)
	if err != nil {
		t.Fatalf("Repair: %v", err)
	}
	pids = append(pids, rep.Endpoints.Nodes[0].PID)
	t.Logf("repair of a killed node: %s -> %+v", time.Since(began).Round(time.Millisecond), rep)
	if !reflect.DeepEqual(rep.Restarted, []string{service + "-0"}) || !reflect.DeepEqual(rep.Moved, rep.Restarted) {
		t.Errorf("report %+v, want the node restarted and moved", rep)
	}
	if rep.Endpoints.HTTPURL == first.HTTPURL || rep.Endpoints.TransportAddress != first.TransportAddress {
		t.Errorf("endpoints %s %s after repair, want a new HTTP port (the old one is taken) and the transport address %s kept",
			rep.Endpoints.HTTPURL, rep.Endpoints.TransportAddress, first.TransportAddress)
	}
	after, err := opensearch.New(opensearch.Config{URLs: []string{rep.Endpoints.HTTPURL}, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if err := after.Refresh(ctx, "kept"); err != nil {
		t.Fatal(err)
	}
	if n, err := after.Count(ctx, "kept"); err != nil || n != 1 {
		t.Errorf("documents after repair = %d, %v; want the 1 written before the kill", n, err)
	}
}
