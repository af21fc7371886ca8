package main

import (
	"slices"
	"strings"
	"testing"
)

func TestFlagsFirst(t *testing.T) {
	tests := []struct{ in, want string }{
		{"osccr service create orders --plan business-4 --wait", "osccr service create --plan business-4 --wait orders"},
		{"osccr --temporal-address h:1 service create orders --plan=business-4", "osccr --temporal-address h:1 service create --plan=business-4 orders"},
		{"osccr service show orders -o json", "osccr service show -o json orders"},
		{"osccr service delete orders --yes", "osccr service delete --yes orders"},
		{"osccr service create --plan business-4 orders", "osccr service create --plan business-4 orders"},
		{"osccr status --index x", "osccr status --index x"},
		{"osccr service list", "osccr service list"},
		{"osccr nosuch a --b", "osccr nosuch a --b"},
		{"osccr service delete orders -- --yes", "osccr service delete orders -- --yes"},
		{"osccr service update orders --p --generate-bash-completion", "osccr service update orders --p --generate-bash-completion"},
		{"osccr follower promote orders --dry-run -o json", "osccr follower promote --dry-run -o json orders"},
		{"osccr integration list orders -o json", "osccr integration list -o json orders"},
	}
	a := app()
	for _, tt := range tests {
		got := strings.Join(flagsFirst(a, strings.Fields(tt.in)), " ")
		if got != tt.want {
			t.Errorf("flagsFirst(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := flagsFirst(a, nil); !slices.Equal(got, nil) {
		t.Errorf("flagsFirst(nil) = %v", got)
	}
}
