package ami

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDocsTable: docs/ami.md's table and ListCommands agree: the actions
// marked implemented are exactly those ListCommands lists (for a user who
// may run them all), every one of them is in the table once, and every
// other row says why it is missing.
func TestDocsTable(t *testing.T) {
	doc, err := os.ReadFile("../../docs/ami.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]string{}
	row := regexp.MustCompile(`^\| (\w+) \| ([^|]+) \| ([^|]+) \|(.*)\|$`)
	for _, l := range strings.Split(string(doc), "\n") {
		m := row.FindStringSubmatch(l)
		if m == nil || m[1] == "Action" {
			continue
		}
		if _, dup := documented[m[1]]; dup {
			t.Errorf("%s is in the table twice", m[1])
		}
		status, notes := strings.TrimSpace(m[3]), strings.TrimSpace(m[4])
		documented[m[1]] = status
		switch {
		case status == "implemented":
		case status == "refused" || strings.HasPrefix(status, "later: "):
			if notes == "" {
				t.Errorf("%s is %s without a reason", m[1], status)
			}
		default:
			t.Errorf("%s: unknown status %q", m[1], status)
		}
	}
	if len(documented) < 150 {
		t.Fatalf("the table lists %d actions; Asterisk 22 has 154", len(documented))
	}
	s := testServer(t, Options{})
	c := dialAMI(t, s)
	c.login("admin", "secret")
	c.send("Action: ListCommands", "ActionID: lc")
	listed := map[string]bool{}
	for _, l := range strings.Split(c.until("Response: Success\r\nActionID: lc"), "\r\n")[2:] {
		if name, _, ok := strings.Cut(l, ": "); ok {
			listed[name] = true
		}
	}
	for name := range listed {
		if documented[name] != "implemented" {
			t.Errorf("ListCommands lists %s, the docs say %q", name, documented[name])
		}
	}
	for name, status := range documented {
		if status == "implemented" && !listed[name] {
			t.Errorf("the docs say %s is implemented, ListCommands does not list it", name)
		}
	}
}
