package lag

import (
	"math"
	"testing"
	"time"
)

func TestLag(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	type step struct {
		at       float64
		leader   map[string]int64 // nil with down: the leader did not answer
		down     bool
		follower map[string]int64
	}
	tests := []struct {
		name  string
		steps []step
		now   float64
		want  map[string]float64 // index -> seconds
		worst float64
	}{
		{"caught up is 0", []step{{at: 0, leader: map[string]int64{"a": 10}, follower: map[string]int64{"a": 10}}}, 5, map[string]float64{"a": 0}, 0},
		{"behind since the leader reached it", []step{
			{at: 0, leader: map[string]int64{"a": 10}, follower: map[string]int64{"a": 10}},
			{at: 1, leader: map[string]int64{"a": 20}, follower: map[string]int64{"a": 10}},
			{at: 2, leader: map[string]int64{"a": 30}, follower: map[string]int64{"a": 10}},
		}, 3, map[string]float64{"a": 3}, 3}, // the leader reached 10 at 0
		{"interpolated between samples", []step{
			{at: 0, leader: map[string]int64{"a": 0}, follower: map[string]int64{"a": 0}},
			{at: 2, leader: map[string]int64{"a": 20}, follower: map[string]int64{"a": 0}},
			{at: 4, leader: map[string]int64{"a": 40}, follower: map[string]int64{"a": 10}},
		}, 4, map[string]float64{"a": 3}, 3},
		{"the worst index", []step{
			{at: 0, leader: map[string]int64{"a": 5, "b": 5}, follower: map[string]int64{"a": 5, "b": 5}},
			{at: 1, leader: map[string]int64{"a": 6, "b": 9}, follower: map[string]int64{"a": 6, "b": 5}},
		}, 2, map[string]float64{"a": 0, "b": 2}, 2},
		{"leader down: time since contact, never 0", []step{
			{at: 0, leader: map[string]int64{"a": 5}, follower: map[string]int64{"a": 5}},
			{at: 1, down: true, follower: map[string]int64{"a": 5}},
		}, 7, map[string]float64{"a": 7}, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := New()
			for _, s := range tt.steps {
				if s.down {
					tr.LeaderUnreachable("f", "l", at(s.at))
				} else {
					tr.Leader("f", "l", at(s.at), s.leader)
				}
				tr.Follower("f", "l", at(s.at), s.follower)
			}
			got, ok := tr.Lag("f", at(tt.now))
			if !ok {
				t.Fatal("no lag")
			}
			for ix, want := range tt.want {
				if math.Abs(got.Indexes[ix].Seconds-want) > 1e-6 {
					t.Errorf("%s: %v s, want %v", ix, got.Indexes[ix].Seconds, want)
				}
			}
			if math.Abs(got.Seconds-tt.worst) > 1e-6 {
				t.Errorf("worst %v s, want %v", got.Seconds, tt.worst)
			}
		})
	}
}

func TestLagStale(t *testing.T) {
	tr := New()
	t0 := time.Now()
	tr.Leader("f", "l", t0, map[string]int64{"a": 1})
	if _, ok := tr.Lag("f", t0.Add(Stale+time.Second)); ok {
		t.Error("a follower not sampled for longer than Stale still has a lag")
	}
	if _, ok := tr.Lag("g", t0); ok {
		t.Error("an unknown follower has a lag")
	}
}

func TestLatest(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tr := New()
	if _, ok := tr.Latest("f", "a", t0); ok {
		t.Fatal("a sample before any was taken")
	}
	tr.Leader("f", "l", t0, map[string]int64{"a": 10})
	tr.Leader("f", "l", t0.Add(time.Second), map[string]int64{"a": 25})
	tr.Leader("f", "l", t0.Add(2*time.Second), map[string]int64{"a": 25}) // no write since: still answering
	tr.LeaderUnreachable("f", "l", t0.Add(3*time.Second))
	got, ok := tr.Latest("f", "a", t0.Add(4*time.Second))
	want := LeaderSample{Checkpoint: 25, At: t0.Add(time.Second), LeaderDown: true, LastContact: t0.Add(2 * time.Second)}
	if !ok || got != want {
		t.Errorf("Latest = %+v %v, want %+v", got, ok, want)
	}
	if _, ok := tr.Latest("f", "b", t0.Add(4*time.Second)); ok {
		t.Error("a sample of an index never sampled")
	}
	if _, ok := tr.Latest("f", "a", t0.Add(3*time.Second+Stale+time.Second)); ok {
		t.Error("a stale sample")
	}
}
