package workflows

import (
	"testing"
	"time"

	"go.temporal.io/sdk/workflow"
)

// TestFanOut: fanOut keeps at most limit calls under way, yet runs that many side by side.
func TestFanOut(t *testing.T) {
	for _, tt := range []struct{ n, limit, wantMax int }{
		{n: 40, limit: 16, wantMax: 16},
		{n: 5, limit: 16, wantMax: 5},
		{n: 3, limit: 1, wantMax: 1},
		{n: 0, limit: 16, wantMax: 0},
	} {
		env := newEnv(t)
		maxUnderWay := 0
		env.ExecuteWorkflow(func(ctx workflow.Context) error {
			var started []workflow.Future
			futures := fanOut(ctx, tt.n, tt.limit, func(i int) workflow.Future {
				underWay := 1
				for _, f := range started {
					if !f.IsReady() {
						underWay++
					}
				}
				maxUnderWay = max(maxUnderWay, underWay)
				f := workflow.NewTimer(ctx, time.Duration(1+i%7)*time.Second)
				started = append(started, f)
				return f
			})
			if len(futures) != tt.n {
				t.Errorf("n=%d: %d futures", tt.n, len(futures))
			}
			for _, f := range futures {
				if err := f.Get(ctx, nil); err != nil {
					return err
				}
			}
			return nil
		})
		if err := env.GetWorkflowError(); err != nil {
			t.Fatalf("n=%d limit=%d: %v", tt.n, tt.limit, err)
		}
		if maxUnderWay != tt.wantMax {
			t.Errorf("n=%d limit=%d: at most %d under way, want %d", tt.n, tt.limit, maxUnderWay, tt.wantMax)
		}
	}
}
