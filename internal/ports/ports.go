// Package ports picks free TCP ports for the listeners osccr starts on one machine: the
// embedded Temporal server's and the local nodes' HTTP and transport ports.
//
// A port found free is only free until it is bound, and the kernel hands out ports of its
// ephemeral range (net.ipv4.ip_local_port_range, 32768-60999 by default) to every outgoing
// connection and to every listen on port 0: a busy machine (several test packages, each with
// nodes and a Temporal server talking to each other) takes one of them now and then between
// the pick and the bind, and a Temporal server that cannot bind exits the process. So ports are
// picked at random below that range, where only another listener could take them.
package ports

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// floor is the lowest port picked.
const floor = 10000

// rangeFile holds the kernel's ephemeral port range.
const rangeFile = "/proc/sys/net/ipv4/ip_local_port_range"

// Free returns n distinct ports that host could bind a moment ago, below the kernel's
// ephemeral range when there is room (else any the kernel gives). Every listener is held
// until all are known, so one call never returns a port twice.
func Free(host string, n int) ([]int, error) {
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	ceiling := ephemeralLow()
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		port := 0 // the kernel's choice, when there is no room below its range or no luck
		if ceiling-floor >= 1000 && tries < 100*n {
			port = floor + rand.IntN(ceiling-floor)
		}
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			if port != 0 {
				continue // taken: another
			}
			return nil, fmt.Errorf("pick a free port on %s: %w", host, err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// ephemeralLow is the first port of the kernel's ephemeral range (32768 when it cannot tell).
func ephemeralLow() int {
	raw, err := os.ReadFile(rangeFile)
	if err != nil {
		return 32768
	}
	fields := strings.Fields(string(raw))
	if len(fields) != 2 {
		return 32768
	}
	low, err := strconv.Atoi(fields[0])
	if err != nil || low <= 0 {
		return 32768
	}
	return low
}
