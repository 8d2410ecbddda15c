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
	"github.com/entvoice/entvoice/internal/testpeer"
)

// TestAMIGivenOptions: the node serves the AMI it is given, with its own
// events and calls behind it, and no AMI when given none.
func TestAMIGivenOptions(t *testing.T) {
	for _, given := range []bool{false, true} {
		t.Run(fmt.Sprint("given=", given), func(t *testing.T) {
			dir := t.TempDir()
			ports := testpeer.FreePorts(t, 2)
			rtp := testpeer.FreePortBlock(t, 20)
			doc := fmt.Sprintf("sip:\n  listen: [\"udp:127.0.0.1:%d\"]\nrtp:\n  ports: \"%d-%d\"\ndata_dir: ./data\n", ports[0], rtp, rtp+19)
			path := filepath.Join(dir, "entvoice.yaml")
			if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			o := Options{Store: openStore(t, cfg), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			addr := fmt.Sprintf("127.0.0.1:%d", ports[1])
			if given {
				users, err := ami.NewStaticUsers([]ami.UserSpec{{Name: "ops", Secret: "ops-secret", Read: "all", Write: "all"}})
				if err != nil {
					t.Fatal(err)
				}
				o.AMI = &ami.Options{Listen: addr, Users: users}
			}
			n, err := New(ctx, cfg, o)
			if err != nil {
				t.Fatal(err)
			}
			if err := n.Start(ctx); err != nil {
				n.Shutdown(0)
				t.Fatal(err)
			}
			t.Cleanup(func() { n.Shutdown(time.Second) })
			c, err := net.Dial("tcp", addr)
			if !given {
				if err == nil {
					c.Close()
					t.Fatal("AMI listens without AMI options")
				}
				if n.AMI != nil {
					t.Fatal("n.AMI set without AMI options")
				}
				return
			}
			if err != nil {
				t.Fatalf("AMI: %v", err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			r := bufio.NewReader(c)
			if l, _ := r.ReadString('\n'); l != ami.Banner {
				t.Fatalf("banner %q", l)
			}
			if _, err := io.WriteString(c, "Action: Login\r\nUsername: ops\r\nSecret: ops-secret\r\n\r\nAction: CoreShowChannels\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			var resp strings.Builder
			for !strings.Contains(resp.String(), "CoreShowChannelsComplete") {
				l, err := r.ReadString('\n')
				if err != nil {
					t.Fatalf("%v after %q", err, resp.String())
				}
				resp.WriteString(l)
			}
			if !strings.HasPrefix(resp.String(), "Response: Success\r\nMessage: Authentication accepted\r\n") {
				t.Errorf("login: %q", resp.String())
			}
		})
	}
}
