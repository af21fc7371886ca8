package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/testcluster"
	"github.com/osccr/osccr/internal/testcontrol"
	"github.com/osccr/osccr/workflows"
)

// TestRecycleNode really restarts the node of a local service while a writer keeps writing,
// retrying each document until it is acknowledged: afterwards every acknowledged document must
// be there, and the service RUNNING again. Recycling a registered cluster is refused.
func TestRecycleNode(t *testing.T) {
	testcluster.Distribution(t)
	base := testcluster.Dir(t)
	ctl, _ := controlPlane(t, base)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	if err := ctl.CreateService(ctx, control.CreateServiceRequest{Name: "rcy", Plan: "business-4", Security: control.SecurityNone}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testcontrol.DeleteAndWait(t, ctl, "rcy") })
	svc, err := ctl.WaitService(ctx, "rcy", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Creating the index may take seconds on a loaded machine; the writer's short timeout is
	// for noticing the restart.
	if err := serviceClient(t, svc).CreateIndex(ctx, "events", map[string]any{"settings": map[string]any{"number_of_shards": 1, "number_of_replicas": 0}}); err != nil {
		t.Fatal(err)
	}
	c, err := opensearch.New(opensearch.Config{URLs: []string{svc.Endpoints.HTTPURL}, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}

	// The writer: one document at a time, each retried until acknowledged.
	var mu sync.Mutex
	var acked []string
	writes, retries := 0, 0
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			id := fmt.Sprintf("ev-%06d", i)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := c.IndexDocument(ctx, "events", id, map[string]any{"n": i}); err == nil {
					break
				}
				retries++
				time.Sleep(50 * time.Millisecond) // back off while the node restarts
			}
			mu.Lock()
			acked = append(acked, id)
			writes++
			mu.Unlock()
		}
	}()
	eventually(t, 30*time.Second, "writes flowing", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return writes > 50, fmt.Sprintf("%d writes", writes)
	})

	began := time.Now()
	if err := ctl.RecycleNode(ctx, "rcy", "", true); err != nil {
		t.Fatalf("recycle: %v", err)
	}
	took := time.Since(began)
	// Keep writing a little after the restart, then stop.
	mu.Lock()
	atRecycle := writes
	mu.Unlock()
	eventually(t, 30*time.Second, "writes after the recycle", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return writes > atRecycle+50, fmt.Sprintf("%d writes", writes)
	})
	close(stop)
	<-done
	t.Logf("recycle took %s; %d documents acknowledged, %d write attempts failed during the restart", took.Round(time.Millisecond), len(acked), retries)

	if err := c.Refresh(ctx, "events"); err != nil {
		t.Fatal(err)
	}
	ids, err := c.DocumentIDs(ctx, "events")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range acked {
		if _, found := slices.BinarySearch(ids, id); !found {
			t.Fatalf("acknowledged document %s is missing after the recycle (%d acknowledged, %d present)", id, len(acked), len(ids))
		}
	}
	st, err := ctl.GetService(ctx, "rcy")
	if err != nil || st.State != workflows.StateRunning || st.Reason != "" {
		t.Errorf("after recycle: %s %q (%v), want RUNNING", st.State, st.Reason, err)
	}

	// A registered cluster: osccr does not run its nodes.
	if err := ctl.RegisterService(ctx, control.RegisterServiceRequest{Name: "ext", URL: svc.Endpoints.HTTPURL, TransportAddress: svc.Endpoints.TransportAddress, Plan: "business-4"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testcontrol.DeleteAndWait(t, ctl, "ext") })
	if _, err := ctl.WaitService(ctx, "ext", nil); err != nil {
		t.Fatal(err)
	}
	if err := ctl.RecycleNode(ctx, "ext", "", true); !errors.Is(err, control.ErrConflict) || !strings.Contains(err.Error(), "cannot restart nodes it does not run") {
		t.Errorf("recycle a registered cluster: %v, want ErrConflict", err)
	}
	if err := ctl.RecycleNode(ctx, "nobody", "", true); !errors.Is(err, control.ErrNotFound) {
		t.Errorf("recycle an unknown service: %v, want ErrNotFound", err)
	}
}
