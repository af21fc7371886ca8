package console

import (
	"fmt"
	"html/template"
	"io/fs"
	"strings"
	"time"

	"github.com/osccr/osccr/internal/control"
	"github.com/osccr/osccr/internal/humanize"
	"github.com/osccr/osccr/workflows"
)

// pageNames are the pages; each is parsed with the layout and the shared partials.
var pageNames = []string{"signin.html", "services.html", "service_new.html", "service.html", "follower_new.html", "promote.html", "delete.html", "error.html"}

var funcs = template.FuncMap{
	"stateLabel": stateLabel,
	"stateClass": stateClass,
	"roleLabel":  func(role string) string { return stateLabel(role) },
	"bytes":      humanize.Bytes,
	"row":        rowOf,
	"dict":       dict,
	"plural":     plural,
	"maxDisk":    func() int { return control.MaxExtraDiskGB },
	// What a promotion lost, and how far behind a follower is, in the CLI's words.
	"lossSummary": control.LossSummary,
	"lagSummary":  func(s control.FollowerStatus) string { return s.LagSummary(time.Now()) },
	"freshness":   func(s control.FollowerStatus) string { return s.Freshness(time.Now()) },
	"configKinds": configKinds,
	"pct": func(done, total int) int {
		if total == 0 {
			return 100
		}
		return done * 100 / total
	},
}

func (c *Console) parseTemplates() error {
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html", "templates/"+name)
		if err != nil {
			return fmt.Errorf("console template %s: %w", name, err)
		}
		c.pages[name] = t
	}
	// Every template file is a page or shared: a new file must be listed above.
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return fmt.Errorf("console templates: %w", err)
	}
	if len(files) != len(pageNames)+2 {
		return fmt.Errorf("console templates: %d files, %d pages listed", len(files), len(pageNames))
	}
	return nil
}

// stateLabel writes a state as the seeds do: REBUILDING is "Rebuilding".
func stateLabel(s string) string {
	if s == "" {
		return "Unknown"
	}
	return strings.ToUpper(s[:1]) + strings.ToLower(s[1:])
}

// stateClass colours a state chip: settled, under way, held, or failed.
func stateClass(s string) string {
	switch s {
	case workflows.StateRunning:
		return "state-ok"
	case workflows.StateFailed:
		return "state-bad"
	case workflows.StatePaused:
		return "state-held"
	}
	return "state-busy"
}

// dict makes a map of its key, value pairs: a template passing two things to another.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, fmt.Errorf("dict: odd number of arguments")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}

// plural counts a noun: "1 index", "3 indexes".
func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// configKindCount is how many objects of one kind of configuration osccr keeps on a follower.
type configKindCount struct {
	Kind  string
	Count int
}

// configKinds counts the configuration objects osccr keeps on a follower ("<kind>/<name>") by
// kind, in the order the kinds first appear.
func configKinds(objects []string) []configKindCount {
	var out []configKindCount
	at := map[string]int{}
	for _, o := range objects {
		kind, _, _ := strings.Cut(o, "/")
		if i, ok := at[kind]; ok {
			out[i].Count++
			continue
		}
		at[kind] = len(out)
		out = append(out, configKindCount{Kind: kind, Count: 1})
	}
	return out
}
