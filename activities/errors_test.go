package activities

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/opensearch"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name          string
		err           error
		wantType      string // "" means: stays a plain, retryable error
		wantUnchanged bool
	}{
		{"plugin missing", fmt.Errorf("start: %w", opensearch.ErrPluginMissing), contract.ErrTypePluginMissing, false},
		{"index exists", fmt.Errorf("start: %w", opensearch.ErrAlreadyExists), contract.ErrTypeIndexExists, false},
		{"not found", opensearch.ErrNotFound, contract.ErrTypeNotFound, false},
		{"blocked", opensearch.ErrBlocked, contract.ErrTypeBlocked, false},
		{"bad request", opensearch.ErrBadRequest, contract.ErrTypeBadRequest, false},
		{"unauthorized", opensearch.ErrUnauthorized, contract.ErrTypeUnauthorized, false},
		{"not replicating", opensearch.ErrReplicationNotInProgress, contract.ErrTypeNotReplicating, false},
		{"cluster unavailable", fmt.Errorf("status: %w", opensearch.ErrUnavailable), "", true},
		{"leader unreachable", opensearch.ErrLeaderUnreachable, "", true},
		{"timeout", context.DeadlineExceeded, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classify(tt.err)
			var appErr *temporal.ApplicationError
			isApp := errors.As(got, &appErr)
			if tt.wantUnchanged {
				if isApp || got != tt.err {
					t.Fatalf("classify(%v) = %v, want the error unchanged (retryable)", tt.err, got)
				}
				return
			}
			if !isApp || appErr.Type() != tt.wantType || !appErr.NonRetryable() {
				t.Fatalf("classify(%v) = %v, want a non-retryable application error of type %s", tt.err, got, tt.wantType)
			}
			if appErr.Message() != tt.err.Error() {
				t.Errorf("message %q, want the original %q", appErr.Message(), tt.err.Error())
			}
		})
	}
	if classify(nil) != nil {
		t.Error("classify(nil) != nil")
	}
}

func TestPlanIndexes(t *testing.T) {
	got := planIndexes([]opensearch.IndexSummary{
		{Name: "orders", UUID: "u-orders", Status: "open", StoreBytes: 100},
		{Name: ".kibana_1", Status: "open"},
		{Name: ".ds-logs-000001", Status: "open"},
		{Name: "archive", Status: "close"},
		{Name: "audit", Status: "open", Hidden: true},
		{Name: "customers", UUID: "u-customers", Status: "open", StoreBytes: 50},
	})
	if want := map[string]string{"orders": "u-orders", "customers": "u-customers"}; !maps.Equal(got.UUIDs, want) {
		t.Errorf("uuids %v, want %v (the replicated indexes only)", got.UUIDs, want)
	}
	if want := []string{"customers", "orders"}; !slices.Equal(got.Replicate, want) || got.Bytes != 150 {
		t.Errorf("replicate %v (%d bytes), want %v (150 bytes)", got.Replicate, got.Bytes, want)
	}
	var excluded []string
	for _, e := range got.Excluded {
		excluded = append(excluded, e.Index)
		if e.Reason == "" {
			t.Errorf("%s excluded without a reason", e.Index)
		}
	}
	if want := []string{".ds-logs-000001", ".kibana_1", "archive", "audit"}; !slices.Equal(excluded, want) {
		t.Errorf("excluded %v, want %v", excluded, want)
	}
	if want := []string{"archive", "customers", "orders"}; !slices.Equal(got.UserIndexes(), want) {
		t.Errorf("user indexes %v, want %v (open and closed, no system or hidden ones)", got.UserIndexes(), want)
	}
}

func TestShardsBehind(t *testing.T) {
	seq := func(local, global int64) opensearch.ShardSeqNo {
		return opensearch.ShardSeqNo{LocalCheckpoint: local, GlobalCheckpoint: global}
	}
	goal := map[int]opensearch.ShardSeqNo{0: seq(10, 9), 1: seq(5, 5)}
	tests := []struct {
		name string
		have map[int]opensearch.ShardSeqNo
		want int
	}{
		{"both reached", map[int]opensearch.ShardSeqNo{0: seq(9, 9), 1: seq(7, 7)}, 0},
		{"one short", map[int]opensearch.ShardSeqNo{0: seq(8, 8), 1: seq(5, 5)}, 1},
		{"a shard not reporting", map[int]opensearch.ShardSeqNo{0: seq(9, 9)}, 1},
		{"nothing yet", nil, 2},
	}
	for _, tt := range tests {
		if got := shardsBehind(goal, tt.have); got != tt.want {
			t.Errorf("%s: %d shards behind, want %d", tt.name, got, tt.want)
		}
	}
}
