package cdr

import (
	"bytes"
	"testing"
	"time"
)

// goldenRecords exercise quoting, unset times, unicode and a NUL.
func goldenRecords() []Record {
	t0 := time.Date(2024, 3, 1, 12, 0, 0, 500000000, time.UTC)
	return []Record{
		{
			AccountCode: "acct", Src: "1001", Dst: "2002", DContext: "from-internal",
			CLID: `"Alice" <1001>`, Channel: "PJSIP/1001-00000001", DstChannel: "PJSIP/2002-00000002",
			LastApp: "Dial", LastData: "PJSIP/2002,30,tT",
			Start: t0, Answer: t0.Add(2750 * time.Millisecond), End: t0.Add(62600 * time.Millisecond),
			Duration: 62, BillSec: 59, Disposition: "ANSWERED", AMAFlags: "DOCUMENTATION",
			UserField: `say "hi"`, UniqueID: "1709294400.1", LinkedID: "1709294400.1",
			PeerAccount: "peer", Sequence: 7,
		},
		{
			Src: "+34911", Dst: "100", DContext: "default", CLID: `"José Müller" <+34911>`,
			Channel: "PJSIP/trunk-00000003", LastApp: "Playback", LastData: "tt-monkeys",
			Start: t0.Add(time.Hour), End: t0.Add(time.Hour + 10*time.Second),
			Duration: 10, Disposition: "NO ANSWER", UniqueID: "u2", LinkedID: "u1",
		},
		{
			Src: "12\x0034", Dst: "s", Start: t0, Disposition: "FAILED", AMAFlags: "BILLING",
			UniqueID: "u3", LinkedID: "u3", LastData: `""`, Sequence: 2,
		},
	}
}

func TestMasterCSVGoldenGMT(t *testing.T) {
	want := `"acct","1001","2002","from-internal","""Alice"" <1001>","PJSIP/1001-00000001","PJSIP/2002-00000002","Dial","PJSIP/2002,30,tT","2024-03-01 12:00:00","2024-03-01 12:00:03","2024-03-01 12:01:03",62,59,"ANSWERED","DOCUMENTATION","1709294400.1","say ""hi""","peer","1709294400.1",7` + "\n" +
		`"","+34911","100","default","""José Müller"" <+34911>","PJSIP/trunk-00000003","","Playback","tt-monkeys","2024-03-01 13:00:00",,"2024-03-01 13:00:10",10,0,"NO ANSWER","DOCUMENTATION","u2","","","u1",0` + "\n" +
		`"","12","s","","","","","","""""","2024-03-01 12:00:00",,,0,0,"FAILED","BILLING","u3","","","u3",2` + "\n"
	var buf bytes.Buffer
	if err := WriteMasterCSV(&buf, goldenRecords(), CSVOptions{UseGMT: true}); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != want {
		t.Fatalf("Master.csv mismatch\n got: %q\nwant: %q", got, want)
	}
}

func TestMasterCSVLocation(t *testing.T) {
	loc := time.FixedZone("CET", 3600)
	rec := goldenRecords()[1]
	got := string(AppendMasterCSV(nil, rec, CSVOptions{Location: loc}))
	want := `"","+34911","100","default","""José Müller"" <+34911>","PJSIP/trunk-00000003","","Playback","tt-monkeys","2024-03-01 14:00:00",,"2024-03-01 14:00:10",10,0,"NO ANSWER","DOCUMENTATION","u2","","","u1",0` + "\n"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	// UseGMT wins over Location.
	got = string(AppendMasterCSV(nil, rec, CSVOptions{UseGMT: true, Location: loc}))
	if !bytes.Contains([]byte(got), []byte(`"2024-03-01 13:00:00"`)) {
		t.Fatalf("UseGMT ignored: %q", got)
	}
}

func TestWriteMasterCSVSeqStops(t *testing.T) {
	var buf bytes.Buffer
	err := WriteMasterCSVSeq(&buf, func(yield func(Record) bool) {
		for _, r := range goldenRecords()[:2] {
			if !yield(r) {
				return
			}
		}
	}, CSVOptions{UseGMT: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(buf.Bytes(), []byte("\n")); n != 2 {
		t.Fatalf("%d lines", n)
	}
}
