// Package sipauth implements SIP digest authentication for a UAS/registrar:
// RFC 3261 section 22.4 (digest in SIP), RFC 2617/7616 (digest, qop=auth,
// RFC 2069 compatibility without qop) and RFC 8760 (SHA-256 for SIP).
package sipauth

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Digest algorithm names as they appear in the algorithm= parameter.
const (
	MD5    = "MD5"
	SHA256 = "SHA-256"
)

type algID uint8

const (
	algUnknown algID = iota
	algMD5
	algSHA256
)

func parseAlg(s string) algID {
	switch {
	case s == "" || strings.EqualFold(s, MD5):
		return algMD5 // RFC 2617 section 3.2.2.2: absent means MD5
	case strings.EqualFold(s, SHA256):
		return algSHA256
	}
	return algUnknown
}

func (a algID) String() string {
	switch a {
	case algMD5:
		return MD5
	case algSHA256:
		return SHA256
	}
	return "unknown"
}

// HA1 returns the lowercase hex H(user ":" realm ":" secret) for alg ("MD5"
// or "SHA-256", case-insensitive; "" means MD5 as in RFC 2617 section
// 3.2.2.2). It returns "" for an unsupported algorithm. Store HA1 values
// instead of passwords (Asterisk's md5_cred is HA1 for MD5).
func HA1(alg, user, realm, secret string) string {
	id := parseAlg(alg)
	if id == algUnknown {
		return ""
	}
	var buf [sha256.Size * 2]byte
	return string(digestHex(id, buf[:0], user, realm, secret))
}

// digestHex hashes parts joined by ':' with alg and appends the lowercase
// hex digest to dst. It works on a stack buffer and the concrete hash
// functions so that the common case does not allocate.
func digestHex(alg algID, dst []byte, parts ...string) []byte {
	var stack [512]byte
	b := stack[:0]
	for i, p := range parts {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, p...)
	}
	switch alg {
	case algSHA256:
		s := sha256.Sum256(b)
		return hex.AppendEncode(dst, s[:])
	default:
		s := md5.Sum(b)
		return hex.AppendEncode(dst, s[:])
	}
}
