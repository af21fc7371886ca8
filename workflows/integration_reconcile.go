package workflows

// Reconciliation: what the integration decides from an observation, and the state it derives.

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.temporal.io/sdk/workflow"
)

// reconcile moves the follower towards what was observed: it applies decide's verdict to the
// state, starts the steps decide chose, in its order, and settles the state.
func (w *integration) reconcile(ctx workflow.Context) {
	w.settle()
	if w.watching() {
		next, steps := decide(w.st, w.in.Follower.Name, w.due, len(w.starting))
		w.st = next
		for _, s := range steps {
			key := s.key()
			switch s.kind {
			case stepSyncTemplates:
				w.launch(ctx, key, w.syncTemplates)
			case stepRemove:
				w.launch(ctx, key, w.remove(s.index))
			case stepPause:
				w.pausing[s.index] = true
				w.launch(ctx, key, w.pause(s.index))
			case stepResume:
				w.launch(ctx, key, w.resume(s.index))
			case stepStart:
				w.starting[s.index] = true
				w.launch(ctx, key, w.start(s.index, s.uuid))
			}
		}
	}
	w.settle()
}

// stepKind is a step that reconciling can start.
type stepKind int

const (
	stepSyncTemplates stepKind = iota + 1
	stepStart
	stepRemove
	stepPause
	stepResume
)

func (k stepKind) String() string {
	switch k {
	case stepSyncTemplates:
		return "sync-templates"
	case stepStart:
		return "start"
	case stepRemove:
		return "remove"
	case stepPause:
		return "pause"
	case stepResume:
		return "resume"
	}
	return fmt.Sprintf("step(%d)", int(k))
}

// step is one of decide's decisions: a step to start, on an index (but the templates').
type step struct {
	kind  stepKind
	index string
	uuid  string // the leader index's, for stepStart
}

func (s step) key() string {
	if s.kind == stepSyncTemplates {
		return templatesKey
	}
	return indexKey(s.index)
}

func (s step) String() string {
	if s.kind == stepSyncTemplates {
		return s.kind.String()
	}
	return s.kind.String() + " " + s.index
}

// decide is reconciliation as a pure function of what the integration knows: from the state
// (its last observation included), which steps may start now (due: not under way, not held
// back until the next observation) and how many indexes are starting, it returns the next
// state and the steps to start, in order. It changes nothing it is given.
//
//   - a follower cluster that is red or unreachable holds the health pause (RUNNING or PAUSED
//     only: the plugin cannot pause a bootstrapping index), lifted once it is healthy;
//   - while any pause is held, every followed index is marked held;
//   - a follower that does not answer can be told nothing: nothing starts;
//   - changed leader templates are synced;
//   - failures of indexes that are neither followed nor to be followed any more are dropped;
//   - then each index, the followed ones by name and then the leader's new ones in its order:
//     a followed index whose leader index is gone or was recreated (another UUID) is removed;
//     a SYNCING one is paused while a pause is held, and a held one resumed once none is (one
//     that never synced nor paused is just no longer held); a new leader index starts when
//     nothing is paused, fewer than rebuildConcurrency are starting and the integration has
//     not FAILED.
func decide(st IntegrationState, follower string, due func(key string) bool, starting int) (IntegrationState, []step) {
	obs := st.Observed
	if obs == nil || obs.Leader == nil {
		return st, nil
	}
	st.PausedBy = maps.Clone(st.PausedBy)
	st.Indexes = maps.Clone(st.Indexes)
	st.Failures = maps.Clone(st.Failures)
	if s := st.Progress.State; s == StateRunning || s == StatePaused {
		if obs.Follower.Unhealthy() {
			st.PausedBy[PauseSourceHealth] = fmt.Sprintf("follower cluster %s is %s", follower, obs.Follower.Status)
		} else {
			delete(st.PausedBy, PauseSourceHealth)
		}
	}
	paused := len(st.PausedBy) > 0
	for name, ix := range st.Indexes {
		if paused && !ix.Held {
			ix.Held = true
			st.Indexes[name] = ix
		}
	}
	if !obs.Follower.Reachable() {
		return st, nil
	}
	var steps []step
	leader := obs.Leader
	if leader.Templates != st.TemplatesSynced && due(templatesKey) {
		steps = append(steps, step{kind: stepSyncTemplates})
	}
	for key, f := range st.Failures {
		if _, followed := st.Indexes[f.Index]; f.Index != "" && !followed && !slices.Contains(leader.Replicate, f.Index) {
			delete(st.Failures, key)
		}
	}
	names := slices.Sorted(maps.Keys(st.Indexes))
	for _, name := range leader.Replicate {
		if _, ok := st.Indexes[name]; !ok {
			names = append(names, name)
		}
	}
	for _, name := range names {
		if !due(indexKey(name)) {
			continue
		}
		ix, followed := st.Indexes[name]
		uuid, onLeader := leader.Indexes[name]
		switch {
		case followed && (!onLeader || uuid != ix.UUID):
			steps = append(steps, step{kind: stepRemove, index: name})
		case followed && paused && !ix.Paused && ix.Syncing:
			steps = append(steps, step{kind: stepPause, index: name})
		case followed && !paused && ix.Held && (ix.Paused || ix.Syncing):
			steps = append(steps, step{kind: stepResume, index: name})
		case followed && !paused && ix.Held:
			ix.Held = false // never synced, never paused: nothing to resume
			st.Indexes[name] = ix
		case !followed && !paused && starting < rebuildConcurrency && st.Progress.State != StateFailed:
			starting++
			steps = append(steps, step{kind: stepStart, index: name, uuid: uuid})
		}
	}
	return st, steps
}

// settle derives the state and the counts from what is known.
func (w *integration) settle() {
	p := &w.st.Progress
	if obs := w.st.Observed; obs != nil && obs.Leader != nil {
		p.Excluded = obs.Leader.Excluded
		total := len(w.st.Indexes)
		for _, name := range obs.Leader.Replicate {
			if _, ok := w.st.Indexes[name]; !ok {
				total++
			}
		}
		p.Total = total
	}
	p.Syncing = 0
	for _, ix := range w.st.Indexes {
		if ix.Syncing {
			p.Syncing++
		}
	}
	p.Problems = w.problems()
	if p.State == StateRebuilding && w.rebuilt() {
		p.State, p.Reason = StateRunning, ""
	}
	if p.State != StateRunning && p.State != StatePaused {
		return
	}
	// Pauses queued before the integration was RUNNING apply now.
	maps.Copy(w.st.PausedBy, w.st.QueuedPauses)
	clear(w.st.QueuedPauses)
	held := false
	for _, ix := range w.st.Indexes {
		held = held || ix.Held
	}
	switch {
	case len(w.st.PausedBy) > 0 && w.stillReplicating() && p.State == StateRunning:
		// Still RUNNING until the indexes are paused: PAUSED means replication has stopped.
	case len(w.st.PausedBy) > 0:
		p.State, p.Reason = StatePaused, pauseReason(w.st.PausedBy)
	case held:
		p.State, p.Reason = StatePaused, "resuming replication"
	default:
		p.State, p.Reason = StateRunning, w.problemSummary()
	}
}

// stillReplicating reports whether a pause has yet to stop an index: one is being paused, or a
// SYNCING index of a reachable follower is not paused yet, its pause not even started (the
// state settles before the pauses are launched).
func (w *integration) stillReplicating() bool {
	if len(w.pausing) > 0 {
		return true
	}
	if w.st.Observed == nil || !w.st.Observed.Follower.Reachable() {
		return false
	}
	for _, ix := range w.st.Indexes {
		if ix.Syncing && !ix.Paused {
			return true
		}
	}
	return false
}

// rebuilt reports whether every index the leader has to replicate is SYNCING.
func (w *integration) rebuilt() bool {
	obs := w.st.Observed
	if obs == nil || obs.Leader == nil {
		return false
	}
	for _, name := range obs.Leader.Replicate {
		if ix, ok := w.st.Indexes[name]; !ok || !ix.Syncing {
			return false
		}
	}
	return true
}

// pluginPaused and pluginBootstrapping are the plugin's statuses of a paused follower index
// and of one still restoring from its leader.
const (
	pluginPaused        = "PAUSED"
	pluginBootstrapping = "BOOTSTRAPPING"
)

// problems are the plugin's own halts (other than osccr's pauses) and osccr's failed steps.
func (w *integration) problems() []Problem {
	var out []Problem
	if obs := w.st.Observed; obs != nil {
		for _, name := range slices.Sorted(maps.Keys(obs.Halted)) {
			h := obs.Halted[name]
			if ix, ok := w.st.Indexes[name]; !ok || (h.Status == pluginPaused && ix.Paused) {
				continue
			}
			out = append(out, Problem{Index: name, Status: h.Status, Reason: h.Reason})
		}
		if obs.LeaderError != "" {
			out = append(out, Problem{Status: "LEADER_UNREACHABLE", Reason: obs.LeaderError})
		}
	}
	if w.watchErr != "" {
		out = append(out, Problem{Status: "WATCH_FAILED", Reason: w.watchErr})
	}
	for _, key := range slices.Sorted(maps.Keys(w.st.Failures)) {
		out = append(out, w.st.Failures[key])
	}
	return out
}

// problemSummary is the reason a RUNNING integration shows: its problems, if any.
func (w *integration) problemSummary() string {
	parts := make([]string, 0, len(w.st.Progress.Problems))
	for _, p := range w.st.Progress.Problems {
		s := p.Status
		if p.Index != "" {
			s = "index " + p.Index + " " + s
		}
		if p.Reason != "" {
			s += ": " + p.Reason
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}
