package main

import (
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/osccr/osccr/internal/contract"
	"github.com/osccr/osccr/internal/control"
)

func integrationCommand() *cli.Command {
	return &cli.Command{
		Name:      "integration",
		Usage:     "service integrations: cross-cluster replication from a source (leader) into a dest (follower) service",
		UsageText: "osccr integration create --integration-type opensearch_cross_cluster_replication --source orders --dest orders-dr; osccr integration list orders",
		Subcommands: []*cli.Command{
			{
				Name: "create",
				Usage: "make an existing standalone, RUNNING service without user indexes (--dest) the follower of another (--source); " +
					"the same rules as follower create; a dest that was ever promoted, leads followers or holds user indexes is refused",
				UsageText: "osccr integration create --integration-type opensearch_cross_cluster_replication --source orders --dest orders-dr --wait",
				Before:    requireFlags("integration-type", "source", "dest"),
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "integration-type", Usage: "opensearch_cross_cluster_replication (the only type)"},
					&cli.StringFlag{Name: "source", Usage: "the leader service"},
					&cli.StringFlag{Name: "dest", Usage: "the existing service that becomes its follower"},
					&cli.BoolFlag{Name: "wait", Usage: "wait until the dest is RUNNING (exit 1 if it FAILED), with a progress bar while REBUILDING"},
					&cli.BoolFlag{Name: "dry-run", Usage: "run the preflight on both clusters and show every check; change nothing (exit 1 when a check fails)"},
					outputFlag(),
				},
				Action: withControl(func(c *cli.Context, ctl *control.Control) error {
					if c.NArg() > 0 {
						return fmt.Errorf("%w: integration create takes no argument (got %q); example: %s", errUsage, c.Args().Slice(), c.Command.UsageText)
					}
					req := control.CreateIntegrationRequest{Type: c.String("integration-type"), Source: c.String("source"), Dest: c.String("dest")}
					if c.Bool("dry-run") {
						report, err := ctl.PreviewIntegration(c.Context, req)
						if err != nil {
							return err
						}
						return showPreflight(c, report, req.Dest, req.Source)
					}
					in, err := ctl.CreateIntegration(c.Context, req)
					if err != nil {
						return err
					}
					if err := render(c, in, func(w io.Writer) {
						fmt.Fprintf(w, "integration %s: %s now follows %s (%s)\n", in.ID, in.Dest, in.Source, in.State)
					}); err != nil {
						return err
					}
					return waitService(c, ctl, in.Dest)
				}),
			},
			{
				Name:      "list",
				Usage:     "list integrations: all of them, or those SERVICE takes part in (as source or dest)",
				UsageText: "osccr integration list orders -o json",
				ArgsUsage: "[SERVICE]",
				Before: func(c *cli.Context) error {
					if c.NArg() > 1 {
						return fmt.Errorf("%w: integration list takes at most one SERVICE argument; example: %s", errUsage, c.Command.UsageText)
					}
					return nil
				},
				Flags: []cli.Flag{outputFlag()},
				Action: withControl(func(c *cli.Context, ctl *control.Control) error {
					list, err := ctl.ListIntegrations(c.Context, c.Args().First())
					if err != nil {
						return err
					}
					return render(c, list, func(w io.Writer) {
						fmt.Fprintln(w, "ID\tTYPE\tSOURCE\tDEST\tSTATE")
						for _, in := range list {
							fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", in.ID, in.Type, in.Source, in.Dest, in.State)
						}
					})
				}),
			},
			{
				Name: "delete",
				Usage: "delete an integration: its follower is promoted (irreversibly) to a standalone, writable service " +
					"and stays; returns once the promotion is done, with its report (as osccr follower promote does)",
				UsageText: "osccr integration delete ccr.orders.orders-dr --yes",
				ArgsUsage: "ID",
				Before: func(c *cli.Context) error {
					if err := requireArgAndFlags()(c); err != nil {
						return err
					}
					if !c.Bool("yes") && !isTerminal(os.Stdin) {
						return fmt.Errorf("%w: deleting integration %s promotes its follower, which cannot be undone, and there is no terminal to confirm it: pass --yes", errUsage, c.Args().First())
					}
					return nil
				},
				Flags: []cli.Flag{&cli.BoolFlag{Name: "yes", Usage: "do not ask for confirmation"}, outputFlag()},
				Action: withControl(func(c *cli.Context, ctl *control.Control) error {
					id := c.Args().First()
					in, err := ctl.GetIntegration(c.Context, id)
					if err != nil {
						return err
					}
					if !c.Bool("yes") && !confirm(c, fmt.Sprintf("Delete %s? %s stops following %s and is promoted to a standalone service; this cannot be undone.", in.ID, in.Dest, in.Source)) {
						return fmt.Errorf("%w: not confirmed; nothing changed", errUsage)
					}
					r, err := ctl.DeleteIntegration(c.Context, id)
					if err != nil {
						return err
					}
					return render(c, r, func(w io.Writer) {
						fmt.Fprintf(w, "integration %s deleted: %s promoted: standalone and writable; was a follower of %s; %d indexes stopped, %d operations behind at promotion; took %s\n",
							in.ID, in.Dest, r.FormerLeader, r.IndexesStopped, r.LagOps, r.Duration)
					})
				}),
			},
		},
	}
}

// showPreflight prints a preflight report, every check with what it found and the fix of each
// that failed (-o json: the report), and fails when a check did.
func showPreflight(c *cli.Context, report contract.PreflightReport, follower, leader string) error {
	if err := render(c, report, func(w io.Writer) {
		for _, ch := range report.Checks {
			mark := "ok  "
			if !ch.OK {
				mark = "FAIL"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\n", mark, ch.Name, ch.Detail)
			if ch.Fix != "" {
				fmt.Fprintf(w, "\t\tfix: %s\n", ch.Fix)
			}
		}
	}); err != nil {
		return err
	}
	if !report.OK {
		return fmt.Errorf("%w: %s cannot follow %s yet: fix the checks marked FAIL", control.ErrConflict, follower, leader)
	}
	return nil
}
