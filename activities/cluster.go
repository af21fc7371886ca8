package activities

import "github.com/osccr/osccr/internal/opensearch"

// Cluster is what the activities ask of one OpenSearch cluster: the calls of the typed client
// (internal/opensearch) they make, and no more, by role. Each role is declared in the file that
// uses it, and a function that needs one role takes that role only:
//
//   - clusterAPI (watch.go): the cluster as a whole, its health, nodes, plugins, metadata
//     version and checkpoints;
//   - indexAPI (indexes.go): indexes and their documents;
//   - replicationAPI (replication.go): the replication plugin and the remote clusters;
//   - configAPI (templates.go): templates, pipelines and stored scripts;
//   - securityAPI (preflight_secured.go): what the security plugin says.
//
// *opensearch.Client, the one typed client, plays every role.
type Cluster interface {
	clusterAPI
	indexAPI
	replicationAPI
	configAPI
	securityAPI
	ismAPI
}

var _ Cluster = (*opensearch.Client)(nil)
