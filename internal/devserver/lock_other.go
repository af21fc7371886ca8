//go:build !unix

package devserver

// lockStateDir does nothing where flock(2) is missing; the busy frontend port still catches
// the common case of a second dev server.
func lockStateDir(string) (func() error, error) {
	return func() error { return nil }, nil
}
