package activities

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/security"
)

// transportDialTimeout bounds the dry run's connection to the leader's transport port.
const transportDialTimeout = 5 * time.Second

// PreflightLocalFollower is the preflight of a local follower that does not exist yet
// (`follower create --dry-run`): the leader's side is checked on the real leader as Preflight
// does (credentials, the plugin, soft deletes), and the follower's side on what this worker
// would start it from: the distribution's OpenSearch version and plugins, the security mode
// the follower would run (a secured local follower gets certificates from the installation's
// CA, which a secured local leader trusts), and a TCP connection from this machine, where the
// follower's node would run, to the leader's transport port. The remote_cluster_client role is
// osccr's to give, and it does. It changes nothing.
func (a *Activities) PreflightLocalFollower(ctx context.Context, in contract.LocalFollowerPreflightInput) (contract.PreflightReport, error) {
	var r contract.PreflightReport
	add := addTo(&r)
	leader, err := a.client(in.Leader)
	if err != nil {
		return r, err
	}
	_, pspec, err := a.provisioner(in.Follower)
	if err != nil {
		return r, err
	}
	info, lerr := leader.Info(ctx)
	credentialsCheck(add, in.Leader, security.Leader, lerr)
	if lerr != nil {
		return settle(&r), nil
	}
	dist, err := a.Local.Distribution(pspec)
	if err != nil {
		add(contract.CheckVersion, false, err.Error(), "install the distribution osccr starts nodes from on the worker's machine (make opensearch)")
		return settle(&r), nil
	}
	version, verr := dist.Version()
	add(contract.CheckVersion, verr == nil && version == info.Version,
		fmt.Sprintf("leader %s runs %s, a local follower would run %s (%s)", in.Leader.Name, info.Version, orErr(version, verr), dist.Home),
		fmt.Sprintf("point the worker at an OpenSearch %s distribution (OSCCR_OPENSEARCH_HOME, or make opensearch OPENSEARCH_VERSION=%s): the plugin replicates only between equal versions", info.Version, info.Version))

	plugins, err := leader.Plugins(ctx)
	pluginCheck(add, in.Leader, security.Leader, plugins, err)
	plugins, err = dist.Plugins()
	pluginCheck(add, contract.ClusterRef{Name: in.Follower.Name + " (the distribution at " + dist.Home + ")"}, security.Follower, plugins, err)

	want := opensearch.SecurityNone
	if in.Follower.LocalSecured() {
		want = opensearch.SecurityFull
	}
	mode, err := leader.SecurityMode(ctx)
	if err != nil {
		add(contract.CheckSecurity, false, fmt.Sprintf("cannot read the security settings of %s's nodes: %v", in.Leader.Name, err),
			fixFor(err, in.Leader, security.Leader, "let osccr's user read node settings (cluster:monitor/nodes/info)"))
	} else {
		add(contract.CheckSecurity, mode == want, fmt.Sprintf("leader %s: %s, the local follower would run %s", in.Leader.Name, mode, want),
			"a local follower runs security as its local leader does: create the leader and the follower the same way (both secured by default, or both --security=none)")
	}
	add(contract.CheckRemoteClient, true, "osccr starts the follower's node with the remote_cluster_client role", "")

	conn, err := (&net.Dialer{Timeout: transportDialTimeout}).DialContext(ctx, "tcp", in.Leader.TransportAddress)
	if err == nil {
		_ = conn.Close()
	}
	detail := fmt.Sprintf("this worker's machine, where the follower's node would run, connects to %s's transport port %s", in.Leader.Name, in.Leader.TransportAddress)
	if err != nil {
		detail = fmt.Sprintf("this worker's machine, where the follower's node would run, cannot connect to %s's transport port %s: %v", in.Leader.Name, in.Leader.TransportAddress, err)
	}
	add(contract.CheckTransport, err == nil, detail, fmt.Sprintf("open %s to this machine (the leader's transport.port, 9300 by default)", in.Leader.TransportAddress))

	softDeletesCheck(ctx, add, in.Leader, leader)
	return settle(&r), nil
}

// orErr is s, or the error when there is one.
func orErr(s string, err error) string {
	if err != nil {
		return err.Error()
	}
	return s
}
