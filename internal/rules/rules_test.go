package rules

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/osccr/osccr/internal/plan"
)

// running is a standalone, RUNNING local service on a business plan: every rule passes it.
var running = Service{Name: "orders-dr", Role: RoleStandalone, State: StateRunning, Plan: "business-4", Followers: []string{}, Local: true}

var leader = Leader{Name: "orders", Plan: "business-4", URL: "http://127.0.0.1:9200", TransportAddress: "127.0.0.1:9300"}

func with(change func(*Service)) Service {
	s := running
	s.Followers = nil
	change(&s)
	return s
}

// TestRules: each rule refuses what it names, with its name and a reason that says what to do,
// and lets the request through otherwise. Every rule has a row.
func TestRules(t *testing.T) {
	rows := []struct {
		name   string
		check  func() error
		rule   Name   // "" when the request is allowed
		reason string // a part of the reason
	}{
		{"follow: allowed", func() error { return CanFollow(running, leader) }, "", ""},
		{"follow: promoted", func() error {
			return CanFollow(with(func(s *Service) { s.Promoted = &Promotion{FormerLeader: "old", At: time.Unix(0, 0)} }), leader)
		}, PromotedNeverFollows, "never follows again"},
		{"follow: already a follower", func() error {
			return CanFollow(with(func(s *Service) { s.Role, s.Leader = RoleFollower, "other" }), leader)
		}, OneLeader, "already follows other"},
		{"follow: a leader", func() error {
			return CanFollow(with(func(s *Service) { s.Role, s.Followers = RoleLeader, []string{"f1"} }), leader)
		}, LeaderIsNotAFollower, "leader of f1"},
		{"follow: itself", func() error { l := leader; l.Name = running.Name; return CanFollow(running, l) }, NotItself, "cannot follow itself"},
		{"follow: itself, by name", func() error { return NotSelf("orders", "orders") }, NotItself, "source and dest are both orders"},
		{"follow: leader without endpoints", func() error { l := leader; l.URL = ""; return CanFollow(running, l) }, LeaderHasEndpoints, "must be RUNNING"},
		{"follow: not running", func() error {
			return CanFollow(with(func(s *Service) { s.State = StateProvisioning }), leader)
		}, FollowerRunning, "PROVISIONING"},
		{"follow: other plan", func() error { return CanFollow(with(func(s *Service) { s.Plan = "business-8" }), leader) }, FollowerPlan, "osccr service update orders-dr --plan business-4"},
		{"follow: unknown plan", func() error { return CanFollow(with(func(s *Service) { s.Plan = "gold" }), leader) }, PlanExists, "gold"},
		{"lead: allowed", func() error { return CanLead(running) }, "", ""},
		{"lead: a follower", func() error { return CanLead(with(func(s *Service) { s.Role, s.Leader = RoleFollower, "x" })) }, NoFollowerOfAFollower, "follow x instead"},
		{"lead: not running", func() error { return CanLead(with(func(s *Service) { s.State = StatePaused })) }, LeaderRunning, "PAUSED"},
		{"delete: allowed", func() error { return CanDelete(running, false) }, "", ""},
		{"delete: twice", func() error { return CanDelete(running, true) }, DeleteOnce, "already being deleted"},
		{"delete: a leader", func() error { return CanDelete(with(func(s *Service) { s.Followers = []string{"f1"} }), false) }, LeaderKeepsItsFollower, "delete or promote its followers first"},
		{"delete: protected", func() error { return TerminationProtected("orders") }, TerminationProtection, "turn it off first"},
		{"promote: allowed", func() error { return CanPromote(with(func(s *Service) { s.Role = RoleFollower }), false) }, "", ""},
		{"promote: again", func() error {
			return CanPromote(with(func(s *Service) { s.Promoted = &Promotion{FormerLeader: "l"} }), false)
		}, "", ""},
		{"promote: deleting", func() error { return CanPromote(with(func(s *Service) { s.Role = RoleFollower }), true) }, PromoteNotWhileDeleting, "being deleted"},
		{"promote: standalone", func() error { return CanPromote(running, false) }, OnlyFollowersPromote, "only a follower"},
		{"promote: provisioning", func() error {
			return CanPromote(with(func(s *Service) { s.Role, s.State = RoleFollower, StateProvisioning }), false)
		}, PromoteAfterProvision, "PROVISIONING"},
		{"recycle: allowed", func() error { return CanRecycle(running, false, false) }, "", ""},
		{"recycle: registered", func() error { return CanRecycle(with(func(s *Service) { s.Local = false }), false, false) }, RecycleOwnNodes, "restart the node yourself"},
		{"recycle: deleting", func() error { return CanRecycle(running, true, false) }, RecycleNotWhileDeleting, "being deleted"},
		{"recycle: twice", func() error { return CanRecycle(running, false, true) }, OneRecycleAtATime, "already being recycled"},
		{"recycle: provisioning", func() error {
			return CanRecycle(with(func(s *Service) { s.State = StateProvisioning }), false, false)
		}, RecycleAfterProvisioning, "PROVISIONING"},
		{"plan: allowed", func() error { return CanChangePlan(running, "business-8", "") }, "", ""},
		{"plan: unknown", func() error { return CanChangePlan(running, "gold", "") }, PlanExists, "gold"},
		{"plan: deleting", func() error {
			return CanChangePlan(with(func(s *Service) { s.State = StateDeleting }), "business-8", "")
		}, PlanNotWhileDeleting, "being deleted"},
		{"plan: a follower alone", func() error {
			return CanChangePlan(with(func(s *Service) { s.Role, s.Leader = RoleFollower, "l" }), "business-8", "")
		}, FollowerPlanFollowsLeader, "change the leader's plan instead"},
		{"plan: a follower with its leader", func() error {
			return CanChangePlan(with(func(s *Service) { s.Role, s.Leader = RoleFollower, "l" }), "business-8", "l")
		}, "", ""},
		{"plan: a leader below business", func() error {
			return CanChangePlan(with(func(s *Service) { s.Role = RoleLeader }), "startup-4", "")
		}, ReplicationNeedsTier, "business or premium"},
		{"plan: not running", func() error {
			return CanChangePlan(with(func(s *Service) { s.State = StateProvisioning }), "business-8", "")
		}, PlanChangeWhenRunning, "once it is RUNNING"},
		{"extra disk: allowed", func() error { return CheckExtraDisk(100) }, "", ""},
		{"extra disk: negative", func() error { return CheckExtraDisk(-1) }, ExtraDiskBounds, "negative"},
		{"extra disk: too much", func() error { return CheckExtraDisk(MaxExtraDiskGB + 1) }, ExtraDiskBounds, "the most a service can add"},
		{"security: default", func() error { _, err := SecurityMode(""); return err }, "", ""},
		{"security: none", func() error { _, err := SecurityMode(SecurityNone); return err }, "", ""},
		{"security: unknown", func() error { _, err := SecurityMode("tls"); return err }, SecurityModes, `give "none"`},
	}
	tested := map[Name]bool{}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			err := r.check()
			if r.rule == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			tested[r.rule] = true
			if got := RuleOf(err); got != r.rule {
				t.Fatalf("rule %q (%v), want %q", got, err, r.rule)
			}
			if !strings.Contains(err.Error(), r.reason) || !strings.Contains(err.Error(), "[rule "+string(r.rule)+"]") {
				t.Errorf("%q: want the reason to contain %q and name its rule", err, r.reason)
			}
		})
	}
	for _, name := range []Name{PromotedNeverFollows, OneLeader, LeaderIsNotAFollower, NotItself, LeaderHasEndpoints, FollowerRunning, FollowerPlan,
		NoFollowerOfAFollower, LeaderRunning, DeleteOnce, LeaderKeepsItsFollower, TerminationProtection, PromoteNotWhileDeleting, OnlyFollowersPromote, PromoteAfterProvision,
		RecycleOwnNodes, RecycleNotWhileDeleting, OneRecycleAtATime, RecycleAfterProvisioning, PlanExists, PlanNotWhileDeleting,
		FollowerPlanFollowsLeader, ReplicationNeedsTier, PlanChangeWhenRunning, ExtraDiskBounds, SecurityModes} {
		if !tested[name] {
			t.Errorf("rule %s has no row", name)
		}
	}
}

// TestRefusalKeepsCause: a plan refusal still matches the plan package's errors.
func TestRefusalKeepsCause(t *testing.T) {
	_, _, err := FollowerPlans("orders", "business-4", "business-8")
	if !errors.Is(err, plan.ErrFollowerPlanMismatch) || RuleOf(err) != FollowerPlan {
		t.Errorf("%v: want rule %s wrapping plan.ErrFollowerPlanMismatch", err, FollowerPlan)
	}
}
