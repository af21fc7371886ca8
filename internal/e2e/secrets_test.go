package e2e

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// secretForms are the ways a secret can sit in a file: as is, base64-encoded (Temporal
// payloads are JSON, often base64 in the database), and JSON-escaped.
func secretForms(secret string) map[string]string {
	escaped, _ := json.Marshal(secret)
	return map[string]string{
		"plain":        secret,
		"base64":       base64.StdEncoding.EncodeToString([]byte(secret)),
		"json-escaped": strings.Trim(string(escaped), `"`),
	}
}

// leaks lists the forms in which secret appears in raw.
func leaks(raw []byte, secret string) []string {
	var found []string
	for form, s := range secretForms(secret) {
		if len(s) >= 8 && strings.Contains(string(raw), s) {
			found = append(found, form)
		}
	}
	return found
}

// scanForSecrets reads every file under roots (but those skip says are where the secret is
// meant to be: a password file, a node's own key) and fails the test for each secret found,
// in any of its forms. It returns how many files and bytes it read.
func scanForSecrets(t *testing.T, roots []string, skip func(path string) bool, secrets map[string]string, extra map[string][]byte) (files int, bytes int64) {
	t.Helper()
	check := func(where string, raw []byte) {
		files++
		bytes += int64(len(raw))
		for name, secret := range secrets {
			for _, form := range leaks(raw, secret) {
				t.Errorf("secret %s found (%s) in %s", name, form, where)
			}
		}
	}
	for _, root := range roots {
		// The nodes are still running: a segment merged away between the listing and the read
		// is gone (and holds nothing any more), so a file that vanished is passed over.
		err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil || e.IsDir() || !e.Type().IsRegular() || skip(path) {
				return err
			}
			raw, err := os.ReadFile(path)
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			check(path, raw)
			return nil
		})
		if err != nil {
			t.Errorf("scan %s: %v", root, err)
		}
	}
	for where, raw := range extra {
		check(where, raw)
	}
	return files, bytes
}

// keyBody is the base64 body of a PEM private key on one line: what would leak of it.
func keyBody(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var body strings.Builder
	for _, line := range strings.Split(string(raw), "\n") {
		if line != "" && !strings.HasPrefix(line, "-----") {
			body.WriteString(line)
		}
	}
	// Any 40 characters of it would be a leak; the first 40 of the key material stand for it.
	s := body.String()
	if len(s) > 60 {
		s = s[20:60]
	}
	return s
}
