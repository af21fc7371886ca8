package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/workflows"
)

func followerCommand() *cli.Command {
	return &cli.Command{
		Name:      "follower",
		Usage:     "create, list, inspect, pause, resume and promote followers: services that replicate a whole leader cluster",
		UsageText: "osccr follower create orders --name orders-replica --wait; osccr follower status orders-replica",
		Subcommands: []*cli.Command{
			{
				Name:      "create",
				Usage:     "provision a follower of LEADER, connect it and replicate every user index (REBUILDING, then RUNNING)",
				UsageText: "osccr follower create orders --name orders-replica --region eu-local --wait",
				ArgsUsage: "LEADER",
				Before:    requireArgAndFlags("name"),
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "name", Usage: "the follower's service name"},
					&cli.StringFlag{Name: "plan", Usage: "plan (default and required at creation: the leader's)"},
					&cli.StringFlag{Name: "cloud", Usage: "cloud label (default: local)"},
					&cli.StringFlag{Name: "region", Usage: "region label (default: local)"},
					&cli.IntFlag{Name: "disk-gb", Usage: "extra disk on top of the plan's, in GB"},
					&cli.BoolFlag{Name: "termination-protection", Usage: "refuse the follower's deletion while on (a promotion is not blocked)"},
					&cli.BoolFlag{Name: "wait", Usage: "wait until the follower is RUNNING (exit 1 if it FAILED), with a progress bar while REBUILDING"},
					&cli.BoolFlag{Name: "dry-run", Usage: "check the request and run the preflight on the leader and on what this installation would start the follower from; show every check, create nothing (exit 1 when a check fails)"},
					outputFlag(),
				},
				Action: withControl(func(c *cli.Context, ctl *control.Control) error {
					name := c.String("name")
					req := control.CreateFollowerRequest{
						Leader: c.Args().First(), Name: name, Plan: c.String("plan"), Cloud: c.String("cloud"), Region: c.String("region"), ExtraDiskGB: c.Int("disk-gb"),
						TerminationProtection: c.Bool("termination-protection"),
					}
					if c.Bool("dry-run") {
						report, err := ctl.PreviewFollower(c.Context, req)
						if err != nil {
							return err
						}
						return showPreflight(c, report, name, req.Leader)
					}
					if err := ctl.CreateFollower(c.Context, req); err != nil {
						return err
					}
					fmt.Printf("follower %s of %s: PROVISIONING\n", name, c.Args().First())
					return waitService(c, ctl, name)
				}),
			},
			{
				Name:      "list",
				Usage:     "list the followers of LEADER",
				UsageText: "osccr follower list orders -o json",
				ArgsUsage: "LEADER",
				Before:    requireArgAndFlags(),
				Flags:     []cli.Flag{outputFlag()},
				Action: withControl(func(c *cli.Context, ctl *control.Control) error {
					followers, err := ctl.ListFollowers(c.Context, c.Args().First())
					if err != nil {
						return err
					}
					return render(c, followers, func(w io.Writer) { serviceTable(w, followers) })
				}),
			},
			{
				Name:      "status",
				Usage:     "show a follower's state and, for each follower index, its replication status, checkpoints and lag",
				UsageText: "osccr follower status orders-replica -o json",
				ArgsUsage: "NAME",
				Before:    requireArgAndFlags(),
				Flags:     []cli.Flag{outputFlag()},
				Action: withControl(func(c *cli.Context, ctl *control.Control) error {
					st, err := ctl.FollowerStatus(c.Context, c.Args().First())
					if err != nil {
						return err
					}
					return render(c, st, func(w io.Writer) {
						pausedBy := []string{}
						for _, source := range slices.Sorted(maps.Keys(st.PausedBy)) {
							pausedBy = append(pausedBy, source+": "+st.PausedBy[source])
						}
						for _, r := range [][2]string{
							{"follower", st.Service}, {"leader", st.Leader}, {"integration", st.IntegrationID}, {"state", st.State}, {"reason", dash(st.Reason)},
							{"paused by", dash(strings.Join(pausedBy, "; "))}, {"lag", st.LagSummary(time.Now())}, {"sampled", dash(st.Freshness(time.Now()))},
						} {
							fmt.Fprintf(w, "%s\t%s\n", r[0], r[1])
						}
						fmt.Fprintln(w)
						indexTable(w, st.Indexes)
					})
				}),
			},
			{
				Name: "verify",
				Usage: "compare a follower with its leader, index by index: document counts, a digest of the document ids, mappings " +
					"(an index that differs gets 30 s to catch up), then the configuration osccr copies, kind by kind (templates, pipelines, stored scripts); " +
					"exit 4 when any index diverged or a configuration object of the leader is missing or different on the follower",
				UsageText: "osccr follower verify orders-replica -o json",
				ArgsUsage: "NAME",
				Before:    requireArgAndFlags(),
				Flags:     []cli.Flag{outputFlag()},
				Action: withControl(func(c *cli.Context, ctl *control.Control) error {
					report, err := ctl.VerifyFollower(c.Context, c.Args().First())
					if err != nil {
						return err
					}
					if err := render(c, report, func(w io.Writer) { verifyTable(w, report) }); err != nil {
						return err
					}
					if report.Diverged > 0 {
						return fmt.Errorf("%w: %d of %d indexes of %s differ from %s", errDiverged, report.Diverged, len(report.Indexes), report.Follower, report.Leader)
					}
					if report.ConfigLacking > 0 {
						return fmt.Errorf("%w: %d configuration objects of %s are missing or different on %s", errDiverged, report.ConfigLacking, report.Leader, report.Follower)
					}
					return nil
				}),
			},
			{
				Name:      "pause",
				Usage:     "pause a RUNNING follower's replication (every follower index; the leader keeps every operation for the resume)",
				UsageText: "osccr follower pause orders-replica --reason 'leader maintenance' --wait",
				ArgsUsage: "NAME",
				Before:    requireArgAndFlags(),
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "reason", Usage: "why (shown as the follower's reason)"},
					&cli.BoolFlag{Name: "wait", Usage: "wait until the follower is PAUSED"},
				},
				Action: withControl(func(c *cli.Context, ctl *control.Control) error {
					name := c.Args().First()
					if err := ctl.PauseFollower(c.Context, name, c.String("reason")); err != nil {
						return err
					}
					fmt.Printf("follower %s: pause requested\n", name)
					return waitState(c, ctl, name, workflows.StatePaused)
				}),
			},
			{
				Name:      "resume",
				Usage:     "lift the operator's pause of a follower: replication resumes and catches up (once no node recycle holds it paused)",
				UsageText: "osccr follower resume orders-replica --wait",
				ArgsUsage: "NAME",
				Before:    requireArgAndFlags(),
				Flags:     []cli.Flag{&cli.BoolFlag{Name: "wait", Usage: "wait until the follower is RUNNING again"}},
				Action: withControl(func(c *cli.Context, ctl *control.Control) error {
					name := c.Args().First()
					if err := ctl.ResumeFollower(c.Context, name); err != nil {
						return err
					}
					fmt.Printf("follower %s: resume requested\n", name)
					return waitState(c, ctl, name, workflows.StateRunning)
				}),
			},
			{
				Name:      "promote",
				Usage:     "promote a follower to a standalone, writable service: replication stops for good (irreversible); --dry-run says what would be stopped",
				UsageText: "osccr follower promote orders-replica --dry-run; osccr follower promote orders-replica --yes",
				ArgsUsage: "NAME",
				Before: func(c *cli.Context) error {
					if err := requireArgAndFlags()(c); err != nil {
						return err
					}
					// A script gets no question: it must say yes up front.
					if !c.Bool("yes") && !c.Bool("dry-run") && !isTerminal(os.Stdin) {
						return fmt.Errorf("%w: promoting %s cannot be undone and there is no terminal to confirm it: pass --yes (or --dry-run to see what it would do)", errUsage, c.Args().First())
					}
					return nil
				},
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "yes", Usage: "do not ask for confirmation"},
					&cli.BoolFlag{Name: "dry-run", Usage: "say what promotion would stop, with each index's lag, and change nothing"},
					outputFlag(),
				},
				Action: withControl(func(c *cli.Context, ctl *control.Control) error {
					name := c.Args().First()
					if c.Bool("dry-run") || !c.Bool("yes") {
						preview, err := ctl.PreviewPromotion(c.Context, name)
						if err != nil {
							return err
						}
						if c.Bool("dry-run") {
							return render(c, preview, func(w io.Writer) { previewTable(w, preview) })
						}
						if err := render(c, preview, func(w io.Writer) { previewTable(w, preview) }); err != nil {
							return err
						}
						if !confirm(c, fmt.Sprintf("Promote %s? This cannot be undone.", name)) {
							return fmt.Errorf("%w: not confirmed; nothing changed", errUsage)
						}
					}
					r, err := ctl.Promote(c.Context, name)
					if err != nil {
						return err
					}
					fmt.Printf("%s promoted: standalone and writable; was a follower of %s; %d indexes stopped; %s; took %s\n",
						name, r.FormerLeader, r.IndexesStopped, control.LossSummary(r), r.Duration)
					return nil
				}),
			},
		},
	}
}

// waitState waits, with --wait, until the service is in state want.
func waitState(c *cli.Context, ctl *control.Control, name, want string) error {
	_, _, err := waitFor(c, ctl, name, want)
	return err
}

func indexTable(w io.Writer, indexes []control.IndexStatus) {
	fmt.Fprintln(w, "INDEX\tSTATUS\tLEADER CHECKPOINT\tFOLLOWER CHECKPOINT\tLAG (OPS)\tLAG (S)\tREASON")
	for _, ix := range indexes {
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%s\t%s\n", ix.Index, ix.Status, ix.LeaderCheckpoint, ix.FollowerCheckpoint, ix.LagOps, seconds(ix.LagSeconds), dash(ix.Reason))
	}
}

func previewTable(w io.Writer, p control.PromotionPreview) {
	if p.AlreadyPromoted != nil {
		fmt.Fprintf(w, "%s was promoted already (from a follower of %s at %s): promoting again changes nothing and answers with that report\n",
			p.Service, p.AlreadyPromoted.FormerLeader, p.AlreadyPromoted.PromotedAt.Format("2006-01-02 15:04:05 MST"))
		return
	}
	fmt.Fprintf(w, "Promoting %s (%s, a follower of %s) will, irreversibly:\n", p.Service, p.State, p.Leader)
	for i, step := range p.Steps {
		fmt.Fprintf(w, "  %d. %s\n", i+1, step)
	}
	for _, lacking := range p.ConfigLacking {
		fmt.Fprintf(w, "\nThe application would lack configuration of %s: %s\n", p.Leader, lacking)
	}
	if len(p.NotCopied) > 0 {
		fmt.Fprintf(w, "\nNot copied from %s by osccr (have them on %s by other means): %s\n", p.Leader, p.Service, strings.Join(p.NotCopied, "; "))
	}
	fmt.Fprintln(w)
	indexTable(w, p.Indexes)
}

// errDiverged: a verification found a follower index that differs from its leader index.
var errDiverged = errors.New("diverged")

func verifyTable(w io.Writer, r contract.VerifyReport) {
	fmt.Fprintln(w, "INDEX\tVERDICT\tLEADER DOCS\tFOLLOWER DOCS\tIDS\tMAPPINGS\tDETAIL")
	for _, ix := range r.Indexes {
		ids := "same"
		if ix.LeaderDigest != ix.FollowerDigest {
			ids = "differ"
		}
		mappings := "same"
		if !ix.MappingsEqual {
			mappings = "differ"
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\t%s\t%s\n", ix.Index, strings.ToUpper(ix.Verdict), ix.LeaderDocs, ix.FollowerDocs, ids, mappings, dash(ix.Detail))
	}
	fmt.Fprintf(w, "\n%d of %d indexes of %s match %s (%d excluded, not compared)\n", len(r.Indexes)-r.Diverged, len(r.Indexes), r.Follower, r.Leader, len(r.Excluded))
	if len(r.Configuration) == 0 {
		return
	}
	fmt.Fprintln(w, "\nCONFIGURATION\tLEADER\tFOLLOWER\tMISSING ON FOLLOWER\tDIFFERING")
	for _, c := range r.Configuration {
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%s\n", c.Kind, c.Leader, c.Follower, dash(strings.Join(c.Missing, ",")), dash(strings.Join(c.Differing, ",")))
	}
	if r.ConfigLacking > 0 {
		fmt.Fprintf(w, "\na failover now would lack %d of the leader's configuration objects (missing or different on %s)\n", r.ConfigLacking, r.Follower)
	} else {
		fmt.Fprintf(w, "\nthe configuration osccr copies matches (templates, pipelines, stored scripts)\n")
	}
}

// seconds shows a lag in seconds, or "-" when there is none.
func seconds(s *float64) string {
	if s == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f", *s)
}
