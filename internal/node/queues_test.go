package node

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/config"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/store"
)

// TestRealtimeQueues: queues and members written to the provisioning
// store are in force on the node within a second, in their tenant only; a
// queues.conf queue shadows the default tenant's realtime one; changes
// and deletions follow.
func TestRealtimeQueues(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	repo, err := provision.New(ctx, st, provision.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.CreateTenant(ctx, provision.Tenant{ID: "acme", Domain: "acme.example"}); err != nil {
		t.Fatal(err)
	}
	n := testNodeWith(t, repo, "queues: queues.conf\n", map[string]string{"queues.conf": "[sales]\nstrategy=linear\nmember => PJSIP/1001\n"})
	inForce := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s not in force within a second", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if _, err := repo.CreateQueue(ctx, provision.Queue{Tenant: "acme", Name: "support", Params: map[string]string{"strategy": "rrmemory", "wrapuptime": "3"}}); err != nil {
		t.Fatal(err)
	}
	m, err := repo.AddQueueMember(ctx, provision.QueueMember{Tenant: "acme", Queue: "support", Interface: "PJSIP/2001", MemberName: "Ann"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	inForce("acme's queue and member", func() bool {
		ms, err := n.Queues.Members("acme", "support")
		return err == nil && len(ms) == 1 && ms[0].Name == "Ann"
	})
	t.Logf("write to in force: %v", time.Since(start))
	if n.Queues.Exists("default", "support") {
		t.Error("acme's queue is visible to the default tenant")
	}
	if st := n.Queues.QueueStatus("acme", "support"); len(st) != 1 || st[0].Strategy != "rrmemory" || st[0].Members[0].Membership != "realtime" {
		t.Errorf("status %+v", st)
	}
	// The default tenant's realtime sales is shadowed by queues.conf.
	if _, err := repo.CreateQueue(ctx, provision.Queue{Name: "sales", Params: map[string]string{"strategy": "ringall"}}); err != nil {
		t.Fatal(err)
	}
	rev, _ := repo.Revision(ctx)
	waitRev(t, n, rev)
	if st := n.Queues.QueueStatus("", "sales"); len(st) != 1 || st[0].Strategy != "linear" {
		t.Errorf("queues.conf's sales was replaced: %+v", st)
	}
	// Pause through the store; change a parameter.
	if _, err := repo.UpdateQueueMember(ctx, "acme", "support", m.ID, func(x *provision.QueueMember) error {
		x.Paused, x.Reason = true, "training"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.UpdateQueue(ctx, "acme", "support", func(q *provision.Queue) error { q.Params["strategy"] = "fewestcalls"; return nil }); err != nil {
		t.Fatal(err)
	}
	inForce("the pause and the strategy", func() bool {
		ms, _ := n.Queues.Members("acme", "support")
		st := n.Queues.QueueStatus("acme", "support")
		return len(ms) == 1 && ms[0].Paused && len(st) == 1 && st[0].Strategy == "fewestcalls" && st[0].Members[0].PausedReason == "training"
	})
	// A dynamic member added on the node stays through realtime updates.
	if err := n.Queues.AddMember("acme", "support", controlSpec("PJSIP/2002")); err != nil {
		t.Fatal(err)
	}
	if err := repo.DeleteQueueMember(ctx, "acme", "support", m.ID); err != nil {
		t.Fatal(err)
	}
	inForce("the member's removal", func() bool {
		ms, _ := n.Queues.Members("acme", "support")
		return len(ms) == 1 && ms[0].Interface == "PJSIP/2002"
	})
	if err := repo.DeleteQueue(ctx, "acme", "support"); err != nil {
		t.Fatal(err)
	}
	inForce("the queue's deletion", func() bool { return !n.Queues.Exists("acme", "support") })
	// queue_log has the realtime members' ADDMEMBER/REMOVEMEMBER.
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := n.FlushQueueLog(fctx); err != nil {
		t.Fatal(err)
	}
	var rows []string
	r, err := n.Store.DB().QueryContext(ctx, "SELECT callid || '|' || queuename || '|' || agent || '|' || event FROM queue_log WHERE tenant = 'acme' ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var s string
		_ = r.Scan(&s)
		rows = append(rows, s)
	}
	_ = r.Close()
	got := strings.Join(rows, "\n")
	for _, want := range []string{"REALTIME|support|PJSIP/2001|ADDMEMBER", "NONE|support|Ann|PAUSE", "REALTIME|support|PJSIP/2001|REMOVEMEMBER"} {
		if !strings.Contains(got, want) {
			t.Errorf("queue_log lacks %q:\n%s", want, got)
		}
	}
}

func controlSpec(iface string) control.QueueMemberSpec {
	return control.QueueMemberSpec{Interface: iface}
}

// TestQueuesConfErrors: a queues.conf or queuerules.conf with an error
// stops the node, naming the file and line; a defaultrule that is not in
// queuerules.conf too.
func TestQueuesConfErrors(t *testing.T) {
	for _, tc := range []struct {
		files map[string]string
		yaml  string
		want  string
	}{
		{map[string]string{"queues.conf": "[q]\nstrategy = linear\nwrapuptime = soon\n"}, "queues: queues.conf\n", "queues.conf:3: queue [q]: wrapuptime"},
		{map[string]string{"queues.conf": "[q]\ndefaultrule = nosuch\n", "queuerules.conf": "[widen]\npenaltychange => 10,+1\n"}, "queues: queues.conf\nqueuerules: queuerules.conf\n", "queues.conf:1: queue [q]: defaultrule \"nosuch\""},
		{map[string]string{"queuerules.conf": "[widen]\npenaltychange => x\n"}, "queuerules: queuerules.conf\n", "queuerules.conf:2:"},
		{nil, "queues: missing.conf\n", "missing.conf"},
	} {
		dir := t.TempDir()
		for name, text := range tc.files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		path := filepath.Join(dir, "entvoice.yaml")
		if err := os.WriteFile(path, []byte("data_dir: ./data\nsip: {listen: [\"udp:127.0.0.1:0\"]}\n"+tc.yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = New(context.Background(), cfg, Options{Store: openStore(t, cfg), Logger: slog.New(slog.DiscardHandler)})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.files, err, tc.want)
		}
	}
}
