package sipauth

import (
	"errors"
	"strings"
)

// digestResponse holds the parameters of a Digest Authorization (or
// Proxy-Authorization) header, RFC 3261 section 25.1 "credentials" and
// RFC 7616 section 3.4. Values are unquoted.
type digestResponse struct {
	username  string
	realm     string
	nonce     string
	uri       string
	response  string
	algorithm string
	cnonce    string
	opaque    string
	qop       string
	nc        string
}

var (
	errNotDigest   = errors.New("sipauth: not a Digest credential")
	errSyntax      = errors.New("sipauth: malformed digest parameters")
	errDuplicate   = errors.New("sipauth: duplicate digest parameter")
	errUnterminate = errors.New("sipauth: unterminated quoted string")
)

func isLWS(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// parseDigest parses `Digest k=v, k="v", ...`. It tolerates any linear
// white space around '=' and ',' (SIPp and PJSIP differ: "a, b" vs "a,b"),
// quoted and unquoted values, empty list elements and unknown parameters
// (ignored, RFC 7616 section 3.4: "auth-param"). Quoted values may contain
// commas and backslash escapes (RFC 3261 section 25.1 quoted-pair).
func parseDigest(v string) (digestResponse, error) {
	var d digestResponse
	i := 0
	for i < len(v) && isLWS(v[i]) {
		i++
	}
	const scheme = "digest"
	if len(v)-i < len(scheme) || !strings.EqualFold(v[i:i+len(scheme)], scheme) {
		return d, errNotDigest
	}
	i += len(scheme)
	if i < len(v) && !isLWS(v[i]) {
		return d, errNotDigest
	}
	seen := 0
	for {
		// Skip separators: white space and empty list elements.
		for i < len(v) && (isLWS(v[i]) || v[i] == ',') {
			i++
		}
		if i >= len(v) {
			break
		}
		start := i
		for i < len(v) && v[i] != '=' && v[i] != ',' && !isLWS(v[i]) && v[i] != '"' {
			i++
		}
		name := v[start:i]
		if name == "" {
			return d, errSyntax
		}
		for i < len(v) && isLWS(v[i]) {
			i++
		}
		if i >= len(v) || v[i] != '=' {
			return d, errSyntax
		}
		i++
		for i < len(v) && isLWS(v[i]) {
			i++
		}
		var val string
		if i < len(v) && v[i] == '"' {
			var err error
			var n int
			val, n, err = unquote(v[i:])
			if err != nil {
				return d, err
			}
			i += n
		} else {
			start = i
			for i < len(v) && v[i] != ',' && !isLWS(v[i]) {
				if v[i] == '"' {
					return d, errSyntax
				}
				i++
			}
			val = v[start:i]
		}
		for i < len(v) && isLWS(v[i]) {
			i++
		}
		if i < len(v) && v[i] != ',' {
			return d, errSyntax
		}
		bit, dst := d.field(name)
		if dst != nil {
			if seen&bit != 0 {
				return d, errDuplicate
			}
			seen |= bit
			*dst = val
		}
	}
	return d, nil
}

// field maps a parameter name (case-insensitive, RFC 7616 section 3.4) to
// its destination; nil for parameters we ignore.
func (d *digestResponse) field(name string) (int, *string) {
	switch strings.ToLower(name) {
	case "username":
		return 1 << 0, &d.username
	case "realm":
		return 1 << 1, &d.realm
	case "nonce":
		return 1 << 2, &d.nonce
	case "uri":
		return 1 << 3, &d.uri
	case "response":
		return 1 << 4, &d.response
	case "algorithm":
		return 1 << 5, &d.algorithm
	case "cnonce":
		return 1 << 6, &d.cnonce
	case "opaque":
		return 1 << 7, &d.opaque
	case "qop":
		return 1 << 8, &d.qop
	case "nc":
		return 1 << 9, &d.nc
	}
	return 0, nil
}

// unquote reads a quoted-string at the start of s and returns its value and
// the number of bytes consumed. It only allocates when the string contains
// quoted-pairs.
func unquote(s string) (string, int, error) {
	// s[0] == '"'
	for j := 1; j < len(s); j++ {
		switch s[j] {
		case '"':
			return s[1:j], j + 1, nil
		case '\\':
			return unquoteSlow(s)
		}
	}
	return "", 0, errUnterminate
}

func unquoteSlow(s string) (string, int, error) {
	var b strings.Builder
	for j := 1; j < len(s); j++ {
		switch c := s[j]; c {
		case '"':
			return b.String(), j + 1, nil
		case '\\':
			j++
			if j >= len(s) {
				return "", 0, errUnterminate
			}
			b.WriteByte(s[j])
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, errUnterminate
}
