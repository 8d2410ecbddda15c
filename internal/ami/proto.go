// Package ami is entVoice's Asterisk Manager Interface server: Asterisk
// 22's framing, authentication, classes, actions and events (main/manager.c),
// with every session scoped to a tenant. A session bound to a tenant sees
// and acts on that tenant's calls only; an admin session (no tenant) sees
// all of them.
package ami

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
)

// Limits of one input message, as Asterisk's session input buffer
// (1025 bytes: 1024 and the terminator) and AST_MAX_MANHEADERS (128).
const (
	MaxLineLength = 1024
	MaxHeaders    = 128
)

// Message is one AMI message: its header lines as received (without the
// line ending). Lookups follow __astman_get_header: the name is matched
// ignoring case, must be followed by ':', blanks after the colon are
// skipped, and the first match wins.
type Message struct {
	Lines []string
}

// Get returns the value of the first header named key ("" if none).
func (m *Message) Get(key string) string {
	v, _ := m.lookup(key, false)
	return v
}

// GetNonEmpty returns the first non-empty value of key (Asterisk's
// GET_HEADER_SKIP_EMPTY, used for Action).
func (m *Message) GetNonEmpty(key string) string {
	v, _ := m.lookup(key, true)
	return v
}

func (m *Message) lookup(key string, skipEmpty bool) (string, bool) {
	for _, l := range m.Lines {
		if v, ok := headerValue(l, key); ok {
			if skipEmpty && v == "" {
				continue
			}
			return v, true
		}
	}
	return "", false
}

// GetAll returns every value of key, in order (Variable: may repeat).
func (m *Message) GetAll(key string) []string {
	var out []string
	for _, l := range m.Lines {
		if v, ok := headerValue(l, key); ok {
			out = append(out, v)
		}
	}
	return out
}

func headerValue(line, key string) (string, bool) {
	if len(line) <= len(key) || line[len(key)] != ':' || !strings.EqualFold(line[:len(key)], key) {
		return "", false
	}
	return strings.TrimLeft(line[len(key)+1:], " \t"), true
}

// Parse problems reported with a message, answered as Asterisk does while
// keeping the connection. Their texts are Asterisk's replies, capitalised
// as on the wire.
var (
	ErrLineTooLong    = errors.New("Failed to parse message: line too long")          //lint:ignore ST1005 the AMI reply text
	ErrTooManyHeaders = errors.New("Too many lines in message or allocation failure") //lint:ignore ST1005 the AMI reply text
)

// Reader reads AMI messages: lines ended by CRLF (or a bare LF), a message
// ended by an empty line.
type Reader struct {
	br *bufio.Reader
}

// NewReader returns a Reader on r.
func NewReader(r io.Reader) *Reader {
	// Room for a full line plus its CRLF.
	return &Reader{br: bufio.NewReaderSize(r, MaxLineLength+2)}
}

// ReadMessage returns the next message. A non-nil parse error
// (ErrLineTooLong, ErrTooManyHeaders) comes with the headers read so far,
// so the error reply can echo ActionID; the message is then consumed. Any
// other error ends the connection.
func (r *Reader) ReadMessage() (Message, error) {
	var m Message
	var perr error
	for {
		line, long, err := r.readLine()
		if err != nil {
			if err == io.EOF && (len(m.Lines) > 0 || perr != nil) {
				return m, io.ErrUnexpectedEOF
			}
			return m, err
		}
		if long {
			// Asterisk drops the rest of an over-long line and reports
			// the message as unparsable when it ends.
			if perr == nil {
				perr = ErrLineTooLong
			}
			continue
		}
		if line == "" {
			return m, perr
		}
		if len(m.Lines) >= MaxHeaders {
			perr = ErrTooManyHeaders
			continue
		}
		m.Lines = append(m.Lines, line)
	}
}

// readLine returns one line without its ending; long reports a line over
// MaxLineLength, which is consumed and discarded.
func (r *Reader) readLine() (string, bool, error) {
	b, err := r.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		for err == bufio.ErrBufferFull {
			_, err = r.br.ReadSlice('\n')
		}
		if err != nil {
			return "", true, err
		}
		return "", true, nil
	}
	if err != nil {
		return "", false, err
	}
	b = bytes.TrimSuffix(b[:len(b)-1], []byte{'\r'})
	if len(b) > MaxLineLength {
		return "", true, nil
	}
	return string(b), false, nil
}
