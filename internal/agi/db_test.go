package agi

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/entvoice/entvoice/internal/astdb"
	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/store/storetest"
)

// TestDatabaseCommands: DATABASE PUT/GET/DEL/DELTREE on the store's astdb
// table, on SQLite and PostgreSQL, with Asterisk's reversed DELTREE result
// and tenants kept apart.
func TestDatabaseCommands(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		st := storetest.Open(t, opts)
		type step struct{ cmd, want string }
		script := func(steps []step) func(c *agiConn) {
			return func(c *agiConn) {
				for _, s := range steps {
					if got := c.cmd(s.cmd); got != s.want+"\n" {
						t.Errorf("%q: got %q, want %q", s.cmd, got, s.want)
					}
				}
			}
		}
		steps := []step{
			{"DATABASE GET cid 1001", "200 result=0"},
			{`DATABASE PUT cid 1001 "Alice Smith"`, "200 result=1"},
			{"DATABASE GET cid 1001", "200 result=1 (Alice Smith)"},
			{"DATABASE PUT cid 1001 Alice", "200 result=1"},
			{"DATABASE GET cid 1001", "200 result=1 (Alice)"},
			{"DATABASE DEL cid 1001", "200 result=1"},
			{"DATABASE DEL cid 1001", "200 result=0"},
			{"DATABASE PUT tree a 1", "200 result=1"},
			{"DATABASE PUT tree a/b 2", "200 result=1"},
			{"DATABASE PUT tree ab 3", "200 result=1"},
			{"DATABASE PUT tree/sub c 4", "200 result=1"},
			{"DATABASE PUT treeX c 5", "200 result=1"},
			// Reversed: 0 when something was deleted.
			{"DATABASE DELTREE tree a", "200 result=0"},
			{"DATABASE GET tree a/b", "200 result=0"},
			{"DATABASE GET tree ab", "200 result=1 (3)"},
			{"DATABASE DELTREE tree a", "200 result=1"},
			{"DATABASE DELTREE tree", "200 result=0"},
			{"DATABASE GET tree/sub c", "200 result=0"},
			{"DATABASE GET treeX c", "200 result=1 (5)"},
			{"DATABASE DELTREE nosuch", "200 result=1"},
			{"DATABASE PUT shared k default-tenant", "200 result=1"},
			{"DATABASE GET", "520-Invalid command syntax.  Proper usage follows:\n" + commandUsage("database get") + "\n520 End of proper usage."},
		}
		srv := newFastAGI(t, script(steps))
		p := newTestPBX(t, planFor("agi://"+srv.addr), Options{DB: astdb.New(st)})
		if ch, _ := p.call(t, "1", nil); agistatus(ch) != "SUCCESS" {
			t.Errorf("AGISTATUS %q", agistatus(ch))
		}

		// Another tenant sees none of it and its DELTREE of everything
		// leaves the default tenant's entries.
		srv2 := newFastAGI(t, script([]step{
			{"DATABASE GET shared k", "200 result=0"},
			{"DATABASE PUT shared k tenant-a", "200 result=1"},
			{"DATABASE GET shared k", "200 result=1 (tenant-a)"},
			{`DATABASE DELTREE ""`, "200 result=0"},
			{"DATABASE GET shared k", "200 result=0"},
		}))
		p2 := newTestPBX(t, planFor("agi://"+srv2.addr), Options{DB: astdb.New(st)})
		p2.call(t, "1", func(o *channel.Options) { o.Tenant = "tenant-a" })
		v, ok, err := astdb.New(st).Get(context.Background(), "", "shared", "k")
		if err != nil || !ok || v != "default-tenant" {
			t.Errorf("default tenant's entry: %q %v %v", v, ok, err)
		}
	})
}

func commandUsage(words string) string {
	c := findCommand(strings.Fields(words))
	if c == nil {
		panic(fmt.Sprint("no command ", words))
	}
	return c.usage
}
