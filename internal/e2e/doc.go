// Package e2e holds osccr's end-to-end tests: real OpenSearch nodes, the embedded Temporal
// server, the worker as `osccr-worker --dev` wires it, and the application layer as the CLI
// uses it. It has no code of its own.
package e2e
