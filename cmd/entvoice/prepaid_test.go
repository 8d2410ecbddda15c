//go:build !central

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/testpeer"
)

// TestPrepaidCutOff is the billing issue's "done when" on a real `entvoice
// serve`: a deck imported with the CLI, a prepaid user with 0.12 EUR, a
// call through a trunk to a 0.60 EUR/min destination billed 6/6. The
// balance pays 12 s: the caller hears the warning 6 s before the end
// (BILLING_WARNING_SECONDS), the node hangs up at 12 s, the CDR is rated
// 0.12 EUR, the balance is 0.00, and the next call is refused with a
// prompt and 403. A top-up lets the caller call again.
func TestPrepaidCutOff(t *testing.T) {
	testpeer.SIPpPath(t)
	const admin = "admin-token-for-prepaid-tests-0123456789"
	// The carrier: a SIPp UAS that answers and sends silence until the
	// node hangs up.
	uas := testpeer.StartSIPp(t, testpeer.SIPpOptions{Scenario: "uas_answer", Calls: 3, Timeout: 120 * time.Second,
		Pcap: silencePcap(t, 20*time.Second)})
	dir := t.TempDir()
	plan := writeFile(t, dir, "extensions.conf", `[out]
exten => _00X.,1,Set(BILLING_WARNING_SECONDS=6)
 same => n,Dial(PJSIP/${EXTEN}@carrier,20,g)
 same => n,Set(CDR(userfield)=${BILLING(status)}:${BILLING(cause)}:${BILLING(limit)}:${BILLING(cost)}:${BILLING(currency)})
 same => n,Hangup()
`)
	p := startServe(t, admin, fmt.Sprintf(`dialplan: %s
users:
  - {name: "1001", secret: pass1001, context: out}
trunks:
  - {name: carrier, host: "%s", context: from-carrier}
`, plan, uas.Addr()))
	deck := filepath.Join(dir, "deck.csv")
	if err := os.WriteFile(deck, []byte("prefix,description,rate_per_min,connect_fee,initial_s,increment_s,effective_from\n"+
		"33,France,0.60,0,6,6,2026-01-01\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Dialling rules: numbers are dialled with 00 for abroad (E.164
	// normalisation strips it before the longest-prefix match).
	p.mustCLI(t, "", "billing", "set", "--tenant", "default", "--country-code", "33", "--national-prefix", "0", "--intl-prefix", "00")
	p.mustCLI(t, "", "rate", "import", "--tenant", "default", deck)
	p.mustCLI(t, "", "account", "set", "--tenant", "default", "--user", "1001", "--prepaid", "--currency", "EUR")
	p.mustCLI(t, "", "account", "topup", "--tenant", "default", "--user", "1001", "0.12", "--idempotency-key", "first")

	// The call: SIPp dials, a recorder hears what the node sends back.
	rec := testpeer.RecordRTP(t)
	res := testpeer.RunSIPp(t, testpeer.SIPpOptions{Target: p.sip, Scenario: "uac_call_until_bye", Service: "0033123456789", Calls: 1,
		AuthUser: "1001", AuthPass: "pass1001", Timeout: 60 * time.Second,
		Keys: map[string]string{"caller": "1001", "rtp_port": fmt.Sprint(rec.Port())}})
	if res.ExitCode != 0 || res.Successful != 1 {
		t.Fatalf("the call did not end with the node's BYE: exit %d\n%s", res.ExitCode, res.MessageLog)
	}
	pkts := rec.Packets()
	if len(pkts) < 100 {
		t.Fatalf("the caller heard %d packets", len(pkts))
	}
	start := pkts[0].At
	lasted := pkts[len(pkts)-1].At.Sub(start)
	if lasted < 11*time.Second || lasted > 14*time.Second {
		t.Errorf("the call lasted %v for 12 s of credit", lasted)
	}
	// Silence from the carrier, then the warning ("you have 6 seconds")
	// from 6 s before the end.
	before, warning := energyBetween(pkts, start, 1*time.Second, 5*time.Second), energyBetween(pkts, start, 6*time.Second, 10*time.Second)
	if before > 200 || warning < 1000 {
		t.Errorf("audio energy before the warning %.0f, during it %.0f: want silence, then the prompt", before, warning)
	}

	// The CDR is rated at the 12 s it lasted, 0.12 EUR; the balance is 0.
	var rows []map[string]any
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		var page struct{ Items []map[string]any }
		if err := json.Unmarshal([]byte(p.mustCLI(t, "", "cdr", "list", "-o", "json")), &page); err != nil {
			t.Fatal(err)
		}
		rows = page.Items
		if len(rows) == 1 && rows[0]["rated"] == true {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(rows) != 1 || rows[0]["rated"] != true {
		t.Fatalf("CDRs %+v", rows)
	}
	r := rows[0]
	if fmt.Sprint(r["cost"]) != "0.12" || r["cost_minor"] != 12.0 || r["currency"] != "EUR" || r["billsec_rated"] != 12.0 || r["rate_prefix"] != "33" {
		t.Errorf("rated CDR %+v, want cost 0.12 EUR for 12 s", r)
	}
	if uf, _ := r["userfield"].(string); !strings.HasPrefix(uf, "AUTHORIZED::12:0.12:EUR") {
		t.Errorf("BILLING() in the dialplan: %q", uf)
	}
	var acct map[string]any
	if err := json.Unmarshal([]byte(p.mustCLI(t, "", "account", "show", "--tenant", "default", "--user", "1001", "-o", "json")), &acct); err != nil || acct["balance_minor"] != 0.0 {
		t.Fatalf("account after the call: %v %+v", err, acct)
	}

	// Nothing left: refused before any leg is placed, with a prompt.
	rec2 := testpeer.RecordRTP(t)
	refused := testpeer.RunSIPp(t, testpeer.SIPpOptions{Target: p.sip, Scenario: "uac_expect_code", Service: "0033123456789", Calls: 1,
		AuthUser: "1001", AuthPass: "pass1001", Keys: map[string]string{"caller": "1001", "rtp_port": fmt.Sprint(rec2.Port()), "code": "403"}})
	if refused.ExitCode != 0 {
		t.Errorf("the call without credit was not refused with 403:\n%s", refused.MessageLog)
	}
	if len(rec2.Packets()) < 20 {
		t.Errorf("the refused caller heard %d packets, want the im-sorry prompt", len(rec2.Packets()))
	}

	// A top-up: the caller calls again.
	p.mustCLI(t, "", "account", "topup", "--tenant", "default", "--user", "1001", "0.06", "--idempotency-key", "second")
	rec3 := testpeer.RecordRTP(t)
	again := testpeer.RunSIPp(t, testpeer.SIPpOptions{Target: p.sip, Scenario: "uac_call_until_bye", Service: "0033123456789", Calls: 1,
		AuthUser: "1001", AuthPass: "pass1001", Timeout: 60 * time.Second,
		Keys: map[string]string{"caller": "1001", "rtp_port": fmt.Sprint(rec3.Port())}})
	if again.ExitCode != 0 {
		t.Errorf("the call after a top-up: exit %d", again.ExitCode)
	}
	if ps := rec3.Packets(); len(ps) < 100 || ps[len(ps)-1].At.Sub(ps[0].At) > 8*time.Second {
		t.Errorf("the call after a 0.06 top-up heard %d packets: want a 6 s call", len(ps))
	}
}

// silencePcap is an RTP pcap of PCMU silence.
func silencePcap(t *testing.T, d time.Duration) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "silence.pcap")
	if err := testpeer.WriteRTPPcap(path, testpeer.PcapOptions{Audio: testpeer.GenerateSilence(d)}); err != nil {
		t.Fatal(err)
	}
	return path
}

// energyBetween is the mean absolute amplitude of the PCMU audio received
// between from and to after start.
func energyBetween(pkts []testpeer.RecordedPacket, start time.Time, from, to time.Duration) float64 {
	var sum, n float64
	for _, p := range pkts {
		at := p.At.Sub(start)
		if at < from || at >= to || p.Packet.PayloadType != uint8(testpeer.PCMU) {
			continue
		}
		for _, s := range testpeer.PCMU.Decode(p.Packet.Payload) {
			if s < 0 {
				s = -s
			}
			sum += float64(s)
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / n
}
