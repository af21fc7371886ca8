package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/osccr/osccr/internal/opensearch"
)

// SyncTemplatesInput asks to make the follower's templates match the leader's. Managed are the
// templates osccr put on the follower before (from the last sync's result): only those are
// ever deleted, so templates the follower's own plugins create are left alone.
type SyncTemplatesInput struct {
	Leader   ClusterRef `json:"leader"`
	Follower ClusterRef `json:"follower"`
	Managed  []string   `json:"managed"`
}

// TemplateSync is what a sync did. Names are "index/<name>" or "component/<name>".
type TemplateSync struct {
	// Fingerprint is the leader's templates fingerprint (as WatchLeader computes it) read
	// before the sync: when the watch sees another one, a later change needs a sync.
	Fingerprint string   `json:"fingerprint,omitempty"`
	Managed     []string `json:"managed"`
	Put         []string `json:"put,omitempty"`
	Deleted     []string `json:"deleted,omitempty"`
}

// templateKind is one of the two kinds of templates the replication plugin leaves alone.
type templateKind struct {
	prefix string
	list   func(Cluster, context.Context) (map[string]json.RawMessage, error)
	put    func(Cluster, context.Context, string, json.RawMessage) error
	delete func(Cluster, context.Context, string) error
}

// Component templates are put before index templates (which may compose them) and deleted
// after them (one in use cannot be deleted).
var (
	componentTemplates = templateKind{"component/", Cluster.ListComponentTemplates, Cluster.PutComponentTemplate, Cluster.DeleteComponentTemplate}
	indexTemplates     = templateKind{"index/", Cluster.ListIndexTemplates, Cluster.PutIndexTemplate, Cluster.DeleteIndexTemplate}
)

// SyncTemplates reconciles the follower's index and component templates with the leader's:
//
//  0. fingerprint the leader's templates, for the caller to compare with what WatchLeader sees;
//  1. desired: the leader's templates, less dot-prefixed (system and plugin) ones;
//  2. observed: the follower's templates;
//  3. put every desired template the follower lacks or has with another body (component
//     templates first);
//  4. delete every template osccr put earlier (Managed) that the leader no longer has (index
//     templates first);
//  5. the desired set is what osccr now manages.
//
// Each step is idempotent, so a sync interrupted by a crash is finished by the next one.
func (a *Activities) SyncTemplates(ctx context.Context, in SyncTemplatesInput) (TemplateSync, error) {
	leader, err := a.client(in.Leader)
	if err != nil {
		return TemplateSync{}, err
	}
	follower, err := a.client(in.Follower)
	if err != nil {
		return TemplateSync{}, err
	}
	out := TemplateSync{Managed: []string{}}
	// The fingerprint comes first: a change made while the sync runs then shows as a change.
	if out.Fingerprint, err = leaderTemplatesFingerprint(ctx, leader); err != nil {
		return out, classify(fmt.Errorf("read templates of leader %s: %w", in.Leader.Name, err))
	}
	desired := map[string]map[string]json.RawMessage{}
	for _, k := range []templateKind{componentTemplates, indexTemplates} {
		want, err := k.list(leader, ctx)
		if err != nil {
			return out, classify(fmt.Errorf("list %stemplates of leader %s: %w", k.prefix, in.Leader.Name, err))
		}
		maps.DeleteFunc(want, func(name string, _ json.RawMessage) bool { return strings.HasPrefix(name, ".") })
		desired[k.prefix] = want
		have, err := k.list(follower, ctx)
		if err != nil {
			return out, classify(fmt.Errorf("list %stemplates of follower %s: %w", k.prefix, in.Follower.Name, err))
		}
		for _, name := range slices.Sorted(maps.Keys(want)) {
			out.Managed = append(out.Managed, k.prefix+name)
			if current, ok := have[name]; ok && sameJSON(current, want[name]) {
				continue
			}
			if err := k.put(follower, ctx, name, want[name]); err != nil {
				return out, classify(fmt.Errorf("put %s%s on follower %s: %w", k.prefix, name, in.Follower.Name, err))
			}
			out.Put = append(out.Put, k.prefix+name)
		}
	}
	for _, k := range []templateKind{indexTemplates, componentTemplates} {
		for _, managed := range slices.Sorted(slices.Values(in.Managed)) {
			name, ok := strings.CutPrefix(managed, k.prefix)
			if !ok {
				continue
			}
			if _, still := desired[k.prefix][name]; still {
				continue
			}
			if err := k.delete(follower, ctx, name); err != nil && !errors.Is(err, opensearch.ErrNotFound) {
				return out, classify(fmt.Errorf("delete %s from follower %s: %w", managed, in.Follower.Name, err))
			}
			out.Deleted = append(out.Deleted, managed)
		}
	}
	return out, nil
}

// sameJSON compares two JSON documents by value, not by formatting or key order.
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
