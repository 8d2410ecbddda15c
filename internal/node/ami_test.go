package node

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/ami"
	"github.com/entvoice/entvoice/internal/config"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/testpeer"
)

// TestAMIUsersSource: with ami.listen set but no static AMI user, the node
// serves no AMI unless a user source is attached (Asterisk's manager is off
// without users); with the provisioning store's users attached it does,
// and a stored user logs in.
func TestAMIUsersSource(t *testing.T) {
	for _, attach := range []bool{false, true} {
		t.Run(fmt.Sprint("attach=", attach), func(t *testing.T) {
			dir := t.TempDir()
			ports := testpeer.FreePorts(t, 2)
			rtp := testpeer.FreePortBlock(t, 20)
			doc := fmt.Sprintf("sip:\n  listen: [\"udp:127.0.0.1:%d\"]\nrtp:\n  ports: \"%d-%d\"\ndata_dir: ./data\nami: {listen: \"127.0.0.1:%d\"}\n", ports[0], rtp, rtp+19, ports[1])
			path := filepath.Join(dir, "entvoice.yaml")
			if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			n, err := New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			if attach {
				repo, err := provision.New(ctx, n.Store, provision.Options{})
				if err != nil {
					n.Shutdown(0)
					t.Fatal(err)
				}
				if _, err := repo.PutAMIUser(ctx, provision.AMIUser{Name: "ops", Secret: "ops-secret", Read: "all", Write: "all"}); err != nil {
					n.Shutdown(0)
					t.Fatal(err)
				}
				n.SetAMIUsers(ami.StoreUsers{Repo: repo})
			}
			if err := n.Start(ctx); err != nil {
				n.Shutdown(0)
				t.Fatal(err)
			}
			t.Cleanup(func() { n.Shutdown(time.Second) })
			addr := fmt.Sprintf("127.0.0.1:%d", ports[1])
			c, err := net.Dial("tcp", addr)
			if !attach {
				if err == nil {
					c.Close()
					t.Fatal("AMI listens without any AMI user")
				}
				if n.AMI != nil {
					t.Fatal("n.AMI set without any AMI user")
				}
				return
			}
			if err != nil {
				t.Fatalf("AMI with the store's users: %v", err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			r := bufio.NewReader(c)
			if l, _ := r.ReadString('\n'); l != ami.Banner {
				t.Fatalf("banner %q", l)
			}
			if _, err := io.WriteString(c, "Action: Login\r\nUsername: ops\r\nSecret: ops-secret\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			var resp strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					t.Fatal(err)
				}
				if l == "\r\n" {
					break
				}
				resp.WriteString(l)
			}
			if resp.String() != "Response: Success\r\nMessage: Authentication accepted\r\n" {
				t.Errorf("login: %q", resp.String())
			}
		})
	}
}
