package temporalconn

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osccr/osccr/internal/testtemporal"
)

// TestValidate: each bad reference is refused before any connection, naming the flag to fix
// and never the secret.
func TestValidate(t *testing.T) {
	dir := t.TempDir()
	certs := testtemporal.NewCerts(t, dir)
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := write("key", "s3cret-key\n")
	empty := write("empty", "\n")
	notPEM := write("not-pem", "hello")
	t.Setenv("OSCCR_TEST_KEY", "s3cret-env")
	t.Setenv("OSCCR_TEST_EMPTY", "")

	base := Options{Address: "127.0.0.1:7233", Namespace: "default"}
	with := func(f func(*Options)) Options { o := base; f(&o); return o }
	cases := []struct {
		name string
		o    Options
		want string // "" = valid
	}{
		{"plain", base, ""},
		{"mtls", with(func(o *Options) { o.CAFile, o.CertFile, o.KeyFile = certs.CA, certs.ClientCert, certs.ClientKey }), ""},
		{"api key file", with(func(o *Options) { o.APIKeyFile = key }), ""},
		{"api key env", with(func(o *Options) { o.APIKeyEnv = "OSCCR_TEST_KEY" }), ""},
		{"no address", with(func(o *Options) { o.Address = "" }), "--temporal-address"},
		{"cert without key", with(func(o *Options) { o.CertFile = certs.ClientCert }), "go together"},
		{"key of another cert", with(func(o *Options) { o.CertFile, o.KeyFile = certs.ClientCert, certs.ServerKey }), "--temporal-tls-cert"},
		{"missing CA", with(func(o *Options) { o.CAFile = filepath.Join(dir, "nope.pem") }), "--temporal-tls-ca"},
		{"CA not PEM", with(func(o *Options) { o.CAFile = notPEM }), "no PEM certificate"},
		{"empty key file", with(func(o *Options) { o.APIKeyFile = empty }), "is empty"},
		{"missing key file", with(func(o *Options) { o.APIKeyFile = filepath.Join(dir, "nope") }), "--temporal-api-key-file"},
		{"unset key variable", with(func(o *Options) { o.APIKeyEnv = "OSCCR_TEST_EMPTY" }), "OSCCR_TEST_EMPTY is not set"},
		{"both key sources", with(func(o *Options) { o.APIKeyFile, o.APIKeyEnv = key, "OSCCR_TEST_KEY" }), "not both"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts, err := c.o.ClientOptions()
			if c.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if opts.HostPort != c.o.Address || opts.Namespace != c.o.Namespace {
					t.Errorf("options %s/%s, want %s/%s", opts.HostPort, opts.Namespace, c.o.Address, c.o.Namespace)
				}
				if tlsWanted := c.o.CAFile != ""; tlsWanted != (opts.ConnectionOptions.TLS != nil) {
					t.Errorf("TLS config %v, want TLS %v", opts.ConnectionOptions.TLS != nil, tlsWanted)
				}
				if keyed := c.o.APIKeyFile != "" || c.o.APIKeyEnv != ""; keyed != (opts.Credentials != nil) {
					t.Errorf("credentials %v, want %v", opts.Credentials != nil, keyed)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one mentioning %q", err, c.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}

func TestIdentity(t *testing.T) {
	got := Identity("osccr", "host-1")
	if !strings.HasPrefix(got, "osccr@host-1:") || len(got) <= len("osccr@host-1:") {
		t.Errorf("Identity = %q, want osccr@host-1:USER", got)
	}
}
