package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// flagsFirst lets flags follow positional arguments (`osccr service create NAME --plan P`, as
// the CLI contract writes them): urfave/cli v2 stops reading flags at the first positional
// argument, so this moves a command's positional arguments after its flags. It walks the
// command path first, and uses each command's flag definitions to know which flags take a
// value. Everything after "--" is left as it is.
//
// A shell completion request (the last argument is --generate-bash-completion) is left as it
// is: urfave/cli completes the partial word before that flag.
func flagsFirst(app *cli.App, args []string) []string {
	if len(args) == 0 || args[len(args)-1] == "--generate-bash-completion" {
		return args
	}
	out := []string{args[0]}
	rest := args[1:]
	flags, cmds := app.Flags, app.Commands
	for {
		var lead []string
		lead, rest = takeFlags(flags, rest)
		out = append(out, lead...)
		if len(rest) == 0 {
			return out
		}
		next := findCommand(cmds, rest[0])
		if next == nil {
			break
		}
		out = append(out, rest[0])
		rest = rest[1:]
		flags, cmds = next.Flags, next.Subcommands
		if len(cmds) > 0 {
			continue
		}
		// A leaf command: its flags first, then its positional arguments.
		var positional []string
		for len(rest) > 0 {
			var f []string
			f, rest = takeFlags(flags, rest)
			out = append(out, f...)
			if len(rest) == 0 {
				break
			}
			if rest[0] == "--" {
				positional = append(positional, rest...)
				rest = nil
				break
			}
			positional = append(positional, rest[0])
			rest = rest[1:]
		}
		return append(out, positional...)
	}
	return append(out, rest...)
}

// takeFlags returns the leading flags of args (with their values) and what follows them.
func takeFlags(flags []cli.Flag, args []string) (taken, rest []string) {
	i := 0
	for i < len(args) {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") || a == "-" {
			break
		}
		i++
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if takesValue(flags, name) && i < len(args) {
			i++
		}
	}
	return args[:i], args[i:]
}

func takesValue(flags []cli.Flag, name string) bool {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				if dv, ok := f.(cli.DocGenerationFlag); ok {
					return dv.TakesValue()
				}
				return true
			}
		}
	}
	return false
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}
