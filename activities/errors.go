package activities

import (
	"errors"

	"go.temporal.io/sdk/temporal"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/opensearch"
)

var nonRetryable = []struct {
	err      error
	typeName string
}{
	{opensearch.ErrPluginMissing, contract.ErrTypePluginMissing},
	{opensearch.ErrAlreadyExists, contract.ErrTypeIndexExists},
	{opensearch.ErrNotFound, contract.ErrTypeNotFound},
	{opensearch.ErrBlocked, contract.ErrTypeBlocked},
	{opensearch.ErrBadRequest, contract.ErrTypeBadRequest},
	{opensearch.ErrUnauthorized, contract.ErrTypeUnauthorized},
	{opensearch.ErrReplicationNotInProgress, contract.ErrTypeNotReplicating},
}

// classify turns a client error into what Temporal should do with it: errors that no retry can
// fix become non-retryable application errors of a named type; the rest (cluster unavailable,
// leader unreachable, timeouts) stay retryable under the activity's retry policy.
func classify(err error) error {
	if err == nil {
		return nil
	}
	for _, c := range nonRetryable {
		if errors.Is(err, c.err) {
			return temporal.NewNonRetryableApplicationError(err.Error(), c.typeName, nil)
		}
	}
	return err
}
