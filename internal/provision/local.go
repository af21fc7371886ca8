package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/osccr/osccr/internal/localnode"
)

// stopTimeout is how long a node gets to shut down cleanly before it is killed.
const stopTimeout = 30 * time.Second

// serviceRecordFile holds, in a service's directory, the spec it was provisioned with.
const serviceRecordFile = "service.json"

// Local provisions services as real OpenSearch node processes on this machine, from an unpacked
// distribution (internal/localnode). Each service has a directory under the base directory:
//
//	<base>/<service>/service.json    the spec it was provisioned with and its node names
//	<base>/<service>/<service>-0/    the node directory (config, data, logs, pid)
//	<base>/<service>/admin.password  a secured service's admin password (0600, see WithSecurity)
//
// Everything Local knows is in those directories, so a restarted osccr finds its services,
// running or stopped, where it left them.
//
// A service runs ONE node whatever its plan says: osccr's tests, demos and CI run on machines
// with 2 cores, where a 3- or 6-node cluster per service (and a leader and a follower at once)
// would not start in reasonable time. The plan's node count is recorded and reported as
// Endpoints.PlannedNodes, and the plan's size still sets the node's heap (plan.LocalHeapMB).
//
// Calls for one service are serialized within this process; two processes must not share a
// base directory.
type Local struct {
	dist    localnode.Distribution
	baseDir string
	// locks holds one single-slot semaphore per service (a channel, so waiting can end with
	// ctx); mu guards the map.
	mu    sync.Mutex
	locks map[string]chan struct{}
	// secure is set by WithSecurity: what secured services need.
	secure *localSecurity
}

var _ Provisioner = (*Local)(nil)

// NewLocal returns a local provisioner that starts nodes from dist and keeps services under
// baseDir (created on first use; it and its parents must be searchable by the account nodes run
// as, see localnode).
func NewLocal(dist localnode.Distribution, baseDir string) *Local {
	return &Local{dist: dist, baseDir: baseDir, locks: map[string]chan struct{}{}}
}

// serviceRecord is what service.json holds.
type serviceRecord struct {
	Spec  Spec     `json:"spec"`
	Nodes []string `json:"nodes"`
}

// Provision starts the service's node and waits until it is healthy (yellow or green), or ctx
// ends. It is idempotent:
//  1. A new service gets its directory and record, then its node is started on free ports.
//  2. A service whose node is running is returned as it is (same ports, same pid).
//  3. A service whose node has stopped (crash, reboot) gets it started again on the same ports
//     with the same data, so addresses other clusters know stay valid.
//
// A spec other than the recorded one is refused with ErrSpecMismatch and changes nothing.
func (l *Local) Provision(ctx context.Context, spec Spec) (Endpoints, error) {
	if err := spec.Validate(); err != nil {
		return Endpoints{}, err
	}
	unlock, err := l.lock(ctx, spec.Service)
	if err != nil {
		return Endpoints{}, err
	}
	defer unlock()

	dist, err := l.distFor(spec)
	if err != nil {
		return Endpoints{}, err
	}
	rec, err := l.readRecord(spec.Service)
	switch {
	case err == nil:
		if diff := specDiff(rec.Spec, spec); diff != "" {
			return Endpoints{}, fmt.Errorf("%w: service %q was provisioned with %s; changing it is not a provisioning step", ErrSpecMismatch, spec.Service, diff)
		}
	case errors.Is(err, ErrUnknownService):
		rec = serviceRecord{Spec: spec, Nodes: []string{spec.Service + "-0"}}
		// The record comes first: a crash while the node starts leaves a service that the next
		// Provision finishes and Deprovision removes.
		if err := l.writeRecord(rec); err != nil {
			return Endpoints{}, err
		}
	default:
		return Endpoints{}, err
	}

	nodes := make([]*localnode.Node, 0, len(rec.Nodes))
	for _, name := range rec.Nodes {
		nspec, err := l.nodeSpec(spec, name)
		if err != nil {
			return Endpoints{}, fmt.Errorf("provision service %q: %w", spec.Service, err)
		}
		n, err := dist.Start(ctx, nspec)
		if err != nil {
			return Endpoints{}, fmt.Errorf("provision service %q: %w", spec.Service, err)
		}
		if err := l.awaitSecurity(ctx, rec, n); err != nil {
			return Endpoints{}, fmt.Errorf("provision service %q: %w", spec.Service, err)
		}
		nodes = append(nodes, n)
	}
	e := localEndpoints(rec, nodes)
	if spec.Secured {
		e.Credentials = l.credentials(spec.Service)
	}
	return e, nil
}

// nodeSpec is how a node of the service is started.
func (l *Local) nodeSpec(spec Spec, name string) (localnode.Spec, error) {
	nspec := localnode.Spec{
		Dir:     l.nodeDir(spec.Service, name),
		Cluster: spec.Service,
		Name:    name,
		HeapMB:  spec.Plan.LocalHeapMB(),
	}
	if spec.Secured {
		if err := l.secureNode(&nspec, spec.Service); err != nil {
			return nspec, err
		}
	}
	return nspec, nil
}

// Repair bounds: a node that will not start is tried repairAttempts times, repairBackoff
// apart (doubling), before Repair gives up with the last failure.
const (
	repairAttempts = 3
	repairBackoff  = 2 * time.Second
)

// RepairReport says what a repair did.
type RepairReport struct {
	// Endpoints are the service's endpoints after the repair: new ports when some moved.
	Endpoints Endpoints
	// Restarted are the nodes that were not running and were started again.
	Restarted []string
	// Moved are the restarted nodes whose HTTP or transport port changed (the old one was
	// taken by another process meanwhile): whoever knew the old address must be told.
	Moved []string
}

// Repair starts again every node of the service that is no longer running (killed, crashed,
// the machine rebooted), with its data directory and, where they are still free, its ports
// (localnode.Revive); running nodes are left alone, so a repair of a healthy service changes
// nothing. A node that fails to start is tried again, repairAttempts times in all with a
// doubling backoff from repairBackoff; then Repair fails with the node's own reason. It
// returns once every node is healthy (yellow or green), or ctx ends.
func (l *Local) Repair(ctx context.Context, service string) (RepairReport, error) {
	if err := ValidateServiceName(service); err != nil {
		return RepairReport{}, err
	}
	unlock, err := l.lock(ctx, service)
	if err != nil {
		return RepairReport{}, err
	}
	defer unlock()

	rec, err := l.readRecord(service)
	if err != nil {
		return RepairReport{}, err
	}
	dist, err := l.distFor(rec.Spec)
	if err != nil {
		return RepairReport{}, err
	}
	var report RepairReport
	nodes := make([]*localnode.Node, 0, len(rec.Nodes))
	for _, name := range rec.Nodes {
		nspec, err := l.nodeSpec(rec.Spec, name)
		if err != nil {
			return report, fmt.Errorf("repair service %q: %w", service, err)
		}
		was, err := localnode.Find(nspec.Dir)
		if err != nil {
			return report, fmt.Errorf("repair service %q: %w", service, err)
		}
		if was.Running() {
			nodes = append(nodes, was)
			continue
		}
		var n *localnode.Node
		var moved bool
		wait := repairBackoff
		for attempt := 1; ; attempt++ {
			n, moved, err = dist.Revive(ctx, nspec)
			if err == nil {
				err = l.awaitSecurity(ctx, rec, n)
			}
			if err == nil || attempt == repairAttempts || ctx.Err() != nil {
				break
			}
			if n != nil {
				_ = stopNode(ctx, n) // started but not usable: start it afresh
			}
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
			wait *= 2
		}
		if err != nil {
			return report, fmt.Errorf("repair service %q: node %s did not start again after %d attempts: %w", service, name, repairAttempts, err)
		}
		report.Restarted = append(report.Restarted, name)
		if moved {
			report.Moved = append(report.Moved, name)
		}
		nodes = append(nodes, n)
	}
	report.Endpoints = localEndpoints(rec, nodes)
	if rec.Spec.Secured {
		report.Endpoints.Credentials = l.credentials(service)
	}
	return report, nil
}

// Deprovision stops the service's nodes by pid (SIGTERM, SIGKILL after stopTimeout) and removes
// its directory with all data. An unknown service is not an error.
func (l *Local) Deprovision(ctx context.Context, service string) error {
	if err := ValidateServiceName(service); err != nil {
		return err
	}
	unlock, err := l.lock(ctx, service)
	if err != nil {
		return err
	}
	defer unlock()

	dir := l.serviceDir(service)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	// Every node directory counts, recorded or not: nothing may keep running once the
	// directory is gone.
	records, err := filepath.Glob(filepath.Join(dir, "*", "node.json"))
	if err != nil {
		return fmt.Errorf("deprovision service %q: %w", service, err)
	}
	for _, r := range records {
		n, err := localnode.Find(filepath.Dir(r))
		if err != nil {
			return fmt.Errorf("deprovision service %q: %w", service, err)
		}
		if err := stopNode(ctx, n); err != nil {
			return fmt.Errorf("deprovision service %q: %w", service, err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("deprovision service %q: remove %s: %w", service, dir, err)
	}
	return nil
}

// RecycleNode restarts one node process of the service (node "" means its first node): the
// node is stopped (SIGTERM, SIGKILL after stopTimeout) and started again with the same
// directory, ports and data; RecycleNode returns when it is healthy again or ctx ends.
func (l *Local) RecycleNode(ctx context.Context, service, node string) error {
	if err := ValidateServiceName(service); err != nil {
		return err
	}
	unlock, err := l.lock(ctx, service)
	if err != nil {
		return err
	}
	defer unlock()

	rec, err := l.readRecord(service)
	if err != nil {
		return err
	}
	name, err := pickNode(service, rec.Nodes, node)
	if err != nil {
		return err
	}
	n, err := localnode.Find(l.nodeDir(service, name))
	if err != nil {
		return fmt.Errorf("recycle node %s of service %q: %w", name, service, err)
	}
	dist, err := l.distFor(rec.Spec)
	if err != nil {
		return err
	}
	// Stop with its own bound, so a node that ignores SIGTERM is killed after stopTimeout rather
	// than when the caller's (possibly long) ctx ends; Restart then finds it stopped.
	if err := stopNode(ctx, n); err != nil {
		return fmt.Errorf("recycle node %s of service %q: %w", name, service, err)
	}
	restarted, err := dist.Restart(ctx, n)
	if err != nil {
		return fmt.Errorf("recycle node %s of service %q: %w", name, service, err)
	}
	if err := l.awaitSecurity(ctx, rec, restarted); err != nil {
		return fmt.Errorf("recycle node %s of service %q: %w", name, service, err)
	}
	return nil
}

// ChangePlan moves a service to spec's plan: the new plan is recorded once every node runs with
// its heap (plan.LocalHeapMB). Nodes restart one at a time (stopped, started again with the same
// directory, ports and data, healthy before the next), so a multi-node service keeps serving.
// It is idempotent: a node already running with the new heap is left alone, so a retry after a
// crash restarts only what is left. Anything but the plan differing from the record is refused
// with ErrSpecMismatch and changes nothing.
func (l *Local) ChangePlan(ctx context.Context, spec Spec) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	unlock, err := l.lock(ctx, spec.Service)
	if err != nil {
		return err
	}
	defer unlock()

	rec, err := l.readRecord(spec.Service)
	if err != nil {
		return err
	}
	samePlan := spec
	samePlan.Plan = rec.Spec.Plan
	if diff := specDiff(rec.Spec, samePlan); diff != "" {
		return fmt.Errorf("%w: service %q was provisioned with %s; a plan change changes only the plan", ErrSpecMismatch, spec.Service, diff)
	}
	dist, err := l.distFor(rec.Spec)
	if err != nil {
		return err
	}
	heap := spec.Plan.LocalHeapMB()
	for _, name := range rec.Nodes {
		n, err := localnode.Find(l.nodeDir(spec.Service, name))
		if err != nil {
			return fmt.Errorf("change plan of service %q: %w", spec.Service, err)
		}
		if n.HeapMB == heap && n.Running() {
			continue
		}
		if err := stopNode(ctx, n); err != nil {
			return fmt.Errorf("change plan of service %q: node %s: %w", spec.Service, name, err)
		}
		resized := n.Spec
		resized.HeapMB = heap
		restarted, err := dist.Start(ctx, resized)
		if err != nil {
			return fmt.Errorf("change plan of service %q: restart node %s with %d MB heap: %w", spec.Service, name, heap, err)
		}
		if err := l.awaitSecurity(ctx, rec, restarted); err != nil {
			return fmt.Errorf("change plan of service %q: node %s: %w", spec.Service, name, err)
		}
	}
	rec.Spec = spec
	return l.writeRecord(rec)
}

// Health asks the service's cluster for its health. It does not wait for a Provision or
// RecycleNode in progress: watching a recycle is what it is for.
func (l *Local) Health(ctx context.Context, service string) (Health, error) {
	if err := ValidateServiceName(service); err != nil {
		return Health{}, err
	}
	rec, err := l.readRecord(service)
	if err != nil {
		return Health{}, err
	}
	n, err := localnode.Find(l.nodeDir(service, rec.Nodes[0]))
	if errors.Is(err, fs.ErrNotExist) {
		return Health{Status: StatusUnreachable, Reason: fmt.Sprintf("node %s of service %q has not been started yet", rec.Nodes[0], service)}, nil
	}
	if err != nil {
		return Health{}, err
	}
	cfg, err := l.clientConfig(rec, n)
	if err != nil {
		return Health{}, err
	}
	h, err := clusterHealth(ctx, cfg)
	if err == nil && h.Status == StatusUnreachable && !n.Running() {
		h.Reason = fmt.Sprintf("node %s (pid %d) is not running: %s", n.Name, n.PID, h.Reason)
	}
	return h, err
}

// pickNode resolves the node a caller asked for: "" is the first one.
func pickNode(service string, nodes []string, node string) (string, error) {
	if len(nodes) == 0 {
		return "", fmt.Errorf("service %q records no nodes", service)
	}
	if node == "" {
		return nodes[0], nil
	}
	for _, n := range nodes {
		if n == node {
			return n, nil
		}
	}
	return "", fmt.Errorf("%w %q in service %q; its nodes are: %s", ErrUnknownNode, node, service, strings.Join(nodes, ", "))
}

func stopNode(ctx context.Context, n *localnode.Node) error {
	stopCtx, cancel := context.WithTimeout(ctx, stopTimeout)
	defer cancel()
	return n.Stop(stopCtx)
}

func localEndpoints(rec serviceRecord, nodes []*localnode.Node) Endpoints {
	e := Endpoints{PlannedNodes: rec.Spec.Plan.Nodes}
	for _, n := range nodes {
		e.Nodes = append(e.Nodes, NodeEndpoint{Name: n.Name, HTTPURL: n.HTTPURL(), TransportAddress: n.TransportAddress(), PID: n.PID})
	}
	if len(nodes) > 0 {
		e.HTTPURL, e.TransportAddress = nodes[0].HTTPURL(), nodes[0].TransportAddress()
	}
	return e
}

// specDiff describes how got differs from want, or returns "" when they are the same.
func specDiff(recorded, asked Spec) string {
	var diffs []string
	if recorded.Plan != asked.Plan {
		diffs = append(diffs, fmt.Sprintf("plan %q, not %q", recorded.Plan.Name, asked.Plan.Name))
		if recorded.Plan.Name == asked.Plan.Name {
			diffs[len(diffs)-1] = fmt.Sprintf("plan %v, not %v", recorded.Plan, asked.Plan)
		}
	}
	if recorded.Cloud != asked.Cloud {
		diffs = append(diffs, fmt.Sprintf("cloud %q, not %q", recorded.Cloud, asked.Cloud))
	}
	if recorded.Region != asked.Region {
		diffs = append(diffs, fmt.Sprintf("region %q, not %q", recorded.Region, asked.Region))
	}
	if recorded.ExtraDiskGB != asked.ExtraDiskGB {
		diffs = append(diffs, fmt.Sprintf("%d GB extra disk, not %d", recorded.ExtraDiskGB, asked.ExtraDiskGB))
	}
	if recorded.Secured != asked.Secured {
		diffs = append(diffs, fmt.Sprintf("security %s, not %s", securityWord(recorded.Secured), securityWord(asked.Secured)))
	}
	return strings.Join(diffs, ", ")
}

func (l *Local) serviceDir(service string) string { return filepath.Join(l.baseDir, service) }

func (l *Local) nodeDir(service, node string) string {
	return filepath.Join(l.serviceDir(service), node)
}

// readRecord reads a service's record; the error matches ErrUnknownService when there is none.
func (l *Local) readRecord(service string) (serviceRecord, error) {
	path := filepath.Join(l.serviceDir(service), serviceRecordFile)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return serviceRecord{}, fmt.Errorf("%w %q: the local provisioner has no service of that name under %s", ErrUnknownService, service, l.baseDir)
	}
	if err != nil {
		return serviceRecord{}, fmt.Errorf("read record of service %q: %w", service, err)
	}
	var rec serviceRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		return serviceRecord{}, fmt.Errorf("parse record of service %q (%s): %w", service, path, err)
	}
	if len(rec.Nodes) == 0 {
		return serviceRecord{}, fmt.Errorf("record of service %q (%s) lists no nodes", service, path)
	}
	return rec, nil
}

// writeRecord writes a service's record atomically (Health reads it without the lock).
func (l *Local) writeRecord(rec serviceRecord) error {
	dir := l.serviceDir(rec.Spec.Service)
	// 0755: nodes may run as another account (localnode), which must reach their directories.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create directory of service %q: %w", rec.Spec.Service, err)
	}
	raw, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("encode record of service %q: %w", rec.Spec.Service, err)
	}
	tmp := filepath.Join(dir, serviceRecordFile+".tmp")
	if err := os.WriteFile(tmp, raw, 0o644); err != nil {
		return fmt.Errorf("write record of service %q: %w", rec.Spec.Service, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, serviceRecordFile)); err != nil {
		return fmt.Errorf("write record of service %q: %w", rec.Spec.Service, err)
	}
	return nil
}

// lock serializes calls for one service in this process. It gives up when ctx ends.
func (l *Local) lock(ctx context.Context, service string) (unlock func(), err error) {
	l.mu.Lock()
	sem, ok := l.locks[service]
	if !ok {
		sem = make(chan struct{}, 1)
		l.locks[service] = sem
	}
	l.mu.Unlock()
	// A free service is taken even when ctx has ended: select would pick at random.
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	default:
	}
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("service %q is busy with another call: %w", service, ctx.Err())
	}
}

func securityWord(secured bool) string {
	if secured {
		return "on"
	}
	return "off"
}
