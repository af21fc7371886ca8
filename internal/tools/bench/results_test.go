package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseParts(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []string // nil: every part
		wantErr bool
	}{
		{in: "", want: nil},
		{in: "P2", want: []string{"P2"}},
		{in: "p3, P4", want: []string{"P3", "P4"}},
		{in: "P8", want: []string{"P8"}},
		{in: "P9", wantErr: true},
		{in: "P1,,P2", wantErr: true},
	} {
		got, err := parseParts(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("parseParts(%q): error %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		var parts []string
		for p := range got {
			parts = append(parts, p)
		}
		slices.Sort(parts)
		if !slices.Equal(parts, tc.want) || (tc.want == nil) != (got == nil) {
			t.Errorf("parseParts(%q) = %v, want %v", tc.in, parts, tc.want)
		}
	}
}

func TestParseCounts(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{in: "1,5,10", want: []int{1, 5, 10}},
		{in: "3", want: []int{3}},
		{in: "5,1", wantErr: true},
		{in: "0", wantErr: true},
		{in: "x", wantErr: true},
	} {
		got, err := parseCounts(tc.in)
		if (err != nil) != tc.wantErr || !slices.Equal(got, tc.want) {
			t.Errorf("parseCounts(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

// TestMergeResults: a partial run replaces the rows, notes and P7 figures of the parts it ran
// and keeps the others, in the parts' order; a file written by the first bench (no parts, no
// notes) merges too.
func TestMergeResults(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	old := results{Machine: "m", OpenSearch: "2.19.4", Trials: 30, Started: t0, Finished: t0.Add(20 * time.Minute),
		Rows: []row{{ID: "P1", Contender: "osccr", N: 30}, {ID: "P1", Contender: "autofollow", N: 30}, {ID: "P5", Contender: "osccr", N: 30}},
		Idle: idleCost{Followers: 1, LeaderRequestsPerSecond: 0.5}}
	for _, tc := range []struct {
		name     string
		ran      map[string]bool
		run      results
		wantRows []string // ID/contender
		wantIdle []int
		wantNote []string
	}{
		{
			name: "new parts", ran: map[string]bool{"P2": true, "P4": true},
			run: results{Trials: 30, Started: t0.Add(time.Hour), Finished: t0.Add(2 * time.Hour), Rows: []row{{ID: "P4", Contender: "osccr"}, {ID: "P2", Contender: "osccr"}},
				Notes: map[string]string{"P2": "n2"}},
			wantRows: []string{"P1/osccr", "P1/autofollow", "P2/osccr", "P4/osccr", "P5/osccr"}, wantIdle: []int{1}, wantNote: []string{"P2"},
		},
		{
			name: "a part again", ran: map[string]bool{"P1": true, "P7": true},
			run: results{Trials: 3, Started: t0.Add(time.Hour), Finished: t0.Add(2 * time.Hour), Rows: []row{{ID: "P1", Contender: "again"}},
				Idle: idleCost{Followers: 1}, IdleMore: []idleCost{{Followers: 5}, {Followers: 10}}},
			wantRows: []string{"P1/again", "P5/osccr"}, wantIdle: []int{1, 5, 10},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "results.json")
			raw, err := json.Marshal(old)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, raw, 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := mergeResults(path, &tc.run, tc.ran)
			if err != nil {
				t.Fatal(err)
			}
			var rows []string
			for _, r := range got.Rows {
				rows = append(rows, r.ID+"/"+r.Contender)
			}
			if !slices.Equal(rows, tc.wantRows) {
				t.Errorf("rows %v, want %v", rows, tc.wantRows)
			}
			var idle []int
			for _, i := range got.idles() {
				idle = append(idle, i.Followers)
			}
			if !slices.Equal(idle, tc.wantIdle) {
				t.Errorf("P7 follower counts %v, want %v", idle, tc.wantIdle)
			}
			var notes []string
			for id := range got.Notes {
				notes = append(notes, id)
			}
			if !slices.Equal(notes, tc.wantNote) {
				t.Errorf("notes %v, want %v", notes, tc.wantNote)
			}
			if !got.Started.Equal(t0) || !got.Finished.Equal(t0.Add(2*time.Hour)) {
				t.Errorf("started %s finished %s, want the first run's start and the last's end", got.Started, got.Finished)
			}
			if md := got.markdown(); len(md) == 0 {
				t.Error("no markdown")
			}
		})
	}
	// No file yet: the run's results as they are.
	run := results{Rows: []row{{ID: "P3"}}}
	got, err := mergeResults(filepath.Join(t.TempDir(), "results.json"), &run, map[string]bool{"P3": true})
	if err != nil || len(got.Rows) != 1 {
		t.Errorf("no file: %v rows, %v", len(got.Rows), err)
	}
}

// TestWriteMerged: the committed results (as the first bench wrote them) merge with rows of
// one trial and of zeros (P2, P3) and the table, JSON and chart are written from the merge.
func TestWriteMerged(t *testing.T) {
	dir := t.TempDir()
	committed, err := os.ReadFile("../../../bench/results/results.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), committed, 0o644); err != nil {
		t.Fatal(err)
	}
	run := &results{Machine: "m", OpenSearch: "2.19.4", Started: time.Now(), Finished: time.Now()}
	run.add("P2", "bootstrap", "osccr", []time.Duration{90 * time.Second})
	run.add("P3", "lag", "osccr", []time.Duration{0, 0, time.Second})
	run.note("P2", "one trial")
	run.part("P2", "3 x 1000", time.Now())
	merged, err := mergeResults(filepath.Join(dir, "results.json"), run, map[string]bool{"P2": true, "P3": true})
	if err != nil {
		t.Fatal(err)
	}
	var discard strings.Builder
	if err := merged.write(&discard, dir); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| P1 |", "| P2 | bootstrap | osccr | 1 | 90000 ms", "| P3 |", "| P5 |", "P2: one trial", "| 1 | 120 s |"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("results.md lacks %q:\n%s", want, md)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, "chart.png")); err != nil || st.Size() == 0 {
		t.Errorf("chart.png: %v", err)
	}
}
