package control

import (
	"context"
	"errors"
	"fmt"

	"github.com/osccr/osccr/internal/plan"
	"github.com/osccr/osccr/workflows"
)

// Plans lists the plan catalog, cheapest first: what a new service may be created on.
func Plans() []plan.Plan { return plan.Default().List() }

// FollowerOffer is what a new follower of a leader would be created with, for a form to preset.
type FollowerOffer struct {
	Leader workflows.ServiceState
	// Plan is the leader's: at creation a follower must be on its leader's plan.
	Plan plan.Plan
}

// OfferFollower says whether the service named leader can get a follower now, applying the
// same rules as CreateFollower (a follower of a follower, a leader that is not RUNNING, a
// hobbyist or startup plan are refused with ErrInvalid, saying why; an unknown leader is
// ErrNotFound). It changes nothing.
func (c *Control) OfferFollower(ctx context.Context, leader string) (FollowerOffer, error) {
	st, err := c.GetService(ctx, leader)
	if errors.Is(err, ErrNotFound) {
		return FollowerOffer{}, fmt.Errorf("%w: leader %s is unknown (osccr service list shows the services)", ErrNotFound, leader)
	}
	if err != nil {
		return FollowerOffer{}, err
	}
	offer := FollowerOffer{Leader: st}
	_, p, err := followerPlans(st, "")
	offer.Plan = p
	if err != nil {
		return offer, err
	}
	return offer, checkLeader(st)
}
