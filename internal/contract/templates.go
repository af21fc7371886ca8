package contract

// SyncTemplatesInput asks to make the follower's configuration (the kinds of configChain)
// match the leader's. Managed is what osccr wrote on the follower before (the last sync's
// result), as "<kind>/<name>"; Digests the digest of what it wrote, by the same key (a managed
// object without one, as recorded before digests, is osccr's whatever its body). Only managed
// objects are ever changed without a conflict or deleted, so objects the follower's own
// plugins or operators create are left alone.
type SyncTemplatesInput struct {
	Leader   ClusterRef        `json:"leader"`
	Follower ClusterRef        `json:"follower"`
	Managed  []string          `json:"managed"`
	Digests  map[string]string `json:"digests,omitempty"`
}

// TemplateSync is what a sync did. Names are "<kind>/<name>", kind one of configChain's
// prefixes (index, component, pipeline, search-pipeline, script).
type TemplateSync struct {
	// Fingerprint is the leader's configuration fingerprint (as WatchLeader computes it) read
	// before the sync: when the watch sees another one, a later change needs a sync.
	Fingerprint string `json:"fingerprint,omitempty"`
	// Managed are the objects osccr now owns on the follower; Digests the digest of what it
	// wrote of each (what SyncTemplatesInput takes back).
	Managed []string          `json:"managed"`
	Digests map[string]string `json:"digests,omitempty"`
	Put     []string          `json:"put,omitempty"`
	Deleted []string          `json:"deleted,omitempty"`
	// Conflicts are objects osccr left alone: the follower has one of the leader's names with
	// another body and osccr did not write it (or it changed since osccr wrote it).
	Conflicts []ConfigConflict `json:"conflicts,omitempty"`
}

// ConfigConflict is one object of the follower that osccr would change or delete but did not
// write: an operator decides (delete it on the follower, or make it equal to the leader's, and
// osccr adopts it).
type ConfigConflict struct {
	Object string `json:"object"`
	Reason string `json:"reason"`
}
