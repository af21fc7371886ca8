package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/osccr/osccr/internal/localnode"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/testcluster"
	"github.com/osccr/osccr/workflows"
)

// promoteLeaderDownLimit bounds a promotion while the leader is gone: the disaster-recovery
// case the product exists for must finish, and quickly.
const promoteLeaderDownLimit = 30 * time.Second

// TestPromoteWithLeaderDown promotes a RUNNING follower whose leader is gone, in the two ways a
// leader goes: killed (its ports refuse connections) and frozen (SIGSTOP: its ports accept
// connections and never answer, as a black-holed host does). Either way the promotion must
// finish within promoteLeaderDownLimit and leave a standalone, writable service holding every
// document the leader had acknowledged and the follower had replicated before the fault.
func TestPromoteWithLeaderDown(t *testing.T) {
	testcluster.RequireCCR(t, testcluster.Distribution(t))
	base := testcluster.Dir(t)
	ctl, _ := controlPlane(t, base)
	for _, fault := range []struct {
		name   string
		signal syscall.Signal
	}{
		{"killed", syscall.SIGKILL},
		{"frozen", syscall.SIGSTOP},
	} {
		t.Run(fault.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
			defer cancel()
			leader, follower := "dr-"+fault.name+"-l", "dr-"+fault.name+"-f"
			lc, fc := leaderAndFollower(t, ctx, ctl, leader, follower, func(lc *opensearch.Client) {
				must(t, lc.CreateIndex(ctx, "orders", oneShard))
				writeDocs(t, ctx, lc, "orders", 0, 300)
			})
			writeDocs(t, ctx, lc, "orders", 300, 400) // while RUNNING
			eventually(t, time.Minute, "the follower holds the leader's documents", func() (bool, string) {
				if err := fc.Refresh(ctx, "orders"); err != nil {
					return false, err.Error()
				}
				return sameIDs(ctx, lc, fc, "orders")
			})

			node, err := localnode.Find(filepath.Join(base, "services", leader, leader+"-0"))
			must(t, err)
			if err := syscall.Kill(node.PID, fault.signal); err != nil {
				t.Fatalf("%s the leader's node: %v", fault.name, err)
			}
			if fault.signal == syscall.SIGSTOP {
				t.Cleanup(func() { _ = syscall.Kill(node.PID, syscall.SIGCONT) }) // so it can be deleted
			}

			began := time.Now()
			pctx, pcancel := context.WithTimeout(ctx, promoteLeaderDownLimit)
			defer pcancel()
			report, err := ctl.Promote(pctx, follower)
			took := time.Since(began)
			if err != nil {
				st, _ := ctl.GetService(ctx, follower)
				t.Fatalf("promote with the leader %s: %v after %s (follower %s %q)", fault.name, err, took.Round(time.Millisecond), st.State, st.Reason)
			}
			t.Logf("promoted with the leader %s in %s: %+v", fault.name, took.Round(time.Millisecond), report)
			if report.FormerLeader != leader || report.IndexesStopped != 1 || len(report.IndexesDeleted) != 0 {
				t.Errorf("report %+v, want orders stopped (not deleted) from %s", report, leader)
			}
			if report.LagSecondsAtPromotion == nil || *report.LagSecondsAtPromotion < 0 {
				t.Errorf("report %+v, want the lag in seconds at promotion", report)
			} else {
				t.Logf("lag at promotion: %.1f s", *report.LagSecondsAtPromotion)
			}
			st, err := ctl.GetService(ctx, follower)
			if err != nil || st.State != workflows.StateRunning || st.Role != workflows.RoleStandalone || st.Promotion == nil {
				t.Fatalf("after promotion %s %s %q (%v), want a RUNNING standalone service", st.State, st.Role, st.Reason, err)
			}
			if n, err := fc.Count(ctx, "orders"); err != nil || n != 400 {
				t.Errorf("promoted service holds %d orders (%v), want all 400", n, err)
			}
			if err := fc.IndexDocument(ctx, "orders", "after-promotion", map[string]any{"n": -1}, opensearch.WithRefresh()); err != nil {
				t.Errorf("write on the promoted service: %v, want accepted", err)
			}
			if _, err := ctl.Promote(ctx, follower); err != nil {
				t.Errorf("promote again: %v, want the same report", err)
			}
			if strings.Contains(st.Reason, "failed") {
				t.Errorf("promoted service reason %q", st.Reason)
			}
		})
	}
}
