// Package digest is the hashing of digest authentication (RFC 7616, and
// RFC 8760 for SHA-256 in SIP): the algorithms, the hex digests H() of
// colon-joined parts, and HA1, which the store keeps instead of passwords.
// It is a leaf: central hashes secrets with it, the SIP side verifies
// responses with it.
package digest

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Algorithm names as they appear in the algorithm= parameter.
const (
	MD5    = "MD5"
	SHA256 = "SHA-256"
)

// Alg is a digest algorithm.
type Alg uint8

// Algorithms.
const (
	Unknown Alg = iota
	AlgMD5
	AlgSHA256
)

// ParseAlg reads an algorithm= value (case-insensitive; "" is MD5, RFC
// 2617 section 3.2.2.2).
func ParseAlg(s string) Alg {
	switch {
	case s == "" || strings.EqualFold(s, MD5):
		return AlgMD5
	case strings.EqualFold(s, SHA256):
		return AlgSHA256
	}
	return Unknown
}

func (a Alg) String() string {
	switch a {
	case AlgMD5:
		return MD5
	case AlgSHA256:
		return SHA256
	}
	return "unknown"
}

// HA1 returns the lowercase hex H(user ":" realm ":" secret) for alg ("MD5"
// or "SHA-256", case-insensitive; "" means MD5). It returns "" for an
// unsupported algorithm. Store HA1 values instead of passwords (Asterisk's
// md5_cred is HA1 for MD5).
func HA1(alg, user, realm, secret string) string {
	id := ParseAlg(alg)
	if id == Unknown {
		return ""
	}
	var buf [sha256.Size * 2]byte
	return string(Hex(id, buf[:0], user, realm, secret))
}

// Hex hashes parts joined by ':' with alg and appends the lowercase hex
// digest to dst. It works on a stack buffer and the concrete hash
// functions so that the common case does not allocate.
func Hex(alg Alg, dst []byte, parts ...string) []byte {
	var stack [512]byte
	b := stack[:0]
	for i, p := range parts {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, p...)
	}
	switch alg {
	case AlgSHA256:
		s := sha256.Sum256(b)
		return hex.AppendEncode(dst, s[:])
	default:
		s := md5.Sum(b)
		return hex.AppendEncode(dst, s[:])
	}
}
