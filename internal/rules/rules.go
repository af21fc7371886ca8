// Package rules is osccr's rulebook: every rule of the domain that decides whether a request
// about services may go ahead, each under a name, in one place. The service workflow's update
// validators, the application layer (and so the CLI, the API and the console) and the dry runs
// all ask these functions; a refusal is a *Refusal that names its rule.
//
// The rules read a Service, the part of a service's state they need; they do no I/O and are
// deterministic, so a workflow may call them.
package rules

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/osccr/osccr/internal/plan"
)

// Name names a rule.
type Name string

// The rules, by the request they decide.
const (
	// Following (a follower created, or an existing service made one).
	PromotedNeverFollows   Name = "promoted-never-follows"
	OneLeader              Name = "one-leader"
	LeaderIsNotAFollower   Name = "leader-is-not-a-follower"
	NotItself              Name = "not-itself"
	LeaderHasEndpoints     Name = "leader-has-endpoints"
	FollowerRunning        Name = "follower-running"
	FollowerPlan           Name = "follower-plan"
	NoFollowerOfAFollower  Name = "no-follower-of-a-follower"
	LeaderRunning          Name = "leader-running"
	DeleteOnce             Name = "delete-once"
	LeaderKeepsItsFollower Name = "leader-keeps-its-followers"
	TerminationProtection  Name = "termination-protection"
	// Promotion.
	PromoteNotWhileDeleting Name = "promote-not-while-deleting"
	OnlyFollowersPromote    Name = "only-followers-promote"
	PromoteAfterProvision   Name = "promote-after-provisioning"
	// Node recycle.
	RecycleOwnNodes          Name = "recycle-own-nodes"
	RecycleNotWhileDeleting  Name = "recycle-not-while-deleting"
	OneRecycleAtATime        Name = "one-recycle-at-a-time"
	RecycleAfterProvisioning Name = "recycle-after-provisioning"
	// Plan change.
	PlanExists                Name = "plan-exists"
	PlanNotWhileDeleting      Name = "plan-not-while-deleting"
	FollowerPlanFollowsLeader Name = "follower-plan-follows-leader"
	ReplicationNeedsTier      Name = "replication-needs-business-tier"
	PlanChangeWhenRunning     Name = "plan-change-when-running"
	// Creation.
	ExtraDiskBounds Name = "extra-disk-bounds"
	SecurityModes   Name = "security-modes"
)

// Refusal is a request a rule refuses: the rule's name and the reason, which says what to do.
type Refusal struct {
	Rule   Name
	Reason string
	// Err is a cause callers may test with errors.Is (a plan error), or nil.
	Err error
}

func (r *Refusal) Error() string { return r.Reason + " [rule " + string(r.Rule) + "]" }
func (r *Refusal) Unwrap() error { return r.Err }

func refuse(rule Name, format string, args ...any) error {
	return &Refusal{Rule: rule, Reason: fmt.Sprintf(format, args...)}
}

// RuleOf is the rule that refused err, or "" when no rule did.
func RuleOf(err error) Name {
	var r *Refusal
	if errors.As(err, &r) {
		return r.Rule
	}
	return ""
}

// Roles and states the rules read (the service workflow's vocabulary).
const (
	RoleStandalone    = "standalone"
	RoleLeader        = "leader"
	RoleFollower      = "follower"
	StateProvisioning = "PROVISIONING"
	StateRunning      = "RUNNING"
	StatePaused       = "PAUSED"
	StateDeleting     = "DELETING"
)

// Service is what the rules read of a service.
type Service struct {
	Name, Role, State, Plan string
	// Leader is a follower's leader.
	Leader    string
	Followers []string
	// Local says osccr runs the service's nodes (the local backend).
	Local bool
	// Promoted is set once the service was promoted from a follower.
	Promoted *Promotion
}

// Promotion is when a service was promoted, and from which leader.
type Promotion struct {
	FormerLeader string
	At           time.Time
}

// Leader is what the follow rules read of the leader asked for.
type Leader struct {
	Name, Plan, URL, TransportAddress string
}

// first returns the first refusal of checks, in order.
func first(checks ...func() error) error {
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// CanFollow decides whether s, an existing service, may become a follower of leader (the
// follow update): not promoted before, not already a follower nor a leader, not itself, the
// leader RUNNING with endpoints, s RUNNING and on the leader's plan.
func CanFollow(s Service, leader Leader) error {
	return first(
		func() error {
			if s.Promoted == nil {
				return nil
			}
			return refuse(PromotedNeverFollows, "service %s was promoted from a follower of %s on %s: a promoted service never follows again; follow %s with a new service (osccr follower create %s --name NAME)",
				s.Name, s.Promoted.FormerLeader, s.Promoted.At.Format(time.RFC3339), leader.Name, leader.Name)
		},
		func() error {
			if s.Role != RoleFollower {
				return nil
			}
			return refuse(OneLeader, "service %s already follows %s: a service follows one leader; promote or delete it first", s.Name, s.Leader)
		},
		func() error {
			if len(s.Followers) == 0 {
				return nil
			}
			return refuse(LeaderIsNotAFollower, "service %s is the leader of %s: a leader cannot also be a follower; delete or promote its followers first", s.Name, strings.Join(s.Followers, ", "))
		},
		func() error { return NotSelf(leader.Name, s.Name) },
		func() error {
			if leader.URL != "" && leader.TransportAddress != "" {
				return nil
			}
			return refuse(LeaderHasEndpoints, "leader %s has no endpoints yet (URL %q, transport %q): it must be RUNNING", leader.Name, leader.URL, leader.TransportAddress)
		},
		func() error {
			if s.State == StateRunning {
				return nil
			}
			return refuse(FollowerRunning, "service %s is %s; it must be RUNNING to become a follower", s.Name, s.State)
		},
		func() error {
			_, _, err := FollowerPlans(leader.Name, leader.Plan, s.Plan)
			if err != nil {
				var r *Refusal
				if errors.As(err, &r) && r.Rule == FollowerPlan {
					r.Reason += fmt.Sprintf("; change the plan of %s first (osccr service update %s --plan %s)", s.Name, s.Name, leader.Plan)
				}
			}
			return err
		},
	)
}

// NotSelf decides that service, asked to follow leader, is another service: a service cannot
// follow itself (checked by name, before either is looked up).
func NotSelf(leader, service string) error {
	if leader != service {
		return nil
	}
	return refuse(NotItself, "source and dest are both %s: a service cannot follow itself", service)
}

// FollowerPlans decides whether a follower on plan followerPlan may follow a leader on
// leaderPlan (plan.CheckFollowerPlan: both on a tier with replication, the same plan), and
// returns both plans. An unknown plan is refused by PlanExists.
func FollowerPlans(leaderName, leaderPlan, followerPlan string) (leader, follower plan.Plan, err error) {
	catalog := plan.Default()
	if leader, err = catalog.Lookup(leaderPlan); err != nil {
		return leader, follower, &Refusal{Rule: PlanExists, Reason: fmt.Sprintf("leader %s: %v", leaderName, err), Err: err}
	}
	if follower, err = catalog.Lookup(followerPlan); err != nil {
		return leader, follower, &Refusal{Rule: PlanExists, Reason: err.Error(), Err: err}
	}
	if err = plan.CheckFollowerPlan(leader, follower); err != nil {
		return leader, follower, &Refusal{Rule: FollowerPlan, Reason: err.Error(), Err: err}
	}
	return leader, follower, nil
}

// CanLead decides whether s may get a follower: it is not itself a follower, and it is RUNNING.
func CanLead(s Service) error {
	switch {
	case s.Role == RoleFollower:
		return refuse(NoFollowerOfAFollower, "%s is itself a follower (of %s): a follower of a follower is not allowed; follow %s instead", s.Name, s.Leader, s.Leader)
	case s.State != StateRunning:
		return refuse(LeaderRunning, "leader %s is %s; it must be RUNNING to get a follower", s.Name, s.State)
	}
	return nil
}

// CanDelete decides whether s may be deleted (deleting: a delete was accepted already): once,
// and not while it leads followers.
func CanDelete(s Service, deleting bool) error {
	switch {
	case deleting || s.State == StateDeleting:
		return refuse(DeleteOnce, "service %s is already being deleted", s.Name)
	case len(s.Followers) > 0:
		return refuse(LeaderKeepsItsFollower, "service %s is the leader of %v: delete or promote its followers first", s.Name, s.Followers)
	}
	return nil
}

// TerminationProtected is the refusal of a delete of a service under termination protection: it
// blocks a delete only, never a promotion or a switchover (a disaster must not wait for a flag).
func TerminationProtected(name string) error {
	return refuse(TerminationProtection, "service %s has termination protection: it cannot be deleted while the protection is on; turn it off first (PUT .../service/%s {\"termination_protection\": false}, or avn service update %s --disable-termination-protection), then delete it", name, name, name)
}

// CanPromote decides whether s may be promoted: a follower past PROVISIONING, not being
// deleted. Promoting a promoted service is allowed: it answers with the earlier report.
func CanPromote(s Service, deleting bool) error {
	switch {
	case deleting || s.State == StateDeleting:
		return refuse(PromoteNotWhileDeleting, "service %s is being deleted", s.Name)
	case s.Promoted != nil:
		return nil
	case s.Role != RoleFollower:
		return refuse(OnlyFollowersPromote, "service %s is not a follower (it is %s): only a follower can be promoted", s.Name, s.Role)
	case s.State == StateProvisioning:
		return refuse(PromoteAfterProvision, "service %s is still PROVISIONING", s.Name)
	}
	return nil
}

// CanRecycle decides whether a node of s may be recycled (recycling: one is already): osccr's
// own nodes only, one at a time, past PROVISIONING, not while deleting.
func CanRecycle(s Service, deleting, recycling bool) error {
	switch {
	case !s.Local:
		return refuse(RecycleOwnNodes, "service %s is a registered cluster: osccr cannot restart nodes it does not run; restart the node yourself", s.Name)
	case deleting || s.State == StateDeleting:
		return refuse(RecycleNotWhileDeleting, "service %s is being deleted", s.Name)
	case recycling:
		return refuse(OneRecycleAtATime, "a node of service %s is already being recycled", s.Name)
	case s.State == StateProvisioning:
		return refuse(RecycleAfterProvisioning, "service %s is still PROVISIONING", s.Name)
	}
	return nil
}

// CanChangePlan decides whether s may move to planName; byLeader is the leader asking it
// along with its own change (a follower's plan changes only that way): the plan exists, a
// follower's plan follows its leader's, a leader or follower stays on a tier that offers
// replication, the service is RUNNING (or PAUSED).
func CanChangePlan(s Service, planName, byLeader string) error {
	p, err := plan.Default().Lookup(planName)
	if err != nil {
		return &Refusal{Rule: PlanExists, Reason: err.Error(), Err: err}
	}
	switch {
	case s.State == StateDeleting:
		return refuse(PlanNotWhileDeleting, "service %s is being deleted", s.Name)
	case s.Role == RoleFollower && byLeader != s.Leader:
		return refuse(FollowerPlanFollowsLeader, "service %s is a follower of %s: its plan must equal its leader's; change the leader's plan instead (osccr service update %s --plan %s), which changes its followers' too",
			s.Name, s.Leader, s.Leader, p.Name)
	case (s.Role == RoleLeader || s.Role == RoleFollower) && !p.SupportsCCR():
		return refuse(ReplicationNeedsTier, "service %s is a %s and %s is on the %s tier: cross-cluster replication needs a business or premium plan; promote or delete its followers first to go below",
			s.Name, s.Role, p.Name, p.Tier)
	case s.State != StateRunning && s.State != StatePaused:
		return refuse(PlanChangeWhenRunning, "service %s is %s; its plan can change once it is RUNNING", s.Name, s.State)
	}
	return nil
}

// MaxExtraDiskGB is the most extra disk a service may add on top of its plan's, in GB (per
// service): 64 TB, well past any real request, so that a typo of a few digits is refused
// instead of provisioned.
const MaxExtraDiskGB = 65536

// CheckExtraDisk refuses extra disk that is negative or more than MaxExtraDiskGB.
func CheckExtraDisk(gb int) error {
	switch {
	case gb < 0:
		return refuse(ExtraDiskBounds, "extra disk %d GB is negative", gb)
	case gb > MaxExtraDiskGB:
		return refuse(ExtraDiskBounds, "extra disk %d GB is more than %d GB, the most a service can add", gb, MaxExtraDiskGB)
	}
	return nil
}

// Security modes of a local service.
const (
	SecurityPlugin = "security-plugin"
	SecurityNone   = "none"
)

// SecurityMode resolves a requested security mode of a local service: secured unless "none" is
// asked for.
func SecurityMode(asked string) (string, error) {
	switch asked {
	case "", SecurityPlugin:
		return SecurityPlugin, nil
	case SecurityNone:
		return SecurityNone, nil
	}
	return "", refuse(SecurityModes, "security %q: give %q for a plain-HTTP service, or leave it out for a secured one (the default)", asked, SecurityNone)
}
