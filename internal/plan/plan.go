// Package plan is osccr's one catalog of service plans: what a plan is called, which tier it
// belongs to, and how many nodes, how much memory and disk it gives a service. It also holds the
// product rules that depend on plans: cross-cluster replication (CCR) is refused on the
// hobbyist and startup tiers, and a follower is created on its leader's plan (so it has as much
// memory as the leader); the plan may change later.
package plan

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Tier groups plans by what the product offers on them.
type Tier string

// Tiers, from smallest to largest.
const (
	TierHobbyist Tier = "hobbyist"
	TierStartup  Tier = "startup"
	TierBusiness Tier = "business"
	TierPremium  Tier = "premium"
)

// rank orders tiers for listing; an unknown tier sorts last.
func (t Tier) rank() int {
	switch t {
	case TierHobbyist:
		return 0
	case TierStartup:
		return 1
	case TierBusiness:
		return 2
	case TierPremium:
		return 3
	}
	return 4
}

// SupportsCCR reports whether services on this tier may take part in cross-cluster replication.
func (t Tier) SupportsCCR() bool { return t == TierBusiness || t == TierPremium }

// Plan is one service plan. Memory and disk are per node.
type Plan struct {
	Name     string
	Tier     Tier
	Nodes    int
	MemoryGB int // per node
	DiskGB   int // per node, before any extra disk the service adds
}

// SupportsCCR reports whether a service on this plan may be a CCR leader or follower.
func (p Plan) SupportsCCR() bool { return p.Tier.SupportsCCR() }

// LocalHeapMB is the JVM heap a node of this plan gets from the local backend. The local backend
// runs every service on one developer machine or CI runner (2 cores, a few GB), so the heap is a
// token of the plan's size rather than half its memory as in production; a bigger plan still
// gets a bigger heap.
func (p Plan) LocalHeapMB() int {
	switch {
	case p.MemoryGB <= 4:
		return 256
	case p.MemoryGB < 16:
		return 384
	default:
		return 512
	}
}

// String names the plan with its size, e.g. "business-4 (business, 3 nodes x 4 GB, 80 GB disk)".
func (p Plan) String() string {
	nodes := "1 node"
	if p.Nodes != 1 {
		nodes = fmt.Sprintf("%d nodes", p.Nodes)
	}
	return fmt.Sprintf("%s (%s, %s x %d GB, %d GB disk)", p.Name, p.Tier, nodes, p.MemoryGB, p.DiskGB)
}

// Errors the catalog and the CCR rules return, for errors.Is. All of them mean bad input:
// retrying the same request will not help.
var (
	// ErrUnknownPlan: no plan has the requested name.
	ErrUnknownPlan = errors.New("unknown plan")
	// ErrCCRNotSupported: the plan's tier does not offer cross-cluster replication.
	ErrCCRNotSupported = errors.New("cross-cluster replication is not available on this plan")
	// ErrFollowerPlanMismatch: a follower is being created on another plan than its leader's.
	ErrFollowerPlanMismatch = errors.New("follower plan differs from leader plan")
)

// Catalog is a set of plans looked up by name. It is not changed after it is built, so it is
// safe for concurrent use.
type Catalog struct {
	byName map[string]Plan
	sorted []Plan
}

// Default returns the catalog osccr offers.
func Default() *Catalog {
	return newCatalog([]Plan{
		{Name: "hobbyist", Tier: TierHobbyist, Nodes: 1, MemoryGB: 2, DiskGB: 16},
		{Name: "startup-4", Tier: TierStartup, Nodes: 1, MemoryGB: 4, DiskGB: 80},
		{Name: "startup-8", Tier: TierStartup, Nodes: 1, MemoryGB: 8, DiskGB: 175},
		{Name: "startup-16", Tier: TierStartup, Nodes: 1, MemoryGB: 16, DiskGB: 350},
		{Name: "business-4", Tier: TierBusiness, Nodes: 3, MemoryGB: 4, DiskGB: 80},
		{Name: "business-8", Tier: TierBusiness, Nodes: 3, MemoryGB: 8, DiskGB: 175},
		{Name: "business-16", Tier: TierBusiness, Nodes: 3, MemoryGB: 16, DiskGB: 350},
		{Name: "premium-6x-8", Tier: TierPremium, Nodes: 6, MemoryGB: 8, DiskGB: 175},
		{Name: "premium-6x-16", Tier: TierPremium, Nodes: 6, MemoryGB: 16, DiskGB: 350},
	})
}

func newCatalog(plans []Plan) *Catalog {
	c := &Catalog{byName: make(map[string]Plan, len(plans)), sorted: append([]Plan(nil), plans...)}
	for _, p := range plans {
		c.byName[p.Name] = p
	}
	sort.SliceStable(c.sorted, func(i, j int) bool {
		a, b := c.sorted[i], c.sorted[j]
		if a.Tier.rank() != b.Tier.rank() {
			return a.Tier.rank() < b.Tier.rank()
		}
		if a.Nodes*a.MemoryGB != b.Nodes*b.MemoryGB {
			return a.Nodes*a.MemoryGB < b.Nodes*b.MemoryGB
		}
		return a.Name < b.Name
	})
	return c
}

// Lookup returns the plan with the given name. The error for an unknown name lists the valid
// ones and matches ErrUnknownPlan.
func (c *Catalog) Lookup(name string) (Plan, error) {
	if p, ok := c.byName[name]; ok {
		return p, nil
	}
	if name == "" {
		return Plan{}, fmt.Errorf("%w: no plan name given; valid plans: %s", ErrUnknownPlan, c.names())
	}
	return Plan{}, fmt.Errorf("%w %q; valid plans: %s", ErrUnknownPlan, name, c.names())
}

// List returns all plans, smallest tier first, and within a tier by total memory.
func (c *Catalog) List() []Plan { return append([]Plan(nil), c.sorted...) }

func (c *Catalog) names() string {
	names := make([]string, len(c.sorted))
	for i, p := range c.sorted {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

// CheckFollowerPlan applies the product's rules for creating a follower of leader on plan
// follower: both must be on a tier that offers CCR, and the follower must be created on exactly
// the leader's plan, so it has as much memory as the leader. (A follower's plan may change
// after creation; this check is for creation only.)
func CheckFollowerPlan(leader, follower Plan) error {
	if !leader.SupportsCCR() {
		return fmt.Errorf("%w: the leader is on plan %q (%s tier); cross-cluster replication is not available on the hobbyist and startup tiers, move the leader to a business or premium plan first",
			ErrCCRNotSupported, leader.Name, leader.Tier)
	}
	if !follower.SupportsCCR() {
		return fmt.Errorf("%w: the follower plan %q is on the %s tier; cross-cluster replication is not available on the hobbyist and startup tiers, create the follower on the leader's plan %q",
			ErrCCRNotSupported, follower.Name, follower.Tier, leader.Name)
	}
	if follower.Name != leader.Name {
		return fmt.Errorf("%w: a follower must be created on the leader's plan %q, not %q (it needs as much memory as the leader; the plan can be changed after creation)",
			ErrFollowerPlanMismatch, leader.Name, follower.Name)
	}
	return nil
}
