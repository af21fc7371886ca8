package plan

import (
	"errors"
	"strings"
	"testing"
)

func TestDefaultCatalogPlans(t *testing.T) {
	c := Default()
	tests := []struct {
		name     string
		tier     Tier
		nodes    int
		memoryGB int
		diskGB   int
		ccr      bool
		heapMB   int
	}{
		{"hobbyist", TierHobbyist, 1, 2, 16, false, 256},
		{"startup-4", TierStartup, 1, 4, 80, false, 256},
		{"startup-8", TierStartup, 1, 8, 175, false, 384},
		{"startup-16", TierStartup, 1, 16, 350, false, 512},
		{"business-4", TierBusiness, 3, 4, 80, true, 256},
		{"business-8", TierBusiness, 3, 8, 175, true, 384},
		{"business-16", TierBusiness, 3, 16, 350, true, 512},
		{"premium-6x-8", TierPremium, 6, 8, 175, true, 384},
		{"premium-6x-16", TierPremium, 6, 16, 350, true, 512},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := c.Lookup(tt.name)
			if err != nil {
				t.Fatalf("Lookup: %v", err)
			}
			want := Plan{Name: tt.name, Tier: tt.tier, Nodes: tt.nodes, MemoryGB: tt.memoryGB, DiskGB: tt.diskGB}
			if p != want {
				t.Errorf("Lookup = %+v, want %+v", p, want)
			}
			if got := p.SupportsCCR(); got != tt.ccr {
				t.Errorf("SupportsCCR = %v, want %v", got, tt.ccr)
			}
			if got := p.LocalHeapMB(); got != tt.heapMB {
				t.Errorf("LocalHeapMB = %d, want %d", got, tt.heapMB)
			}
		})
	}
	if got := len(c.List()); got != len(tests) {
		t.Errorf("List has %d plans, want %d", got, len(tests))
	}
}

func TestLookupUnknown(t *testing.T) {
	c := Default()
	for _, name := range []string{"", "business", "Business-4", "premium-6x-4", " business-4"} {
		t.Run(name, func(t *testing.T) {
			_, err := c.Lookup(name)
			if !errors.Is(err, ErrUnknownPlan) {
				t.Fatalf("Lookup(%q) error = %v, want ErrUnknownPlan", name, err)
			}
			for _, valid := range []string{"hobbyist", "startup-4", "business-8", "premium-6x-16"} {
				if !strings.Contains(err.Error(), valid) {
					t.Errorf("error %q does not list valid plan %q", err, valid)
				}
			}
		})
	}
}

func TestListSorted(t *testing.T) {
	c := Default()
	var names []string
	for _, p := range c.List() {
		names = append(names, p.Name)
	}
	want := "hobbyist startup-4 startup-8 startup-16 business-4 business-8 business-16 premium-6x-8 premium-6x-16"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("List order = %s\nwant         %s", got, want)
	}
	// List returns a copy: changing it must not change the catalog.
	l := c.List()
	l[0].Name = "changed"
	if c.List()[0].Name != "hobbyist" {
		t.Error("List exposes the catalog's own slice")
	}
}

func TestLocalHeapMB(t *testing.T) {
	tests := []struct {
		memoryGB, want int
	}{
		{1, 256}, {2, 256}, {4, 256}, {5, 384}, {8, 384}, {15, 384}, {16, 512}, {64, 512},
	}
	for _, tt := range tests {
		if got := (Plan{MemoryGB: tt.memoryGB}).LocalHeapMB(); got != tt.want {
			t.Errorf("LocalHeapMB(%d GB) = %d, want %d", tt.memoryGB, got, tt.want)
		}
	}
}

func TestCheckFollowerPlan(t *testing.T) {
	c := Default()
	get := func(name string) Plan {
		p, err := c.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name             string
		leader, follower string
		wantErr          error
		wantInMessage    []string
	}{
		{name: "same business plan", leader: "business-4", follower: "business-4"},
		{name: "same premium plan", leader: "premium-6x-16", follower: "premium-6x-16"},
		{name: "hobbyist leader", leader: "hobbyist", follower: "hobbyist", wantErr: ErrCCRNotSupported,
			wantInMessage: []string{`"hobbyist"`, "hobbyist and startup tiers"}},
		{name: "startup leader", leader: "startup-8", follower: "startup-8", wantErr: ErrCCRNotSupported,
			wantInMessage: []string{`"startup-8"`, "startup tier"}},
		{name: "startup leader business follower", leader: "startup-16", follower: "business-16", wantErr: ErrCCRNotSupported,
			wantInMessage: []string{`"startup-16"`}},
		{name: "business leader startup follower", leader: "business-8", follower: "startup-8", wantErr: ErrCCRNotSupported,
			wantInMessage: []string{`"startup-8"`, `"business-8"`}},
		{name: "bigger follower", leader: "business-4", follower: "business-8", wantErr: ErrFollowerPlanMismatch,
			wantInMessage: []string{`"business-4"`, `"business-8"`, "leader's plan"}},
		{name: "smaller follower", leader: "premium-6x-16", follower: "premium-6x-8", wantErr: ErrFollowerPlanMismatch,
			wantInMessage: []string{`"premium-6x-16"`, `"premium-6x-8"`}},
		{name: "other tier follower", leader: "business-16", follower: "premium-6x-16", wantErr: ErrFollowerPlanMismatch,
			wantInMessage: []string{`"business-16"`, `"premium-6x-16"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckFollowerPlan(get(tt.leader), get(tt.follower))
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("CheckFollowerPlan = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("CheckFollowerPlan = %v, want %v", err, tt.wantErr)
			}
			for _, s := range tt.wantInMessage {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("message %q lacks %q", err, s)
				}
			}
		})
	}
}

func TestPlanString(t *testing.T) {
	p, _ := Default().Lookup("business-4")
	if got, want := p.String(), "business-4 (business, 3 nodes x 4 GB, 80 GB disk)"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}
