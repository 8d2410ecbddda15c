package system_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The dependency rule of docs/design-notes.md ("Layers"), checked on what
// each package really compiles (go list -deps): a package may not reach
// the packages listed against it, directly or through another.
var layerRules = []struct {
	pkgs []string // import paths below the module, or "cmd/entvoice"
	tags string   // build tags
	deny []string // import path prefixes they must not reach
	why  string
}{
	{
		pkgs: []string{"internal/control", "internal/tenancy", "internal/q850", "internal/events", "internal/config"},
		deny: []string{"github.com/entvoice/entvoice/internal/"},
		why:  "contracts and vocabularies are leaves (control may use events)",
	},
	{
		pkgs: []string{"internal/api", "internal/central", "internal/ami", "internal/provision", "internal/cdr", "internal/store",
			"internal/queuelog", "internal/queueconf"},
		deny: []string{"github.com/emiago/sipgo", "github.com/pion/", "github.com/entvoice/entvoice/internal/media",
			"github.com/entvoice/entvoice/internal/sipua", "github.com/entvoice/entvoice/internal/channel",
			"github.com/entvoice/entvoice/internal/pbx", "github.com/entvoice/entvoice/internal/node"},
		why: "central's packages carry no SIP, media or PBX code",
	},
	{
		pkgs: []string{"cmd/entvoice"},
		tags: "central",
		deny: []string{"github.com/emiago/sipgo", "github.com/pion/", "github.com/entvoice/entvoice/internal/media",
			"github.com/entvoice/entvoice/internal/sipua", "github.com/entvoice/entvoice/internal/node"},
		why: "`go build -tags central` is entvoice server without the node",
	},
	{
		pkgs: []string{"internal/apps", "internal/agi", "internal/localchan", "internal/pbx", "internal/queue"},
		deny: []string{"github.com/emiago/sipgo", "github.com/entvoice/entvoice/internal/sipua",
			"github.com/entvoice/entvoice/internal/store", "github.com/entvoice/entvoice/internal/provision"},
		why: "applications see channels and media, never SIP or SQL",
	},
	{
		pkgs: []string{"internal/voicemail"},
		deny: []string{"github.com/emiago/sipgo", "github.com/pion/", "github.com/entvoice/entvoice/internal/media",
			"github.com/entvoice/entvoice/internal/sipua", "github.com/entvoice/entvoice/internal/channel",
			"github.com/entvoice/entvoice/internal/pbx", "github.com/entvoice/entvoice/internal/store",
			"github.com/entvoice/entvoice/internal/provision", "github.com/entvoice/entvoice/internal/node"},
		why: "the voicemail store is files and events: the applications, the API and the SIP side reach it through interfaces, the store through vmindex",
	},
	{
		pkgs: []string{"internal/cluster/link"},
		deny: []string{"github.com/entvoice/entvoice/internal/cluster/hub", "github.com/entvoice/entvoice/internal/api",
			"github.com/entvoice/entvoice/internal/sipua"},
		why: "a node's side of the cluster compiles no hub (its registry SQL, central's intake) and no SIP",
	},
	{
		pkgs: []string{"internal/cluster/hub"},
		deny: []string{"github.com/entvoice/entvoice/internal/cluster/link", "github.com/entvoice/entvoice/internal/api",
			"github.com/entvoice/entvoice/internal/sipua"},
		why: "central's side of the cluster compiles no node side and no SIP",
	},
	{
		pkgs: []string{"internal/cluster/wire", "internal/cluster/pki"},
		deny: []string{"github.com/entvoice/entvoice/internal/cluster/hub", "github.com/entvoice/entvoice/internal/cluster/link",
			"github.com/entvoice/entvoice/internal/sipua"},
		why: "what both sides of the cluster speak belongs to neither",
	},
	{
		pkgs: []string{"internal/api"},
		deny: []string{"github.com/entvoice/entvoice/internal/cluster/"},
		why:  "the API knows the nodes through internal/control only",
	},
	{
		pkgs: []string{"internal/conference", "internal/parking"},
		deny: []string{"github.com/emiago/sipgo", "github.com/entvoice/entvoice/internal/sipua",
			"github.com/entvoice/entvoice/internal/store", "github.com/entvoice/entvoice/internal/provision",
			"github.com/entvoice/entvoice/internal/pbx", "github.com/entvoice/entvoice/internal/apps",
			"github.com/entvoice/entvoice/internal/ami", "github.com/entvoice/entvoice/internal/node"},
		why: "conferences and parking are services over channels and media, below the applications that drive them",
	},
	{
		pkgs: []string{"internal/sipua", "internal/media", "internal/channel"},
		deny: []string{"github.com/entvoice/entvoice/internal/pbx", "github.com/entvoice/entvoice/internal/apps",
			"github.com/entvoice/entvoice/internal/agi", "github.com/entvoice/entvoice/internal/ami",
			"github.com/entvoice/entvoice/internal/store", "github.com/entvoice/entvoice/internal/provision"},
		why: "the call's lower layers know nothing of the dialplan, AMI or the store",
	},
}

func TestLayers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	const module = "github.com/entvoice/entvoice/"
	for _, r := range layerRules {
		for _, pkg := range r.pkgs {
			args := []string{"list", "-deps", "-f", "{{.ImportPath}}"}
			if r.tags != "" {
				args = append(args, "-tags", r.tags)
			}
			out, err := exec.Command("go", append(args, module+pkg)...).Output()
			if err != nil {
				t.Fatalf("go list %s: %v", pkg, err)
			}
			for _, dep := range strings.Fields(string(out)) {
				if dep == module+pkg {
					continue
				}
				for _, d := range r.deny {
					if strings.HasPrefix(dep, d) && !allowed(pkg, dep) {
						t.Errorf("%s reaches %s: %s", pkg, dep, r.why)
					}
				}
			}
		}
	}
}

// allowed are the exceptions the rules state in words.
func allowed(pkg, dep string) bool {
	return pkg == "internal/control" && dep == "github.com/entvoice/entvoice/internal/events"
}
