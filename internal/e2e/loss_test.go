package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/osccr/osccr/internal/localnode"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/testcluster"
	"github.com/osccr/osccr/workflows"
)

// TestPromotionReportsLoss kills the leader (kill -9) while documents are written to it one at
// a time, promotes the follower, and checks that the promotion's report tells what was lost,
// per index and in total: for every index, the operations reported are at most the
// acknowledged documents the promoted service lacks, and those are at most the reported ones
// plus the documents acknowledged after the leader was last seen. The report says "at least"
// and when the leader was last seen; follower status said the same before the promotion.
func TestPromotionReportsLoss(t *testing.T) {
	testcluster.RequireCCR(t, testcluster.Distribution(t))
	base := testcluster.Dir(t)
	ctl, _ := controlPlane(t, base)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	leader, follower := "loss-l", "loss-f"
	indexes := []string{"orders", "events"}
	lc, fc := leaderAndFollower(t, ctx, ctl, leader, follower, func(lc *opensearch.Client) {
		must(t, lc.CreateIndex(ctx, "orders", oneShard))
		must(t, lc.CreateIndex(ctx, "events", map[string]any{"settings": map[string]any{"number_of_shards": 3, "number_of_replicas": 0}}))
		writeDocs(t, ctx, lc, "orders", 0, 50)
		writeDocs(t, ctx, lc, "events", 0, 50)
	})
	for _, ix := range indexes {
		eventually(t, time.Minute, "the follower holds the leader's "+ix, func() (bool, string) {
			if err := fc.Refresh(ctx, ix); err != nil {
				return false, err.Error()
			}
			return sameIDs(ctx, lc, fc, ix)
		})
	}

	// One document at a time, every 50 ms, alternating between the indexes, until the leader
	// stops answering; each acknowledged one is recorded with when.
	type ack struct {
		index, id string
		at        time.Time
	}
	var (
		mu    sync.Mutex
		acked []ack
	)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for i := 0; ; i++ {
			ix, id := indexes[i%2], fmt.Sprintf("live-%05d", i)
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := lc.IndexDocument(wctx, ix, id, map[string]any{"n": i})
			cancel()
			if err != nil {
				return
			}
			mu.Lock()
			acked = append(acked, ack{ix, id, time.Now()})
			mu.Unlock()
			time.Sleep(50 * time.Millisecond) // the write rate under test, not a synchronisation
		}
	}()
	eventually(t, time.Minute, "writes under way", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 120, fmt.Sprintf("%d acknowledged", len(acked))
	})
	node, err := localnode.Find(filepath.Join(base, "services", leader, leader+"-0"))
	must(t, err)
	if err := syscall.Kill(node.PID, syscall.SIGKILL); err != nil {
		t.Fatalf("kill the leader's node: %v", err)
	}
	killed := time.Now()
	<-writerDone

	// follower status tells the same before the promotion: at least, with the leader last seen.
	eventually(t, 30*time.Second, "follower status says the leader is unreachable", func() (bool, string) {
		st, err := ctl.FollowerStatus(ctx, follower)
		if err != nil {
			return false, err.Error()
		}
		return st.LeaderUnreachable && st.LagOps > 0, st.LagSummary(time.Now())
	})

	report, err := ctl.Promote(ctx, follower)
	if err != nil {
		t.Fatalf("promote with the leader killed: %v", err)
	}
	l := report.Loss
	if l == nil {
		t.Fatalf("report %+v has no loss", report)
	}
	t.Logf("killed %s after %d acknowledged writes; report: %+v; loss: %+v", killed.Format(time.RFC3339Nano), len(acked), report, *l)
	if !l.AtLeast || l.LeaderLastSeen.IsZero() || l.LeaderLastSeen.After(killed) {
		t.Errorf("loss %+v, want at least, with the leader last seen before it was killed (%s)", *l, killed)
	}
	if report.LagOps != l.Operations || l.Operations == 0 {
		t.Errorf("report says %d operations behind, its loss %d: want equal, and not 0 (the plugin lags 10 s at this rate)", report.LagOps, l.Operations)
	}
	var total, totalMissing, totalAfter int64
	for _, ix := range indexes {
		if err := fc.Refresh(ctx, ix); err != nil {
			t.Fatal(err)
		}
		ids, err := fc.DocumentIDs(ctx, ix)
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, id := range ids {
			have[id] = true
		}
		var missing, after int64
		for _, a := range acked {
			if a.index != ix {
				continue
			}
			if !have[a.id] {
				missing++
			}
			if a.at.After(l.LeaderLastSeen) {
				after++
			}
		}
		var reported int64 = -1
		for _, il := range l.Indexes {
			if il.Index == ix {
				reported = il.Operations
			}
		}
		t.Logf("%s: reported %d, missing %d, acknowledged after the leader was last seen %d", ix, reported, missing, after)
		if reported < 0 || reported > missing || missing > reported+after {
			t.Errorf("%s: reported %d, missing %d, acknowledged after the last sample %d: want reported <= missing <= reported + after", ix, reported, missing, after)
		}
		total, totalMissing, totalAfter = total+max(reported, 0), totalMissing+missing, totalAfter+after
	}
	if total != l.Operations || total > totalMissing || totalMissing > total+totalAfter {
		t.Errorf("total: reported %d (loss says %d), missing %d, after %d", total, l.Operations, totalMissing, totalAfter)
	}
	st, err := ctl.GetService(ctx, follower)
	if err != nil || st.Role != workflows.RoleStandalone || st.Promotion == nil || st.Promotion.Loss == nil || st.Promotion.Loss.Operations != l.Operations {
		t.Errorf("service after promotion: %+v (%v), want standalone with the same loss", st.Promotion, err)
	}
	if want := fmt.Sprintf("promoted from %s: at least %d operations behind at promotion", leader, l.Operations); !strings.HasPrefix(st.Reason, want) {
		t.Errorf("promoted service's reason %q, want it to start %q", st.Reason, want)
	}
}
