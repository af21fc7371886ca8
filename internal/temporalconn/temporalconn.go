// Package temporalconn is the one place where an osccr process (osccr-worker, the osccr CLI,
// osccr serve) turns its command line into Temporal client options: the frontend address, the
// namespace, TLS (CA, client certificate and key, server name), an API key, and the identity
// the process presents to Temporal, which Temporal records on every command it starts.
//
// Credentials are given by reference, a file path or the name of an environment variable, so
// no secret appears in a process's arguments or in a log line. The client certificate and key
// are read again at each handshake and the API key at each call, so rotating them takes effect
// without a restart.
//
// It depends on the Temporal SDK only: the CLI must not link the Temporal server.
package temporalconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"sync"

	"go.temporal.io/sdk/client"
)

// Options says how to reach Temporal and who to say we are.
type Options struct {
	// Address is the frontend's host:port.
	Address string
	// Namespace every call names.
	Namespace string
	// TLS turns TLS on with the system's CA certificates even when none of the files below is
	// given (a Temporal behind a publicly trusted certificate).
	TLS bool
	// CAFile holds the PEM certificates that may sign the frontend's certificate; "" trusts
	// the system's.
	CAFile string
	// CertFile and KeyFile are this client's certificate and key (mutual TLS).
	CertFile, KeyFile string
	// ServerName is the name the frontend's certificate must carry; "" means the host of
	// Address.
	ServerName string
	// APIKeyFile is a file holding the API key; APIKeyEnv the name of an environment variable
	// holding it. At most one of them. An API key turns TLS on.
	APIKeyFile, APIKeyEnv string
	// Identity is what Temporal records as the client of every request (audit records name
	// it); "" lets the SDK choose (pid@host).
	Identity string
}

// Identity is the identity of an osccr program on this host: "<program>@<host>:<user>" (the
// worker passes its machine name as host). Temporal writes it into the history of every
// workflow the program starts, signals or updates.
func Identity(program, host string) string {
	if host == "" {
		host, _ = os.Hostname()
	}
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	return fmt.Sprintf("%s@%s:%s", program, host, name)
}

// Validate checks the options without dialing: every named file is readable and parses, a
// certificate comes with its key, an API key is found where it is said to be. Each refusal
// names the flag to fix.
func (o Options) Validate() error {
	if o.Address == "" {
		return errors.New("--temporal-address is empty")
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return errors.New("--temporal-tls-cert and --temporal-tls-key go together: give both or neither")
	}
	if o.CertFile != "" {
		if _, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile); err != nil {
			return fmt.Errorf("--temporal-tls-cert/--temporal-tls-key: %w", err)
		}
	}
	if o.CAFile != "" {
		if _, err := loadPool(o.CAFile); err != nil {
			return err
		}
	}
	if o.APIKeyFile != "" && o.APIKeyEnv != "" {
		return errors.New("give the API key by --temporal-api-key-file or --temporal-api-key-env, not both")
	}
	if o.APIKeyFile != "" || o.APIKeyEnv != "" {
		if _, err := o.apiKey(); err != nil {
			return err
		}
	}
	return nil
}

// ClientOptions returns the SDK options for these settings (Logger and the rest are the
// caller's). It validates first.
func (o Options) ClientOptions() (client.Options, error) {
	if err := o.Validate(); err != nil {
		return client.Options{}, fmt.Errorf("temporal connection: %w", err)
	}
	opts := client.Options{HostPort: o.Address, Namespace: o.Namespace, Identity: o.Identity}
	if o.TLS || o.CAFile != "" || o.CertFile != "" || o.ServerName != "" {
		cfg, err := o.tlsConfig()
		if err != nil {
			return client.Options{}, fmt.Errorf("temporal connection: %w", err)
		}
		opts.ConnectionOptions.TLS = cfg
	}
	if o.APIKeyFile != "" || o.APIKeyEnv != "" {
		// Read at each call, so a rotated key is used at once; the SDK turns TLS on.
		var last string
		var mu sync.Mutex
		opts.Credentials = client.NewAPIKeyDynamicCredentials(func(context.Context) (string, error) {
			key, err := o.apiKey()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if last != "" {
					return last, nil // a key file being rewritten: keep the one that worked
				}
				return "", err
			}
			last = key
			return key, nil
		})
	}
	return opts, nil
}

func (o Options) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.ServerName}
	if o.CAFile != "" {
		pool, err := loadPool(o.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if o.CertFile != "" {
		certFile, keyFile := o.CertFile, o.KeyFile
		var mu sync.Mutex
		var last *tls.Certificate
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			mu.Lock()
			defer mu.Unlock()
			pair, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				if last != nil {
					return last, nil // files being replaced: the pair that worked
				}
				return nil, fmt.Errorf("client certificate %s: %w", certFile, err)
			}
			last = &pair
			return &pair, nil
		}
	}
	return cfg, nil
}

// apiKey reads the key from the file or the environment variable. The error names where it
// looked, never the key.
func (o Options) apiKey() (string, error) {
	if o.APIKeyFile != "" {
		raw, err := os.ReadFile(o.APIKeyFile)
		if err != nil {
			return "", fmt.Errorf("--temporal-api-key-file: %w", err)
		}
		key := strings.TrimSpace(string(raw))
		if key == "" {
			return "", fmt.Errorf("--temporal-api-key-file %s is empty", o.APIKeyFile)
		}
		return key, nil
	}
	key := strings.TrimSpace(os.Getenv(o.APIKeyEnv))
	if key == "" {
		return "", fmt.Errorf("--temporal-api-key-env: the environment variable %s is not set or empty", o.APIKeyEnv)
	}
	return key, nil
}

func loadPool(path string) (*x509.CertPool, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--temporal-tls-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(raw) {
		return nil, fmt.Errorf("--temporal-tls-ca %s holds no PEM certificate", path)
	}
	return pool, nil
}
