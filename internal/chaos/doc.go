// Package chaos is osccr's fault-injection suite: it runs the built osccr-worker and the
// embedded Temporal as two processes on real OpenSearch nodes with the CCR plugin, crashes them
// at named points of a follower's life (create, rebuild, recycle, promotion, delete), restarts
// them, and checks the end state every time: no duplicate service, no orphaned node, no index
// left half-replicated, every acknowledged leader document on the follower.
//
// The suite is its tests (chaos_test.go). OSCCR_CHAOS=full (`make chaos`) runs every scenario;
// unset, `make test` runs a reduced, representative set. Both print a table at the end.
package chaos
