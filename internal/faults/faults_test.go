package faults

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		spec    string
		want    Point
		wantErr string
	}{
		{spec: "StartReplication:after:2", want: Point{"StartReplication", After, 2}},
		{spec: "ProvisionService:before:1", want: Point{"ProvisionService", Before, 1}},
		{spec: "StartReplication", wantErr: "want ActivityType:before|after:N"},
		{spec: "a:b:c:d", wantErr: "want ActivityType:before|after:N"},
		{spec: ":after:1", wantErr: "no activity type"},
		{spec: "X:during:1", wantErr: `stage "during"`},
		{spec: "X:after:0", wantErr: `count "0"`},
		{spec: "X:after:two", wantErr: `count "two"`},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := Parse(tc.spec)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse(%q) = %v, %v; want error containing %q", tc.spec, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want || got.String() != tc.spec {
				t.Fatalf("Parse(%q) = %v (%q), %v; want %v", tc.spec, got, got.String(), err, tc.want)
			}
		})
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv(EnvKill, "")
	if got, err := FromEnv(nil); err != nil || got != nil {
		t.Fatalf("unset: %v, %v; want no interceptor", got, err)
	}
	t.Setenv(EnvKill, "Nope")
	if _, err := FromEnv(nil); err == nil || !strings.Contains(err.Error(), EnvKill) {
		t.Fatalf("bad spec: %v, want an error naming %s", err, EnvKill)
	}
	t.Setenv(EnvKill, "A:before:1")
	if got, err := FromEnv(nil); err != nil || len(got) != 1 {
		t.Fatalf("set: %v, %v; want one interceptor", got, err)
	}
}

// TestKiller runs activities through the interceptor in Temporal's activity test environment
// and records when kill is called (the test's kill does not kill): at the point and only there.
func TestKiller(t *testing.T) {
	type call struct {
		activity string
		fail     bool
	}
	calls := []call{{"Ping", false}, {"Pong", false}, {"Ping", true}, {"Ping", false}, {"Ping", false}}
	for _, tc := range []struct {
		point Point
		// want is the index in calls at which kill is called, -1 for never.
		want int
	}{
		{Point{"Ping", Before, 1}, 0},
		{Point{"Ping", Before, 3}, 3}, // the failed one counts: it started
		{Point{"Ping", After, 2}, 3},  // the failed one does not: it did not succeed
		{Point{"Pong", After, 1}, 1},
		{Point{"Pong", Before, 2}, -1},
		{Point{"Other", Before, 1}, -1},
	} {
		t.Run(tc.point.String(), func(t *testing.T) {
			var log strings.Builder
			killedAt, current := -1, 0
			k := NewKiller(tc.point, &log, func() {
				if killedAt == -1 {
					killedAt = current
				}
			})
			var s testsuite.WorkflowTestSuite
			env := s.NewTestActivityEnvironment()
			env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{k}})
			fail := false
			run := func(ctx context.Context) error {
				_ = activity.GetInfo(ctx)
				if fail {
					return errors.New("refused")
				}
				return nil
			}
			env.RegisterActivityWithOptions(run, activity.RegisterOptions{Name: "Ping"})
			env.RegisterActivityWithOptions(run, activity.RegisterOptions{Name: "Pong"})
			for i, c := range calls {
				current, fail = i, c.fail
				_, _ = env.ExecuteActivity(c.activity)
			}
			if killedAt != tc.want {
				t.Fatalf("kill called at call %d, want %d", killedAt, tc.want)
			}
			if tc.want >= 0 && log.String() != Marker+tc.point.String()+"\n" {
				t.Fatalf("log %q, want the marker line", log.String())
			}
		})
	}
}
