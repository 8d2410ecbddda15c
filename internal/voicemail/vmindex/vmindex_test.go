package vmindex

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/store/storetest"
	"github.com/entvoice/entvoice/internal/voicemail"
)

// TestIndexFollowsTheFiles: the service's changes reach the store, and a
// Sync after files changed behind its back brings the index back to them.
func TestIndexFollowsTheFiles(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		st := storetest.Open(t, opts)
		ctx := context.Background()
		idx := New(st)
		conf, err := voicemail.ParseConfig("voicemail.conf", strings.NewReader("[default]\n1001 => 1\n"))
		if err != nil {
			t.Fatal(err)
		}
		svc, err := voicemail.New(voicemail.Options{Root: t.TempDir(), Config: conf, Index: idx})
		if err != nil {
			t.Fatal(err)
		}
		defer svc.Close()
		m, _ := svc.Lookup("", "", "1001")
		for i, cid := range []string{`"A" <1>`, `"B" <2>`} {
			f, err := svc.TempFile(m, "rec-*.wav")
			if err != nil {
				t.Fatal(err)
			}
			f.Write(make([]byte, 100))
			f.Close()
			if _, err := svc.Deposit(ctx, m, f.Name(), voicemail.Message{CallerID: cid, Duration: i + 3, OrigTime: time.Unix(1700000000, 0)}, nil, nil); err != nil {
				t.Fatal(err)
			}
		}
		msgs, err := svc.List(ctx, m, "")
		if err != nil || len(msgs) != 2 {
			t.Fatalf("list %v %v", msgs, err)
		}
		if msgs[1].CallerID != `"B" <2>` || msgs[1].Num != 1 || msgs[1].Duration != 4 || msgs[1].Folder != "INBOX" || msgs[1].OrigTime.Unix() != 1700000000 {
			t.Errorf("row %+v", msgs[1])
		}
		if _, err := svc.Move(ctx, m, "INBOX", msgs[0].ID, "Work", nil); err != nil {
			t.Fatal(err)
		}
		if work, _ := svc.List(ctx, m, "Work"); len(work) != 1 || work[0].ID != msgs[0].ID {
			t.Errorf("Work %+v", work)
		}
		// A message removed by hand: Sync repairs the index.
		if err := os.Remove(filepath.Join(svc.Root(), "default", "1001", "Work", "msg0000.txt")); err != nil {
			t.Fatal(err)
		}
		if err := svc.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if all, _ := svc.List(ctx, m, ""); len(all) != 1 || all[0].ID != msgs[1].ID {
			t.Errorf("after Sync %+v", all)
		}
	})
}
