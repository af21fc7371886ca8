// Package searchattr registers osccr's custom search attributes on a Temporal namespace, for
// the embedded dev server and for an existing Temporal alike.
package searchattr

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
)

// Ensure registers the custom search attributes the namespace lacks. It runs
// on every start, so attributes added to osccr later reach existing state dirs too.
//
//  1. List the namespace's custom attributes (the namespace-less GetSearchAttributes does not
//     show them on SQL visibility).
//  2. An attribute present with another type is an error: it cannot be changed in place.
//  3. Add the missing ones in one call.
func Ensure(ctx context.Context, ops operatorservice.OperatorServiceClient, namespace string, want map[string]enumspb.IndexedValueType) error {
	if len(want) == 0 {
		return nil
	}
	resp, err := ops.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes of namespace %q: %w", namespace, err)
	}
	have := resp.GetCustomAttributes()
	missing := map[string]enumspb.IndexedValueType{}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		got, ok := have[name]
		switch {
		case !ok:
			missing[name] = want[name]
		case got != want[name]:
			return fmt.Errorf("search attribute %s of namespace %q is %s, want %s", name, namespace, got, want[name])
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = ops.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        namespace,
		SearchAttributes: missing,
	})
	if err != nil {
		return fmt.Errorf("add search attributes %v to namespace %q: %w", slices.Sorted(maps.Keys(missing)), namespace, err)
	}
	return nil
}

// AwaitUsable waits until a visibility query naming every attribute in want is accepted. An
// attribute just added is stored at once but reaches the server's namespace cache only at its
// next refresh (10 s by default); until then any request naming it is refused with "no mapping
// defined for search attribute".
func AwaitUsable(ctx context.Context, wf workflowservice.WorkflowServiceClient, namespace string, want map[string]enumspb.IndexedValueType) error {
	if len(want) == 0 {
		return nil
	}
	var clauses []string
	for _, name := range slices.Sorted(maps.Keys(want)) {
		clauses = append(clauses, name+" IS NULL")
	}
	query := strings.Join(clauses, " AND ")
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		_, err := wf.CountWorkflowExecutions(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: namespace, Query: query})
		var invalid *serviceerror.InvalidArgument
		if err == nil || !errors.As(err, &invalid) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("search attributes of namespace %q not usable yet: %w (last answer: %v)", namespace, ctx.Err(), err)
		case <-tick.C:
		}
	}
}
