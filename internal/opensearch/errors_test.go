package opensearch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

var sentinels = []error{
	ErrNotFound, ErrAlreadyExists, ErrConflict, ErrBlocked, ErrLeaderUnreachable, ErrUnavailable,
	ErrBadRequest, ErrUnauthorized, ErrPluginMissing, ErrReplicationNotInProgress, ErrRetentionLeaseExpired,
}

// The bodies below were recorded from OpenSearch 2.19 or built from the exceptions the CCR
// plugin (2.19.6.0) throws, rendered the way OpenSearch renders exceptions.
func TestResponseErrorClassification(t *testing.T) {
	tests := []struct {
		name     string
		api      api
		status   int
		body     string
		want     error // nil: no sentinel matches
		wantType string
	}{
		{
			name: "plugin missing on status", api: apiReplicationStatus, status: 400,
			body: `{"error":"no handler found for uri [/_plugins/_replication/x/_status] and method [GET]"}`,
			want: ErrPluginMissing,
		},
		{
			name: "plugin missing on start", api: apiReplication, status: 400,
			body: `{"error":"no handler found for uri [/_plugins/_replication/x/_start] and method [PUT]"}`,
			want: ErrPluginMissing,
		},
		{
			name: "plugin missing on stats", api: apiReplication, status: 400,
			body: `{"error":"no handler found for uri [/_plugins/_replication/follower_stats] and method [GET]"}`,
			want: ErrPluginMissing,
		},
		{
			name: "unknown core endpoint", api: apiCore, status: 400,
			body: `{"error":"no handler found for uri [/_nope] and method [GET]"}`,
			want: ErrBadRequest,
		},
		{
			name: "index exists", api: apiCore, status: 400,
			body:     `{"error":{"root_cause":[{"type":"resource_already_exists_exception","reason":"index [i1/788ndaFTRxCFBMvICH763A] already exists","index":"i1","index_uuid":"788ndaFTRxCFBMvICH763A"}],"type":"resource_already_exists_exception","reason":"index [i1/788ndaFTRxCFBMvICH763A] already exists","index":"i1","index_uuid":"788ndaFTRxCFBMvICH763A"},"status":400}`,
			want:     ErrAlreadyExists,
			wantType: "resource_already_exists_exception",
		},
		{
			name: "index not found", api: apiCore, status: 404,
			body:     `{"error":{"root_cause":[{"type":"index_not_found_exception","reason":"no such index [nope]","index":"nope","resource.id":"nope","resource.type":"index_or_alias","index_uuid":"_na_"}],"type":"index_not_found_exception","reason":"no such index [nope]","index":"nope","resource.id":"nope","resource.type":"index_or_alias","index_uuid":"_na_"},"status":404}`,
			want:     ErrNotFound,
			wantType: "index_not_found_exception",
		},
		{
			name: "template not found", api: apiCore, status: 404,
			body: `{"error":{"root_cause":[{"type":"resource_not_found_exception","reason":"index template matching [nope] not found"}],"type":"resource_not_found_exception","reason":"index template matching [nope] not found"},"status":404}`,
			want: ErrNotFound,
		},
		{
			name: "document not found", api: apiCore, status: 404,
			body: `{"_index":"i9","_id":"2","found":false}`,
			want: ErrNotFound,
		},
		{
			name: "write block", api: apiCore, status: 403,
			body:     `{"error":{"root_cause":[{"type":"cluster_block_exception","reason":"index [i1] blocked by: [FORBIDDEN/8/index write (api)];"}],"type":"cluster_block_exception","reason":"index [i1] blocked by: [FORBIDDEN/8/index write (api)];"},"status":403}`,
			want:     ErrBlocked,
			wantType: "cluster_block_exception",
		},
		{
			name: "metadata block", api: apiCore, status: 403,
			body: `{"error":{"root_cause":[{"type":"cluster_block_exception","reason":"index [i1] blocked by: [FORBIDDEN/9/index metadata (api)];"}],"type":"cluster_block_exception","reason":"index [i1] blocked by: [FORBIDDEN/9/index metadata (api)];"},"status":403}`,
			want: ErrBlocked,
		},
		{
			name: "follower index refuses writes", api: apiCore, status: 403,
			body: `{"error":{"root_cause":[{"type":"cluster_block_exception","reason":"index [logs-1] blocked by: [FORBIDDEN/1000/index read-only(cross-cluster-replication)];"}],"type":"cluster_block_exception","reason":"index [logs-1] blocked by: [FORBIDDEN/1000/index read-only(cross-cluster-replication)];"},"status":403}`,
			want: ErrBlocked,
		},
		{
			name: "flood stage watermark", api: apiCore, status: 429,
			body: `{"error":{"root_cause":[{"type":"cluster_block_exception","reason":"index [i1] blocked by: [TOO_MANY_REQUESTS/12/disk usage exceeded flood-stage watermark, index has read-only-allow-delete block];"}],"type":"cluster_block_exception","reason":"index [i1] blocked by: [TOO_MANY_REQUESTS/12/disk usage exceeded flood-stage watermark, index has read-only-allow-delete block];"},"status":429}`,
			want: ErrBlocked,
		},
		{
			name: "state not recovered", api: apiCore, status: 503,
			body: `{"error":{"root_cause":[{"type":"cluster_block_exception","reason":"blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];"}],"type":"cluster_block_exception","reason":"blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];"},"status":503}`,
			want: ErrUnavailable,
		},
		{
			name: "no cluster manager", api: apiCore, status: 503,
			body: `{"error":{"root_cause":[{"type":"cluster_manager_not_discovered_exception","reason":null}],"type":"cluster_manager_not_discovered_exception","reason":null},"status":503}`,
			want: ErrUnavailable,
		},
		{
			name: "proxy answers 502 without a body", api: apiCore, status: 502, body: ``,
			want: ErrUnavailable,
		},
		{
			name: "rejected execution", api: apiCore, status: 429,
			body: `{"error":{"root_cause":[{"type":"rejected_execution_exception","reason":"rejected execution of coordinating operation"}],"type":"rejected_execution_exception","reason":"rejected execution of coordinating operation"},"status":429}`,
			want: ErrUnavailable,
		},
		{
			name: "circuit breaker", api: apiCore, status: 429,
			body: `{"error":{"root_cause":[{"type":"circuit_breaking_exception","reason":"[parent] Data too large"}],"type":"circuit_breaking_exception","reason":"[parent] Data too large"},"status":429}`,
			want: ErrUnavailable,
		},
		{
			// Recorded: a start right after the leader index was created, before its primary started.
			name: "start before the leader index's primaries are active", api: apiReplication, status: 400,
			body:     `{"error":{"root_cause":[{"type":"validation_exception","reason":"Validation Failed: 1: Primary shards in the Index[leader:bench-005] are not active;"}],"type":"validation_exception","reason":"Validation Failed: 1: Primary shards in the Index[leader:bench-005] are not active;"},"status":400}`,
			want:     ErrUnavailable,
			wantType: "validation_exception",
		},
		{
			name: "status while leader unreachable", api: apiReplicationStatus, status: 500,
			body:     `{"error":{"root_cause":[{"type":"replication_exception","reason":"failed to fetch replication status"}],"type":"replication_exception","reason":"failed to fetch replication status"},"status":500}`,
			want:     ErrLeaderUnreachable,
			wantType: "replication_exception",
		},
		{
			name: "status answers a bare 500", api: apiReplicationStatus, status: 500,
			body: `{"error":{"root_cause":[{"type":"exception","reason":"boom"}],"type":"exception","reason":"boom"},"status":500}`,
			want: ErrLeaderUnreachable,
		},
		{
			name: "status while the follower itself is unavailable", api: apiReplicationStatus, status: 503,
			body: `{"error":{"root_cause":[{"type":"cluster_manager_not_discovered_exception","reason":null}],"type":"cluster_manager_not_discovered_exception","reason":null},"status":503}`,
			want: ErrUnavailable,
		},
		{
			name: "start with an unknown leader alias", api: apiReplication, status: 404,
			body:     `{"error":{"root_cause":[{"type":"no_such_remote_cluster_exception","reason":"no such remote cluster: [leader]"}],"type":"no_such_remote_cluster_exception","reason":"no such remote cluster: [leader]"},"status":404}`,
			want:     ErrLeaderUnreachable,
			wantType: "no_such_remote_cluster_exception",
		},
		{
			name: "start while the leader refuses connections", api: apiReplication, status: 500,
			body:     `{"error":{"root_cause":[{"type":"connect_transport_exception","reason":"[][127.0.0.1:9300] connect_exception"}],"type":"connect_transport_exception","reason":"[][127.0.0.1:9300] connect_exception","caused_by":{"type":"annotated_connect_exception","reason":"Connection refused: 127.0.0.1/127.0.0.1:9300"}},"status":500}`,
			want:     ErrLeaderUnreachable,
			wantType: "connect_transport_exception",
		},
		{
			name: "node disconnect outside replication", api: apiCore, status: 500,
			body: `{"error":{"root_cause":[{"type":"node_disconnected_exception","reason":"[n2][127.0.0.1:9301][indices:data/read/search] disconnected"}],"type":"node_disconnected_exception","reason":"[n2][127.0.0.1:9301][indices:data/read/search] disconnected"},"status":500}`,
			want: ErrUnavailable,
		},
		{
			name: "leader index missing, wrapped by the remote call", api: apiReplication, status: 404,
			body:     `{"error":{"root_cause":[{"type":"index_not_found_exception","reason":"no such index [logs-9]","index":"logs-9","index_uuid":"_na_"}],"type":"remote_transport_exception","reason":"[leader-0][127.0.0.1:41343][cluster:monitor/state]","caused_by":{"type":"index_not_found_exception","reason":"no such index [logs-9]","index":"logs-9","index_uuid":"_na_"}},"status":404}`,
			want:     ErrNotFound,
			wantType: "index_not_found_exception",
		},
		{
			name: "start into an existing index", api: apiReplication, status: 400,
			body: `{"error":{"root_cause":[{"type":"illegal_argument_exception","reason":"Cant use same index again for replication. Delete the index:logs-1"}],"type":"illegal_argument_exception","reason":"Cant use same index again for replication. Delete the index:logs-1"},"status":400}`,
			want: ErrAlreadyExists,
		},
		{
			name: "pause an index that is not a follower", api: apiReplication, status: 400,
			body:     `{"error":{"root_cause":[{"type":"illegal_argument_exception","reason":"No replication in progress for index:logs-1"}],"type":"illegal_argument_exception","reason":"No replication in progress for index:logs-1"},"status":400}`,
			want:     ErrReplicationNotInProgress,
			wantType: "illegal_argument_exception",
		},
		{
			name: "pause a paused index", api: apiReplication, status: 400,
			body: `{"error":{"root_cause":[{"type":"resource_already_exists_exception","reason":"Index logs-1 is already paused"}],"type":"resource_already_exists_exception","reason":"Index logs-1 is already paused"},"status":400}`,
			want: ErrAlreadyExists,
		},
		{
			name: "resume a running index", api: apiReplication, status: 400,
			body: `{"error":{"root_cause":[{"type":"resource_already_exists_exception","reason":"Replication on Index logs-1 is already running"}],"type":"resource_already_exists_exception","reason":"Replication on Index logs-1 is already running"},"status":400}`,
			want: ErrAlreadyExists,
		},
		{
			name: "resume after the retention lease expired", api: apiReplication, status: 404,
			body: `{"error":{"root_cause":[{"type":"resource_not_found_exception","reason":"Retention lease doesn't exist. Replication can't be resumed for logs-1"}],"type":"resource_not_found_exception","reason":"Retention lease doesn't exist. Replication can't be resumed for logs-1"},"status":404}`,
			want: ErrRetentionLeaseExpired,
		},
		{
			name: "start refused by the start block", api: apiReplication, status: 403,
			body: `{"error":{"root_cause":[{"type":"status_exception","reason":"[FORBIDDEN] Replication START block is set"}],"type":"status_exception","reason":"[FORBIDDEN] Replication START block is set"},"status":403}`,
			want: ErrBlocked,
		},
		{
			name: "autofollow rule exists", api: apiReplication, status: 500,
			body: `{"error":{"root_cause":[{"type":"resource_already_exists_exception","reason":"task with id {autofollow:leader:all} already exist"}],"type":"exception","reason":"Exisiting autofollow replication rule cannot be recreated/updated","caused_by":{"type":"resource_already_exists_exception","reason":"task with id {autofollow:leader:all} already exist"}},"status":500}`,
			want: ErrAlreadyExists,
		},
		{
			name: "autofollow rule missing", api: apiReplication, status: 500,
			body: `{"error":{"root_cause":[{"type":"exception","reason":"Autofollow replication rule leader:all does not exist"}],"type":"exception","reason":"Autofollow replication rule leader:all does not exist"},"status":500}`,
			want: ErrNotFound,
		},
		{
			name: "pause while bootstrapping", api: apiReplication, status: 500,
			body: `{"error":{"root_cause":[{"type":"exception","reason":"Index is in restore phase currently for index: logs-1. You can pause after restore completes."}],"type":"exception","reason":"Index is in restore phase currently for index: logs-1. You can pause after restore completes."},"status":500}`,
			want: nil,
		},
		{
			name: "start request fails validation", api: apiReplication, status: 400,
			body: `{"error":{"root_cause":[{"type":"action_request_validation_exception","reason":"Validation Failed: 1: Value Logs must be lowercase;"}],"type":"action_request_validation_exception","reason":"Validation Failed: 1: Value Logs must be lowercase;"},"status":400}`,
			want: ErrBadRequest,
		},
		{
			name: "malformed body", api: apiCore, status: 400,
			body: `{"error":{"root_cause":[{"type":"parse_exception","reason":"Failed to parse content to map"}],"type":"parse_exception","reason":"Failed to parse content to map","caused_by":{"type":"json_parse_exception","reason":"Unexpected character"}},"status":400}`,
			want: ErrBadRequest,
		},
		{
			name: "bad mapping", api: apiCore, status: 400,
			body: `{"error":{"root_cause":[{"type":"mapper_parsing_exception","reason":"No handler for type [nosuch] declared on field [x]"}],"type":"mapper_parsing_exception","reason":"Failed to parse mapping [_doc]: No handler for type [nosuch] declared on field [x]","caused_by":{"type":"mapper_parsing_exception","reason":"No handler for type [nosuch] declared on field [x]"}},"status":400}`,
			want: ErrBadRequest,
		},
		{
			name: "component template still in use", api: apiCore, status: 400,
			body: `{"error":{"root_cause":[{"type":"illegal_argument_exception","reason":"component templates [ct1] cannot be removed as they are still in use by index templates [it1]"}],"type":"illegal_argument_exception","reason":"component templates [ct1] cannot be removed as they are still in use by index templates [it1]"},"status":400}`,
			want: ErrBadRequest,
		},
		{
			name: "wrong method", api: apiCore, status: 405,
			body: `{"error":"Incorrect HTTP method for uri [/_cluster/health] and method [POST], allowed: [GET]","status":405}`,
			want: ErrBadRequest,
		},
		{
			name: "version conflict", api: apiCore, status: 409,
			body: `{"error":{"root_cause":[{"type":"version_conflict_engine_exception","reason":"[1]: version conflict, document already exists (current version [1])"}],"type":"version_conflict_engine_exception","reason":"[1]: version conflict, document already exists (current version [1])"},"status":409}`,
			want: ErrConflict,
		},
		{
			name: "wrong credentials", api: apiCore, status: 401, body: `Unauthorized`,
			want: ErrUnauthorized,
		},
		{
			name: "missing permission", api: apiReplication, status: 403,
			body: `{"error":{"root_cause":[{"type":"security_exception","reason":"no permissions for [indices:admin/plugins/replication/index/start] and User [name=bob]"}],"type":"security_exception","reason":"no permissions for [indices:admin/plugins/replication/index/start] and User [name=bob]"},"status":403}`,
			want: ErrUnauthorized,
		},
		{
			name: "unexpected server error", api: apiCore, status: 500,
			body: `{"error":{"root_cause":[{"type":"null_pointer_exception","reason":null}],"type":"null_pointer_exception","reason":null},"status":500}`,
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := responseError("test op", tt.api, tt.status, []byte(tt.body))
			for _, s := range sentinels {
				if got, want := errors.Is(err, s), s == tt.want; got != want {
					t.Errorf("errors.Is(%v, %v) = %v, want %v", err, s, got, want)
				}
			}
			if tt.wantType != "" && err.Type != tt.wantType {
				t.Errorf("Type = %q, want %q", err.Type, tt.wantType)
			}
			if err.Status != tt.status {
				t.Errorf("Status = %d, want %d", err.Status, tt.status)
			}
			if err.Kind() != tt.want {
				t.Errorf("Kind() = %v, want %v", err.Kind(), tt.want)
			}
			// A wrapped error keeps its meaning.
			if tt.want != nil && !errors.Is(fmt.Errorf("outer: %w", err), tt.want) {
				t.Errorf("wrapped error lost its classification")
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{
			responseError(`start replication of "logs-1"`, apiReplication, 400,
				[]byte(`{"error":{"type":"resource_already_exists_exception","reason":"index [logs-1/abc] already exists"},"status":400}`)),
			`opensearch: start replication of "logs-1": index [logs-1/abc] already exists (resource_already_exists_exception)`,
		},
		{
			// The reason of a remote wrapper is replaced by the reason of what it wraps.
			responseError(`start replication of "logs-9"`, apiReplication, 404,
				[]byte(`{"error":{"type":"remote_transport_exception","reason":"[leader-0][127.0.0.1:9300][cluster:monitor/state]","caused_by":{"type":"index_not_found_exception","reason":"no such index [logs-9]"}},"status":404}`)),
			`opensearch: start replication of "logs-9": no such index [logs-9] (index_not_found_exception)`,
		},
		{
			responseError(`get document "2"`, apiCore, 404, []byte(`{"found":false}`)),
			`opensearch: get document "2": not found (HTTP 404)`,
		},
		{
			responseError("cluster health", apiCore, 502, []byte(`<html>bad gateway</html>`)),
			`opensearch: cluster health: <html>bad gateway</html> (HTTP 502)`,
		},
		{
			responseError(`replication status of "x"`, apiReplicationStatus, 400,
				[]byte(`{"error":"no handler found for uri [/_plugins/_replication/x/_status] and method [GET]"}`)),
			`opensearch: replication status of "x": no handler found for uri [/_plugins/_replication/x/_status] and method [GET]: the cross-cluster-replication plugin is not installed (HTTP 400)`,
		},
		{
			requestError(`create index "a/b"`, "index name must not contain '/'"),
			`opensearch: create index "a/b": index name must not contain '/' (invalid_request)`,
		},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() =\n  %s\nwant\n  %s", got, tt.want)
		}
	}
}

func TestTransportErrors(t *testing.T) {
	deadline := transportError("cluster health", fmt.Errorf("Get \"http://127.0.0.1:1/_cluster/health\": %w", context.DeadlineExceeded))
	if !errors.Is(deadline, ErrUnavailable) || !errors.Is(deadline, context.DeadlineExceeded) {
		t.Errorf("a timed-out call should be ErrUnavailable and context.DeadlineExceeded: %v", deadline)
	}
	canceled := transportError("cluster health", context.Canceled)
	if errors.Is(canceled, ErrUnavailable) || !errors.Is(canceled, context.Canceled) {
		t.Errorf("a call the caller canceled says nothing about the cluster: %v", canceled)
	}
}

// TestConnectionRefused calls a port nothing listens on: the cluster is unavailable, and the
// password is in no part of the error.
func TestConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()

	c, err := New(Config{URLs: []string{"http://" + addr}, Username: "admin", Password: "s3cret-pw", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Health(context.Background())
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Health on a closed port: %v, want ErrUnavailable", err)
	}
	var osErr *Error
	if !errors.As(err, &osErr) || osErr.Op != "cluster health" || osErr.Status != 0 {
		t.Errorf("want an *Error for op %q without status, got %#v", "cluster health", err)
	}
	if strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("error leaks the password: %v", err)
	}
	_, err = c.ReplicationStatus(context.Background(), "logs-1")
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrLeaderUnreachable) {
		t.Errorf("an unreachable follower is unavailable, not a leader problem: %v", err)
	}
}

func TestRequestValidation(t *testing.T) {
	c, err := New(Config{URLs: []string{"http://127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	calls := map[string]error{
		"empty index":           c.CreateIndex(ctx, "", nil),
		"slash in index":        c.DeleteIndex(ctx, "a/b"),
		"wildcard delete":       c.DeleteIndex(ctx, "logs-*"),
		"delete _all":           c.DeleteIndex(ctx, "_all"),
		"no leader alias":       c.StartReplication(ctx, "logs-1", StartReplicationRequest{LeaderIndex: "logs-1"}),
		"half the roles":        c.StartReplication(ctx, "logs-1", StartReplicationRequest{LeaderAlias: "l", LeaderIndex: "logs-1", UseRoles: &ReplicationRoles{LeaderClusterRole: "r"}}),
		"seed without port":     c.SetRemoteCluster(ctx, "leader", []string{"leader-host"}),
		"no seeds":              c.SetRemoteCluster(ctx, "leader", nil),
		"empty autofollow":      c.StartAutofollow(ctx, AutofollowRule{LeaderAlias: "l", Name: "all"}),
		"invalid template JSON": c.PutIndexTemplate(ctx, "t", []byte(`{`)),
		"no alias actions":      c.UpdateAliases(ctx),
		"unknown alias action":  c.UpdateAliases(ctx, AliasAction{Op: "rename", Index: "i", Alias: "a"}),
		"no settings":           c.UpdateReplicationSettings(ctx, "logs-1", nil),
	}
	for name, err := range calls {
		var osErr *Error
		if !errors.Is(err, ErrBadRequest) || !errors.As(err, &osErr) || osErr.Type != "invalid_request" {
			t.Errorf("%s: got %v, want an invalid_request ErrBadRequest refused before sending", name, err)
		}
	}
}
