package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/osccr/osccr/internal/control"
)

func followerCommand() *cli.Command {
	return &cli.Command{
		Name:  "follower",
		Usage: "create and list followers: services that replicate a whole leader cluster",
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
					&cli.BoolFlag{Name: "wait", Usage: "wait until the follower is RUNNING (exit 1 if it FAILED)"},
				},
				Action: withControl(func(c *cli.Context, ctl *control.Control) error {
					name := c.String("name")
					if err := ctl.CreateFollower(c.Context, control.CreateFollowerRequest{
						Leader: c.Args().First(), Name: name, Plan: c.String("plan"), Cloud: c.String("cloud"), Region: c.String("region"), ExtraDiskGB: c.Int("disk-gb"),
					}); err != nil {
						return err
					}
					fmt.Printf("follower %s of %s: PROVISIONING\n", name, c.Args().First())
					return waitService(c, ctl, name)
				}),
			},
			{
				Name:      "promote",
				Usage:     "promote a follower to a standalone, writable service: replication stops for good (irreversible)",
				UsageText: "osccr follower promote orders-replica --yes",
				ArgsUsage: "NAME",
				Before:    requireArgAndFlags(),
				Flags:     []cli.Flag{&cli.BoolFlag{Name: "yes", Usage: "do not ask for confirmation"}},
				Action: withControl(func(c *cli.Context, ctl *control.Control) error {
					name := c.Args().First()
					question := fmt.Sprintf("Promote %s: stop replication on every follower index, make it writable and standalone. This cannot be undone.", name)
					if !c.Bool("yes") && !confirm(c, question) {
						return fmt.Errorf("%w: not confirmed; pass --yes to promote without asking", errUsage)
					}
					r, err := ctl.Promote(c.Context, name)
					if err != nil {
						return err
					}
					fmt.Printf("%s promoted: standalone and writable; was a follower of %s; %d indexes stopped, %d operations behind at promotion; took %s\n",
						name, r.FormerLeader, r.IndexesStopped, r.LagOps, r.Duration)
					return nil
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
		},
	}
}
