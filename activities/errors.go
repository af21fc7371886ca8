package activities

import (
	"errors"

	"go.temporal.io/sdk/temporal"

	"github.com/osccr/osccr/internal/opensearch"
)

// Application error types that workflows branch on. Errors of these types are not retried:
// retrying cannot fix them, an operator must act.
const (
	ErrTypePluginMissing  = "PluginMissing"
	ErrTypeIndexExists    = "IndexExists"
	ErrTypeNotFound       = "NotFound"
	ErrTypeBlocked        = "Blocked"
	ErrTypeBadRequest     = "BadRequest"
	ErrTypeUnauthorized   = "Unauthorized"
	ErrTypeNotReplicating = "NotReplicating"
	// ErrTypeReplicationFailed: the plugin reports the follower index FAILED.
	ErrTypeReplicationFailed = "ReplicationFailed"
)

var nonRetryable = []struct {
	err      error
	typeName string
}{
	{opensearch.ErrPluginMissing, ErrTypePluginMissing},
	{opensearch.ErrAlreadyExists, ErrTypeIndexExists},
	{opensearch.ErrNotFound, ErrTypeNotFound},
	{opensearch.ErrBlocked, ErrTypeBlocked},
	{opensearch.ErrBadRequest, ErrTypeBadRequest},
	{opensearch.ErrUnauthorized, ErrTypeUnauthorized},
	{opensearch.ErrReplicationNotInProgress, ErrTypeNotReplicating},
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

// HasErrorType reports whether err is (or wraps) an application error of the given type, as
// classify makes them; workflows use it on activity errors too.
func HasErrorType(err error, typeName string) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == typeName
}
