// Command nodeheap measures what a local node costs at each heap the plans give (plan.LocalHeapMB):
// the time from launch to a healthy node, and, after the node has idled, the heap in use when
// sampled, its live heap (in use right after a full collection that jcmd asks for) and the
// resident memory of the process. docs/opensearch.md holds its figures; run it from the
// repository root (real nodes: serialize it with the other runs that start nodes):
//
//	go run ./internal/tools/nodeheap [-home .opensearch/current] [-idle 30s] [-runs 1]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/osccr/osccr/internal/localnode"
	"github.com/osccr/osccr/internal/plan"
)

func main() {
	home := flag.String("home", "", "distribution to measure (default: the one make opensearch installs)")
	idle := flag.Duration("idle", 30*time.Second, "how long the node idles before its memory is read")
	runs := flag.Int("runs", 1, "nodes started per heap size")
	flag.Parse()
	if err := run(*home, *idle, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "nodeheap:", err)
		os.Exit(1)
	}
}

func run(home string, idle time.Duration, runs int) error {
	d, err := localnode.DistributionFromEnv()
	if home != "" {
		d, err = localnode.Distribution{Home: home}, nil
	}
	if err != nil {
		return err
	}
	modules, _ := os.ReadDir(filepath.Join(d.Home, "modules"))
	plugins, _ := d.Plugins()
	fmt.Printf("distribution %s: %d modules, plugins %v; idle %s\n", d.Home, len(modules), plugins, idle)
	heaps := map[int][]string{}
	for _, p := range plan.Default().List() {
		heaps[p.LocalHeapMB()] = append(heaps[p.LocalHeapMB()], p.Name)
	}
	fmt.Println("heap MB | plans | start s | heap used MB | live heap MB | RSS MB")
	for _, heap := range slices.Sorted(maps.Keys(heaps)) {
		for i := 0; i < runs; i++ {
			m, err := measure(d, heap, idle)
			if err != nil {
				return fmt.Errorf("heap %d MB: %w", heap, err)
			}
			fmt.Printf("%d | %s | %.1f | %.0f | %.0f | %.0f\n", heap, strings.Join(heaps[heap], ", "),
				m.start.Seconds(), m.used, m.live, m.rss)
		}
	}
	return nil
}

type figures struct {
	start           time.Duration
	used, live, rss float64 // MB
}

func measure(d localnode.Distribution, heap int, idle time.Duration) (figures, error) {
	base, err := os.MkdirTemp("", "osccr-nodeheap-")
	if err != nil {
		return figures{}, err
	}
	defer os.RemoveAll(base)
	if err := os.Chmod(base, 0o755); err != nil {
		return figures{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	began := time.Now()
	node, err := d.Start(ctx, localnode.Spec{Dir: filepath.Join(base, "n"), Cluster: "nodeheap", HeapMB: heap})
	if err != nil {
		return figures{}, err
	}
	f := figures{start: time.Since(began)}
	defer func() { _ = node.Stop(context.Background()) }()
	time.Sleep(idle) // the measurement is of a node left idle this long
	if f.used, err = heapUsed(node); err != nil {
		return f, err
	}
	if err := fullGC(d, node.PID); err != nil {
		return f, err
	}
	// The node caches its JVM stats for a second (monitor.jvm.refresh_interval).
	time.Sleep(2 * time.Second)
	if f.live, err = heapUsed(node); err != nil {
		return f, err
	}
	f.rss, err = rss(node.PID)
	return f, err
}

// heapUsed asks the node how much heap it uses, in MB.
func heapUsed(node *localnode.Node) (float64, error) {
	var stats struct {
		Nodes map[string]struct {
			JVM struct {
				Mem struct {
					HeapUsed int64 `json:"heap_used_in_bytes"`
				} `json:"mem"`
			} `json:"jvm"`
		} `json:"nodes"`
	}
	resp, err := http.Get(node.HTTPURL() + "/_nodes/_local/stats/jvm")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil {
		return 0, err
	}
	for _, n := range stats.Nodes {
		return float64(n.JVM.Mem.HeapUsed) / (1 << 20), nil
	}
	return 0, fmt.Errorf("no node in the stats of %s", node.HTTPURL())
}

// fullGC has the node's JVM collect its whole heap (jcmd GC.run), as the account it runs as:
// a JVM answers jcmd only from its own user.
func fullGC(d localnode.Distribution, pid int) error {
	cmd := exec.Command("jcmd", strconv.Itoa(pid), "GC.run")
	if os.Geteuid() == 0 {
		user := d.RunAsUser
		if user == "" {
			user = localnode.DefaultRunAsUser
		}
		cmd = exec.Command("runuser", "-u", user, "--", "jcmd", strconv.Itoa(pid), "GC.run")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s", cmd, err, out)
	}
	return nil
}

// rss reads the resident memory of a process from /proc.
func rss(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}
