package contract

import (
	"errors"

	"go.temporal.io/sdk/temporal"
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

// HasErrorType reports whether err is (or wraps) an application error of the given type, as
// the activities make them (classify, in activities/errors.go); workflows use it on activity
// errors too.
func HasErrorType(err error, typeName string) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == typeName
}

// ErrTypeSecretRefused is the application error type of a reference the worker's SecretPolicy
// (activities/secrets.go) refuses.
const ErrTypeSecretRefused = "SecretRefused"
