package pki

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// LoadOrCreateCA returns the certificate authority kept in dir (ca.pem, ca-key.pem), creating
// it the first time: one CA per installation, with an OU of its own ("osccr-" and 8 random hex
// digits) that tells its certificates from any other installation's.
//
// Creation is atomic, so that two workers starting at once on one directory end up with the
// same CA: the CA is saved into a temporary directory beside dir, which is then renamed to dir.
// rename(2) refuses to replace a directory that has files, so the loser of a race finds the
// winner's CA and uses it. dir ends up 0755 (the certificate is public), the key 0600.
func LoadOrCreateCA(dir string) (*CA, error) {
	ca, err := LoadCA(dir)
	if err == nil {
		return ca, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("installation CA in %s: %w", dir, err)
	}
	unit, err := newUnit()
	if err != nil {
		return nil, err
	}
	ca, err = NewCA("osccr installation CA "+unit, unit)
	if err != nil {
		return nil, err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("create the parent of the CA directory %s: %w", dir, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+"-new-*")
	if err != nil {
		return nil, fmt.Errorf("create the CA: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := ca.Save(tmp); err != nil {
		return nil, err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("create the CA: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another process created the CA first: its CA is the installation's.
		if theirs, loadErr := LoadCA(dir); loadErr == nil {
			return theirs, nil
		}
		return nil, fmt.Errorf("create the CA in %s: %w", dir, err)
	}
	return ca, nil
}

// Unit is the OU of the certificates this CA issues (the installation's name in every DN).
func (ca *CA) Unit() string {
	if len(ca.Cert.Subject.OrganizationalUnit) == 0 {
		return ""
	}
	return ca.Cert.Subject.OrganizationalUnit[0]
}

func newUnit() (string, error) {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("name the installation: %w", err)
	}
	return "osccr-" + hex.EncodeToString(b), nil
}
