// Package cdrtest has CDR fixtures for the tests of the packages that
// format and store CDRs.
package cdrtest

import (
	"time"

	"github.com/entvoice/entvoice/internal/cdr"
)

// Golden are records that exercise quoting, unset times, unicode and a NUL.
func Golden() []cdr.Record {
	t0 := time.Date(2024, 3, 1, 12, 0, 0, 500000000, time.UTC)
	return []cdr.Record{
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
