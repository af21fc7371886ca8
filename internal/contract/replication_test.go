package contract

import "testing"

func TestLagOps(t *testing.T) {
	tests := []struct {
		leader, follower, want int64
	}{{10, 10, 0}, {10, 4, 6}, {3, 5, 0}, {-1, -1, 0}}
	for _, tt := range tests {
		if got := (IndexStatus{LeaderCheckpoint: tt.leader, FollowerCheckpoint: tt.follower}).LagOps(); got != tt.want {
			t.Errorf("LagOps(%d, %d) = %d, want %d", tt.leader, tt.follower, got, tt.want)
		}
	}
}
