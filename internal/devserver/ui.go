package devserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	"github.com/temporalio/ui-server/v2/server/server_options"
)

// webUI is the Temporal Web UI served from this process.
type webUI struct {
	srv  *uiserver.Server
	done chan error // receives what Start returned
	url  string
}

// startWebUI serves the Web UI on host:port, talking to the frontend at grpcAddr, and returns
// once it answers HTTP. The port must have been checked free: on a listen error the UI server
// exits the process.
func startWebUI(ctx context.Context, host string, port int, grpcAddr, namespace string, sec *security) (ui *webUI, err error) {
	defer func() {
		// NewServer panics on a bad config instead of returning an error.
		if r := recover(); r != nil {
			err = fmt.Errorf("temporal web ui: %v", r)
		}
	}()
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	var tlsCfg uiconfig.TLS
	if sec != nil {
		// The frontend may require a client certificate: the UI presents the internal one.
		// The UI server verifies no name here (EnableHostVerification false): it dials this
		// process's own frontend on loopback.
		tlsCfg.CertData, tlsCfg.KeyData = sec.uiTLS()
		tlsCfg.ServerName = "localhost"
	}
	srv := uiserver.NewServer(server_options.WithConfigProvider(&uiconfig.Config{
		TLS:                 tlsCfg,
		Host:                host,
		Port:                port,
		TemporalGRPCAddress: grpcAddr,
		EnableUI:            true,
		DefaultNamespace:    namespace,
		// Plain http on loopback: the CSRF cookie must not require https.
		CORS:     uiconfig.CORS{CookieInsecure: true},
		HideLogs: true,
	}))
	ui = &webUI{srv: srv, done: make(chan error, 1), url: "http://" + addr}
	go func() { ui.done <- srv.Start() }()

	if err := waitHTTP(ctx, ui.url+"/healthz", ui.done); err != nil {
		srv.Stop()
		return nil, fmt.Errorf("temporal web ui on %s: %w", addr, err)
	}
	return ui, nil
}

// waitHTTP polls url until it answers, the server goroutine ends, or ctx is done.
func waitHTTP(ctx context.Context, url string, done <-chan error) error {
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			_ = resp.Body.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not answering: %w", ctx.Err())
		case err := <-done:
			if err == nil {
				err = errors.New("server stopped")
			}
			return err
		case <-tick.C:
		}
	}
}

func (u *webUI) stop() {
	u.srv.Stop()
	<-u.done
}
