package cdr_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/cdr/cdrtest"
)

func TestMasterCSVGoldenGMT(t *testing.T) {
	want := `"acct","1001","2002","from-internal","""Alice"" <1001>","PJSIP/1001-00000001","PJSIP/2002-00000002","Dial","PJSIP/2002,30,tT","2024-03-01 12:00:00","2024-03-01 12:00:03","2024-03-01 12:01:03",62,59,"ANSWERED","DOCUMENTATION","1709294400.1","say ""hi""","peer","1709294400.1",7` + "\n" +
		`"","+34911","100","default","""José Müller"" <+34911>","PJSIP/trunk-00000003","","Playback","tt-monkeys","2024-03-01 13:00:00",,"2024-03-01 13:00:10",10,0,"NO ANSWER","DOCUMENTATION","u2","","","u1",0` + "\n" +
		`"","12","s","","","","","","""""","2024-03-01 12:00:00",,,0,0,"FAILED","BILLING","u3","","","u3",2` + "\n"
	var buf bytes.Buffer
	if err := cdr.WriteMasterCSV(&buf, cdrtest.Golden(), cdr.CSVOptions{UseGMT: true}); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != want {
		t.Fatalf("Master.csv mismatch\n got: %q\nwant: %q", got, want)
	}
}

func TestMasterCSVLocation(t *testing.T) {
	loc := time.FixedZone("CET", 3600)
	rec := cdrtest.Golden()[1]
	got := string(cdr.AppendMasterCSV(nil, rec, cdr.CSVOptions{Location: loc}))
	want := `"","+34911","100","default","""José Müller"" <+34911>","PJSIP/trunk-00000003","","Playback","tt-monkeys","2024-03-01 14:00:00",,"2024-03-01 14:00:10",10,0,"NO ANSWER","DOCUMENTATION","u2","","","u1",0` + "\n"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	// UseGMT wins over Location.
	got = string(cdr.AppendMasterCSV(nil, rec, cdr.CSVOptions{UseGMT: true, Location: loc}))
	if !bytes.Contains([]byte(got), []byte(`"2024-03-01 13:00:00"`)) {
		t.Fatalf("UseGMT ignored: %q", got)
	}
}

func TestWriteMasterCSVSeqStops(t *testing.T) {
	var buf bytes.Buffer
	err := cdr.WriteMasterCSVSeq(&buf, func(yield func(cdr.Record) bool) {
		for _, r := range cdrtest.Golden()[:2] {
			if !yield(r) {
				return
			}
		}
	}, cdr.CSVOptions{UseGMT: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(buf.Bytes(), []byte("\n")); n != 2 {
		t.Fatalf("%d lines", n)
	}
}
