package opensearch_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/testcluster"
)

const (
	leaderAlias     = "leader"
	replicationWait = 2 * time.Minute
)

// TestReplication drives the CCR plugin end to end between two real clusters: connect, start,
// sync, refuse follower writes, pause/resume, stats, settings, autofollow, stop, and the status
// answer while the leader is gone. The stages share state and run in order.
func TestReplication(t *testing.T) {
	testcluster.RequireCCR(t, testcluster.Distribution(t))
	e := startEnv(t)
	ctx := context.Background()
	L, F := e.leader.client, e.follower.client

	stage := func(name string, f func(t *testing.T)) {
		if !t.Run(name, f) {
			t.FailNow()
		}
	}

	stage("Connect", func(t *testing.T) {
		// Settings changed through UpdateReplicationSettings are applied at the next metadata
		// sync: make it come often (5 s is the plugin's minimum).
		if err := F.PutPersistentClusterSettings(ctx, map[string]any{"plugins.replication.follower.metadata_sync_interval": "5s"}); err != nil {
			t.Fatalf("shorten metadata sync interval: %v", err)
		}
		if err := F.SetRemoteCluster(ctx, leaderAlias, []string{e.leader.node.TransportAddress()}); err != nil {
			t.Fatalf("SetRemoteCluster: %v", err)
		}
		eventually(t, time.Minute, func() (bool, string) {
			remotes, err := F.RemoteInfo(ctx)
			if err != nil {
				return false, err.Error()
			}
			return remotes[leaderAlias].Connected, fmt.Sprintf("%+v", remotes)
		})
	})

	stage("Start", func(t *testing.T) {
		createLeaderIndex(t, L, "logs-1", 100)
		if err := F.StartReplication(ctx, "logs-1", opensearch.StartReplicationRequest{LeaderAlias: leaderAlias, LeaderIndex: "logs-1"}); err != nil {
			t.Fatalf("StartReplication: %v", err)
		}
		st := waitStatus(t, F, "logs-1", opensearch.StatusSyncing)
		if st.LeaderAlias != leaderAlias || st.LeaderIndex != "logs-1" || st.FollowerIndex != "logs-1" || !st.Replicating() {
			t.Errorf("status = %+v, want logs-1 replicating from %s", st, leaderAlias)
		}
		waitCount(t, F, "logs-1", 100)
		want, err := L.DocumentIDs(ctx, "logs-1")
		if err != nil {
			t.Fatal(err)
		}
		got, err := F.DocumentIDs(ctx, "logs-1")
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("follower ids = %d ids, %v; want the leader's %d", len(got), err, len(want))
		}
	})

	stage("StartAgain", func(t *testing.T) {
		err := F.StartReplication(ctx, "logs-1", opensearch.StartReplicationRequest{LeaderAlias: leaderAlias, LeaderIndex: "logs-1"})
		if !errors.Is(err, opensearch.ErrAlreadyExists) {
			t.Errorf("starting replication into an existing follower index: %v, want ErrAlreadyExists", err)
		}
	})

	stage("StartErrors", func(t *testing.T) {
		err := F.StartReplication(ctx, "other-1", opensearch.StartReplicationRequest{LeaderAlias: "nowhere", LeaderIndex: "logs-1"})
		if !errors.Is(err, opensearch.ErrLeaderUnreachable) {
			t.Errorf("start with an unknown leader alias: %v, want ErrLeaderUnreachable", err)
		}
		err = F.StartReplication(ctx, "other-2", opensearch.StartReplicationRequest{LeaderAlias: leaderAlias, LeaderIndex: "no-such-index"})
		if !errors.Is(err, opensearch.ErrNotFound) {
			t.Errorf("start with a missing leader index: %v, want ErrNotFound", err)
		}
	})

	stage("FollowerRefusesChanges", func(t *testing.T) {
		if err := F.IndexDocument(ctx, "logs-1", "local", map[string]any{"n": -1}); !errors.Is(err, opensearch.ErrBlocked) {
			t.Errorf("write to a follower index: %v, want ErrBlocked", err)
		}
		err := F.PutMapping(ctx, "logs-1", map[string]any{"properties": map[string]any{"local": map[string]any{"type": "keyword"}}})
		if !errors.Is(err, opensearch.ErrBlocked) {
			t.Errorf("mapping change on a follower index: %v, want ErrBlocked", err)
		}
	})

	stage("Syncing", func(t *testing.T) {
		writeLeaderDocs(t, L, "logs-1", 100, 50)
		waitCount(t, F, "logs-1", 150)
		// 150 operations on one primary: sequence numbers 0..149.
		var st opensearch.ReplicationStatus
		eventually(t, replicationWait, func() (bool, string) {
			var err error
			st, err = F.ReplicationStatus(ctx, "logs-1")
			if err != nil {
				return false, err.Error()
			}
			d := st.SyncingDetails
			return st.Status == opensearch.StatusSyncing && d.LeaderCheckpoint == 149 && d.Lag() == 0, fmt.Sprintf("%+v", st)
		})
		if st.SyncingDetails.FollowerCheckpoint != 149 {
			t.Errorf("syncing details = %+v, want both checkpoints at 149", st.SyncingDetails)
		}
	})

	stage("PauseResume", func(t *testing.T) {
		if err := F.PauseReplication(ctx, "logs-1"); err != nil {
			t.Fatalf("PauseReplication: %v", err)
		}
		st := waitStatus(t, F, "logs-1", opensearch.StatusPaused)
		if !st.Replicating() {
			t.Errorf("a paused index is still under replication: %+v", st)
		}
		if states, err := F.ReplicationStates(ctx); err != nil || states["logs-1"] != opensearch.StatusPaused {
			t.Errorf("ReplicationStates = %v, %v; want logs-1 PAUSED", states, err)
		}
		if err := F.PauseReplication(ctx, "logs-1"); !errors.Is(err, opensearch.ErrAlreadyExists) {
			t.Errorf("pausing twice: %v, want ErrAlreadyExists", err)
		}
		if err := F.IndexDocument(ctx, "logs-1", "local", map[string]any{"n": -1}); !errors.Is(err, opensearch.ErrBlocked) {
			t.Errorf("write to a paused follower index: %v, want ErrBlocked", err)
		}
		writeLeaderDocs(t, L, "logs-1", 150, 10)
		if err := F.ResumeReplication(ctx, "logs-1"); err != nil {
			t.Fatalf("ResumeReplication: %v", err)
		}
		waitStatus(t, F, "logs-1", opensearch.StatusSyncing)
		waitCount(t, F, "logs-1", 160)
		if states, err := F.ReplicationStates(ctx); err != nil || states["logs-1"] != opensearch.StatusRunning {
			t.Errorf("ReplicationStates = %v, %v; want logs-1 RUNNING again", states, err)
		}
		if err := F.ResumeReplication(ctx, "logs-1"); !errors.Is(err, opensearch.ErrAlreadyExists) {
			t.Errorf("resuming a running index: %v, want ErrAlreadyExists", err)
		}
	})

	stage("Stats", func(t *testing.T) {
		eventually(t, replicationWait, func() (bool, string) {
			s, err := F.FollowerStats(ctx)
			if err != nil {
				return false, err.Error()
			}
			idx, ok := s.IndexStats["logs-1"]
			return s.NumSyncingIndices == 1 && ok && idx.OperationsWritten > 0 && idx.LeaderCheckpoint == idx.FollowerCheckpoint,
				fmt.Sprintf("%+v", s)
		})
		ls, err := L.LeaderStats(ctx)
		if err != nil {
			t.Fatalf("LeaderStats: %v", err)
		}
		if idx, ok := ls.IndexStats["logs-1"]; ls.NumReplicatedIndices != 1 || !ok || idx.OperationsRead == 0 {
			t.Errorf("leader stats = %+v, want reads of logs-1", ls)
		}
		if _, err := F.AutofollowStats(ctx); err != nil {
			t.Errorf("AutofollowStats: %v", err)
		}
	})

	stage("UpdateSettings", func(t *testing.T) {
		if err := F.UpdateReplicationSettings(ctx, "logs-1", map[string]any{"index.refresh_interval": "7s"}); err != nil {
			t.Fatalf("UpdateReplicationSettings: %v", err)
		}
		eventually(t, replicationWait, func() (bool, string) {
			def, err := F.GetIndex(ctx, "logs-1")
			if err != nil {
				return false, err.Error()
			}
			return def.Setting("index.refresh_interval") == "7s", fmt.Sprintf("%v", def.Settings)
		})
		if err := F.UpdateReplicationSettings(ctx, "not-a-follower", map[string]any{"index.refresh_interval": "7s"}); !errors.Is(err, opensearch.ErrReplicationNotInProgress) {
			t.Errorf("updating settings of a non-follower: %v, want ErrReplicationNotInProgress", err)
		}
	})

	stage("Autofollow", func(t *testing.T) {
		rule := opensearch.AutofollowRule{LeaderAlias: leaderAlias, Name: "osccr-auto", Pattern: "auto-*"}
		if err := F.StartAutofollow(ctx, rule); err != nil {
			t.Fatalf("StartAutofollow: %v", err)
		}
		eventually(t, replicationWait, func() (bool, string) {
			s, err := F.AutofollowStats(ctx)
			if err != nil {
				return false, err.Error()
			}
			return slices.ContainsFunc(s.Rules, func(r opensearch.AutofollowRuleStats) bool {
				return r.Name == rule.Name && r.Pattern == rule.Pattern
			}), fmt.Sprintf("%+v", s)
		})
		if err := F.StartAutofollow(ctx, rule); !errors.Is(err, opensearch.ErrAlreadyExists) {
			t.Errorf("adding the same rule twice: %v, want ErrAlreadyExists", err)
		}
		if err := F.DeleteAutofollow(ctx, leaderAlias, rule.Name); err != nil {
			t.Fatalf("DeleteAutofollow: %v", err)
		}
		if err := F.DeleteAutofollow(ctx, leaderAlias, rule.Name); !errors.Is(err, opensearch.ErrNotFound) {
			t.Errorf("deleting a deleted rule: %v, want ErrNotFound", err)
		}
	})

	stage("Stop", func(t *testing.T) {
		if err := F.StopReplication(ctx, "logs-1"); err != nil {
			t.Fatalf("StopReplication: %v", err)
		}
		st := waitStatus(t, F, "logs-1", opensearch.StatusNotInProgress)
		if st.Replicating() {
			t.Errorf("a stopped index is not replicating: %+v", st)
		}
		// The former follower is an ordinary index now, with every replicated document. Stop
		// closes and reopens the index, so its shards may still be starting.
		eventually(t, time.Minute, func() (bool, string) {
			err := F.IndexDocument(ctx, "logs-1", "local", map[string]any{"n": -1}, opensearch.WithRefresh())
			return err == nil, fmt.Sprintf("write after stop: %v", err)
		})
		if err := F.PutMapping(ctx, "logs-1", map[string]any{"properties": map[string]any{"local": map[string]any{"type": "keyword"}}}); err != nil {
			t.Errorf("mapping change after stop: %v", err)
		}
		if n, err := F.Count(ctx, "logs-1"); err != nil || n != 161 {
			t.Errorf("count after stop = %d, %v; want 160 replicated + 1 local", n, err)
		}
		if err := F.StopReplication(ctx, "logs-1"); !errors.Is(err, opensearch.ErrReplicationNotInProgress) {
			t.Errorf("stopping twice: %v, want ErrReplicationNotInProgress", err)
		}
		if err := F.PauseReplication(ctx, "logs-1"); !errors.Is(err, opensearch.ErrReplicationNotInProgress) {
			t.Errorf("pausing a stopped index: %v, want ErrReplicationNotInProgress", err)
		}
		// Replication cannot restart in place: the index must be deleted first.
		err := F.StartReplication(ctx, "logs-1", opensearch.StartReplicationRequest{LeaderAlias: leaderAlias, LeaderIndex: "logs-1"})
		if !errors.Is(err, opensearch.ErrAlreadyExists) {
			t.Errorf("restart into the stopped index: %v, want ErrAlreadyExists", err)
		}
	})

	stage("LeaderUnreachable", func(t *testing.T) {
		createLeaderIndex(t, L, "logs-2", 10)
		if err := F.StartReplication(ctx, "logs-2", opensearch.StartReplicationRequest{LeaderAlias: leaderAlias, LeaderIndex: "logs-2", WaitForRestore: true}); err != nil {
			t.Fatalf("StartReplication: %v", err)
		}
		waitStatus(t, F, "logs-2", opensearch.StatusSyncing)
		testcluster.Stop(t, e.leader.node)
		var seen []string
		eventually(t, replicationWait, func() (bool, string) {
			st, err := F.ReplicationStatus(ctx, "logs-2")
			if errors.Is(err, opensearch.ErrLeaderUnreachable) {
				t.Logf("status with the leader down: %v", err)
				return true, ""
			}
			seen = append(seen, fmt.Sprintf("%+v / %v", st, err))
			return false, fmt.Sprint(seen)
		})
	})
}

func createLeaderIndex(t *testing.T, L *opensearch.Client, name string, docs int) {
	t.Helper()
	err := L.CreateIndex(context.Background(), name, map[string]any{
		"settings": map[string]any{"index.number_of_shards": 1, "index.number_of_replicas": 0},
		"mappings": map[string]any{"properties": map[string]any{"n": map[string]any{"type": "long"}}},
	})
	if err != nil {
		t.Fatalf("create leader index %s: %v", name, err)
	}
	writeLeaderDocs(t, L, name, 0, docs)
}

func writeLeaderDocs(t *testing.T, L *opensearch.Client, index string, from, n int) {
	t.Helper()
	docs := make([]opensearch.Doc, n)
	for i := range docs {
		docs[i] = opensearch.Doc{ID: fmt.Sprintf("doc-%05d", from+i), Source: map[string]any{"n": from + i}}
	}
	if err := L.Bulk(context.Background(), index, docs, opensearch.WithRefresh()); err != nil {
		t.Fatalf("write %d documents to leader %s: %v", n, index, err)
	}
}

func waitStatus(t *testing.T, F *opensearch.Client, index string, want opensearch.Status) opensearch.ReplicationStatus {
	t.Helper()
	var st opensearch.ReplicationStatus
	var seen []opensearch.Status
	eventually(t, replicationWait, func() (bool, string) {
		var err error
		st, err = F.ReplicationStatus(context.Background(), index)
		if err != nil {
			return false, err.Error()
		}
		if len(seen) == 0 || seen[len(seen)-1] != st.Status {
			seen = append(seen, st.Status)
		}
		if st.Status == opensearch.StatusFailed {
			t.Fatalf("replication of %s failed: %s", index, st.Reason)
		}
		return st.Status == want, fmt.Sprintf("%+v (statuses seen: %v)", st, seen)
	})
	t.Logf("%s: statuses %v", index, seen)
	return st
}

func waitCount(t *testing.T, F *opensearch.Client, index string, want int64) {
	t.Helper()
	eventually(t, replicationWait, func() (bool, string) {
		n, err := F.Count(context.Background(), index)
		if err != nil {
			return false, err.Error()
		}
		return n == want, fmt.Sprintf("%d documents, want %d", n, want)
	})
}
