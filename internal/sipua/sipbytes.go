package sipua

import "bytes"

// What the edge reads of a SIP message before (and instead of) parsing it:
// the start line's method and a few header values, found by one pass over
// the header lines (RFC 3261 section 7.3: names are case-insensitive,
// Via and From have compact forms v and f, a line starting with a space
// or tab continues the header before it).

// rawHead locates parts of a raw message; each span is [start, end) into
// the message, end == 0 when absent.
type rawHead struct {
	request bool
	method  []byte
	// via spans the value of the top Via header, continuation lines
	// included.
	viaStart, viaEnd int
	userAgent        []byte // first line of the User-Agent value
	from             []byte // first line of the From value
}

// scanHead scans msg's start line and headers.
func scanHead(msg []byte) rawHead {
	var h rawHead
	line, rest, ok := cutLine(msg)
	if !ok {
		return h
	}
	if !bytes.HasPrefix(line, []byte("SIP/")) {
		if sp := bytes.IndexByte(line, ' '); sp > 0 {
			h.request, h.method = true, line[:sp]
		}
	}
	off := len(msg) - len(rest)
	for len(rest) > 0 {
		line, next, _ := cutLine(rest)
		if len(line) == 0 {
			break // end of the headers
		}
		start := off
		off += len(rest) - len(next)
		rest = next
		if line[0] == ' ' || line[0] == '\t' {
			continue // continuation of a header already passed
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		name := bytes.TrimRight(line[:colon], " \t")
		value := line[colon+1:]
		switch {
		case h.viaEnd == 0 && (equalFold(name, "via") || equalFold(name, "v")):
			h.viaStart = start + colon + 1
			h.viaEnd = start + len(line)
			// Continuation lines belong to the value.
			for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
				cl, n2, _ := cutLine(rest)
				h.viaEnd = off + len(cl)
				off += len(rest) - len(n2)
				rest = n2
			}
		case h.userAgent == nil && equalFold(name, "user-agent"):
			h.userAgent = bytes.TrimSpace(value)
		case h.from == nil && (equalFold(name, "from") || equalFold(name, "f")):
			h.from = bytes.TrimSpace(value)
		}
	}
	return h
}

// cutLine splits at the first line end (CRLF or a bare LF).
func cutLine(b []byte) (line, rest []byte, found bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil, false
	}
	line = b[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, b[i+1:], true
}

// equalFold compares b with the lower-case ASCII s, ignoring case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// containsFold reports whether b contains the lower-case ASCII s,
// ignoring case.
func containsFold(b []byte, s string) bool {
	if len(s) == 0 {
		return true
	}
	for i := 0; i+len(s) <= len(b); i++ {
		if equalFold(b[i:i+len(s)], s) {
			return true
		}
	}
	return false
}

// rportInsert returns where ";rport" goes in the top Via value
// msg[start:end] (after the first via-parm, before its comma), or -1 when
// that via-parm already has an rport parameter (RFC 3581 section 3) or
// cannot be delimited.
func rportInsert(msg []byte, start, end int) int {
	v := msg[start:end]
	inQuote := false
	elemEnd := len(v)
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == ',':
			elemEnd = i
			i = len(v)
		}
	}
	if inQuote {
		return -1
	}
	elem := v[:elemEnd]
	// Each parameter follows a ';' (LWS may surround its name).
	for i := 0; i < len(elem); i++ {
		if elem[i] != ';' {
			continue
		}
		j := i + 1
		for j < len(elem) && isLWS(elem[j]) {
			j++
		}
		k := j
		for k < len(elem) && !isLWS(elem[k]) && elem[k] != '=' && elem[k] != ';' {
			k++
		}
		if equalFold(elem[j:k], "rport") {
			return -1
		}
	}
	at := elemEnd
	for at > 0 && isLWS(elem[at-1]) {
		at--
	}
	if at == 0 {
		return -1
	}
	return start + at
}

func isLWS(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// uriUserHost splits the user and host of the first SIP URI in a From
// value ("Alice" <sip:1001@example.com>;tag=x), nil when there is none.
func uriUserHost(v []byte) (user, host []byte) {
	i := bytes.Index(v, []byte("sip:"))
	if i < 0 {
		if i = bytes.Index(v, []byte("sips:")); i < 0 {
			return nil, nil
		}
		i++
	}
	u := v[i+4:]
	end := bytes.IndexAny(u, ">;? \t")
	if end >= 0 {
		u = u[:end]
	}
	at := bytes.IndexByte(u, '@')
	if at < 0 {
		return nil, u
	}
	host = u[at+1:]
	if c := bytes.IndexByte(host, ':'); c >= 0 {
		host = host[:c]
	}
	user = u[:at]
	if c := bytes.IndexByte(user, ':'); c >= 0 {
		user = user[:c] // user:password
	}
	return user, host
}
