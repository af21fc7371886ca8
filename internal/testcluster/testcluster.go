// Package testcluster starts real single-node OpenSearch clusters for integration tests, from
// the distribution `make opensearch` installs. A missing distribution fails the test: osccr's
// integration tests never stand in a fake for OpenSearch, and never skip by default.
package testcluster

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/osccr/osccr/internal/localnode"
)

// StartTimeout bounds how long one node may take to become healthy on a loaded 2-core machine.
const StartTimeout = 3 * time.Minute

// Distribution returns the installed distribution, which must have the cross-cluster-replication
// plugin, or fails the test saying how to install it.
func Distribution(t testing.TB) localnode.Distribution {
	t.Helper()
	d, err := localnode.DistributionFromEnv()
	if err != nil {
		t.Fatalf("%v", err)
	}
	RequireCCR(t, d)
	return d
}

// RequireCCR fails the test when the distribution lacks the cross-cluster-replication plugin:
// replication tests never skip.
func RequireCCR(t testing.TB, d localnode.Distribution) {
	t.Helper()
	if !d.HasPlugin(localnode.CCRPluginName) {
		t.Fatalf("the OpenSearch distribution at %s has no %s plugin: install it with `make opensearch` "+
			"(CCR_PLUGIN_ZIP=/path/to/the.zip or OSCCR_PLUGIN_DIR=/folder/of/zips)", d.Home, localnode.CCRPluginName)
	}
}

// Dir returns a fresh directory for node directories that the unprivileged node account can
// reach (t.TempDir is private to root when tests run as root).
func Dir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "osccr-"+sanitize(t.Name())+"-")
	if err != nil {
		t.Fatalf("create node base dir: %v", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("chmod node base dir: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// Start starts a single-node cluster named cluster under base and stops it, by pid, when the
// test ends.
func Start(t testing.TB, d localnode.Distribution, base, cluster string) *localnode.Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	node, err := d.Start(ctx, localnode.Spec{Dir: filepath.Join(base, cluster), Cluster: cluster})
	if err != nil {
		t.Fatalf("start node %s: %v", cluster, err)
	}
	t.Cleanup(func() { Stop(t, node) })
	return node
}

// Stop stops a node, failing the test if it does not go away.
func Stop(t testing.TB, node *localnode.Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := node.Stop(ctx); err != nil {
		t.Errorf("stop node %s: %v", node.Name, err)
	}
}

func sanitize(name string) string {
	out := []rune{}
	for _, r := range name {
		if r == '/' || r == ' ' {
			r = '_'
		}
		out = append(out, r)
	}
	if len(out) > 40 {
		out = out[:40]
	}
	return string(out)
}

// WithoutCCR returns a copy of d without the cross-cluster-replication plugin (hard links, so
// it costs no disk), for the one test that shows what osccr says on a cluster that lacks it.
// The copy is removed when the test ends.
func WithoutCCR(t testing.TB, d localnode.Distribution) localnode.Distribution {
	t.Helper()
	home := filepath.Join(Dir(t), "opensearch-without-ccr")
	err := filepath.WalkDir(d.Home, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(d.Home, path)
		if err != nil {
			return err
		}
		if rel == filepath.Join("plugins", localnode.CCRPluginName) {
			return filepath.SkipDir
		}
		to := filepath.Join(home, rel)
		info, err := e.Info()
		if err != nil {
			return err
		}
		switch {
		case e.IsDir():
			return os.MkdirAll(to, info.Mode().Perm())
		case e.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		default:
			if os.Link(path, to) == nil {
				return nil
			}
			// Another file system: copy.
			body, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(to, body, info.Mode().Perm())
		}
	})
	if err != nil {
		t.Fatalf("copy %s without %s: %v", d.Home, localnode.CCRPluginName, err)
	}
	d.Home = home
	if d.HasPlugin(localnode.CCRPluginName) {
		t.Fatalf("the copy at %s still has %s", home, localnode.CCRPluginName)
	}
	return d
}
