package workerapp

import (
	"go.uber.org/fx"

	"github.com/osccr/osccr/activities"
)

// ActivitiesModule provides *activities.Activities. As the activities gain dependencies (an
// OpenSearch client factory, ...), add their providers here and take them as parameters of
// newActivities.
var ActivitiesModule = fx.Module("activities",
	fx.Provide(newActivities),
)

func newActivities() *activities.Activities {
	return &activities.Activities{}
}
