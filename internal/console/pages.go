package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/internal/plan"
	"github.com/osccr/osccr/workflows"
)

// readTimeout bounds the reads a page makes; actionTimeout what an action may take (a
// promotion waits for its report, at most 3 minutes).
const (
	readTimeout   = 15 * time.Second
	actionTimeout = 4 * time.Minute
)

// serviceRow is a service in a list: the services page, a leader's followers.
type serviceRow struct {
	Name, Plan, Cloud, Region, Role, State, Leader string
}

func rowOf(st workflows.ServiceState) serviceRow {
	return serviceRow{Name: st.Name, Plan: st.Plan, Cloud: st.Cloud, Region: st.Region, Role: st.Role, State: st.State, Leader: st.Leader}
}

// servicesData is the services page.
type servicesData struct {
	Services []serviceRow
}

func (c *Console) services(r *http.Request) (servicesData, error) {
	ctx, cancel := requestContext(r, readTimeout)
	defer cancel()
	list, err := c.ctl.ListServices(ctx, "")
	if err != nil {
		return servicesData{}, err
	}
	out := servicesData{Services: make([]serviceRow, 0, len(list))}
	for _, s := range list {
		row := serviceRow{Name: s.Name, Plan: s.Plan, Role: s.Role, State: s.State, Leader: s.Leader}
		// The listing (a visibility query) has no cloud or region; the service's own state
		// has them, and is fresher.
		if st, err := c.ctl.GetService(ctx, s.Name); err == nil {
			row = rowOf(st)
		}
		out.Services = append(out.Services, row)
	}
	return out, nil
}

func (c *Console) servicesPage(w http.ResponseWriter, r *http.Request, sess *session) {
	data, err := c.services(r)
	v := view{Live: "/live", Data: data}
	if err != nil {
		v.Error = message(err)
	}
	c.render(w, r, http.StatusOK, "services.html", c.view(sess, "Services", v))
}

// liveAnswer is what a page polls: the regions to redraw, by element ID.
type liveAnswer struct {
	Role  string            `json:"role,omitempty"`
	State string            `json:"state,omitempty"`
	HTML  map[string]string `json:"html"`
}

func (c *Console) writeLive(w http.ResponseWriter, status int, a liveAnswer) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(a)
}

func (c *Console) servicesLive(w http.ResponseWriter, r *http.Request, _ *session) {
	data, err := c.services(r)
	if err != nil {
		c.writeLive(w, status(err), liveAnswer{})
		return
	}
	html, err := c.fragment("services.html", "services-table", data)
	if err != nil {
		c.writeLive(w, http.StatusInternalServerError, liveAnswer{})
		return
	}
	c.writeLive(w, http.StatusOK, liveAnswer{HTML: map[string]string{"services-table": html}})
}

// serviceForm is the "Create service" form and what was typed into it.
type serviceForm struct {
	Name, Plan, Cloud, Region, DiskGB string
	Plans                             []plan.Plan
}

func (c *Console) newServicePage(w http.ResponseWriter, r *http.Request, sess *session) {
	c.render(w, r, http.StatusOK, "service_new.html", c.view(sess, "Create service",
		view{Data: serviceForm{Plan: "business-4", Cloud: "local", Region: "local", DiskGB: "0", Plans: control.Plans()}}))
}

func (c *Console) createService(w http.ResponseWriter, r *http.Request, sess *session) {
	form := serviceForm{Name: strings.TrimSpace(r.PostFormValue("name")), Plan: r.PostFormValue("plan"), Cloud: strings.TrimSpace(r.PostFormValue("cloud")),
		Region: strings.TrimSpace(r.PostFormValue("region")), DiskGB: strings.TrimSpace(r.PostFormValue("disk_gb")), Plans: control.Plans()}
	disk, err := diskGB(form.DiskGB)
	if err == nil {
		ctx, cancel := requestContext(r, readTimeout)
		defer cancel()
		err = c.ctl.CreateService(ctx, control.CreateServiceRequest{Name: form.Name, Plan: form.Plan, Cloud: form.Cloud, Region: form.Region, ExtraDiskGB: disk})
	}
	if err != nil {
		refused(r, err)
		c.render(w, r, status(err), "service_new.html", c.view(sess, "Create service", view{Error: message(err), Data: form}))
		return
	}
	c.sessions.setFlash(sess, flash{Text: fmt.Sprintf("Service %s is being created.", form.Name)})
	http.Redirect(w, r, "/services/"+url.PathEscape(form.Name), http.StatusSeeOther)
}

// diskGB reads the additional disk field: empty is none.
func diskGB(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%w: additional disk %q is not a whole number of GB", errBadForm, s)
	}
	return n, nil
}

// overviewData is a service's Overview page.
type overviewData struct {
	S workflows.ServiceState
	// Followers are a leader's (or a standalone service's: none) followers.
	Followers []serviceRow
	// CannotLead says why this service cannot get a follower now ("" if it can).
	CannotLead string
	// Status is a follower's live replication status (per index) when it was asked for.
	Status    *control.FollowerStatus
	StatusErr string
	// WorkflowURL links the service's workflow in the Temporal Web UI ("" without one).
	WorkflowURL    string
	IntegrationURL string
	// Events are the newest of the service's timeline, newest first (the page only, not its
	// live regions).
	Events    []control.Event
	EventsErr string
}

func (d overviewData) IsFollower() bool { return d.S.Role == workflows.RoleFollower }

func (c *Console) overview(r *http.Request, withIndexes bool) (overviewData, error) {
	ctx, cancel := requestContext(r, readTimeout)
	defer cancel()
	name := r.PathValue("name")
	st, err := c.ctl.GetService(ctx, name)
	if err != nil {
		return overviewData{}, err
	}
	d := overviewData{S: st, WorkflowURL: c.workflowURL(workflows.ServiceWorkflowID(name))}
	if st.Role == workflows.RoleFollower {
		d.IntegrationURL = c.workflowURL(workflows.IntegrationWorkflowID(st.Leader, st.Name))
		if withIndexes {
			status, err := c.ctl.FollowerStatus(ctx, name)
			if err != nil {
				d.StatusErr = message(err)
			} else {
				d.Status = &status
			}
		}
		return d, nil
	}
	for _, f := range st.Followers {
		row := serviceRow{Name: f, Role: workflows.RoleFollower, Leader: name}
		if fs, err := c.ctl.GetService(ctx, f); err == nil {
			row = rowOf(fs)
		}
		d.Followers = append(d.Followers, row)
	}
	if _, err := c.ctl.OfferFollower(ctx, name); err != nil {
		d.CannotLead = message(err)
	}
	return d, nil
}

func (c *Console) workflowURL(id string) string {
	if c.cfg.TemporalUIURL == "" {
		return ""
	}
	return fmt.Sprintf("%s/namespaces/%s/workflows/%s", c.cfg.TemporalUIURL, url.PathEscape(c.cfg.Namespace), url.PathEscape(id))
}

// pageEvents is how many of a service's newest events its page shows.
const pageEvents = 20

func (c *Console) overviewPage(w http.ResponseWriter, r *http.Request, sess *session) {
	d, err := c.overview(r, true)
	if err != nil {
		c.render(w, r, status(err), "error.html", c.view(sess, "Service", view{Error: message(err)}))
		return
	}
	ctx, cancel := requestContext(r, readTimeout)
	defer cancel()
	if events, err := c.ctl.ServiceEvents(ctx, d.S.Name, pageEvents); err != nil {
		d.EventsErr = message(err)
	} else {
		slices.Reverse(events)
		d.Events = events
	}
	c.render(w, r, http.StatusOK, "service.html", c.view(sess, d.S.Name,
		view{Live: "/services/" + url.PathEscape(d.S.Name) + "/live", Role: d.S.Role, Data: d}))
}

// overviewLive answers a page's poll: the summary and replication regions, and the per-index
// table when asked (?indexes=1: it asks the follower cluster, through the integration).
func (c *Console) overviewLive(w http.ResponseWriter, r *http.Request, _ *session) {
	withIndexes := r.URL.Query().Get("indexes") == "1"
	d, err := c.overview(r, withIndexes)
	if err != nil {
		c.writeLive(w, status(err), liveAnswer{})
		return
	}
	regions := []string{"summary", "replica", "followers"}
	if withIndexes {
		regions = append(regions, "indexes")
	}
	a := liveAnswer{Role: d.S.Role, State: d.S.State, HTML: map[string]string{}}
	for _, region := range regions {
		html, err := c.fragment("service.html", region, d)
		if err != nil {
			c.cfg.Logger.Error("console: live", "err", err)
			c.writeLive(w, http.StatusInternalServerError, liveAnswer{})
			return
		}
		a.HTML[region] = html
	}
	c.writeLive(w, http.StatusOK, a)
}

// followerForm is the "Create OpenSearch follower cluster" form.
type followerForm struct {
	Leader workflows.ServiceState
	// CannotLead says why the leader cannot have a follower ("" if it can).
	CannotLead string
	// LeaderPlan is the plan a follower must be created on.
	LeaderPlan                        plan.Plan
	Name, Plan, Cloud, Region, DiskGB string
	Plans                             []plan.Plan
}

func (c *Console) followerForm(r *http.Request) (followerForm, error) {
	ctx, cancel := requestContext(r, readTimeout)
	defer cancel()
	offer, err := c.ctl.OfferFollower(ctx, r.PathValue("name"))
	if errors.Is(err, control.ErrNotFound) || errors.Is(err, control.ErrUnreachable) {
		return followerForm{}, err
	}
	f := followerForm{Leader: offer.Leader, LeaderPlan: offer.Plan, Plan: offer.Plan.Name, Plans: control.Plans(),
		Cloud: offer.Leader.Cloud, Region: offer.Leader.Region, DiskGB: "0"}
	if err != nil {
		f.CannotLead = message(err)
	}
	return f, nil
}

func (c *Console) newFollowerPage(w http.ResponseWriter, r *http.Request, sess *session) {
	f, err := c.followerForm(r)
	if err != nil {
		refused(r, err)
		c.render(w, r, status(err), "error.html", c.view(sess, "Create follower", view{Error: message(err)}))
		return
	}
	f.Name = f.Leader.Name + "-replica"
	c.render(w, r, http.StatusOK, "follower_new.html", c.view(sess, "Create follower", view{Data: f}))
}

func (c *Console) createFollower(w http.ResponseWriter, r *http.Request, sess *session) {
	f, err := c.followerForm(r)
	if err != nil {
		refused(r, err)
		c.render(w, r, status(err), "error.html", c.view(sess, "Create follower", view{Error: message(err)}))
		return
	}
	f.Name, f.Plan = strings.TrimSpace(r.PostFormValue("name")), r.PostFormValue("plan")
	f.Cloud, f.Region, f.DiskGB = strings.TrimSpace(r.PostFormValue("cloud")), strings.TrimSpace(r.PostFormValue("region")), strings.TrimSpace(r.PostFormValue("disk_gb"))
	disk, err := diskGB(f.DiskGB)
	if err == nil {
		ctx, cancel := requestContext(r, readTimeout)
		defer cancel()
		err = c.ctl.CreateFollower(ctx, control.CreateFollowerRequest{Leader: f.Leader.Name, Name: f.Name, Plan: f.Plan, Cloud: f.Cloud, Region: f.Region, ExtraDiskGB: disk})
	}
	if err != nil {
		refused(r, err)
		c.render(w, r, status(err), "follower_new.html", c.view(sess, "Create follower", view{Error: message(err), Data: f}))
		return
	}
	c.sessions.setFlash(sess, flash{Text: fmt.Sprintf("Follower %s of %s is being created: it rebuilds from its leader, then runs.", f.Name, f.Leader.Name)})
	http.Redirect(w, r, "/services/"+url.PathEscape(f.Name), http.StatusSeeOther)
}

// promoteData is the promotion's confirmation page.
type promoteData struct {
	Name    string
	Preview control.PromotionPreview
	// Refused is set when the service cannot be promoted (no Confirm then).
	Refused bool
}

func (c *Console) promoteData(r *http.Request) promoteData {
	ctx, cancel := requestContext(r, readTimeout)
	defer cancel()
	d := promoteData{Name: r.PathValue("name")}
	p, err := c.ctl.PreviewPromotion(ctx, d.Name)
	d.Preview = p
	d.Refused = err != nil
	return d
}

func (c *Console) promotePage(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx, cancel := requestContext(r, readTimeout)
	defer cancel()
	name := r.PathValue("name")
	p, err := c.ctl.PreviewPromotion(ctx, name)
	d := promoteData{Name: name, Preview: p, Refused: err != nil}
	v := view{Data: d}
	code := http.StatusOK
	if err != nil {
		v.Error, code = message(err), status(err)
	}
	c.render(w, r, code, "promote.html", c.view(sess, "Promote "+name, v))
}

func (c *Console) promote(w http.ResponseWriter, r *http.Request, sess *session) {
	name := r.PathValue("name")
	ctx, cancel := requestContext(r, actionTimeout)
	defer cancel()
	report, err := c.ctl.Promote(ctx, name)
	if err != nil {
		refused(r, err)
		d := c.promoteData(r)
		c.render(w, r, status(err), "promote.html", c.view(sess, "Promote "+name, view{Error: message(err), Data: d}))
		return
	}
	text := fmt.Sprintf("%s is now a standalone service: replication from %s stopped on %s (%s) in %s.",
		name, report.FormerLeader, plural(report.IndexesStopped, "index", "indexes"), control.LossSummary(report), report.Duration.Round(100*time.Millisecond))
	if len(report.IndexesDeleted) > 0 {
		text += fmt.Sprintf(" Indexes still restoring were deleted: %s.", strings.Join(report.IndexesDeleted, ", "))
	}
	c.sessions.setFlash(sess, flash{Text: text})
	http.Redirect(w, r, "/services/"+url.PathEscape(name), http.StatusSeeOther)
}

func (c *Console) pause(w http.ResponseWriter, r *http.Request, sess *session) {
	name := r.PathValue("name")
	ctx, cancel := requestContext(r, readTimeout)
	defer cancel()
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if reason == "" {
		reason = "paused from the console"
	}
	c.act(w, r, sess, name, c.ctl.PauseFollower(ctx, name, reason), "Replication of "+name+" is pausing.")
}

func (c *Console) resume(w http.ResponseWriter, r *http.Request, sess *session) {
	name := r.PathValue("name")
	ctx, cancel := requestContext(r, readTimeout)
	defer cancel()
	c.act(w, r, sess, name, c.ctl.ResumeFollower(ctx, name), "Replication of "+name+" is resuming.")
}

// act shows an action's outcome on the service's Overview: what it did, or the refusal.
func (c *Console) act(w http.ResponseWriter, r *http.Request, sess *session, name string, err error, done string) {
	f := flash{Text: done}
	if err != nil {
		refused(r, err)
		f = flash{Text: message(err), Error: true}
	}
	c.sessions.setFlash(sess, f)
	http.Redirect(w, r, "/services/"+url.PathEscape(name), http.StatusSeeOther)
}

// deleteData is the deletion's confirmation page.
type deleteData struct {
	S       workflows.ServiceState
	Confirm string
}

func (c *Console) deletePage(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx, cancel := requestContext(r, readTimeout)
	defer cancel()
	st, err := c.ctl.GetService(ctx, r.PathValue("name"))
	if err != nil {
		c.render(w, r, status(err), "error.html", c.view(sess, "Delete service", view{Error: message(err)}))
		return
	}
	c.render(w, r, http.StatusOK, "delete.html", c.view(sess, "Delete "+st.Name, view{Data: deleteData{S: st}}))
}

func (c *Console) deleteService(w http.ResponseWriter, r *http.Request, sess *session) {
	name := r.PathValue("name")
	ctx, cancel := requestContext(r, actionTimeout)
	defer cancel()
	st, err := c.ctl.GetService(ctx, name)
	if err != nil {
		refused(r, err)
		c.render(w, r, status(err), "error.html", c.view(sess, "Delete service", view{Error: message(err)}))
		return
	}
	d := deleteData{S: st, Confirm: strings.TrimSpace(r.PostFormValue("confirm"))}
	if d.Confirm != name {
		c.render(w, r, http.StatusBadRequest, "delete.html", c.view(sess, "Delete "+name,
			view{Error: fmt.Sprintf("Type the service's name, %s, to confirm.", name), Data: d}))
		return
	}
	if err := c.ctl.DeleteService(ctx, name); err != nil {
		refused(r, err)
		c.render(w, r, status(err), "delete.html", c.view(sess, "Delete "+name, view{Error: message(err), Data: d}))
		return
	}
	c.sessions.setFlash(sess, flash{Text: fmt.Sprintf("Service %s is being deleted.", name)})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
