// Package secured holds osccr's end-to-end tests of secured clusters (the security plugin,
// TLS, least-privilege users, the secret scan): real secured nodes, the embedded Temporal
// server and the application layer, as in internal/e2e, whose helpers they share. A package
// of their own, so that `go test ./...` runs them beside the other end-to-end tests.
package secured
