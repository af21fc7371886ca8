package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/workflows"
)

func serviceCommand() *cli.Command {
	return &cli.Command{
		Name:      "service",
		Usage:     "create, register, list, show, update, recycle and delete OpenSearch services",
		UsageText: "osccr service create orders --plan business-4 --wait; osccr service list --role leader",
		Subcommands: []*cli.Command{
			{
				Name:      "create",
				Usage:     "provision a new service on this machine's local backend (real OpenSearch nodes)",
				UsageText: "osccr service create orders --plan business-4 --region eu-local --wait",
				ArgsUsage: "NAME",
				Before:    requireArgAndFlags("plan"),
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "plan", Usage: "plan name (hobbyist, startup-4, business-4, premium-6x-8, ...)"},
					&cli.StringFlag{Name: "cloud", Usage: "cloud label (default: local)"},
					&cli.StringFlag{Name: "region", Usage: "region label (default: local)"},
					&cli.IntFlag{Name: "disk-gb", Usage: "extra disk on top of the plan's, in GB"},
					&cli.StringFlag{Name: "machine", Usage: "run its nodes on this machine (a worker's --machine); default: the first free worker"},
					&cli.StringFlag{Name: "security", Usage: "\"none\": a plain-HTTP service without users; default: secured (HTTPS, TLS, an admin with a generated password: osccr service credentials NAME)"},
					&cli.BoolFlag{Name: "termination-protection", Usage: "refuse the service's deletion while on (as Aiven's termination_protection)"},
					&cli.BoolFlag{Name: "wait", Usage: "wait until the service is RUNNING (exit 1 if it FAILED)"},
				},
				Action: withControl(func(c *cli.Context, ctl *control.Control) error {
					name := c.Args().First()
					if err := ctl.CreateService(c.Context, control.CreateServiceRequest{
						Name: name, Plan: c.String("plan"), Cloud: c.String("cloud"), Region: c.String("region"), ExtraDiskGB: c.Int("disk-gb"), Machine: c.String("machine"),
						Security: c.String("security"), TerminationProtection: c.Bool("termination-protection"),
					}); err != nil {
						return err
					}
					fmt.Printf("service %s: PROVISIONING (workflow %s)\n", name, workflows.ServiceWorkflowID(name))
					return waitService(c, ctl, name)
				}),
			},
			{
				Name:      "register",
				Usage:     "attach an existing OpenSearch cluster as a service (the static backend)",
				UsageText: "osccr service register orders --url http://10.0.0.5:9200 --transport 10.0.0.5:9300 --plan business-4",
				ArgsUsage: "NAME",
				Before:    requireArgAndFlags("url", "transport", "plan"),
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "url", Usage: "the cluster's REST URL"},
					&cli.StringFlag{Name: "transport", Usage: "the cluster's transport host:port (followers connect to it)"},
					&cli.StringFlag{Name: "plan", Usage: "the plan the cluster corresponds to"},
					&cli.StringFlag{Name: "cloud", Usage: "cloud label (default: self-hosted)"},
					&cli.StringFlag{Name: "region", Usage: "region label (default: self-hosted)"},
					&cli.StringFlag{Name: "username", Usage: "basic-auth user osccr calls the cluster as (security plugin)"},
					&cli.StringFlag{Name: "password-env", Usage: "the worker's environment variable holding that user's password (named OSCCR_SECRET_...)"},
					&cli.StringFlag{Name: "password-file", Usage: "a file on the worker's machine holding that user's password (absolute path, in its trusted directory: <state-dir>/secrets)"},
					&cli.StringFlag{Name: "ca-file", Usage: "PEM bundle of the CAs of the cluster's HTTPS certificate, on the worker's machine (absolute path)"},
					&cli.StringFlag{Name: "cert-file", Usage: "client certificate to authenticate with, on the worker's machine (absolute path)"},
					&cli.StringFlag{Name: "key-file", Usage: "the client certificate's key, on the worker's machine (absolute path)"},
					&cli.BoolFlag{Name: "insecure-skip-verify", Usage: "DANGEROUS: trust any certificate the cluster shows (for a first test only; give --ca-file instead)"},
					&cli.StringFlag{Name: "replication-username", Usage: "the least-privilege replication user that signs the replication plugin's calls (same name on both clusters; default: --username)"},
					&cli.StringFlag{Name: "replication-password-env", Usage: "the worker's environment variable holding the replication user's password"},
					&cli.StringFlag{Name: "replication-password-file", Usage: "a file on the worker's machine holding the replication user's password (absolute path)"},
					&cli.BoolFlag{Name: "termination-protection", Usage: "refuse the service's deletion while on (as Aiven's termination_protection)"},
					&cli.BoolFlag{Name: "wait", Usage: "wait until the service is RUNNING"},
				},
				Action: withControl(func(c *cli.Context, ctl *control.Control) error {
					name := c.Args().First()
					if c.Bool("insecure-skip-verify") {
						fmt.Fprintln(os.Stderr, "WARNING: --insecure-skip-verify: osccr will trust any certificate this cluster shows; anyone on the path can impersonate it. Give --ca-file instead.")
					}
					if err := ctl.RegisterService(c.Context, control.RegisterServiceRequest{
						Name: name, URL: c.String("url"), TransportAddress: c.String("transport"), Plan: c.String("plan"), Cloud: c.String("cloud"), Region: c.String("region"),
						Auth: contract.ClusterAuth{Username: c.String("username"), PasswordEnv: c.String("password-env"), PasswordFile: c.String("password-file"),
							CAFile: c.String("ca-file"), CertFile: c.String("cert-file"), KeyFile: c.String("key-file"), InsecureSkipVerify: c.Bool("insecure-skip-verify"),
							ReplicationUsername: c.String("replication-username"), ReplicationPasswordEnv: c.String("replication-password-env"), ReplicationPasswordFile: c.String("replication-password-file")},
						TerminationProtection: c.Bool("termination-protection"),
					}); err != nil {
						return err
					}
					fmt.Printf("service %s: registering %s\n", name, c.String("url"))
					return waitService(c, ctl, name)
				}),
			},
			{
				Name:      "list",
				Usage:     "list services with their Leader/Follower tags",
				UsageText: "osccr service list --role leader -o json",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "role", Usage: "only leader, follower or standalone services"},
					outputFlag(),
				},
				Action: withControl(func(c *cli.Context, ctl *control.Control) error {
					services, err := ctl.ListServices(c.Context, c.String("role"))
					if err != nil {
						return err
					}
					return render(c, services, func(w io.Writer) { serviceTable(w, services) })
				}),
			},
			{
				Name:      "show",
				Usage:     "show one service: spec, role, state, endpoints",
				UsageText: "osccr service show orders -o json",
				ArgsUsage: "NAME",
				Before:    requireArgAndFlags(),
				Flags:     []cli.Flag{outputFlag()},
				Action: withControl(func(c *cli.Context, ctl *control.Control) error {
					st, err := ctl.GetService(c.Context, c.Args().First())
					if err != nil {
						return err
					}
					return render(c, st, func(w io.Writer) {
						rows := [][2]string{
							{"name", st.Name}, {"tag", roleTag(st.Role)}, {"state", st.State}, {"reason", dash(st.Reason)},
							{"plan", st.Plan}, {"cloud", st.Cloud}, {"region", st.Region}, {"backend", st.Backend}, {"machine", dash(st.Machine)}, {"security", securityOf(st)}, {"auth", dash(describeAuth(st.ClusterRef().ClusterAuth))},
							{"leader", dash(st.Leader)}, {"followers", dash(strings.Join(st.Followers, ", "))},
							{"http", dash(st.Endpoints.HTTPURL)}, {"transport", dash(st.Endpoints.TransportAddress)},
							{"nodes", fmt.Sprintf("%d running, plan %d", len(st.Endpoints.Nodes), st.Endpoints.PlannedNodes)},
							{"created", st.CreatedAt.Format(time.RFC3339)},
						}
						if st.Lag != nil {
							lagged := fmt.Sprintf("%.1f s", st.Lag.Seconds)
							if st.Lag.LeaderUnreachable {
								lagged += fmt.Sprintf(" (leader unreachable since %s)", st.Lag.LastContact.Format(time.RFC3339))
							}
							rows = append(rows, [2]string{"lag", lagged})
						}
						for _, r := range rows {
							fmt.Fprintf(w, "%s\t%s\n", r[0], r[1])
						}
					})
				}),
			},
			{
				Name:      "events",
				Usage:     "the service's timeline: every request, signal, state, repair, pause, resume, bootstrap and promotion, oldest first, with who asked (read from its workflows' histories)",
				UsageText: "osccr service events orders; osccr service events orders-eu --limit 50 -o json",
				ArgsUsage: "NAME",
				Before:    requireArgAndFlags(),
				Flags:     []cli.Flag{outputFlag(), &cli.IntFlag{Name: "limit", Usage: fmt.Sprintf("the newest N events (default %d)", control.DefaultEventLimit)}},
				Action: withControl(func(c *cli.Context, ctl *control.Control) error {
					events, err := ctl.ServiceEvents(c.Context, c.Args().First(), c.Int("limit"))
					if err != nil {
						return err
					}
					return render(c, events, func(w io.Writer) {
						fmt.Fprintln(w, "TIME\tKIND\tWHAT\tBY\tWORKFLOW")
						for _, e := range events {
							fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", e.Time.Format(time.RFC3339), e.Kind, e.What, dash(e.By), e.Workflow)
						}
					})
				}),
			},
			{
				Name:      "credentials",
				Usage:     "reveal a secured service's user and password (read from the worker's files: run it on the worker's machine)",
				UsageText: "osccr service credentials orders; osccr service credentials orders -o json",
				ArgsUsage: "NAME",
				Before:    requireArgAndFlags(),
				Flags:     []cli.Flag{outputFlag()},
				Action: withControl(func(c *cli.Context, ctl *control.Control) error {
					creds, err := ctl.ServiceCredentials(c.Context, c.Args().First())
					if err != nil {
						return err
					}
					return render(c, creds, func(w io.Writer) {
						fmt.Fprintf(w, "user\t%s\npassword\t%s\nCA\t%s\n", creds.Username, creds.Password, dash(creds.CAFile))
					})
				}),
			},
			{
				Name:      "update",
				Usage:     "move a service to another plan: a leader's followers change first; local nodes restart one at a time with the new plan's heap, replication paused meanwhile",
				UsageText: "osccr service update orders --plan business-8 --wait",
				ArgsUsage: "NAME",
				Before:    requireArgAndFlags("plan"),
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "plan", Usage: "the new plan (a leader or follower needs a business or premium plan)"},
					&cli.BoolFlag{Name: "wait", Usage: "wait until the plan is applied (followers and the service itself)"},
				},
				Action: withControl(func(c *cli.Context, ctl *control.Control) error {
					name, planName := c.Args().First(), c.String("plan")
					st, err := ctl.UpdatePlan(c.Context, name, planName, c.Bool("wait"))
					if err != nil {
						return err
					}
					if c.Bool("wait") {
						fmt.Printf("service %s: on plan %s (%s)\n", name, st.Plan, st.State)
					} else {
						fmt.Printf("service %s: plan change to %s started; osccr service show %s shows the plan once applied\n", name, planName, name)
					}
					return nil
				}),
			},
			{
				Name:      "recycle-node",
				Usage:     "restart a node of a local service; replication on affected followers pauses until it is healthy again",
				UsageText: "osccr service recycle-node orders --wait",
				ArgsUsage: "NAME",
				Before:    requireArgAndFlags(),
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "node", Usage: "node name (default: the first node)"},
					&cli.BoolFlag{Name: "wait", Usage: "wait until the node is back and replication resumed"},
				},
				Action: withControl(func(c *cli.Context, ctl *control.Control) error {
					name := c.Args().First()
					if err := ctl.RecycleNode(c.Context, name, c.String("node"), c.Bool("wait")); err != nil {
						return err
					}
					if c.Bool("wait") {
						fmt.Printf("service %s: node recycled; healthy again\n", name)
					} else {
						fmt.Printf("service %s: node recycle started\n", name)
					}
					return nil
				}),
			},
			{
				Name:      "delete",
				Usage:     "delete a service: osccr stops and removes the nodes it runs (a registered cluster is only forgotten)",
				UsageText: "osccr service delete orders --yes",
				ArgsUsage: "NAME",
				Before:    requireArgAndFlags(),
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "yes", Usage: "do not ask for confirmation"},
					&cli.BoolFlag{Name: "force", Usage: "end the service even if its machine or cluster is gone (also while a delete is stuck): nodes that cannot be stopped are named, not waited for"},
				},
				Action: withControl(func(c *cli.Context, ctl *control.Control) error {
					name := c.Args().First()
					if !c.Bool("yes") && !confirm(c, fmt.Sprintf("Delete service %s and the nodes osccr runs for it?", name)) {
						return fmt.Errorf("%w: not confirmed; pass --yes to delete without asking", errUsage)
					}
					del := ctl.DeleteService
					if c.Bool("force") {
						del = ctl.ForceDeleteService
					}
					if err := del(c.Context, name); err != nil {
						return err
					}
					if err := ctl.WaitServiceGone(c.Context, name); err != nil {
						return err
					}
					fmt.Printf("service %s deleted\n", name)
					return nil
				}),
			},
		},
	}
}

func serviceTable(w io.Writer, services []control.ServiceSummary) {
	fmt.Fprintln(w, "NAME\tPLAN\tSTATE\tTAG\tLEADER")
	for _, s := range services {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", s.Name, s.Plan, s.State, roleTag(s.Role), dash(s.Leader))
	}
}

// waitService waits, with --wait, until the service is RUNNING, showing its progress: a bar
// during REBUILDING on a terminal, plain lines otherwise.
func waitService(c *cli.Context, ctl *control.Control, name string) error {
	st, waited, err := waitFor(c, ctl, name, workflows.StateRunning)
	if err != nil || !waited {
		return err
	}
	fmt.Printf("service %s: RUNNING at %s (transport %s)\n", name, st.Endpoints.HTTPURL, st.Endpoints.TransportAddress)
	return nil
}

// waitFor waits, when the command has --wait, until the service is in state want (or FAILED, an
// error), showing its progress; waited says whether it did.
func waitFor(c *cli.Context, ctl *control.Control, name, want string) (st workflows.ServiceState, waited bool, err error) {
	if !c.Bool("wait") {
		return st, false, nil
	}
	p := newProgress(os.Stdout, isTerminal(os.Stdout), name)
	st, err = ctl.WaitServiceState(c.Context, name, want, p.update)
	p.done()
	return st, true, err
}

// requireArgAndFlags is a Before hook for commands that take one argument (their ArgsUsage)
// and the named flags.
func requireArgAndFlags(flags ...string) cli.BeforeFunc {
	check := requireFlags(flags...)
	return func(c *cli.Context) error {
		if c.NArg() != 1 {
			return fmt.Errorf("%w: %s needs exactly one %s argument; example: %s", errUsage, c.Command.Name, c.Command.ArgsUsage, c.Command.UsageText)
		}
		return check(c)
	}
}

func outputFlag() cli.Flag {
	return &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "table", Usage: "table or json",
		// Checked before the command runs: a command that changes something (integration
		// create) must not change it and then fail to print.
		Action: func(_ *cli.Context, format string) error {
			if format != "table" && format != "json" {
				return fmt.Errorf("%w: -o %q: use table or json", errUsage, format)
			}
			return nil
		}}
}

// render prints v as one JSON document with -o json, else the table that table writes.
func render(c *cli.Context, v any, table func(io.Writer)) error {
	switch c.String("output") {
	case "json":
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "table":
		w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		table(w)
		return w.Flush()
	}
	return fmt.Errorf("%w: -o %q: use table or json", errUsage, c.String("output"))
}

func roleTag(role string) string {
	switch role {
	case workflows.RoleLeader:
		return "Leader"
	case workflows.RoleFollower:
		return "Follower"
	}
	return "-"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// confirm asks on the terminal; with no terminal (a script) the answer is no.
func confirm(c *cli.Context, question string) bool {
	if !isTerminal(os.Stdin) {
		return false
	}
	fmt.Fprintf(os.Stderr, "%s [y/N] ", question)
	answer, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	answer = strings.ToLower(strings.TrimSpace(answer))
	return answer == "y" || answer == "yes"
}

// securityOf names a service's security: a local service's mode, a static one's from how it is
// reached.
func securityOf(st workflows.ServiceState) string {
	ref := st.ClusterRef()
	switch {
	case st.LocalSecured():
		return "security plugin (osccr's CA; osccr service credentials " + st.Name + ")"
	case st.Backend == contract.BackendLocal:
		return "none (plain HTTP)"
	case ref.Secured(ref.URL):
		return "security plugin"
	}
	return "none"
}

// describeAuth says how osccr reaches a cluster, by reference: never a secret.
func describeAuth(a contract.ClusterAuth) string {
	var parts []string
	if a.Username != "" {
		parts = append(parts, "user "+a.Username)
	}
	if a.PasswordEnv != "" {
		parts = append(parts, "password from $"+a.PasswordEnv)
	}
	if a.PasswordFile != "" {
		parts = append(parts, "password from "+a.PasswordFile)
	}
	if a.CertFile != "" {
		parts = append(parts, "client certificate "+a.CertFile)
	}
	if a.CAFile != "" {
		parts = append(parts, "CA "+a.CAFile)
	}
	if a.InsecureSkipVerify {
		parts = append(parts, "TLS VERIFICATION OFF")
	}
	if a.ReplicationUsername != "" {
		parts = append(parts, "replication user "+a.ReplicationUsername)
	}
	if a.ReplicationPasswordEnv != "" {
		parts = append(parts, "its password from $"+a.ReplicationPasswordEnv)
	}
	if a.ReplicationPasswordFile != "" {
		parts = append(parts, "its password from "+a.ReplicationPasswordFile)
	}
	return strings.Join(parts, ", ")
}
