package pki

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestLoadOrCreateCA: workers racing on one directory end with one CA; its key is 0600; a
// second call loads it.
func TestLoadOrCreateCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	const racers = 8
	cas := make([]*CA, racers)
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() { cas[i], errs[i] = LoadOrCreateCA(dir) })
	}
	wg.Wait()
	for i := range racers {
		if errs[i] != nil {
			t.Fatalf("racer %d: %v", i, errs[i])
		}
		if !bytes.Equal(cas[i].CertPEM, cas[0].CertPEM) {
			t.Fatalf("racer %d got another CA than racer 0", i)
		}
	}
	again, err := LoadOrCreateCA(dir)
	if err != nil || !bytes.Equal(again.CertPEM, cas[0].CertPEM) {
		t.Fatalf("second call: %v (same CA: %v)", err, err == nil && bytes.Equal(again.CertPEM, cas[0].CertPEM))
	}
	if u := again.Unit(); len(u) != len("osccr-")+8 {
		t.Errorf("unit %q, want osccr- and 8 hex digits", u)
	}
	info, err := os.Stat(filepath.Join(dir, "ca-key.pem"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("CA key: %v, mode %v, want 0600", err, info.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Dir(dir))
	if len(entries) != 1 {
		t.Errorf("left beside the CA directory: %v", entries)
	}
}
