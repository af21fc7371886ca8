package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/security"
)

// The transport check's temporary remote alias, and how long it waits for the connection.
const (
	preflightAlias     = "osccr-preflight"
	preflightConnectBy = 15 * time.Second
)

// Preflight checks, on the real clusters, what a replication between them needs, before
// anything is created: both answer osccr's credentials, run the same OpenSearch version, both
// have the CCR plugin, both run security the same way (full, ssl_only or none: transport TLS
// is invisible over REST, so it is read from the nodes' settings), the follower's nodes may
// connect to remote clusters, the follower reaches the leader's transport port (tried under a
// temporary remote alias that is removed whatever the outcome), and every leader index keeps
// soft deletes (the plugin replicates from them). Between two secured clusters it also checks
// the replication user on each side and that the leader allows the follower's node DN
// (preflight_secured.go), and names the CA each side lacks when the connection fails across
// two CAs; a 403 anywhere names the missing permission and the osccr role to map. It changes
// nothing that outlives it.
func (a *Activities) Preflight(ctx context.Context, in contract.PreflightInput) (contract.PreflightReport, error) {
	var r contract.PreflightReport
	add := addTo(&r)
	leader, err := a.client(in.Leader)
	if err != nil {
		return r, err
	}
	follower, err := a.client(in.Follower)
	if err != nil {
		return r, err
	}
	li, lerr := leader.Info(ctx)
	fi, ferr := follower.Info(ctx)
	credentialsCheck(add, in.Leader, security.Leader, lerr)
	credentialsCheck(add, in.Follower, security.Follower, ferr)
	if lerr != nil || ferr != nil {
		return r, nil
	}
	add(contract.CheckVersion, li.Version == fi.Version,
		fmt.Sprintf("leader %s runs %s, follower %s runs %s", in.Leader.Name, li.Version, in.Follower.Name, fi.Version),
		"run the same OpenSearch version on both: the plugin replicates only between equal versions")

	plugins, err := leader.Plugins(ctx)
	pluginCheck(add, in.Leader, security.Leader, plugins, err)
	plugins, err = follower.Plugins(ctx)
	pluginCheck(add, in.Follower, security.Follower, plugins, err)

	lm, lmerr := leader.SecurityMode(ctx)
	fm, fmerr := follower.SecurityMode(ctx)
	if lmerr != nil || fmerr != nil {
		fix := "let osccr's user read node settings (cluster:monitor/nodes/info)"
		if lmerr != nil {
			fix = fixFor(lmerr, in.Leader, security.Leader, fix)
		} else {
			fix = fixFor(fmerr, in.Follower, security.Follower, fix)
		}
		add(contract.CheckSecurity, false, fmt.Sprintf("cannot read the nodes' security settings: %v", errors.Join(lmerr, fmerr)), fix)
	} else {
		add(contract.CheckSecurity, lm == fm, fmt.Sprintf("leader %s: %s, follower %s: %s", in.Leader.Name, lm, in.Follower.Name, fm),
			"run the security plugin the same way on both (both secured with TLS trusted both ways, or both plain): a secured leader never accepts a plain follower's transport connections")
	}
	// Between two secured clusters: who the replication runs as, whether the leader accepts the
	// follower's nodes, and, should the connection fail, which CA each side lacks.
	var lcert, fcert transportCerts
	secured := lmerr == nil && fmerr == nil && lm == opensearch.SecurityFull && fm == opensearch.SecurityFull
	if secured {
		lcert, fcert = probeTransport(ctx, in.Leader.TransportAddress), probeTransport(ctx, in.Follower.TransportAddress)
		replicationUserCheck(ctx, in, leader, follower, add)
		nodesDNCheck(ctx, in, leader, fcert, add)
	}

	nodes, err := follower.Nodes(ctx)
	var without []string
	for _, n := range nodes {
		if !slices.Contains(n.Roles, "remote_cluster_client") {
			without = append(without, n.Name)
		}
	}
	switch {
	case err != nil:
		add(contract.CheckRemoteClient, false, fmt.Sprintf("cannot list the nodes of %s: %v", in.Follower.Name, err), fixFor(err, in.Follower, security.Follower, "let osccr's user read node info"))
	default:
		add(contract.CheckRemoteClient, len(without) == 0, fmt.Sprintf("nodes of %s without it: %s", in.Follower.Name, orNone(without)),
			"give every follower node the remote_cluster_client role (node.roles), then restart them")
	}

	reachErr := reachable(ctx, follower, in.Leader.TransportAddress)
	detail := fmt.Sprintf("%s connected to %s at %s", in.Follower.Name, in.Leader.Name, in.Leader.TransportAddress)
	if reachErr != nil {
		detail = fmt.Sprintf("%s cannot connect to %s at %s: %v", in.Follower.Name, in.Leader.Name, in.Leader.TransportAddress, reachErr)
	}
	fix := fmt.Sprintf("open %s to the follower's nodes, and make each side trust the other's transport certificates (and the leader allow the follower's node DNs in plugins.security.nodes_dn)", in.Leader.TransportAddress)
	if reachErr != nil {
		if more, trust, ok := transportTrustFix(in, lcert, fcert); secured && ok {
			detail += more
			fix = trust
		}
		fix = fixFor(reachErr, in.Follower, security.Follower, fix)
	}
	add(contract.CheckTransport, reachErr == nil, detail, fix)

	softDeletesCheck(ctx, add, in.Leader, leader)
	return settle(&r), nil
}

// settle sets OK from the checks and returns the report.
func settle(r *contract.PreflightReport) contract.PreflightReport {
	r.OK = true
	for _, c := range r.Checks {
		r.OK = r.OK && c.OK
	}
	return *r
}

// adder appends a check to a report (its fix dropped when it passed).
type adder func(name string, ok bool, detail, fix string)

func addTo(r *contract.PreflightReport) adder {
	return func(name string, ok bool, detail, fix string) {
		if ok {
			fix = ""
		}
		r.Checks = append(r.Checks, contract.PreflightCheck{Name: name, OK: ok, Detail: detail, Fix: fix})
	}
}

// credentialsCheck: the cluster answered osccr (err is what its GET / returned).
func credentialsCheck(add adder, ref contract.ClusterRef, side security.Side, err error) {
	fix, forbidden := denied(err, ref, side)
	switch {
	case err == nil:
		add(contract.CheckCredentials, true, fmt.Sprintf("%s answers osccr", ref.Name), "")
	case forbidden:
		add(contract.CheckCredentials, false, fmt.Sprintf("%s accepts osccr's credentials but denies it a permission (%v)", ref.Name, err), fix)
	case errors.Is(err, opensearch.ErrUnauthorized):
		add(contract.CheckCredentials, false, fmt.Sprintf("%s refuses osccr's credentials (%v)", ref.Name, err), "check the user, its password (file or variable on the worker) and its roles")
	default:
		add(contract.CheckCredentials, false, fmt.Sprintf("%s does not answer at %s (%v)", ref.Name, ref.URL, err), "check the URL, the CA file and that the cluster is up")
	}
}

// pluginCheck: the cluster's plugins (or the error listing them) include the CCR plugin.
func pluginCheck(add adder, ref contract.ClusterRef, side security.Side, plugins []string, err error) {
	has := err == nil && slices.Contains(plugins, opensearch.CCRPluginName)
	detail := fmt.Sprintf("%s has it", ref.Name)
	if err != nil {
		detail = fmt.Sprintf("cannot list the plugins of %s: %v", ref.Name, err)
	} else if !has {
		detail = fmt.Sprintf("%s has no %s plugin", ref.Name, opensearch.CCRPluginName)
	}
	add(contract.CheckPlugin, has, detail, fixFor(err, ref, side, "install the plugin matching the OpenSearch version on every node, then restart them"))
}

// softDeletesCheck: every index of the leader keeps soft deletes (the plugin replicates from
// them).
func softDeletesCheck(ctx context.Context, add adder, ref contract.ClusterRef, leader indexAPI) {
	indexes, err := leader.ListIndices(ctx)
	var hard []string
	for _, ix := range indexes {
		if strings.HasPrefix(ix.Name, ".") {
			continue
		}
		def, derr := leader.GetIndex(ctx, ix.Name)
		if derr == nil && def.Setting("index.soft_deletes.enabled") == "false" {
			hard = append(hard, ix.Name)
		}
	}
	if err != nil {
		add(contract.CheckSoftDeletes, false, fmt.Sprintf("cannot list the indexes of %s: %v", ref.Name, err), fixFor(err, ref, security.Leader, "let osccr's user read index settings"))
		return
	}
	add(contract.CheckSoftDeletes, len(hard) == 0, fmt.Sprintf("indexes of %s without soft deletes: %s", ref.Name, orNone(hard)),
		"reindex them into indexes with index.soft_deletes.enabled: true (it cannot be changed on an existing index)")
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// reachable connects the follower to the leader's transport address under a temporary remote
// alias and waits until it is connected, then removes the alias whatever happened.
func reachable(ctx context.Context, follower replicationAPI, seed string) error {
	if err := follower.SetRemoteCluster(ctx, preflightAlias, []string{seed}); err != nil {
		return fmt.Errorf("set a temporary remote alias: %w", err)
	}
	defer func() {
		cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = follower.RemoveRemoteCluster(cleanup, preflightAlias)
	}()
	deadline := time.Now().Add(preflightConnectBy)
	for {
		remotes, err := follower.RemoteInfo(ctx)
		if err == nil && remotes[preflightAlias].Connected {
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return err
			}
			return fmt.Errorf("not connected after %s", preflightConnectBy)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
