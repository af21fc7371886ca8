package activities

import "testing"

func TestIDDigest(t *testing.T) {
	tests := []struct {
		name string
		a, b []string
		same bool
	}{
		{"same ids in another order", []string{"a", "b", "c"}, []string{"c", "a", "b"}, true},
		{"one id missing", []string{"a", "b", "c"}, []string{"a", "b"}, false},
		{"one id changed", []string{"a", "b"}, []string{"a", "x"}, false},
		// Without a separator "ab"+"c" and "a"+"bc" would hash alike.
		{"same bytes, other ids", []string{"ab", "c"}, []string{"a", "bc"}, false},
		{"both empty", nil, []string{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := idDigest(tt.a) == idDigest(tt.b); got != tt.same {
				t.Errorf("idDigest(%v) == idDigest(%v) is %v, want %v", tt.a, tt.b, got, tt.same)
			}
		})
	}
	in := []string{"b", "a"}
	idDigest(in)
	if in[0] != "b" {
		t.Errorf("idDigest reordered its argument: %v", in)
	}
}
