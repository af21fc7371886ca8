package devserver

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"

	"github.com/osccr/osccr/internal/ports"
)

// PortInUseError reports that a port the dev server was told to use is taken, most often by
// another dev server: a second listener would otherwise fail deep inside the Temporal or Web UI
// startup (the UI server even exits the process).
type PortInUseError struct {
	Port int
	// Flag is the osccr-worker flag that moves this listener elsewhere.
	Flag string
}

func (e *PortInUseError) Error() string {
	return fmt.Sprintf("port %d is in use: another Temporal or osccr-worker --dev is running; stop it or pass %s", e.Port, e.Flag)
}

// checkPortFree fails with *PortInUseError when host:port cannot be bound.
func checkPortFree(host string, port int, flag string) error {
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return &PortInUseError{Port: port, Flag: flag}
		}
		return fmt.Errorf("listen on %s:%d: %w", host, port, err)
	}
	return l.Close()
}

// freePorts picks n distinct free ports on host (see internal/ports: below the kernel's
// ephemeral range, where no outgoing connection takes one before the server binds it).
func freePorts(host string, n int) ([]int, error) { return ports.Free(host, n) }

// servicePorts are the loopback ports of one dev server. Only Frontend and UI are meant for
// people; the rest are internal to the process but still need distinct TCP ports.
type servicePorts struct {
	Frontend           int
	FrontendHTTP       int
	FrontendMembership int
	History            int
	HistoryMembership  int
	Matching           int
	MatchingMembership int
	Worker             int
	WorkerMembership   int
	UI                 int // 0: no Web UI
}

// allocatePorts checks the ports the caller chose and picks free ones for the rest.
func allocatePorts(cfg Config) (servicePorts, error) {
	var p servicePorts
	want := 8 // the internal ports
	if cfg.FrontendPort == 0 {
		want++
	} else if err := checkPortFree(cfg.Host, cfg.FrontendPort, "--temporal-port"); err != nil {
		return p, err
	}
	if cfg.UIPort > 0 {
		if err := checkPortFree(cfg.Host, cfg.UIPort, "--ui-port"); err != nil {
			return p, err
		}
	}
	free, err := freePorts(cfg.Host, want)
	if err != nil {
		return p, err
	}
	next := func() int { port := free[0]; free = free[1:]; return port }

	p.Frontend = cfg.FrontendPort
	if p.Frontend == 0 {
		p.Frontend = next()
	}
	p.FrontendHTTP = next()
	p.FrontendMembership = next()
	p.History, p.HistoryMembership = next(), next()
	p.Matching, p.MatchingMembership = next(), next()
	p.Worker, p.WorkerMembership = next(), next()
	p.UI = cfg.UIPort
	return p, nil
}
