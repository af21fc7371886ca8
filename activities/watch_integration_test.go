package activities

import (
	"context"
	"encoding/json"
	"io"
	stdlog "log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/testcluster"
)

// TestWatchLeader runs the watch against two real clusters: each kind of change returns it
// with what changed, a new index within tens of milliseconds; no change returns it after
// MaxWait, having cost the leader about one request a second (counted by a proxy in front of
// it); a follower that stops answering is reported once it has been silent for a second.
func TestWatchLeader(t *testing.T) {
	d := testcluster.Distribution(t)
	base := testcluster.Dir(t)
	ln, fn := testcluster.Start(t, d, base, "watch-leader"), testcluster.Start(t, d, base, "watch-follower")
	counted := newCountingProxy(t, ln.HTTPURL())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	leader, err := opensearch.New(opensearch.Config{URLs: []string{ln.HTTPURL()}})
	if err != nil {
		t.Fatal(err)
	}
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestActivityEnvironment()
	a := &Activities{}
	env.RegisterActivity(a)
	in := contract.WatchInput{Leader: contract.ClusterRef{Name: "watch-leader", URL: counted.URL}, Follower: contract.ClusterRef{Name: "watch-follower", URL: fn.HTTPURL()}, MaxWait: 20 * time.Second}
	watch := func(known *contract.Observation) (contract.Observation, time.Duration) {
		t.Helper()
		in.Known = known
		began := time.Now()
		v, err := env.ExecuteActivity(a.WatchLeader, in)
		if err != nil {
			t.Fatalf("WatchLeader: %v", err)
		}
		var obs contract.Observation
		if err := v.Get(&obs); err != nil {
			t.Fatal(err)
		}
		return obs, time.Since(began)
	}
	// after runs change once the watch has had time to take its first look.
	after := func(change func() error) {
		go func() {
			time.Sleep(500 * time.Millisecond)
			if err := change(); err != nil {
				t.Errorf("change: %v", err)
			}
		}()
	}
	one := map[string]any{"settings": map[string]any{"number_of_shards": 1, "number_of_replicas": 0}}

	// until watches again until cond holds, as a caller acting on each observation would.
	until := func(known contract.Observation, what string, cond func(contract.Observation) bool) (contract.Observation, time.Duration) {
		t.Helper()
		began := time.Now()
		for time.Since(began) < 30*time.Second {
			obs, _ := watch(&known)
			if cond(obs) {
				return obs, time.Since(began)
			}
			known = obs
		}
		t.Fatalf("%s: not seen within 30s (last %+v)", what, known)
		return known, 0
	}

	first, took := watch(nil)
	if first.Leader == nil || first.Follower.Status != "green" || took > 5*time.Second {
		t.Fatalf("first observation %+v after %s, want the leader's view and a green follower at once", first, took)
	}

	// A new index: created once the watch waits on the leader, seen within tens of ms.
	type result struct {
		obs contract.Observation
		at  time.Time
	}
	returned := make(chan result, 1)
	waits := counted.waits.Load()
	go func() { obs, _ := watch(&first); returned <- result{obs, time.Now()} }()
	for deadline := time.Now().Add(10 * time.Second); counted.waits.Load() == waits; {
		if time.Now().After(deadline) {
			t.Fatal("the watch did not wait on the leader's metadata within 10s")
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, with a deadline
	}
	asked := time.Now()
	if err := leader.CreateIndex(ctx, "orders", one); err != nil {
		t.Fatal(err)
	}
	answered := time.Now()
	r := <-returned
	created := r.obs
	if !slices.Contains(created.Leader.Replicate, "orders") {
		t.Fatalf("watch returned %+v, want the new index", created.Leader)
	}
	// The index is in the metadata before the create is answered (which waits for its shards):
	// the watch sees it in between, or at worst tens of milliseconds after the answer.
	t.Logf("new index seen %s after the create request, %s after its answer (%s)", r.at.Sub(asked), r.at.Sub(answered), answered.Sub(asked))
	if late := r.at.Sub(answered); late > 100*time.Millisecond {
		t.Errorf("new index seen %s after its creation was answered, want within tens of milliseconds", late)
	}

	after(func() error {
		if err := leader.DeleteIndex(ctx, "orders"); err != nil {
			return err
		}
		return leader.CreateIndex(ctx, "orders", one)
	})
	recreated, _ := until(created, "recreated index", func(o contract.Observation) bool {
		uuid := o.Leader.Indexes["orders"]
		return uuid != "" && uuid != created.Leader.Indexes["orders"]
	})

	after(func() error {
		return leader.PutIndexTemplate(ctx, "logs", json.RawMessage(`{"index_patterns":["logs-*"],"priority":1}`))
	})
	templated, _ := until(recreated, "template created", func(o contract.Observation) bool { return o.Leader.Templates != recreated.Leader.Templates })

	before := counted.requests.Load()
	quiet, took := watch(&templated)
	if differs(quiet, &templated) || took < in.MaxWait {
		t.Errorf("without a change the watch returned after %s with %+v, want the same after MaxWait %s", took, quiet, in.MaxWait)
	}
	// One checkpoint read a second, one read of the ISM policies every ISMPollInterval, plus
	// the watch's start (one tiny version check, one ISM read) and its waits (one every
	// LeaderWait, and the one the end cancels): the old watch made 5 a second.
	requests := counted.requests.Load() - before
	t.Logf("idle watch: %d leader requests over %s (%.2f/s)", requests, took.Round(time.Millisecond), float64(requests)/took.Seconds())
	if limit := int64(took/SampleInterval) + int64(took/ISMPollInterval) + 6; requests > limit {
		t.Errorf("an idle watch cost the leader %d requests in %s, want at most %d (about one a second)", requests, took.Round(time.Millisecond), limit)
	}

	after(func() error { testcluster.Stop(t, fn); return nil })
	down, took := until(quiet, "follower unreachable", func(o contract.Observation) bool { return o.Follower.Unhealthy() })
	if down.Follower.Status != "unreachable" || down.Leader == nil || !sameLeaderView(*down.Leader, *quiet.Leader) {
		t.Errorf("follower stopped: %+v, want it unreachable (and the leader view kept)", down)
	}
	if took < unhealthyAfter {
		t.Errorf("follower unreachable reported after %s, want it debounced for %s", took, unhealthyAfter)
	}
	t.Logf("follower unreachable reported %s after it was stopped", took-500*time.Millisecond)
}

// countingProxy forwards every request to a cluster, counting them, and the metadata waits
// among them.
type countingProxy struct {
	URL             string
	requests, waits atomic.Int64
}

func newCountingProxy(t *testing.T, target string) *countingProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = stdlog.New(io.Discard, "", 0) // a watch that ends cancels its wait: not news
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.requests.Add(1)
		if r.URL.Query().Has("wait_for_metadata_version") && r.URL.Query().Get("wait_for_timeout") != "0s" {
			p.waits.Add(1)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}
