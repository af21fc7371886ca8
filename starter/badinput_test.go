package main

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/osccr/osccr/internal/testcluster"
	"github.com/osccr/osccr/internal/testcontrol"
)

// TestBadInputCLI runs the built CLI as a subprocess with bad input against a real control
// plane (embedded Temporal and the worker), and checks that each is refused with the exit code
// scripts rely on (2: the request is wrong; 1: refused by what exists), a message on stderr
// naming the problem, nothing on stdout that claims success, and that nothing changed: no
// workflow started, no service's state different.
//
// The existing services are registered over one real OpenSearch node; every command below is
// refused before anything would reach it.
func TestBadInputCLI(t *testing.T) {
	bin := buildCLI(t)
	plane := testcontrol.Start(t, t.TempDir())
	node := testcluster.Start(t, testcluster.Distribution(t), testcluster.Dir(t), "bi")
	plane.RegisterRunning(t, "bi-lead", "business-4", node.HTTPURL(), node.TransportAddress())
	plane.RegisterRunning(t, "bi-hobby", "hobbyist", node.HTTPURL(), node.TransportAddress())

	const ccr = "opensearch_cross_cluster_replication"
	long := "a" + strings.Repeat("b", 63)
	tests := []struct {
		name string
		args []string
		code int
		msg  string
		// noService: a service of this name must not exist afterwards.
		noService string
	}{
		// The command line itself.
		{"unknown command", []string{"servce", "list"}, exitUsage, `no command "servce"`, ""},
		{"unknown subcommand", []string{"service", "frobnicate", "bi-new"}, exitUsage, `no command "frobnicate"`, "bi-new"},
		{"unknown flag", []string{"service", "create", "bi-new", "--plan", "business-4", "--replicas", "2"}, exitUsage, "flag provided but not defined: -replicas", "bi-new"},
		{"create without a name", []string{"service", "create", "--plan", "business-4"}, exitUsage, "create needs exactly one NAME argument; example: osccr service create", ""},
		{"create with two names", []string{"service", "create", "bi-new", "bi-new2", "--plan", "business-4"}, exitUsage, "create needs exactly one NAME argument", "bi-new"},
		{"create without a plan", []string{"service", "create", "bi-new"}, exitUsage, "create needs --plan", "bi-new"},
		{"disk not a number", []string{"service", "create", "bi-new", "--plan", "business-4", "--disk-gb", "ten"}, exitUsage, `invalid value "ten" for flag -disk-gb`, "bi-new"},
		{"unknown output format", []string{"service", "list", "-o", "yaml"}, exitUsage, `-o "yaml": use table or json`, ""},
		{"unknown output format on a command that changes something", []string{"integration", "create", "--integration-type", ccr, "--source", "bi-lead", "--dest", "bi-hobby", "-o", "yaml"}, exitUsage, `-o "yaml": use table or json`, ""},

		// Service names.
		{"uppercase name", []string{"service", "create", "Bi-New", "--plan", "business-4"}, exitUsage, `service name "Bi-New" does not start with a lowercase letter`, "Bi-New"},
		{"uppercase inside a name", []string{"service", "create", "bi-New", "--plan", "business-4"}, exitUsage, "has an uppercase letter", "bi-New"},
		{"name too long", []string{"service", "create", long, "--plan", "business-4"}, exitUsage, "is 64 characters long, more than 63", long},
		{"name with a dot", []string{"service", "create", "bi.new", "--plan", "business-4"}, exitUsage, `has the character '.' at position 3`, "bi.new"},
		{"name with a slash", []string{"service", "create", "bi/new", "--plan", "business-4"}, exitUsage, `has the character '/' at position 3`, "bi/new"},
		{"name with a leading dash", []string{"service", "create", "--plan", "business-4", "--", "-bi-new"}, exitUsage, `service name "-bi-new" does not start with a lowercase letter`, "-bi-new"},
		{"empty name", []string{"service", "create", "", "--plan", "business-4"}, exitUsage, "service name is empty", ""},

		// Plans and sizes.
		{"unknown plan", []string{"service", "create", "bi-new", "--plan", "gold"}, exitUsage, `unknown plan "gold"; valid plans: hobbyist,`, "bi-new"},
		{"negative disk", []string{"service", "create", "bi-new", "--plan", "business-4", "--disk-gb", "-5"}, exitUsage, "extra disk -5 GB is negative", "bi-new"},
		{"huge disk", []string{"service", "create", "bi-new", "--plan", "business-4", "--disk-gb", "1000000000"}, exitUsage, "extra disk 1000000000 GB is more than 65536 GB", "bi-new"},
		{"taken name", []string{"service", "create", "bi-lead", "--plan", "business-4"}, exitRefused, `service name "bi-lead" is taken`, ""},

		// Registering an existing cluster.
		{"register without a transport address", []string{"service", "register", "bi-new", "--url", "http://127.0.0.1:1", "--plan", "business-4"}, exitUsage, "register needs --transport", "bi-new"},
		{"register with a port-less transport address", []string{"service", "register", "bi-new", "--url", "http://127.0.0.1:1", "--transport", "127.0.0.1", "--plan", "business-4"}, exitUsage, `transport address "127.0.0.1" must be host:port`, "bi-new"},
		{"register with a URL of another scheme", []string{"service", "register", "bi-new", "--url", "ftp://127.0.0.1:1", "--transport", "127.0.0.1:9300", "--plan", "business-4"}, exitUsage, "must start with http:// or https://", "bi-new"},

		// Followers.
		{"follower without a name", []string{"follower", "create", "bi-lead"}, exitUsage, "create needs --name", ""},
		{"follower of an unknown leader", []string{"follower", "create", "nobody", "--name", "bi-new"}, exitRefused, "leader nobody is unknown", "bi-new"},
		{"follower of a hobbyist leader", []string{"follower", "create", "bi-hobby", "--name", "bi-new"}, exitUsage, "hobbyist", "bi-new"},
		{"follower on a startup plan", []string{"follower", "create", "bi-lead", "--name", "bi-new", "--plan", "startup-8"}, exitUsage, "startup", "bi-new"},
		{"follower on another plan than its leader", []string{"follower", "create", "bi-lead", "--name", "bi-new", "--plan", "premium-6x-8"}, exitUsage, `a follower must be created on the leader's plan "business-4"`, "bi-new"},
		{"follower named as its leader", []string{"follower", "create", "bi-lead", "--name", "bi-lead"}, exitUsage, "the follower would be the leader itself", ""},
		{"follower with a taken name", []string{"follower", "create", "bi-lead", "--name", "bi-hobby"}, exitRefused, `service name "bi-hobby" is taken`, ""},
		{"follower with huge disk", []string{"follower", "create", "bi-lead", "--name", "bi-new", "--disk-gb", "99999999"}, exitUsage, "extra disk 99999999 GB is more than", "bi-new"},
		{"followers of an invalid name", []string{"follower", "list", "bi_lead"}, exitUsage, `has the character '_'`, ""},

		// Integrations.
		{"integration without a source", []string{"integration", "create", "--integration-type", ccr, "--dest", "bi-hobby"}, exitUsage, "create needs --source", ""},
		{"integration of another type", []string{"integration", "create", "--integration-type", "logs", "--source", "bi-lead", "--dest", "bi-new"}, exitUsage, `integration type "logs" is not supported: osccr supports "opensearch_cross_cluster_replication"`, "bi-new"},
		{"integration into its own source", []string{"integration", "create", "--integration-type", ccr, "--source", "bi-lead", "--dest", "bi-lead"}, exitUsage, "a service cannot follow itself", ""},
		{"integration into an unknown dest", []string{"integration", "create", "--integration-type", ccr, "--source", "bi-lead", "--dest", "bi-new"}, exitRefused, "dest service bi-new is unknown: create or register it first", "bi-new"},
		{"integration into a hobbyist dest", []string{"integration", "create", "--integration-type", ccr, "--source", "bi-lead", "--dest", "bi-hobby"}, exitUsage, "change the plan of bi-hobby first (osccr service update bi-hobby --plan business-4)", ""},
		{"integration with an argument", []string{"integration", "create", "bi-lead", "--integration-type", ccr, "--source", "bi-lead", "--dest", "bi-hobby"}, exitUsage, "integration create takes no argument", ""},
		{"delete an integration by a malformed ID", []string{"integration", "delete", "bi-lead:bi-hobby", "--yes"}, exitUsage, "is not of the form ccr.<source>.<dest>", ""},
		{"delete an integration that does not exist", []string{"integration", "delete", "ccr.bi-lead.bi-hobby", "--yes"}, exitRefused, "service bi-hobby does not follow bi-lead", ""},

		// What only a follower can do.
		{"promote a standalone service", []string{"follower", "promote", "bi-lead", "--yes"}, exitRefused, "only a follower can be promoted", ""},
		{"promotion dry run of a standalone service", []string{"follower", "promote", "bi-lead", "--dry-run"}, exitRefused, "only a follower can be promoted", ""},
		{"pause a standalone service", []string{"follower", "pause", "bi-lead", "--reason", "test"}, exitRefused, "cannot pause bi-lead: it is not a follower", ""},
		{"resume a standalone service", []string{"follower", "resume", "bi-lead"}, exitRefused, "cannot resume bi-lead: it is not a follower", ""},
		{"status of a standalone service", []string{"follower", "status", "bi-lead"}, exitRefused, "cannot show replication status of bi-lead: it is not a follower", ""},
		{"verify a standalone service", []string{"follower", "verify", "bi-lead"}, exitRefused, "cannot verify bi-lead: it is not a follower", ""},
		{"verify an unknown service", []string{"follower", "verify", "nobody"}, exitRefused, "no service nobody", ""},

		// Node recycles, plan changes, deletes.
		{"recycle an unknown node", []string{"service", "recycle-node", "bi-lead", "--node", "nope"}, exitUsage, `service bi-lead has no node "nope" (its nodes: ` + node.Name + ")", ""},
		{"recycle a node of a registered cluster", []string{"service", "recycle-node", "bi-lead"}, exitRefused, "cannot restart nodes it does not run", ""},
		{"update to an unknown plan", []string{"service", "update", "bi-lead", "--plan", "gold"}, exitUsage, `unknown plan "gold"`, ""},
		{"update an unknown service", []string{"service", "update", "nobody", "--plan", "business-8"}, exitRefused, "no service nobody", ""},
		{"list services of an unknown role", []string{"service", "list", "--role", "boss"}, exitUsage, `role "boss": use leader, follower or standalone`, ""},
		{"delete without confirmation", []string{"service", "delete", "bi-lead"}, exitUsage, "not confirmed; pass --yes", ""},
		{"delete an unknown service", []string{"service", "delete", "nobody", "--yes"}, exitRefused, "no service nobody", ""},
	}

	before := plane.Snapshot(t)
	seen := map[string]bool{}
	for _, tt := range tests {
		if seen[tt.name] {
			t.Fatalf("two cases named %q", tt.name)
		}
		seen[tt.name] = true
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, append([]string{"--temporal-address", plane.Endpoint.HostPort}, tt.args...)...)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != tt.code {
				t.Errorf("osccr %s: exit %v, want code %d\nstdout: %s\nstderr: %s", strings.Join(tt.args, " "), err, tt.code, stdout.String(), stderr.String())
			}
			if !strings.HasPrefix(stderr.String(), "osccr: ") || !strings.Contains(stderr.String(), tt.msg) {
				t.Errorf("osccr %s: stderr %q does not say %q", strings.Join(tt.args, " "), stderr.String(), tt.msg)
			}
			if stdout.Len() > 0 {
				t.Errorf("osccr %s: printed %q on stdout, as if something was done", strings.Join(tt.args, " "), stdout.String())
			}
			plane.NoService(t, tt.noService)
			if after := plane.Snapshot(t); after != before {
				t.Errorf("state changed:\nbefore\n%s\nafter\n%s", before, after)
				before = after
			}
		})
	}
	t.Logf("%d bad inputs refused through the CLI", len(tests))
}
