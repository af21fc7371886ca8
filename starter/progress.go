package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/osccr/osccr/internal/humanize"
	"github.com/osccr/osccr/workflows"
)

// barWidth is the number of cells of the REBUILDING progress bar.
const barWidth = 30

// isTerminal reports whether f is a terminal (not a pipe, file or /dev/null).
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// progress prints a service's states while a command waits for it. On a terminal, REBUILDING
// is one bar redrawn in place (indexes syncing of all, and their size); otherwise every change
// is a plain line, for logs and scripts.
type progress struct {
	out      io.Writer
	terminal bool
	name     string
	drawn    bool // a bar is on the current line
	last     string
}

func newProgress(out io.Writer, terminal bool, name string) *progress {
	return &progress{out: out, terminal: terminal, name: name}
}

// update shows one state of the service.
func (p *progress) update(st workflows.ServiceState) {
	if r := st.Replication; st.State == workflows.StateRebuilding && r != nil && r.State == workflows.StateRebuilding && r.Total > 0 {
		if p.terminal {
			fmt.Fprintf(p.out, "\r\033[K%s", rebuildBar(p.name, r.Syncing, r.Total, r.Bytes))
			p.drawn = true
			return
		}
		p.line(fmt.Sprintf("service %s: REBUILDING %s", p.name, rebuildCount(r.Syncing, r.Total, r.Bytes)))
		return
	}
	p.line(strings.TrimSpace(fmt.Sprintf("service %s: %s %s", p.name, st.State, st.Reason)))
}

// done ends a bar's line.
func (p *progress) done() {
	if p.drawn {
		fmt.Fprintln(p.out)
		p.drawn = false
	}
}

func (p *progress) line(s string) {
	if s == p.last {
		return
	}
	p.done()
	fmt.Fprintln(p.out, s)
	p.last = s
}

// rebuildBar draws REBUILDING progress, e.g.
// "orders-eu REBUILDING [##########....................] 2/6 indexes syncing, 1.2 MiB in all".
func rebuildBar(name string, syncing, total int, bytes int64) string {
	filled := 0
	if total > 0 {
		filled = min(barWidth, syncing*barWidth/total)
	}
	return fmt.Sprintf("%s REBUILDING [%s%s] %s", name, strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled), rebuildCount(syncing, total, bytes))
}

func rebuildCount(syncing, total int, bytes int64) string {
	return fmt.Sprintf("%d/%d indexes syncing, %s in all", syncing, total, humanize.Bytes(bytes))
}
