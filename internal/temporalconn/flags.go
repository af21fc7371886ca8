package temporalconn

import "github.com/urfave/cli/v2"

// Flags are the connection flags osccr-worker and osccr share (beside --temporal-address and
// --namespace, which each program declares with its own default and help). Each has an
// environment variable; none takes a secret itself.
func Flags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "temporal-tls", EnvVars: []string{"OSCCR_TEMPORAL_TLS"},
			Usage: "connect to Temporal over TLS (implied by any other --temporal-tls-* flag or an API key)"},
		&cli.StringFlag{Name: "temporal-tls-ca", EnvVars: []string{"OSCCR_TEMPORAL_TLS_CA"},
			Usage: "PEM file of the CA that signs the Temporal frontend's certificate (default: the system's CAs)"},
		&cli.StringFlag{Name: "temporal-tls-cert", EnvVars: []string{"OSCCR_TEMPORAL_TLS_CERT"},
			Usage: "PEM file of this client's certificate, for a Temporal that requires client certificates (mTLS)"},
		&cli.StringFlag{Name: "temporal-tls-key", EnvVars: []string{"OSCCR_TEMPORAL_TLS_KEY"},
			Usage: "PEM file of the key of --temporal-tls-cert"},
		&cli.StringFlag{Name: "temporal-tls-server-name", EnvVars: []string{"OSCCR_TEMPORAL_TLS_SERVER_NAME"},
			Usage: "name the frontend's certificate must carry (default: the host of --temporal-address)"},
		&cli.StringFlag{Name: "temporal-api-key-file", EnvVars: []string{"OSCCR_TEMPORAL_API_KEY_FILE"},
			Usage: "file holding the Temporal API key (sent as a bearer token over TLS)"},
		&cli.StringFlag{Name: "temporal-api-key-env", EnvVars: []string{"OSCCR_TEMPORAL_API_KEY_ENV"},
			Usage: "NAME of the environment variable holding the Temporal API key (e.g. TEMPORAL_API_KEY)"},
	}
}

// FromFlags reads Flags, --temporal-address and --namespace from c; identity is the caller's.
func FromFlags(c *cli.Context, identity string) Options {
	return Options{
		Address:    c.String("temporal-address"),
		Namespace:  c.String("namespace"),
		TLS:        c.Bool("temporal-tls"),
		CAFile:     c.String("temporal-tls-ca"),
		CertFile:   c.String("temporal-tls-cert"),
		KeyFile:    c.String("temporal-tls-key"),
		ServerName: c.String("temporal-tls-server-name"),
		APIKeyFile: c.String("temporal-api-key-file"),
		APIKeyEnv:  c.String("temporal-api-key-env"),
		Identity:   identity,
	}
}
