// Package e2e holds osccr's end-to-end tests: real OpenSearch nodes, the embedded Temporal
// server, the worker as `osccr-worker --dev` wires it, and the application layer as the CLI
// uses it. Its only code is the helpers it shares with internal/e2e/secured.
package e2e
