package workflows

// The termination-protection request (serviceVersion 1): Aiven's termination_protection, kept
// with the spec. While it is on, a delete is refused (service_delete.go); a promotion or a
// switchover is not.

import (
	"fmt"

	"go.temporal.io/sdk/workflow"
)

// validateTerminationProtection is the termination-protection update's validator.
func (s *service) validateTerminationProtection(bool) error {
	if s.deleting() || s.st.State == StateDeleting {
		return fmt.Errorf("service %s is being deleted", s.st.Name)
	}
	return nil
}

// onTerminationProtection is the termination-protection update's handler: the flag is kept with
// the spec (and carried over continue-as-new with the state).
func (s *service) onTerminationProtection(_ workflow.Context, on bool) (ServiceState, error) {
	s.st.TerminationProtection = on
	return s.st, nil
}
