// Package faults injects crashes into the worker for the fault-injection suite
// (internal/chaos): a Temporal worker interceptor that SIGKILLs its own process at a named
// point of an activity, so a test can crash osccr exactly between "OpenSearch did it" and
// "Temporal knows it". It is installed only when EnvKill is set; a production worker has none.
package faults

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
)

// EnvKill names the environment variable holding a kill point (Parse's syntax).
const EnvKill = "OSCCR_FAULT_KILL"

// Marker starts the line a worker prints just before it kills itself, so the harness can tell
// the injected crash from any other death.
const Marker = "osccr-worker: fault injection: SIGKILL "

// Stage says when, around an activity, the process dies.
type Stage string

const (
	// Before: the worker has the activity task (Temporal recorded it started) but has not run it.
	Before Stage = "before"
	// After: the activity ran and succeeded (its OpenSearch calls are done) but its result is
	// not reported to Temporal.
	After Stage = "after"
)

// Point is one kill point in this process: before the Nth execution of an activity type starts
// (retries count), or after its Nth successful execution returned.
type Point struct {
	Activity string
	Stage    Stage
	Nth      int
}

// String is the point in Parse's syntax.
func (p Point) String() string { return fmt.Sprintf("%s:%s:%d", p.Activity, p.Stage, p.Nth) }

// Parse reads "ActivityType:before|after:N" (N >= 1).
func Parse(spec string) (Point, error) {
	parts := strings.Split(spec, ":")
	if len(parts) != 3 {
		return Point{}, fmt.Errorf("fault point %q: want ActivityType:before|after:N", spec)
	}
	p := Point{Activity: parts[0], Stage: Stage(parts[1])}
	if p.Activity == "" {
		return Point{}, fmt.Errorf("fault point %q: no activity type", spec)
	}
	if p.Stage != Before && p.Stage != After {
		return Point{}, fmt.Errorf("fault point %q: stage %q: want before or after", spec, parts[1])
	}
	n, err := strconv.Atoi(parts[2])
	if err != nil || n < 1 {
		return Point{}, fmt.Errorf("fault point %q: count %q: want a whole number from 1", spec, parts[2])
	}
	p.Nth = n
	return p, nil
}

// FromEnv returns the worker interceptors EnvKill asks for: none when it is unset, an error
// when it does not parse (a chaos run with a typo must not pass by killing nothing).
func FromEnv(log io.Writer) ([]interceptor.WorkerInterceptor, error) {
	spec, ok := os.LookupEnv(EnvKill)
	if !ok || spec == "" {
		return nil, nil
	}
	p, err := Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvKill, err)
	}
	return []interceptor.WorkerInterceptor{NewKiller(p, log, KillSelf)}, nil
}

// KillSelf ends this process at once, as kill -9 would: no deferred call, no graceful stop.
func KillSelf() { _ = syscall.Kill(os.Getpid(), syscall.SIGKILL) }

// Killer is the interceptor: it counts executions of Point.Activity and calls kill at the
// point. Other activities, and the other executions, run untouched.
type Killer struct {
	interceptor.WorkerInterceptorBase
	point Point
	log   io.Writer
	kill  func()
	calls atomic.Int64
}

// NewKiller returns a Killer that writes Marker and the point to log, then calls kill.
func NewKiller(p Point, log io.Writer, kill func()) *Killer {
	return &Killer{point: p, log: log, kill: kill}
}

// InterceptActivity wraps every activity execution.
func (k *Killer) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &activityKiller{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}, k: k}
}

// reached counts an execution of activity type name at stage and says whether it is the
// point's: Before counts every execution that starts, After every one that succeeded.
func (k *Killer) reached(name string, stage Stage) bool {
	return name == k.point.Activity && stage == k.point.Stage && k.calls.Add(1) == int64(k.point.Nth)
}

func (k *Killer) fire() {
	fmt.Fprintf(k.log, "%s%s\n", Marker, k.point)
	k.kill()
}

type activityKiller struct {
	interceptor.ActivityInboundInterceptorBase
	k *Killer
}

func (a *activityKiller) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	name := activity.GetInfo(ctx).ActivityType.Name
	if a.k.reached(name, Before) {
		a.k.fire()
	}
	out, err := a.Next.ExecuteActivity(ctx, in)
	if err == nil && a.k.reached(name, After) {
		a.k.fire()
	}
	return out, err
}
