package workflows

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/contract"
)

// TestServiceTerminationProtection (service version 1): a service created protected refuses
// its delete, naming it, and stays RUNNING; the termination-protection update turns the
// protection off, and the delete then goes ahead.
func TestServiceTerminationProtection(t *testing.T) {
	env := newEnv(t)
	var a *activities.Activities
	spec := testSpec
	spec.TerminationProtection = true
	endpoints := contract.ServiceEndpoints{HTTPURL: "http://127.0.0.1:9200", TransportAddress: "127.0.0.1:9300", PlannedNodes: 1}
	env.OnActivity(a.ProvisionService, mock.Anything, placed(spec)).Return(endpoints, nil)
	deprovisioned := false
	env.OnActivity(a.DeprovisionService, mock.Anything, mock.Anything).Return(nil).Run(func(mock.Arguments) { deprovisioned = true })

	var offErr error
	var refused *deleteUpdate
	var afterRefusal, afterOff ServiceState
	env.RegisterDelayedCallback(func() {
		refused = sendDelete(env)
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		afterRefusal = queryService(t, env)
		env.UpdateWorkflow(UpdateTerminationProtection, "", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { offErr = err },
			OnComplete: func(v any, err error) { offErr = err },
		}, false)
	}, 90*time.Second)
	var del *deleteUpdate
	env.RegisterDelayedCallback(func() {
		afterOff = queryService(t, env)
		del = sendDelete(env)
	}, 2*time.Minute)
	env.ExecuteWorkflow(ServiceWorkflow, ServiceInput{Spec: spec})

	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow error: %v", err)
	}
	const want = "service orders has termination protection: it cannot be deleted while the protection is on; turn it off first"
	if refused == nil || refused.rejected == nil || !strings.Contains(refused.rejected.Error(), want) {
		t.Errorf("delete of a protected service: %+v, want refused saying %q", refused, want)
	}
	if afterRefusal.State != StateRunning || !afterRefusal.TerminationProtection {
		t.Errorf("after the refused delete: %s, protection %v; want RUNNING, protected", afterRefusal.State, afterRefusal.TerminationProtection)
	}
	if offErr != nil || afterOff.TerminationProtection {
		t.Errorf("turning the protection off: %v, protection %v", offErr, afterOff.TerminationProtection)
	}
	if del == nil || del.rejected != nil || del.completed != nil || !deprovisioned {
		t.Errorf("delete once unprotected: %+v, deprovisioned %v", del, deprovisioned)
	}
}
