package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/testcontrol"
	"github.com/osccr/osccr/workflows"
)

// The helpers the end-to-end packages share (this one and internal/e2e/secured).

// ControlPlane starts the control plane with its state under stateDir.
func ControlPlane(t *testing.T, stateDir string) (*control.Control, client.Client) {
	t.Helper()
	p := testcontrol.Start(t, stateDir)
	return p.Control, p.Temporal
}

// WriteDocs indexes documents doc-<from> .. doc-<to-1> ({"n": i}) into index, refreshed.
func WriteDocs(t *testing.T, ctx context.Context, c *opensearch.Client, index string, from, to int) {
	t.Helper()
	docs := map[string]any{}
	for i := from; i < to; i++ {
		docs[fmt.Sprintf("doc-%05d", i)] = map[string]any{"n": i}
	}
	if err := c.Bulk(ctx, index, opensearch.DocsFromMap(docs), opensearch.WithRefresh()); err != nil {
		t.Fatalf("write docs %d..%d: %v", from, to, err)
	}
}

// Eventually polls cond until it holds or the deadline passes.
func Eventually(t *testing.T, limit time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %s (%s)", what, limit, detail)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// LeaderAndFollowerWith is leaderAndFollower with the leader's security mode ("" secured, the
// default); the follower runs security as its leader does.
func LeaderAndFollowerWith(t *testing.T, ctx context.Context, ctl *control.Control, security, leader, follower string, prepare func(*opensearch.Client)) (lc, fc *opensearch.Client) {
	t.Helper()
	began := time.Now()
	if err := ctl.CreateService(ctx, control.CreateServiceRequest{Name: leader, Plan: "business-4", Security: security}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testcontrol.DeleteAndWait(t, ctl, leader) })
	ls, err := ctl.WaitService(ctx, leader, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("leader %s RUNNING %s after it was asked for", leader, time.Since(began).Round(time.Millisecond))
	lc = ServiceClient(t, ls)
	prepare(lc)
	began = time.Now()
	if err := ctl.CreateFollower(ctx, control.CreateFollowerRequest{Leader: leader, Name: follower}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testcontrol.DeleteAndWait(t, ctl, follower) }) // runs before the leader's
	fs, err := ctl.WaitService(ctx, follower, nil)
	if err != nil {
		t.Fatalf("follower: %v", err)
	}
	t.Logf("follower %s RUNNING %s after it was asked for", follower, time.Since(began).Round(time.Millisecond))
	return lc, ServiceClient(t, fs)
}

// SameIDs says whether an index holds the same documents on both clusters.
func SameIDs(ctx context.Context, lc, fc *opensearch.Client, index string) (bool, string) {
	l, err1 := lc.DocumentIDs(ctx, index)
	f, err2 := fc.DocumentIDs(ctx, index)
	return err1 == nil && err2 == nil && slices.Equal(l, f), fmt.Sprintf("leader %d ids, follower %d ids (%v %v)", len(l), len(f), err1, err2)
}

// ServiceClient opens a client on a service as osccr reaches it: a secured one over HTTPS with
// its CA and admin password, read from the files its references name.
func ServiceClient(t *testing.T, st workflows.ServiceState) *opensearch.Client {
	t.Helper()
	cfg, err := activities.ClientConfig(st.ClusterRef())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timeout = time.Minute
	c, err := opensearch.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
