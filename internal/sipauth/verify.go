package sipauth

import (
	"crypto/subtle"
	"strings"

	"github.com/emiago/sipgo/sip"
	"github.com/entvoice/entvoice/internal/digest"
)

// Credentials are the stored secrets of one account: lowercase hex HA1
// values (see HA1) for the account's realm. An empty value means the
// account cannot authenticate with that algorithm.
type Credentials struct {
	HA1MD5    string
	HA1SHA256 string
}

// CredentialsFromPassword derives both HA1 values from a plain password.
func CredentialsFromPassword(user, realm, password string) Credentials {
	return Credentials{
		HA1MD5:    digest.HA1(MD5, user, realm, password),
		HA1SHA256: digest.HA1(SHA256, user, realm, password),
	}
}

func (c Credentials) ha1(a digest.Alg) string {
	if a == digest.AlgSHA256 {
		return c.HA1SHA256
	}
	return c.HA1MD5
}

// Status is the outcome of Verify.
type Status uint8

const (
	// OK: the digest is correct and its nonce is ours and fresh.
	OK Status = iota
	// NoCredentials: no Authorization/Proxy-Authorization header for our
	// realm; answer with a challenge.
	NoCredentials
	// UnknownUser: the username is not an account. Challenge anyway (do
	// not reveal which users exist), as Asterisk does.
	UnknownUser
	// BadPassword: the response does not match the stored HA1.
	BadPassword
	// Stale: the response is right but the nonce expired or was signed
	// with another key (a restart): challenge with stale=true.
	Stale
	// Malformed: the credentials cannot be parsed or lack a required
	// parameter, or use an algorithm or qop we do not support.
	Malformed
	// NoAlgorithm: the digest uses an algorithm for which the account has
	// no stored HA1; re-challenge with the algorithms it has.
	NoAlgorithm
)

var statusNames = [...]string{"OK", "NoCredentials", "UnknownUser", "BadPassword", "Stale", "Malformed", "NoAlgorithm"}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "Status(?)"
}

// Result is the outcome of Verify. Username is the digest username when
// one could be parsed; Algorithm is "MD5" or "SHA-256" when known.
type Result struct {
	Status    Status
	Username  string
	Algorithm string
	// Nonce and Response are the credentials' (for security events).
	Nonce, Response string
}

// Verify checks the credentials of req (RFC 3261 section 22.4, RFC 7616
// section 3.4.1). It looks at Authorization, then Proxy-Authorization
// headers, and uses the first Digest one whose realm is ours; credentials
// for other realms are ignored (section 22.3: they may be meant for a
// proxy). The digest uri= is the one in the header even if it differs from
// the Request-URI (SIPp sends sip:host:port; PJSIP accepts it too).
//
// opaque is not checked (it carries no state here) and nc is not checked
// for growth: with stateless nonces a captured header can be replayed
// until its nonce expires (see Challenger).
//
// Checks run in an order that never leaks which usernames exist: an
// unknown user is reported only after the header parsed and matched our
// realm, and the caller is expected to answer it like a challenge.
func (c *Challenger) Verify(req *sip.Request, lookup func(username string) (Credentials, bool)) Result {
	d, found, err := c.findCredentials(req)
	if !found {
		return Result{Status: NoCredentials}
	}
	if err != nil {
		return Result{Status: Malformed, Username: d.username}
	}
	res := Result{Username: d.username, Nonce: d.nonce, Response: d.response}
	alg := digest.ParseAlg(d.algorithm)
	if alg == digest.Unknown || d.username == "" || d.nonce == "" || d.response == "" || d.uri == "" {
		res.Status = Malformed
		return res
	}
	res.Algorithm = alg.String()
	var qopAuth bool
	switch {
	case d.qop == "":
		// RFC 2069 compatibility: response = H(HA1:nonce:HA2).
	case strings.EqualFold(d.qop, "auth"):
		if d.nc == "" || d.cnonce == "" {
			res.Status = Malformed
			return res
		}
		qopAuth = true
	default: // auth-int and unknown qop values: never offered.
		res.Status = Malformed
		return res
	}
	creds, ok := lookup(d.username)
	var ha1 string
	if ok {
		if ha1 = creds.ha1(alg); ha1 == "" {
			res.Status = NoAlgorithm
			return res
		}
	} else {
		// An unknown user costs what a known one does: the digest is
		// computed against a stand-in HA1, so neither the answer nor its
		// timing tells the two apart (Asterisk's artificial endpoint).
		ha1 = c.standInHA1(alg)
	}
	var ha2buf, rbuf [64]byte
	ha2 := digest.Hex(alg, ha2buf[:0], string(req.Method), d.uri)
	var want []byte
	if qopAuth {
		want = digest.Hex(alg, rbuf[:0], ha1, d.nonce, d.nc, d.cnonce, "auth", bytesToString(ha2))
	} else {
		want = digest.Hex(alg, rbuf[:0], ha1, d.nonce, bytesToString(ha2))
	}
	if match := equalHexFold(want, d.response); !ok || !match {
		res.Status = BadPassword
		if !ok {
			res.Status = UnknownUser
		}
		return res
	}
	if c.checkNonce(d.nonce) != nonceValid {
		res.Status = Stale
		return res
	}
	res.Status = OK
	return res
}

// findCredentials returns the first Digest credentials for our realm.
// found is false when there are none; err is set when a header for our
// realm (or one we cannot even attribute to a realm) is malformed.
func (c *Challenger) findCredentials(req *sip.Request) (digestResponse, bool, error) {
	var firstErr error
	// Authorization headers first, then Proxy-Authorization; one pass over
	// the header list each, without allocating.
	for _, name := range [...]string{"Authorization", "Proxy-Authorization"} {
		for _, h := range req.Headers() {
			if !strings.EqualFold(h.Name(), name) {
				continue
			}
			d, err := parseDigest(h.Value())
			if err == errNotDigest {
				continue // Basic or another scheme: not for us
			}
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			if d.realm != c.realm {
				continue
			}
			return d, true, nil
		}
	}
	if firstErr != nil {
		return digestResponse{}, true, firstErr
	}
	return digestResponse{}, false, nil
}

// equalHexFold compares a computed lowercase hex digest with the client's
// response in constant time, ignoring the case of the client's hex digits.
func equalHexFold(want []byte, got string) bool {
	if len(got) != len(want) {
		return false
	}
	var buf [64]byte
	g := buf[:0]
	for i := 0; i < len(got); i++ {
		ch := got[i]
		if 'A' <= ch && ch <= 'F' {
			ch += 'a' - 'A'
		}
		g = append(g, ch)
	}
	return subtle.ConstantTimeCompare(want, g) == 1
}
