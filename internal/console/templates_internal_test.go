package console

import (
	"slices"
	"testing"
)

// TestConfigKinds: the follower page counts the configuration osccr keeps in sync by kind.
func TestConfigKinds(t *testing.T) {
	got := configKinds([]string{"setting/search.max_buckets", "pipeline/a", "pipeline/b", "ism-policy/hot", "setting/action.auto_create_index"})
	want := []configKindCount{{"setting", 2}, {"pipeline", 2}, {"ism-policy", 1}}
	if !slices.Equal(got, want) {
		t.Errorf("configKinds = %v, want %v", got, want)
	}
	if got := configKinds(nil); len(got) != 0 {
		t.Errorf("configKinds(nil) = %v, want none", got)
	}
}
