package activities

import (
	"testing"
	"time"

	"github.com/osccr/osccr/internal/contract"
)

// TestHealthJudge: the health watch reports a change of class; a bad one only once it has
// lasted DownAfter, a recovery at once; a flap shorter than DownAfter is never reported.
func TestHealthJudge(t *testing.T) {
	green := contract.ClusterHealth{Status: "green"}
	yellow := contract.ClusterHealth{Status: "yellow"}
	red := contract.ClusterHealth{Status: "red", Reason: "1 shard unassigned"}
	down := contract.ClusterHealth{Status: "unreachable", Reason: "connection refused"}
	t0 := time.Unix(1000, 0)
	type look struct {
		h      contract.ClusterHealth
		at     time.Duration
		report bool
	}
	tests := []struct {
		name    string
		known   contract.ClusterHealth
		looks   []look
		settled string
	}{
		{"first look for a caller that knows nothing", contract.ClusterHealth{}, []look{{yellow, 0, true}}, "yellow"},
		{"green and yellow are the same", green, []look{{yellow, 0, false}, {green, 2 * time.Second, false}}, "green"},
		{"down is reported after DownAfter", green, []look{{down, 0, false}, {down, 2 * time.Second, false}, {down, DownAfter, true}}, "green"},
		{"a flap shorter than DownAfter is not", green, []look{{down, 0, false}, {down, 4 * time.Second, false}, {green, 4500 * time.Millisecond, false}, {down, 6 * time.Second, false}}, "green"},
		{"red, then down, counts from the change of class", green, []look{{red, 0, false}, {down, 4 * time.Second, false}, {down, 8 * time.Second, false}, {down, 4*time.Second + DownAfter, true}}, "green"},
		{"recovery is reported at once", down, []look{{down, 0, false}, {yellow, 2 * time.Second, true}}, "unreachable"},
		{"red to down is a change", red, []look{{down, 0, false}, {down, DownAfter, true}}, "red"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := healthJudge{known: tt.known}
			for i, l := range tt.looks {
				got, report := j.see(l.h, t0.Add(l.at))
				if report != l.report {
					t.Fatalf("look %d (%s at %s): report %v, want %v", i, l.h.Status, l.at, report, l.report)
				}
				if report && got.Status != l.h.Status {
					t.Errorf("look %d reported %s, want %s", i, got.Status, l.h.Status)
				}
			}
			if !tt.looks[len(tt.looks)-1].report {
				if got := j.settled().Status; got != tt.settled {
					t.Errorf("a watch ending now reports %s, want %s", got, tt.settled)
				}
			}
		})
	}
}
