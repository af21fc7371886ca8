// Command osccr is the command-line client of the osccr control plane: it starts workflows,
// sends signals and reads state through Temporal. It never talks to OpenSearch to change
// anything itself; the worker's activities do.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"go.temporal.io/sdk/client"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/internal/demo"
	"github.com/osccr/osccr/internal/temporalconn"
	"github.com/osccr/osccr/workflows"
)

// Exit codes scripts can rely on.
const (
	exitRefused     = 1
	exitUsage       = 2
	exitUnreachable = 3
	// exitDiverged: follower verify found an index that differs from its leader index.
	exitDiverged = 4
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := app()
	err := a.RunContext(ctx, flagsFirst(a, os.Args))
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "osccr:", err)
	switch {
	case errors.Is(err, control.ErrUnreachable):
		os.Exit(exitUnreachable)
	case errors.Is(err, errDiverged):
		os.Exit(exitDiverged)
	case errors.Is(err, errUsage), errors.Is(err, control.ErrInvalid):
		os.Exit(exitUsage)
	default:
		os.Exit(exitRefused)
	}
}

var errUsage = errors.New("usage")

func usageError(_ *cli.Context, err error, _ bool) error { return fmt.Errorf("%w: %v", errUsage, err) }

// requireFlags is a Before hook that refuses a command missing any of the named flags, as a
// usage error (exit 2) that names them and shows the command's example.
func requireFlags(names ...string) cli.BeforeFunc {
	return func(c *cli.Context) error {
		var missing []string
		for _, n := range names {
			if !c.IsSet(n) {
				missing = append(missing, "--"+n)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("%w: %s needs %s; example: %s", errUsage, c.Command.Name, strings.Join(missing, ", "), c.Command.UsageText)
		}
		return nil
	}
}

func app() *cli.App {
	a := &cli.App{
		Name:      "osccr",
		Usage:     "control plane for OpenSearch cross-cluster replication",
		UsageText: "osccr [--temporal-address 127.0.0.1:7233] [--namespace default] COMMAND [ARGS]; e.g. osccr service list",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "temporal-address", Value: "127.0.0.1:7233", EnvVars: []string{"OSCCR_TEMPORAL_ADDRESS"}, Usage: "Temporal frontend host:port"},
			&cli.StringFlag{Name: "namespace", Value: "default", EnvVars: []string{"OSCCR_NAMESPACE"}, Usage: "Temporal namespace"},
		}, temporalconn.Flags()...),
		EnableBashCompletion: true,
		Commands: []*cli.Command{
			serviceCommand(),
			followerCommand(),
			integrationCommand(),
			serveCommand(),
			tokenCommand(),
			replicateCommand(),
			signalCommand("pause", "pause replication of a follower index (keeps every leader operation for resume)"),
			signalCommand("resume", "resume a paused follower index"),
			signalCommand("stop", "stop replication for good: the follower index becomes writable"),
			statusCommand(),
			demoCommand(),
			completionCommand(),
		},
		OnUsageError: usageError,
		CommandNotFound: func(c *cli.Context, name string) {
			fmt.Fprintf(os.Stderr, "osccr: no command %q; see osccr --help\n", name)
			os.Exit(exitUsage)
		},
	}
	var setUsage func([]*cli.Command)
	setUsage = func(cmds []*cli.Command) {
		for _, cmd := range cmds {
			cmd.OnUsageError = usageError
			setUsage(cmd.Subcommands)
		}
	}
	setUsage(a.Commands)
	return a
}

// withControl runs an action with the application layer connected to Temporal.
func withControl(action func(*cli.Context, *control.Control) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		ctl, closeFn, err := dial(c)
		if err != nil {
			return err
		}
		defer closeFn()
		return action(c, ctl)
	}
}

func dial(c *cli.Context) (*control.Control, func(), error) {
	opts, err := temporalconn.FromFlags(c, temporalconn.Identity(program(c), "")).ClientOptions()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	opts.Logger = quietLogger{}
	ctx, cancel := context.WithTimeout(c.Context, 5*time.Second)
	defer cancel()
	tc, err := client.DialContext(ctx, opts)
	if err != nil {
		hint := "start it with `make run` or pass --temporal-address"
		if opts.ConnectionOptions.TLS != nil || opts.Credentials != nil || strings.Contains(err.Error(), "tls") || strings.Contains(err.Error(), "broken pipe") {
			// A TLS refusal often surfaces as a bare EOF or broken pipe.
			hint = "check --temporal-tls-ca/-cert/-key or the API key against what the server requires"
		}
		return nil, nil, fmt.Errorf("%w: cannot reach Temporal at %s (%s): %v",
			control.ErrUnreachable, c.String("temporal-address"), hint, err)
	}
	return control.New(tc), tc.Close, nil
}

// program names this process in its Temporal identity: "osccr-serve" for the console and
// API server (a long-running client), "osccr" for a one-off command.
func program(c *cli.Context) string {
	for _, l := range c.Lineage() {
		if l.Command != nil && l.Command.Name == "serve" {
			return "osccr-serve"
		}
	}
	return "osccr"
}

func replicateCommand() *cli.Command {
	return &cli.Command{
		Name:      "replicate",
		Usage:     "replicate one leader index into a follower cluster",
		UsageText: "osccr replicate --leader-url http://127.0.0.1:9200 --leader-transport 127.0.0.1:9300 --follower-url http://127.0.0.1:9201 --index orders --wait",
		Before:    requireFlags("leader-url", "leader-transport", "follower-url", "index"),
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "leader", Value: "leader", Usage: "leader cluster name (also the remote-cluster alias on the follower)"},
			&cli.StringFlag{Name: "leader-url", Usage: "leader REST URL"},
			&cli.StringFlag{Name: "leader-transport", Usage: "leader transport host:port (the follower's nodes connect to it)"},
			&cli.StringFlag{Name: "follower", Value: "follower", Usage: "follower cluster name"},
			&cli.StringFlag{Name: "follower-url", Usage: "follower REST URL"},
			&cli.StringFlag{Name: "index", Usage: "leader index to replicate"},
			&cli.StringFlag{Name: "follower-index", Usage: "follower index name (default: same as --index)"},
			&cli.BoolFlag{Name: "wait", Usage: "wait until the follower index is RUNNING"},
		},
		Action: withControl(func(c *cli.Context, ctl *control.Control) error {
			id, err := ctl.StartIndexReplication(c.Context, workflows.IndexReplicationInput{
				Leader:        contract.ClusterRef{Name: c.String("leader"), URL: c.String("leader-url"), TransportAddress: c.String("leader-transport")},
				Follower:      contract.ClusterRef{Name: c.String("follower"), URL: c.String("follower-url")},
				LeaderIndex:   c.String("index"),
				FollowerIndex: c.String("follower-index"),
			})
			if err != nil {
				return err
			}
			fmt.Println("started", id)
			if !c.Bool("wait") {
				return nil
			}
			st, err := ctl.WaitIndexReplication(c.Context, id, func(st workflows.IndexReplicationState) {
				fmt.Println("state", st.State, st.Reason)
			})
			if err != nil {
				return err
			}
			fmt.Println("state", st.State)
			return nil
		}),
	}
}

func workflowIDFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "follower", Value: "follower", Usage: "follower cluster name"},
		&cli.StringFlag{Name: "index", Usage: "follower index"},
	}
}

func workflowID(c *cli.Context) string {
	return workflows.IndexReplicationInput{Follower: contract.ClusterRef{Name: c.String("follower")}, FollowerIndex: c.String("index")}.WorkflowID()
}

func signalCommand(name, usage string) *cli.Command {
	return &cli.Command{
		Name:      name,
		Usage:     usage,
		UsageText: fmt.Sprintf("osccr %s --follower follower --index orders", name),
		Flags:     workflowIDFlags(),
		Before:    requireFlags("index"),
		Action: withControl(func(c *cli.Context, ctl *control.Control) error {
			id := workflowID(c)
			var err error
			switch name {
			case "pause":
				err = ctl.PauseIndexReplication(c.Context, id, "paused by operator")
			case "resume":
				err = ctl.ResumeIndexReplication(c.Context, id)
			default:
				err = ctl.StopIndexReplication(c.Context, id)
			}
			if err != nil {
				return err
			}
			fmt.Println(name, "sent to", id)
			return nil
		}),
	}
}

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "show the state of a follower index's replication as JSON",
		UsageText: "osccr status --follower follower --index orders",
		Flags:     workflowIDFlags(),
		Before:    requireFlags("index"),
		Action: withControl(func(c *cli.Context, ctl *control.Control) error {
			st, err := ctl.IndexReplicationState(c.Context, workflowID(c))
			if err != nil {
				return err
			}
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(st)
		}),
	}
}

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:      "demo",
		Usage:     "create a leader service with data and a follower of it, through the control plane; Ctrl-C deletes both",
		UsageText: "osccr demo --docs 10000",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "docs", Value: 10000, Usage: "documents to load into the leader"},
			&cli.StringFlag{Name: "ui", Value: "http://127.0.0.1:8233", Usage: "Temporal Web UI base URL, for the printed links"},
			&cli.BoolFlag{Name: "exit", Usage: "delete the services and exit once the follower is RUNNING or FAILED (for scripts)"},
			&cli.BoolFlag{Name: "promote", Usage: "once the follower is RUNNING, promote it to a standalone service and write to it"},
		},
		Action: withControl(func(c *cli.Context, ctl *control.Control) error {
			// `make demo | tee demo.log` and Ctrl-C: tee dies first, and the demo's next line
			// (saying it cleans up) would kill it of SIGPIPE before it deleted its services.
			// Ignored, a write to the closed pipe fails, and demo.Run ignores that failure.
			signal.Ignore(syscall.SIGPIPE)
			return demo.Run(c.Context, demo.Options{
				Control:      ctl,
				Docs:         c.Int("docs"),
				UIURL:        c.String("ui"),
				Namespace:    c.String("namespace"),
				Out:          os.Stdout,
				ExitWhenDone: c.Bool("exit"),
				Promote:      c.Bool("promote"),
			})
		}),
	}
}

// quietLogger keeps the Temporal SDK's own logging out of the CLI's output.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}
