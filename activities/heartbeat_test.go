package activities

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestHeartbeating: a lifecycle activity beats while the provisioner's call blocks, and stops
// when it returns; outside an activity heartbeating does nothing.
func TestHeartbeating(t *testing.T) {
	heartbeating(context.Background())() // not an activity: a no-op, no panic

	var beats atomic.Int32
	stop := beatEvery(context.Background(), 20*time.Millisecond, func() { beats.Add(1) })
	time.Sleep(300 * time.Millisecond) // a provisioner call that reports nothing on the way
	stop()
	after := beats.Load()
	if after < 3 {
		t.Errorf("%d beats in 300 ms at one every 20 ms, want several", after)
	}
	time.Sleep(100 * time.Millisecond)
	if beats.Load() != after {
		t.Error("still beating after stop")
	}
}
