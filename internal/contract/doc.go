// Package contract holds the types that the workflows, the activities, the application layer
// (internal/control), the CLI and the HTTP API share: what a cluster and a service are, what an
// activity is asked and what it answers, the reports osccr shows, and the names of the error
// types workflows branch on. It does no I/O: pure data and pure functions only, so that a
// caller can name a contract type without importing the worker's code (activities/).
//
// Every type here travels in workflow history or in an API answer: its JSON field names are
// part of the contract, and a change must keep recorded histories decoding.
package contract
