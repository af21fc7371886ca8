package control

import (
	"errors"
	"strings"
	"testing"

	"github.com/osccr/osccr/internal/contract"
)

func TestIntegrationID(t *testing.T) {
	tests := []struct{ leader, follower, id string }{
		{"orders", "orders-eu", "ccr.orders.orders-eu"},
		{"a-b", "c--d", "ccr.a-b.c--d"},
		{"ab--cd", "ef1", "ccr.ab--cd.ef1"},
	}
	for _, tt := range tests {
		if got := IntegrationID(tt.leader, tt.follower); got != tt.id {
			t.Errorf("IntegrationID(%s, %s) = %q, want %q", tt.leader, tt.follower, got, tt.id)
		}
		leader, follower, err := ParseIntegrationID(tt.id)
		if err != nil || leader != tt.leader || follower != tt.follower {
			t.Errorf("ParseIntegrationID(%q) = %q, %q, %v; want %q, %q", tt.id, leader, follower, err, tt.leader, tt.follower)
		}
	}
	for _, bad := range []string{"", "orders.orders-eu", "ccr.orders", "ccr.orders.eu.x", "ccr..eu1", "ccr.Orders.orders-eu", "integration/orders/orders-eu", "ccr.orders.orders-eu."} {
		if _, _, err := ParseIntegrationID(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseIntegrationID(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestSecurityMode(t *testing.T) {
	for _, tt := range []struct{ asked, want, err string }{
		{"", contract.SecurityPlugin, ""},
		{contract.SecurityPlugin, contract.SecurityPlugin, ""},
		{"none", contract.SecurityNone, ""},
		{"tls", "", `security "tls": give "none"`},
		{"None", "", `security "None"`},
	} {
		got, err := securityMode(tt.asked)
		if got != tt.want || (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("securityMode(%q) = %q, %v; want %q, error %q", tt.asked, got, err, tt.want, tt.err)
		}
	}
}
