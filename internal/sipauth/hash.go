// Package sipauth implements SIP digest authentication for a UAS/registrar:
// RFC 3261 section 22.4 (digest in SIP), RFC 2617/7616 (digest, qop=auth,
// RFC 2069 compatibility without qop) and RFC 8760 (SHA-256 for SIP). The
// hashing itself is package digest's.
package sipauth

import "github.com/entvoice/entvoice/internal/digest"

// Digest algorithm names as they appear in the algorithm= parameter.
const (
	MD5    = digest.MD5
	SHA256 = digest.SHA256
)
