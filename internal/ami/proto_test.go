package ami

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadMessage(t *testing.T) {
	in := "Action: Originate\r\nVariable: a=1\r\nvariable:b=2\r\nChannel:   PJSIP/1001\r\nNoColon\r\nActionID:\r\nActionID: second\r\n\r\n" +
		"Action: Ping\n\n"
	r := NewReader(strings.NewReader(in))
	m, err := r.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if m.Get("action") != "Originate" || m.Get("Channel") != "PJSIP/1001" {
		t.Errorf("headers: %q", m.Lines)
	}
	if got := m.GetAll("Variable"); len(got) != 2 || got[0] != "a=1" || got[1] != "b=2" {
		t.Errorf("Variable: %q", got)
	}
	// First match wins, even when empty (astman_get_header); Action skips empty ones.
	if m.Get("ActionID") != "" || m.GetNonEmpty("ActionID") != "second" {
		t.Errorf("ActionID lookups: %q %q", m.Get("ActionID"), m.GetNonEmpty("ActionID"))
	}
	if m.Get("NoColon") != "" || m.Get("Chan") != "" {
		t.Error("a header matched a prefix or a line without colon")
	}
	m, err = r.ReadMessage()
	if err != nil || m.Get("Action") != "Ping" {
		t.Fatalf("second message: %q %v", m.Lines, err)
	}
	if _, err := r.ReadMessage(); err != io.EOF {
		t.Errorf("end: %v", err)
	}
	r = NewReader(strings.NewReader("Action: Ping\r\nActionID: x"))
	if _, err := r.ReadMessage(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated message: %v", err)
	}
}

// FuzzReadMessage: any input is read without panic or hang, lines and
// header counts stay within Asterisk's limits, and the same input split
// anywhere reads the same.
func FuzzReadMessage(f *testing.F) {
	f.Add([]byte("Action: Login\r\nUsername: admin\r\nSecret: s\r\n\r\n"))
	f.Add([]byte("Action: Ping\n\nAction: Logoff\r\n\r\n"))
	f.Add([]byte("\r\n\r\n:\r\n: \r\nAction:\r\n\r\n"))
	f.Add([]byte(strings.Repeat("X", 3000) + "\r\n\r\n"))
	f.Add([]byte(strings.Repeat("A: b\r\n", 140) + "\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		read := func(rd io.Reader) []string {
			r := NewReader(rd)
			var out []string
			for i := 0; i < len(data)+2; i++ {
				m, err := r.ReadMessage()
				if len(m.Lines) > MaxHeaders {
					t.Fatalf("%d headers", len(m.Lines))
				}
				for _, l := range m.Lines {
					if len(l) > MaxLineLength || strings.ContainsAny(l, "\n") {
						t.Fatalf("bad line %q", l)
					}
				}
				out = append(out, strings.Join(m.Lines, "|"))
				if err != nil && !errors.Is(err, ErrLineTooLong) && !errors.Is(err, ErrTooManyHeaders) {
					out = append(out, err.Error())
					return out
				}
				if err != nil {
					out = append(out, err.Error())
				}
			}
			t.Fatal("reader did not reach the end of its input")
			return nil
		}
		whole := read(strings.NewReader(string(data)))
		byte1 := read(&oneByte{data: data})
		if strings.Join(whole, "\n") != strings.Join(byte1, "\n") {
			t.Fatalf("reads differ:\n%q\n%q", whole, byte1)
		}
	})
}

// oneByte yields its data a byte at a time (TCP may split anywhere).
type oneByte struct{ data []byte }

func (o *oneByte) Read(p []byte) (int, error) {
	if len(o.data) == 0 {
		return 0, io.EOF
	}
	p[0] = o.data[0]
	o.data = o.data[1:]
	return 1, nil
}
