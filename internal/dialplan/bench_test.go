package dialplan

import (
	"fmt"
	"strings"
	"testing"
)

// benchPlan is a mid-sized PBX: 500 literal extensions, a few patterns
// and outbound routes reached through includes.
func benchPlan(tb testing.TB) *Dialplan {
	tb.Helper()
	var b strings.Builder
	b.WriteString("[from-internal]\ninclude => local\ninclude => features\ninclude => outbound\n")
	b.WriteString("[local]\n")
	for i := range 500 {
		fmt.Fprintf(&b, "exten => %d,1,Dial(PJSIP/%d,20)\n same => n,VoiceMail(%d@default)\n", 100+i, 100+i, 100+i)
	}
	b.WriteString("exten => _1XXX,1,NoOp()\nexten => _2XXX,1,NoOp()\n")
	b.WriteString("[features]\nexten => *97,1,VoiceMailMain()\nexten => _*98.,1,VoiceMailMain(${EXTEN:3})\n")
	b.WriteString("[outbound]\nexten => _NXXNXXXXXX,1,Dial(PJSIP/trunk/${EXTEN})\nexten => _1NXXNXXXXXX,1,Dial(PJSIP/trunk/${EXTEN})\n")
	b.WriteString("exten => _9011.,1,Dial(PJSIP/trunk/${EXTEN:1})\n same => n,Hangup()\nexten => _5!,1,NoOp()\n")
	d, err := Parse("bench.conf", strings.NewReader(b.String()))
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

func BenchmarkFind(b *testing.B) {
	d := benchPlan(b)
	cases := []struct{ name, exten string }{
		{"exact", "450"},
		{"pattern", "2125551234"},
		{"international", "901144123456"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := d.Find("from-internal", c.exten, 1, ""); !ok {
					b.Fatal("not found")
				}
			}
		})
	}
	b.Run("matchmore", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			d.MatchMore("from-internal", "90")
		}
	})
}

type benchEnv map[string]string

func (e benchEnv) GetVar(n string) (string, bool) { v, ok := e[n]; return v, ok }
func (e benchEnv) CallFunction(name, args string) (string, error) {
	if name == "CALLERID" && args == "num" {
		return "5551234", nil
	}
	return "", ErrNoFunction
}

func BenchmarkSubstitute(b *testing.B) {
	env := benchEnv{"EXTEN": "901144123456", "TRUNK": "PJSIP/trunk", "RINGTIME": "20", "TRIES": "2"}
	cases := map[string]string{
		"plain":      "PJSIP/100,20,tT",
		"vars":       "${TRUNK}/${EXTEN:1},${RINGTIME}",
		"function":   "${CALLERID(num)}@default",
		"expression": "$[${TRIES} + 1]",
		"if":         "${IF($[${TRIES} < 3]?s,menu:h,1)}",
	}
	for name, s := range cases {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Substitute(s, env)
			}
		})
	}
}

func BenchmarkEvaluate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Evaluate(`2 < 3 & "abc" = "abc"`, nil); err != nil {
			b.Fatal(err)
		}
	}
}
