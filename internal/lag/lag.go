// Package lag turns checkpoints into time: how many seconds a follower index is behind its
// leader index, the figure an operator turns into a recovery point objective.
//
// The lag of a follower index is the time since the leader reached the checkpoint the follower
// has now reached: 0 when the follower has reached the leader's latest checkpoint. The leader's
// own checkpoints are sampled with the time they were read (the plugin's leader_checkpoint is
// what the follower last fetched: it goes stale, and reads about 0 lag, while the leader is
// unreachable), and the moment the leader reached a checkpoint is interpolated between the two
// samples around it. While the leader does not answer, the lag is the time since it last did:
// growing, never 0.
package lag

import (
	"maps"
	"slices"
	"sync"
	"time"
)

// Stale is how long a follower's figures are kept without a new sample: a follower that is no
// longer watched here (promoted, deleted, watched by another worker) drops out.
const Stale = 2 * time.Minute

// maxSamples bounds the leader samples kept per index (an hour at one a second).
const maxSamples = 3600

// Tracker holds the checkpoint samples of every follower this process watches. It is safe for
// concurrent use; the zero value is not: use New.
type Tracker struct {
	mu        sync.Mutex
	followers map[string]*follower
}

// New returns an empty tracker.
func New() *Tracker { return &Tracker{followers: map[string]*follower{}} }

type follower struct {
	leader string
	// lastContact is when the leader last answered; leaderDown says it has not since.
	lastContact time.Time
	leaderDown  bool
	updated     time.Time
	indexes     map[string]*index
}

type index struct {
	samples  []sample // the leader's, oldest first, checkpoints increasing
	follower int64
	seen     bool // a follower checkpoint was read
}

type sample struct {
	at time.Time
	cp int64
}

func (t *Tracker) get(name, leader string, now time.Time) *follower {
	f := t.followers[name]
	if f == nil || f.leader != leader {
		f = &follower{leader: leader, indexes: map[string]*index{}}
		t.followers[name] = f
	}
	f.updated = now
	return f
}

// Leader records the leader's checkpoints of the followed indexes, read at at.
func (t *Tracker) Leader(followerName, leader string, at time.Time, checkpoints map[string]int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.get(followerName, leader, at)
	f.lastContact, f.leaderDown = at, false
	for name, cp := range checkpoints {
		ix := f.index(name)
		if n := len(ix.samples); n > 0 && ix.samples[n-1].cp >= cp {
			continue // the earliest time it reached a checkpoint is what counts
		}
		ix.samples = append(ix.samples, sample{at, cp})
		if len(ix.samples) > maxSamples {
			ix.samples = slices.Delete(ix.samples, 0, len(ix.samples)-maxSamples)
		}
	}
	for name := range f.indexes {
		if _, ok := checkpoints[name]; !ok {
			delete(f.indexes, name) // no longer followed
		}
	}
}

// LeaderUnreachable records that the leader did not answer at at.
func (t *Tracker) LeaderUnreachable(followerName, leader string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.get(followerName, leader, at)
	f.leaderDown = true
}

// Follower records the follower's checkpoints (of the indexes it has), read at at.
func (t *Tracker) Follower(followerName, leader string, at time.Time, checkpoints map[string]int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.get(followerName, leader, at)
	for name, ix := range f.indexes {
		cp, ok := checkpoints[name]
		if !ok {
			continue
		}
		ix.follower, ix.seen = cp, true
		// Samples below the follower's checkpoint are never needed again, but the last of
		// them, which bounds the interpolation.
		i, _ := slices.BinarySearchFunc(ix.samples, cp, func(s sample, cp int64) int { return cmpInt(s.cp, cp) })
		if i > 1 {
			ix.samples = slices.Delete(ix.samples, 0, i-1)
		}
	}
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (f *follower) index(name string) *index {
	ix := f.indexes[name]
	if ix == nil {
		ix = &index{}
		f.indexes[name] = ix
	}
	return ix
}

// Index is one follower index's lag.
type Index struct {
	Seconds float64 `json:"lag_seconds"`
	// Operations is the leader's latest checkpoint minus the follower's.
	Operations int64 `json:"lag_operations"`
}

// Follower is a follower's lag: every index it has a figure for, and the worst.
type Follower struct {
	Leader  string           `json:"leader"`
	Indexes map[string]Index `json:"indexes"`
	// Seconds is the worst index's lag (the time since the last contact while the leader does
	// not answer).
	Seconds float64 `json:"lag_seconds"`
	// LeaderUnreachable says the leader did not answer the last sample; LastContact is when it
	// last did.
	LeaderUnreachable bool      `json:"leader_unreachable,omitempty"`
	LastContact       time.Time `json:"last_contact"`
}

// Lag returns a follower's lag at now; false when it has no recent samples.
func (t *Tracker) Lag(followerName string, now time.Time) (Follower, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.followers[followerName]
	if f == nil || now.Sub(f.updated) > Stale || f.lastContact.IsZero() {
		return Follower{}, false
	}
	return f.lag(now), true
}

// All returns the lag of every follower with recent samples, by name.
func (t *Tracker) All(now time.Time) map[string]Follower {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]Follower{}
	for _, name := range slices.Sorted(maps.Keys(t.followers)) {
		f := t.followers[name]
		if now.Sub(f.updated) > Stale {
			delete(t.followers, name)
			continue
		}
		if !f.lastContact.IsZero() {
			out[name] = f.lag(now)
		}
	}
	return out
}

func (f *follower) lag(now time.Time) Follower {
	out := Follower{Leader: f.leader, Indexes: map[string]Index{}, LeaderUnreachable: f.leaderDown, LastContact: f.lastContact}
	down := max(now.Sub(f.lastContact).Seconds(), 0)
	for name, ix := range f.indexes {
		if !ix.seen || len(ix.samples) == 0 {
			continue
		}
		latest := ix.samples[len(ix.samples)-1].cp
		lag := Index{Operations: max(latest-ix.follower, 0)}
		switch {
		case f.leaderDown:
			lag.Seconds = down
		case ix.follower < latest:
			lag.Seconds = max(now.Sub(reached(ix.samples, ix.follower)).Seconds(), 0)
		}
		out.Indexes[name] = lag
		out.Seconds = max(out.Seconds, lag.Seconds)
	}
	if f.leaderDown {
		out.Seconds = max(out.Seconds, down)
	}
	return out
}

// reached estimates when the leader reached checkpoint cp, which its latest sample exceeds:
// between the last sample below cp and the first at or above it, in proportion.
func reached(samples []sample, cp int64) time.Time {
	i, _ := slices.BinarySearchFunc(samples, cp, func(s sample, cp int64) int { return cmpInt(s.cp, cp) })
	after := samples[i]
	if i == 0 || after.cp == cp {
		return after.at
	}
	before := samples[i-1]
	frac := float64(cp-before.cp) / float64(after.cp-before.cp)
	return before.at.Add(time.Duration(frac * float64(after.at.Sub(before.at))))
}

// LeaderSample is the leader's latest checkpoint of one index as the watch sampled it.
type LeaderSample struct {
	// Checkpoint is the leader's global checkpoint (summed over primaries), read at At.
	Checkpoint int64
	At         time.Time
	// LeaderDown says the leader has not answered since; LastContact is when it last did.
	LeaderDown  bool
	LastContact time.Time
}

// Latest returns the leader's latest sampled checkpoint of a follower's index: what is known
// of the leader when it no longer answers. False when there is no recent sample.
func (t *Tracker) Latest(followerName, index string, now time.Time) (LeaderSample, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.followers[followerName]
	if f == nil || now.Sub(f.updated) > Stale || f.lastContact.IsZero() {
		return LeaderSample{}, false
	}
	ix := f.indexes[index]
	if ix == nil || len(ix.samples) == 0 {
		return LeaderSample{}, false
	}
	last := ix.samples[len(ix.samples)-1]
	return LeaderSample{Checkpoint: last.cp, At: last.at, LeaderDown: f.leaderDown, LastContact: f.lastContact}, true
}

// Since brings a lag read at then to now: a follower behind (or a leader not answering) then
// is that much further behind now, until a new reading says otherwise.
func (f Follower) Since(then, now time.Time) Follower {
	d := max(now.Sub(then).Seconds(), 0)
	out := f
	out.Indexes = make(map[string]Index, len(f.Indexes))
	for name, ix := range f.Indexes {
		if ix.Seconds > 0 || ix.Operations > 0 || f.LeaderUnreachable {
			ix.Seconds += d
		}
		out.Indexes[name] = ix
	}
	if f.Seconds > 0 || f.LeaderUnreachable {
		out.Seconds += d
	}
	return out
}
