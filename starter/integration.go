package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/osccr/osccr/activities"
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
				Usage: "delete an integration: a cross-cluster replication integration ends only with its follower, " +
					"so this is refused, saying to delete or promote the follower (osccr service delete / osccr follower promote)",
				UsageText: "osccr integration delete ccr.orders.orders-dr --yes",
				ArgsUsage: "ID",
				Before:    requireArgAndFlags(),
				Flags:     []cli.Flag{&cli.BoolFlag{Name: "yes", Usage: "do not ask for confirmation"}},
				Action: withControl(func(c *cli.Context, ctl *control.Control) error {
					// A CCR integration ends with its follower: the application layer always
					// refuses, saying how (exit 1), or does not know it.
					return ctl.DeleteIntegration(c.Context, c.Args().First())
				}),
			},
		},
	}
}

// showPreflight prints a preflight report, every check with what it found and the fix of each
// that failed (-o json: the report), and fails when a check did.
func showPreflight(c *cli.Context, report activities.PreflightReport, follower, leader string) error {
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
