package devserver

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
)

const clusterName = "active"

// sqliteStore is the persistence config of a SQLite database file. WAL lets visibility reads
// run beside the single writer.
func sqliteStore(path string) *config.SQL {
	return &config.SQL{
		PluginName:   sqliteplugin.PluginName,
		DatabaseName: path,
		ConnectAttributes: map[string]string{
			"mode":         "rwc",
			"journal_mode": "wal",
			"synchronous":  "normal",
		},
	}
}

// prepareDatabase creates the schema when the database file does not exist yet, then the
// namespace when it is missing, with the search attributes already mapped: every service then
// loads them with the namespace, so no request can meet a service whose namespace cache has not
// seen them yet. An existing file is never touched beyond that: it holds the workflows of
// earlier runs.
func prepareDatabase(store *config.SQL, namespace string, searchAttributes map[string]enumspb.IndexedValueType) error {
	path := store.DatabaseName
	switch _, err := os.Stat(path); {
	case errors.Is(err, os.ErrNotExist):
		if err := sqliteschema.SetupSchema(store); err != nil {
			// A half-made schema would fail every later start: drop it so the next one retries.
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				_ = os.Remove(p)
			}
			return fmt.Errorf("devserver: create Temporal schema in %s: %w", path, err)
		}
	case err != nil:
		return fmt.Errorf("devserver: %w", err)
	}

	ns, err := sqliteschema.NewNamespaceConfig(clusterName, namespace, false, searchAttributes)
	if err != nil {
		return fmt.Errorf("devserver: namespace %q: %w", namespace, err)
	}
	if err := sqliteschema.CreateNamespaces(store, ns); err != nil {
		return fmt.Errorf("devserver: create namespace %q in %s: %w", namespace, path, err)
	}
	return nil
}

// newTemporalServer builds (does not start) the four Temporal services in one process. Static
// hosts replace ringpop: every service is here, so there is nothing to discover.
func newTemporalServer(cfg Config, ports servicePorts, store *config.SQL, logger log.Logger) (temporal.Server, error) {
	addr := func(port int) string { return net.JoinHostPort(cfg.Host, strconv.Itoa(port)) }
	service := func(grpc, membership, http int) config.Service {
		return config.Service{RPC: config.RPC{
			GRPCPort:       grpc,
			MembershipPort: membership,
			HTTPPort:       http,
			BindOnIP:       cfg.Host,
		}}
	}

	conf := &config.Config{
		Global: config.Global{
			Membership: config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: cfg.Host},
		},
		Persistence: config.Persistence{
			DefaultStore:     sqliteplugin.PluginName,
			VisibilityStore:  sqliteplugin.PluginName,
			NumHistoryShards: 1, // fixed for the life of the database
			DataStores: map[string]config.DataStore{
				sqliteplugin.PluginName: {SQL: store},
			},
		},
		ClusterMetadata: &cluster.Config{
			EnableGlobalNamespace:    false,
			FailoverVersionIncrement: 10,
			MasterClusterName:        clusterName,
			CurrentClusterName:       clusterName,
			ClusterInformation: map[string]cluster.ClusterInformation{
				clusterName: {
					Enabled:                true,
					InitialFailoverVersion: 1,
					RPCAddress:             addr(ports.Frontend),
					HTTPAddress:            addr(ports.FrontendHTTP),
				},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services: map[string]config.Service{
			string(primitives.FrontendService): service(ports.Frontend, ports.FrontendMembership, ports.FrontendHTTP),
			string(primitives.HistoryService):  service(ports.History, ports.HistoryMembership, 0),
			string(primitives.MatchingService): service(ports.Matching, ports.MatchingMembership, 0),
			string(primitives.WorkerService):   service(ports.Worker, ports.WorkerMembership, 0),
		},
		Archival: config.Archival{
			History:    config.HistoryArchival{State: "disabled"},
			Visibility: config.VisibilityArchival{State: "disabled"},
		},
		NamespaceDefaults: config.NamespaceDefaults{
			Archival: config.ArchivalNamespaceDefaults{
				History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
				Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
			},
		},
		// The system worker dials the frontend through this; the server panics without it.
		PublicClient: config.PublicClient{HostPort: addr(ports.Frontend)},
	}

	dynamic := dynamicconfig.StaticClient{
		// Search attributes registered at startup must be usable at once, not after the
		// cache refresh interval.
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): true,
	}
	if cfg.SuggestContinueAsNewAfter > 0 {
		dynamic[dynamicconfig.HistoryCountSuggestContinueAsNew.Key()] = cfg.SuggestContinueAsNewAfter
	}
	return temporal.NewServer(
		temporal.WithConfig(conf),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(map[primitives.ServiceName]static.Hosts{
			primitives.FrontendService: static.SingleLocalHost(addr(ports.Frontend)),
			primitives.HistoryService:  static.SingleLocalHost(addr(ports.History)),
			primitives.MatchingService: static.SingleLocalHost(addr(ports.Matching)),
			primitives.WorkerService:   static.SingleLocalHost(addr(ports.Worker)),
		}),
		temporal.WithLogger(logger),
		temporal.WithDynamicConfigClient(dynamic),
	)
}
