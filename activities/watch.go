package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/lag"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/provision"
)

// clusterAPI is the cluster as a whole: what it is, its health, nodes and plugins, the version
// of its metadata (the watch waits on it) and its shards' checkpoints (the lag).
type clusterAPI interface {
	Info(ctx context.Context) (opensearch.ClusterInfo, error)
	Health(ctx context.Context) (opensearch.ClusterHealth, error)
	Plugins(ctx context.Context) ([]string, error)
	Nodes(ctx context.Context) ([]opensearch.NodeStats, error)
	MetadataVersion(ctx context.Context, guess int64) (int64, error)
	MetadataVersionReached(ctx context.Context, version int64) (bool, error)
	WaitForMetadata(ctx context.Context, version int64, timeout time.Duration) (opensearch.ClusterMetadata, bool, error)
	ShardCheckpoints(ctx context.Context) (map[string]map[int]opensearch.ShardSeqNo, error)
}

// Timing of WatchLeader.
const (
	// WatchPollInterval is how often the watch looks at the follower (its health and the
	// plugin's state of every followed index). The leader is not polled for changes: see
	// WatchLeader.
	WatchPollInterval = 500 * time.Millisecond
	// SampleInterval is how often the watch reads the checkpoints of both clusters, for the lag
	// in seconds; on the leader that read is also how the watch learns it still answers. It is
	// the one request a second an idle follower costs its leader.
	SampleInterval = time.Second
	// LeaderWait is how long one wait for a metadata change is held on the leader.
	LeaderWait = 20 * time.Second
	// unhealthyAfter is how long a cluster must keep failing to answer (or stay red) before the
	// watch reports it: one slow answer on a loaded machine must not pause replication.
	unhealthyAfter = time.Second
	// watchCallTimeout bounds each look, so that a hung cluster is reported, not waited on.
	watchCallTimeout = 2 * time.Second
	// discoverTimeout bounds finding the leader's metadata version (a few dozen tiny calls).
	discoverTimeout = 10 * time.Second
)

// class is what a caller acts on: healthy, red or unreachable (green and yellow are the same).
func healthClass(h contract.ClusterHealth) string {
	if h.Status == provision.StatusYellow {
		return provision.StatusGreen
	}
	return h.Status
}

// differs reports whether o would change what a caller that acted on known does.
func differs(o contract.Observation, known *contract.Observation) bool {
	if known == nil {
		return true
	}
	if (o.Leader == nil) != (known.Leader == nil) || (o.Leader != nil && !sameLeaderView(*o.Leader, *known.Leader)) {
		return true
	}
	if (o.LeaderError == "") != (known.LeaderError == "") || healthClass(o.Follower) != healthClass(known.Follower) {
		return true
	}
	return !maps.EqualFunc(o.Halted, known.Halted, func(a, b contract.IndexStatus) bool { return a.Status == b.Status && a.Reason == b.Reason })
}

func sameLeaderView(v, w contract.LeaderView) bool {
	return v.Templates == w.Templates && maps.Equal(v.Indexes, w.Indexes) && slices.Equal(v.Replicate, w.Replicate) && slices.Equal(v.Excluded, w.Excluded)
}

// WatchLeader watches the leader (its indexes and templates) and the follower (its health and
// the plugin's state of every followed index), heartbeating, and returns what it sees as soon
// as that differs from in.Known, or after in.MaxWait without a change. It never fails because a
// cluster does not answer: that is an observation too. A leader that stops answering keeps its
// last view (so nothing looks deleted), with LeaderError saying why.
//
// The leader is not polled for changes: everything the watch reads of it (indexes, UUIDs,
// states, templates) is cluster metadata, so one request waits on the leader until the
// metadata's version passes the one last seen (wait_for_metadata_version), for at most
// LeaderWait, and answers within milliseconds of a change with the new metadata. Idle, the
// leader sees that request every LeaderWait and one checkpoint read every SampleInterval (the
// lag in seconds, and whether the leader still answers: a wait that hangs says nothing). See
// internal/opensearch/watch.go for what the node really answers.
func (a *Activities) WatchLeader(ctx context.Context, in contract.WatchInput) (contract.Observation, error) {
	leader, err := a.client(in.Leader)
	if err != nil {
		return contract.Observation{}, err
	}
	follower, err := a.client(in.Follower)
	if err != nil {
		return contract.Observation{}, err
	}
	maxWait := in.MaxWait
	if maxWait <= 0 {
		maxWait = contract.DefaultWatchMaxWait
	}
	w := &watcher{leader: leader, follower: follower, in: in, lag: a.Lag, changed: make(chan struct{}, 1)}
	if in.Known != nil {
		w.last = *in.Known
		w.view, w.version = in.Known.Leader, in.Known.LeaderMetadataVersion
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	// The ISM policies first: a view held by the caller stands only if they are unchanged.
	w.ism = w.readISM(ctx, "")
	reuse := in.Known == nil || in.Known.Leader == nil || in.Known.Leader.ISM == w.ism
	known := w.readLeader(ctx, 2*watchCallTimeout, reuse) // the first look has the leader's view (or waits no longer)
	w.sample(ctx, time.Now())                             // the first look knows whether the leader answers
	var wg sync.WaitGroup
	wg.Go(func() { w.followLeader(ctx, known) })
	wg.Go(func() { w.sampleEvery(ctx, SampleInterval) })
	wg.Go(func() { w.pollISM(ctx, ISMPollInterval) })
	defer func() { stop(); wg.Wait() }()

	deadline := time.Now().Add(maxWait)
	tick := time.NewTicker(WatchPollInterval)
	defer tick.Stop()
	full := true // look at the follower too; a leader change alone is acted on at once
	for polls := 1; ; polls++ {
		obs := w.look(ctx, full)
		if differs(obs, in.Known) || !time.Now().Before(deadline) {
			return obs, nil
		}
		activity.RecordHeartbeat(ctx, w.heartbeat(obs, polls, time.Now()))
		select {
		case <-ctx.Done():
			return obs, ctx.Err()
		case <-tick.C:
			full = true
		case <-w.changed:
			full = false
		}
	}
}

// heartbeat is the watch's heartbeat: enough to see in the Web UI that it is alive, and the
// follower's live figures (the lag, and each followed index's state and checkpoints), which
// the control plane reads as they are, without adding to the history (workflows.LiveFigures).
func (w *watcher) heartbeat(obs contract.Observation, polls int, now time.Time) contract.WatchSample {
	out := contract.WatchSample{Version: contract.WatchSampleVersion, Polls: polls, LeaderIndexes: len(leaderIndexes(obs)),
		Follower: obs.Follower.Status, LeaderError: obs.LeaderError}
	if w.lag != nil {
		if l, ok := w.lag.Lag(w.in.Follower.Name, now); ok {
			out.Lag = &l
		}
	}
	w.mu.Lock()
	out.SampledAt, out.LeaderUnreachable, out.LeaderSeenAt = w.sampledAt, w.sampledLeaderDown, w.leaderSeenAt
	out.Indexes = make(map[string]contract.IndexSample, len(w.figures)+len(w.states))
	maps.Copy(out.Indexes, w.figures)
	w.mu.Unlock()
	for index, state := range w.states {
		ix, ok := out.Indexes[index]
		if !ok && !slices.Contains(w.in.Followed, index) {
			continue // not this follower's, or not on it yet
		}
		ix.State = string(state)
		if h, ok := obs.Halted[index]; ok && h.Status == ix.State {
			ix.Reason = h.Reason
		}
		out.Indexes[index] = ix
	}
	return out
}

func leaderIndexes(o contract.Observation) map[string]string {
	if o.Leader == nil {
		return nil
	}
	return o.Leader.Indexes
}

// watcher holds what one watch has seen so far.
type watcher struct {
	leader, follower Cluster
	in               contract.WatchInput
	lag              *lag.Tracker
	last             contract.Observation
	// changed wakes the watch when the leader's view changed.
	changed chan struct{}

	mu sync.Mutex // guards what the leader's goroutine shares
	// view is the leader's view, read at metadata version (or later); nil until read.
	view    *contract.LeaderView
	version int64
	// meta is the leader's metadata the view was made from (nil while the view is one the
	// caller held); ism the fingerprint of the leader's ISM policies, polled.
	meta *opensearch.ClusterMetadata
	ism  string
	// Since when the leader has failed to answer (zero: it answers), and why.
	leaderFailing time.Time
	leaderErr     error
	// figures are each followed index's checkpoints at the last sample (sampledAt), the
	// leader's the last it answered when sampledLeaderDown (leaderSeenAt: when that was).
	figures           map[string]contract.IndexSample
	sampledAt         time.Time
	sampledLeaderDown bool
	leaderSeenAt      time.Time
	// leaderShards are the leader's shard checkpoints when it last answered a sample.
	leaderShards map[string]map[int]opensearch.ShardSeqNo
	// Since when the follower has been unhealthy (zero: it is not).
	followerUnhealthy time.Time
	// states are the plugin's states of every follower index at the last full look (only the
	// watch's own goroutine uses them).
	states map[string]opensearch.Status
}

// readLeader finds the leader's metadata version, then reads its metadata (in that order: a
// change between the two is then seen by the next wait). It reports whether it read them.
// When the caller already holds a view read at a version the leader still has (one tiny
// call) and reuse is set, that view stands: the next wait returns at once with a newer one if
// there is one.
func (w *watcher) readLeader(ctx context.Context, timeout time.Duration, reuse bool) bool {
	w.mu.Lock()
	guess, held := w.version, w.view != nil
	w.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if reuse && guess > 0 && held {
		ok, err := w.leader.MetadataVersionReached(ctx, guess)
		w.leaderAnswered(err)
		if err != nil {
			return false
		}
		if ok {
			return true
		}
	}
	v, err := w.leader.MetadataVersion(ctx, guess)
	if err != nil {
		w.leaderAnswered(err)
		return false
	}
	m, err := w.leader.ClusterMetadata(ctx)
	w.leaderAnswered(err)
	if err != nil {
		return false
	}
	w.setView(m, v)
	return true
}

// followLeader waits on the leader for each metadata change, until ctx ends. After a failure
// (the leader restarted, or is another cluster now) it finds the version and reads again.
func (w *watcher) followLeader(ctx context.Context, known bool) {
	for ctx.Err() == nil {
		if !known {
			if known = w.readLeader(ctx, discoverTimeout, false); !known { // after a failure: read afresh
				sleep(ctx, SampleInterval)
			}
			continue
		}
		w.mu.Lock()
		next := w.version + 1
		w.mu.Unlock()
		wctx, cancel := context.WithTimeout(ctx, LeaderWait+5*time.Second)
		m, reached, err := w.leader.WaitForMetadata(wctx, next, LeaderWait)
		cancel()
		if ctx.Err() != nil {
			return
		}
		w.leaderAnswered(err)
		switch {
		case err != nil:
			known = false
			sleep(ctx, SampleInterval)
		case reached:
			w.setView(m, next) // at least next: a burst of changes costs one quick wait each
		}
	}
}

func (w *watcher) setView(m opensearch.ClusterMetadata, version int64) {
	w.mu.Lock()
	view := leaderView(m, w.ism)
	w.view, w.version, w.meta = &view, version, &m
	w.mu.Unlock()
	w.wake()
}

// leaderAnswered records whether a call to the leader succeeded.
func (w *watcher) leaderAnswered(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err == nil {
		w.leaderFailing, w.leaderErr = time.Time{}, nil
		return
	}
	if w.leaderFailing.IsZero() {
		w.leaderFailing = time.Now()
	}
	w.leaderErr = err
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// readISM fingerprints the leader's ISM policies; when they cannot be read it answers last
// (the leader's health is the samples' to judge).
func (w *watcher) readISM(ctx context.Context, last string) string {
	ctx, cancel := context.WithTimeout(ctx, watchCallTimeout)
	defer cancel()
	p, err := listISMPolicies(w.leader, ctx)
	if err != nil {
		return last
	}
	return ismFingerprint(p)
}

// pollISM reads the leader's ISM policies every interval, until ctx ends; a change makes a
// new view (from the metadata last read) and wakes the watch.
func (w *watcher) pollISM(ctx context.Context, interval time.Duration) {
	every(ctx, interval, func(time.Time) {
		w.mu.Lock()
		last := w.ism
		w.mu.Unlock()
		fp := w.readISM(ctx, last)
		if fp == last {
			return
		}
		w.mu.Lock()
		w.ism = fp
		if w.meta != nil {
			view := leaderView(*w.meta, fp)
			w.view = &view
		} else if w.view != nil { // a view the caller held: read afresh by the next wait
			view := *w.view
			view.ISM, view.Templates = fp, "ism changed: "+fp
			w.view = &view
		}
		w.mu.Unlock()
		w.wake()
	})
}

// sampleEvery samples every interval until ctx ends (beside the looks, which it must not
// slow down).
func (w *watcher) sampleEvery(ctx context.Context, interval time.Duration) {
	every(ctx, interval, func(now time.Time) { w.sample(ctx, now) })
}

// every calls do at each tick of interval until ctx ends.
func every(ctx context.Context, interval time.Duration, do func(now time.Time)) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			do(now)
		}
	}
}

// wake tells the watch the leader's view changed (once: a wake not yet taken stands).
func (w *watcher) wake() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// sample reads the checkpoints of both clusters for the lag in seconds and the live figures
// of each followed index; the leader's read also says whether it still answers.
func (w *watcher) sample(ctx context.Context, now time.Time) {
	lctx, cancel := context.WithTimeout(ctx, watchCallTimeout)
	leaderShards, err := w.leader.ShardCheckpoints(lctx)
	cancel()
	if ctx.Err() != nil {
		return // the watch ended: a cancelled call says nothing of the leader
	}
	w.leaderAnswered(err)
	name, leaderName := w.in.Follower.Name, w.in.Leader.Name
	// The indexes followed: those the caller named, and every index the leader replicates (the
	// caller's list is as old as the watch; one not on the follower yet has no lag).
	followed := slices.Clone(w.in.Followed)
	w.mu.Lock()
	if w.view != nil {
		followed = append(followed, w.view.Replicate...)
	}
	if err == nil {
		w.leaderShards, w.leaderSeenAt = leaderShards, now
	}
	lastShards := w.leaderShards
	w.mu.Unlock()
	slices.Sort(followed)
	followed = slices.Compact(followed)
	leaderDown := err != nil
	if w.lag != nil {
		if leaderDown {
			w.lag.LeaderUnreachable(name, leaderName, now)
		} else {
			w.lag.Leader(name, leaderName, now, pick(leaderShards, followed, func(c opensearch.ShardSeqNo) int64 { return c.GlobalCheckpoint }))
		}
	}
	fctx, cancel := context.WithTimeout(ctx, watchCallTimeout)
	followerShards, err := w.follower.ShardCheckpoints(fctx)
	cancel()
	if err != nil {
		return // the last figures stand (their sampled_at says how old they are)
	}
	at := time.Now()
	if w.lag != nil {
		w.lag.Follower(name, leaderName, at, pick(followerShards, followed, func(c opensearch.ShardSeqNo) int64 { return c.LocalCheckpoint }))
	}
	figures := make(map[string]contract.IndexSample, len(followed))
	for _, index := range followed {
		have, ok := followerShards[index]
		if !ok {
			continue // not on the follower (yet)
		}
		ix := contract.IndexSample{HasFollower: true}
		if goal, ok := lastShards[index]; ok && !leaderDown {
			ix.LeaderCheckpoint, ix.FollowerCheckpoint = compareShards(goal, have)
		} else {
			for _, h := range have {
				ix.FollowerCheckpoint += h.LocalCheckpoint
			}
			if ok {
				ix.LeaderCheckpoint, _ = compareShards(goal, have)
			}
			if w.lag != nil {
				if latest, ok := w.lag.Latest(name, index, at); ok {
					ix.LeaderCheckpoint = max(ix.LeaderCheckpoint, latest.Checkpoint)
				}
			}
		}
		figures[index] = ix
	}
	seenAt := time.Time{}
	if w.lag != nil {
		if l, ok := w.lag.Lag(name, at); ok {
			seenAt = l.LastContact
		}
	}
	w.mu.Lock()
	w.figures, w.sampledAt, w.sampledLeaderDown = figures, at, leaderDown
	if leaderDown && !seenAt.IsZero() {
		w.leaderSeenAt = seenAt // this worker saw it answer an earlier watch
	}
	w.mu.Unlock()
}

// compareShards sums, over the leader index's primary shards (goal), the leader's global
// checkpoints and what the follower index's primaries (have) hold of them: a follower shard
// counts up to its leader shard's checkpoint (one ahead of the sample does not hide one
// behind), a missing one as -1 (no operation). Leader minus follower is then the operations
// the follower lacks, exactly, as of the leader's read.
func compareShards(goal, have map[int]opensearch.ShardSeqNo) (leader, follower int64) {
	for shard, g := range goal {
		f := int64(-1)
		if h, ok := have[shard]; ok {
			f = min(h.LocalCheckpoint, g.GlobalCheckpoint)
		}
		leader += g.GlobalCheckpoint
		follower += f
	}
	return leader, follower
}

// pick sums one checkpoint over the primaries of each followed index (follower and leader
// indexes share names).
func pick(all map[string]map[int]opensearch.ShardSeqNo, followed []string, cp func(opensearch.ShardSeqNo) int64) map[string]int64 {
	out := make(map[string]int64, len(followed))
	for _, name := range followed {
		if shards, ok := all[name]; ok {
			var sum int64
			for _, c := range shards {
				sum += cp(c)
			}
			out[name] = sum
		}
	}
	return out
}

// look takes what the leader's goroutine has seen and, when full, one look at the follower. A
// failure that has not lasted unhealthyAfter is not reported yet: the last observation stands
// for it.
func (w *watcher) look(ctx context.Context, full bool) contract.Observation {
	now := time.Now()
	obs := contract.Observation{Leader: w.last.Leader, LeaderError: w.last.LeaderError, Follower: w.last.Follower, Halted: w.last.Halted, LeaderMetadataVersion: w.last.LeaderMetadataVersion}

	w.mu.Lock()
	if w.view != nil {
		obs.Leader, obs.LeaderMetadataVersion = w.view, w.version
	}
	switch {
	case w.leaderFailing.IsZero():
		obs.LeaderError = ""
	case now.Sub(w.leaderFailing) >= unhealthyAfter:
		obs.LeaderError = fmt.Sprintf("leader %s does not answer: %v", w.in.Leader.Name, w.leaderErr)
	}
	w.mu.Unlock()
	if !full {
		w.last = obs
		return obs
	}

	health := w.followerHealth(ctx)
	if !health.Unhealthy() {
		w.followerUnhealthy = time.Time{}
		obs.Follower = health
	} else if since(&w.followerUnhealthy, now) >= unhealthyAfter || obs.Follower.Status == "" {
		obs.Follower = health
	}
	if health.Reachable() {
		if halted, err := w.halted(ctx); err == nil {
			obs.Halted = halted
		}
	}
	w.last = obs
	return obs
}

// since returns how long ago *t was set, setting it to now when it is zero.
func since(t *time.Time, now time.Time) time.Duration {
	if t.IsZero() {
		*t = now
	}
	return now.Sub(*t)
}

func (w *watcher) followerHealth(ctx context.Context) contract.ClusterHealth {
	hctx, cancel := context.WithTimeout(ctx, watchCallTimeout)
	defer cancel()
	h, err := w.follower.Health(hctx)
	if err != nil {
		return contract.ClusterHealth{Status: provision.StatusUnreachable, Reason: err.Error()}
	}
	out := contract.ClusterHealth{Status: string(h.Status)}
	if h.Status == opensearch.HealthRed {
		out.Reason = fmt.Sprintf("%d shards unassigned, %d initializing", h.UnassignedShards, h.InitializingShards)
	}
	return out
}

// halted reads the plugin's state of every followed index in one call, and the reason of
// those that are PAUSED or FAILED (reusing the last answer while the state is the same).
func (w *watcher) halted(ctx context.Context) (map[string]contract.IndexStatus, error) {
	sctx, cancel := context.WithTimeout(ctx, watchCallTimeout)
	defer cancel()
	states, err := w.follower.ReplicationStates(sctx)
	if err != nil {
		return nil, err
	}
	w.states = states
	out := map[string]contract.IndexStatus{}
	for _, index := range w.in.Followed {
		state := states[index]
		if state != opensearch.StatusPaused && state != opensearch.StatusFailed {
			continue
		}
		if prev, ok := w.last.Halted[index]; ok && prev.Status == string(state) {
			out[index] = prev
			continue
		}
		st := contract.IndexStatus{Index: index, Status: string(state)}
		if full, err := w.follower.ReplicationStatus(sctx, index); err == nil && full.Status == state {
			st.Reason = full.Reason
		}
		out[index] = st
	}
	return out, nil
}

// leaderView sorts the leader's indexes as ListLeaderIndexes does and fingerprints its
// configuration (ism: its ISM policies' fingerprint).
func leaderView(m opensearch.ClusterMetadata, ism string) contract.LeaderView {
	v := contract.LeaderView{Indexes: map[string]string{}, Replicate: []string{}, Excluded: []contract.Exclusion{}, Templates: configFingerprint(templatesFingerprint(m), ism), ISM: ism}
	for _, ix := range m.Indexes {
		v.Indexes[ix.Name] = ix.UUID
		if reason := exclusion(ix.Name, ix.Hidden, ix.State); reason != "" {
			v.Excluded = append(v.Excluded, contract.Exclusion{Index: ix.Name, Reason: reason})
		} else {
			v.Replicate = append(v.Replicate, ix.Name)
		}
	}
	slices.Sort(v.Replicate)
	sortExclusions(v.Excluded)
	return v
}

// templatesFingerprint hashes the configuration SyncTemplates copies (templates, pipelines,
// stored scripts, the copied cluster settings), in a canonical form (JSON objects are re-encoded with sorted keys), so that
// equal configurations give equal fingerprints.
func templatesFingerprint(m opensearch.ClusterMetadata) string {
	return fingerprint(map[string]map[string]json.RawMessage{
		componentTemplates.prefix: m.ComponentTemplates, indexTemplates.prefix: m.IndexTemplates,
		ingestPipelines.prefix: m.IngestPipelines, searchPipelines.prefix: m.SearchPipelines, storedScripts.prefix: m.StoredScripts,
		clusterSettings.prefix: copiedSettings(m),
	})
}

// fingerprint hashes objects by kind prefix and name, dot-prefixed names left out.
func fingerprint(kinds map[string]map[string]json.RawMessage) string {
	all := map[string]any{}
	for prefix, objects := range kinds {
		for name, body := range objects {
			if strings.HasPrefix(name, ".") {
				continue
			}
			var v any
			if json.Unmarshal(body, &v) != nil {
				v = string(body)
			}
			all[prefix+name] = v
		}
	}
	raw, err := json.Marshal(all)
	if err != nil { // cannot happen: the values came from JSON
		return "unhashable: " + err.Error()
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:12])
}
