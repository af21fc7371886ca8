package ports

import (
	"net"
	"strconv"
	"testing"
)

// TestFree: the ports are distinct, bindable, and below the ephemeral range.
func TestFree(t *testing.T) {
	got, err := Free("127.0.0.1", 20)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	ceiling := ephemeralLow()
	for _, p := range got {
		if seen[p] {
			t.Errorf("port %d twice in %v", p, got)
		}
		seen[p] = true
		if ceiling-floor >= 1000 && (p < floor || p >= ceiling) {
			t.Errorf("port %d outside [%d, %d)", p, floor, ceiling)
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Errorf("port %d cannot be bound: %v", p, err)
			continue
		}
		l.Close()
	}
	if len(got) != 20 {
		t.Errorf("%d ports, want 20", len(got))
	}
}
