package console_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/osccr/osccr/activities"
	"github.com/osccr/osccr/internal/console"
	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/internal/opensearch"
	"github.com/osccr/osccr/internal/testcluster"
	"github.com/osccr/osccr/internal/testcontrol"
	"github.com/osccr/osccr/workflows"
)

// screenshotsEnv names the folder TestConsoleInBrowser writes a screenshot of each page into
// (`make screenshots` sets it to docs/console); unset, the test writes nothing.
const screenshotsEnv = "OSCCR_CONSOLE_SCREENSHOTS"

// TestConsoleInBrowser clicks through the seeds' flow in a real headless Chromium, against a
// real control plane and real local services: sign in (a wrong token first), create a leader
// through the form, see it Running with its endpoints; ask for a follower named like the
// leader and see the application layer's refusal inline; create the follower, watch it reach
// Running with the Follower chip and its replicated index; see the Leader chip and the
// follower in the leader's "Cross cluster replication" section and on the services page; a
// hobbyist service's "Create follower" says why it cannot have one; pause and resume the
// follower; promote the follower
// through the confirmation and see it standalone; delete it through the name confirmation.
func TestConsoleInBrowser(t *testing.T) {
	testcluster.RequireCCR(t, testcluster.Distribution(t))
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("the console test drives Debian's chromium (apt-get install chromium; .ci/run installs it): %v", err)
	}
	base := testcluster.Dir(t)
	plane := testcontrol.Start(t, base)
	ctl := plane.Control
	web, err := console.New(ctl, console.Config{Token: "s3cret-token", TemporalUIURL: "http://127.0.0.1:8233", Poll: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(web)
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.WindowSize(1280, 900), chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium's sandbox refuses to run as root
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	tab, cancelTab := chromedp.NewContext(allocCtx)
	defer cancelTab()
	b := &browser{t: t, ctx: tab, base: srv.URL, shots: os.Getenv(screenshotsEnv)}
	b.do(chromedp.EmulateViewport(1280, 900))

	// Sign in: every page asks for it; a wrong token is refused inline.
	b.do(chromedp.Navigate(srv.URL + "/"))
	b.waitTrue(`location.pathname === "/signin"`, 10*time.Second)
	b.shot("signin")
	b.do(chromedp.SendKeys("#token", "not-the-token"), chromedp.Click(`button[type=submit]`))
	b.waitText("#error", "not an API token of this control plane", 10*time.Second)
	b.do(chromedp.SendKeys("#token", "s3cret-token"), chromedp.Click(`button[type=submit]`))
	b.waitTrue(`location.pathname === "/" && document.querySelector("h1").textContent === "Services"`, 10*time.Second)

	// A leader, through "Create service".
	b.do(chromedp.Click(`a[href="/create-service"]`))
	b.waitTrue(`location.pathname === "/create-service"`, 10*time.Second)
	b.do(chromedp.SendKeys("#name", "ldr"))
	b.shot("create-service")
	b.do(chromedp.Click(`button[type=submit].primary`))
	b.waitTrue(`location.pathname === "/services/ldr"`, 10*time.Second)
	t.Cleanup(func() { deleteAndWait(t, ctl, "ldr") })
	b.waitState("RUNNING", 4*time.Minute)
	b.waitText("#summary", "https://127.0.0.1:", 10*time.Second) // secured, the default

	// An index on the leader, so the follower has something to rebuild.
	leader, err := ctl.GetService(ctx, "ldr")
	if err != nil {
		t.Fatal(err)
	}
	lc, err := activities.NewClient(leader.ClusterRef())
	if err != nil {
		t.Fatal(err)
	}
	if err := lc.CreateIndex(ctx, "orders", map[string]any{"settings": map[string]any{"number_of_shards": 1, "number_of_replicas": 0}}); err != nil {
		t.Fatal(err)
	}
	docs := map[string]any{}
	for i := range 200 {
		docs[fmt.Sprintf("order-%04d", i)] = map[string]any{"n": i}
	}
	if err := lc.Bulk(ctx, "orders", opensearch.DocsFromMap(docs), opensearch.WithRefresh()); err != nil {
		t.Fatal(err)
	}

	// "Create follower" from the leader's Overview: the plan is preset to the leader's; a
	// refusal is the application layer's, shown inline with what was typed.
	b.waitVisible("#create-follower", 10*time.Second)
	b.shot("service-overview")
	b.do(chromedp.Click("#create-follower"))
	b.waitTrue(`location.pathname === "/services/ldr/follower/new" && document.querySelector("#plan").value === "business-4"`, 10*time.Second)
	b.do(chromedp.Clear("#name"), chromedp.SendKeys("#name", "ldr"), chromedp.Click(`button[type=submit].primary`))
	b.waitText("#error", "would be the leader itself", 10*time.Second)
	b.do(chromedp.Clear("#name"), chromedp.SendKeys("#name", "fol"), chromedp.Clear("#region"), chromedp.SendKeys("#region", "eu-local"))
	b.shot("create-follower")
	b.do(chromedp.Click(`button[type=submit].primary`))
	b.waitTrue(`location.pathname === "/services/fol"`, 10*time.Second)
	t.Cleanup(func() { deleteAndWait(t, ctl, "fol") })
	b.waitVisible(".pagehead .chip-follower", 10*time.Second)
	// Live: the page is never reloaded while the follower provisions, rebuilds and runs.
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](`window.osccrNoReload = true`)); err != nil {
		t.Fatal(err)
	}
	b.waitState("RUNNING", 5*time.Minute)
	b.waitTrue(`window.osccrNoReload === true`, time.Second)
	b.waitTrue(`document.querySelector("#rebuild-progress") && document.querySelector("#rebuild-progress").value === 1 && document.querySelector("#rebuild-progress").max === 1`, 10*time.Second)
	b.waitText("#indexes", "orders", 30*time.Second)
	b.waitText("#replica", "ldr", time.Second)
	b.shot("follower-overview")
	// Pause and resume: the operator's pause, and its lift, seen live.
	b.do(chromedp.Click(`form[action="/services/fol/pause"] button`))
	b.waitText(".flash", "is pausing", 10*time.Second)
	b.waitState("PAUSED", time.Minute)
	b.waitText("#indexes", "Paused by operator", 30*time.Second)
	b.do(chromedp.Click(`form[action="/services/fol/resume"] button`))
	b.waitText(".flash", "is resuming", 10*time.Second)
	b.waitState("RUNNING", 2*time.Minute)
	b.do(chromedp.EmulateViewport(390, 844))
	b.do(chromedp.Navigate(srv.URL + "/services/fol"))
	b.waitText("#indexes", "orders", 30*time.Second)
	b.shot("follower-overview-phone")
	b.do(chromedp.EmulateViewport(1280, 900))

	// The leader: the Leader chip under its name, the follower in its section.
	b.do(chromedp.Navigate(srv.URL + "/services/ldr"))
	b.waitVisible(".pagehead .chip-leader", 10*time.Second)
	b.waitTrue(`(() => { const r = document.querySelector('#followers tr[data-service="fol"]'); return r && r.querySelector('[data-state="RUNNING"]') && r.textContent.includes("eu-local") })()`, 10*time.Second)
	b.shot("leader-overview")

	// A hobbyist service cannot have a follower, and the form says why.
	// A registered cluster's password file lies in the worker's trusted directory
	// (<state-dir>/secrets, 0600): osccr refuses a local service's generated file by name.
	hobAuth := leader.ClusterRef().ClusterAuth
	password, err := os.ReadFile(hobAuth.PasswordFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(base, "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	hobAuth.PasswordFile = filepath.Join(base, "secrets", "hob.password")
	if err := os.WriteFile(hobAuth.PasswordFile, password, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ctl.RegisterService(ctx, control.RegisterServiceRequest{Name: "hob", URL: leader.Endpoints.HTTPURL, TransportAddress: leader.Endpoints.TransportAddress, Plan: "hobbyist", Auth: hobAuth}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteAndWait(t, ctl, "hob") })
	if _, err := ctl.WaitService(ctx, "hob", nil); err != nil {
		t.Fatal(err)
	}
	b.do(chromedp.Navigate(srv.URL + "/services/hob/follower/new"))
	b.waitText("#cannot-lead", "hobbyist", 10*time.Second)
	b.waitTrue(`document.querySelector("form button.primary") === null`, time.Second)
	b.shot("create-follower-hobbyist")

	// The services page: both chips, under the names.
	b.do(chromedp.Navigate(srv.URL + "/"))
	b.waitTrue(`document.querySelector('tr[data-service="ldr"] .chip-leader') && document.querySelector('tr[data-service="fol"] .chip-follower') && document.querySelector('tr[data-service="hob"]')`, 10*time.Second)
	b.shot("services")
	b.do(chromedp.EmulateViewport(390, 844))
	b.do(chromedp.Navigate(srv.URL + "/"))
	b.waitVisible(`tr[data-service="fol"]`, 10*time.Second)
	b.shot("services-phone")
	b.do(chromedp.EmulateViewport(1280, 900))

	// "Promote to standalone", confirmed.
	b.do(chromedp.Navigate(srv.URL + "/services/fol"))
	b.waitVisible("#promote", 10*time.Second)
	b.do(chromedp.Click("#promote"))
	b.waitText("main", "This cannot be undone", 10*time.Second)
	b.waitText("main", "orders", 10*time.Second)
	b.shot("promote-confirm")
	b.do(chromedp.Click("#confirm-promote"))
	b.waitTrue(`location.pathname === "/services/fol" && document.querySelector(".flash") !== null`, 3*time.Minute)
	b.waitText(".flash", "is now a standalone service", time.Second)
	b.waitState("RUNNING", 30*time.Second)
	b.waitTrue(`document.querySelector(".chip-follower") === null && document.querySelector("#promote") === null && document.querySelector("#summary").textContent.includes("Standalone")`, 10*time.Second)
	b.shot("promoted")
	fol, err := ctl.GetService(ctx, "fol")
	if err != nil || fol.Role != workflows.RoleStandalone || fol.Promotion == nil || fol.Promotion.FormerLeader != "ldr" {
		t.Fatalf("after promotion in the console: %+v (%v), want a standalone service promoted from ldr", fol, err)
	}

	// "Delete service" asks for the name.
	b.do(chromedp.Navigate(srv.URL + "/services/fol/delete"))
	b.do(chromedp.SendKeys("#confirm", "ldr"), chromedp.Click(`button[type=submit].danger`))
	b.waitText("#error", "Type the service's name, fol, to confirm", 10*time.Second)
	b.shot("delete-confirm")
	b.do(chromedp.Clear("#confirm"), chromedp.SendKeys("#confirm", "fol"), chromedp.Click(`button[type=submit].danger`))
	b.waitTrue(`location.pathname === "/" && document.querySelector(".flash").textContent.includes("fol is being deleted")`, time.Minute)
	if err := ctl.WaitServiceGone(ctx, "fol"); err != nil {
		t.Fatal(err)
	}
}

// browser drives one tab; every wait is a condition polled in the page, with a deadline.
type browser struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots string
}

func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v (at %s)", err, b.location())
	}
}

func (b *browser) location() string {
	loc, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`location.pathname + " — " + (document.querySelector("main") ? document.querySelector("main").innerText.slice(0, 600) : "")`))
	return loc
}

// waitTrue waits until the JavaScript expression is truthy in the page. It asks again after
// an error: a page that navigates (a form posted) destroys the context it was asked in.
func (b *browser) waitTrue(expr string, limit time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(limit)
	var last error
	for {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		if err == nil && ok {
			return
		}
		last = err
		if time.Now().After(deadline) {
			b.t.Fatalf("not true after %s: %s (last error: %v); page: %s", limit, expr, last, b.location())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (b *browser) waitText(sel, text string, limit time.Duration) {
	b.t.Helper()
	b.waitTrue(fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e !== null && e.textContent.includes(%q) })()`, sel, text), limit)
}

func (b *browser) waitVisible(sel string, limit time.Duration) {
	b.t.Helper()
	b.waitTrue(fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e !== null && e.offsetParent !== null })()`, sel), limit)
}

// waitState waits until the service Overview's state chip shows state (the page updates it live).
func (b *browser) waitState(state string, limit time.Duration) {
	b.t.Helper()
	b.waitTrue(fmt.Sprintf(`(() => { const e = document.querySelector("#summary [data-state]"); return e !== null && e.dataset.state === %q })()`, state), limit)
}

// shot writes a PNG of the whole page when screenshots were asked for.
func (b *browser) shot(name string) {
	b.t.Helper()
	if b.shots == "" {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(b.shots, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func deleteAndWait(t *testing.T, ctl *control.Control, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := ctl.DeleteService(ctx, name); err != nil {
		if errors.Is(err, control.ErrNotFound) {
			return
		}
		if !errors.Is(err, control.ErrConflict) {
			t.Errorf("clean up service %s: %v", name, err)
		}
	}
	if err := ctl.WaitServiceGone(ctx, name); err != nil && !errors.Is(err, control.ErrNotFound) {
		t.Errorf("clean up service %s: %v", name, err)
	}
}
