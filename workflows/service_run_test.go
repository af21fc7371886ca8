package workflows

import (
	"strings"
	"testing"
)

// TestServiceValidators: every update's validator consults the one phase field; a request
// under way refuses the others with its reason, and a promotion joins a promotion.
func TestServiceValidators(t *testing.T) {
	follower := runningFollower()
	standalone := ServiceState{ServiceSpec: testSpec, Role: RoleStandalone, Followers: []string{}, State: StateRunning}
	type validator struct {
		name string
		run  func(*service) error
	}
	validators := []validator{
		{"delete", (*service).validateDelete},
		{"recycle", func(s *service) error { return s.validateRecycle("node-1") }},
		{"promote", (*service).validatePromote},
		{"plan", func(s *service) error { return s.validatePlan(PlanChange{Plan: s.st.Plan}) }},
	}
	tests := []struct {
		phase servicePhase
		st    ServiceState
		// want maps each validator to the refusal it must give ("" accepts).
		want map[string]string
	}{
		{phaseRecycling, follower, map[string]string{"delete": "is being recycled", "recycle": "already being recycled", "promote": "is being recycled", "plan": "is being recycled"}},
		{phasePromoting, follower, map[string]string{"delete": "is being promoted", "recycle": "is being promoted", "promote": "", "plan": "is being promoted"}},
		{phaseReplanning, standalone, map[string]string{"delete": "is changing its plan", "recycle": "is changing its plan", "plan": "is changing its plan"}},
		{phaseFollowing, standalone, map[string]string{"delete": "is becoming a follower", "recycle": "is becoming a follower", "plan": "is becoming a follower"}},
		{phaseDeleting, follower, map[string]string{"delete": "already being deleted", "recycle": "is being deleted", "promote": "is being deleted", "plan": "is being deleted"}},
	}
	for _, tt := range tests {
		for _, v := range validators {
			want, ok := tt.want[v.name]
			if !ok {
				continue
			}
			t.Run(string(tt.phase)+"/"+v.name, func(t *testing.T) {
				s := &service{st: tt.st, phase: tt.phase}
				err := v.run(s)
				switch {
				case want == "" && err != nil:
					t.Errorf("refused: %v", err)
				case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
					t.Errorf("got %v, want a refusal saying %q", err, want)
				}
			})
		}
	}
	t.Run("a promotion started by signal counts as promoting", func(t *testing.T) {
		s := &service{st: follower, promotionsBySignal: 1}
		if err := s.validateDelete(); err == nil || !strings.Contains(err.Error(), "is being promoted") {
			t.Errorf("delete: %v", err)
		}
	})
	t.Run("idle accepts", func(t *testing.T) {
		s := &service{st: follower}
		if err := s.validateRecycle("node-1"); err != nil {
			t.Errorf("recycle refused: %v", err)
		}
	})
}
