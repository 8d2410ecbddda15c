package sipauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/entvoice/entvoice/internal/digest"
)

// Options configures a Challenger.
type Options struct {
	// Realm is the protection domain announced in challenges and required
	// in credentials (RFC 3261 section 22.1). Asterisk's default is
	// "asterisk"; ours defaults to "entvoice".
	Realm string
	// Key signs nonces. Nodes behind one address (or a restart that must
	// keep nonces valid) share a key; empty means 32 random bytes.
	Key []byte
	// NonceLifetime is how long a nonce is accepted; default 30 s
	// (Asterisk PJSIP's auth nonce_lifetime defaults to 32 s).
	NonceLifetime time.Duration
	// Clock returns the current time; default time.Now.
	Clock func() time.Time
	// Algorithms lists the digest algorithms offered, one WWW-Authenticate
	// header each, in order of preference; default SHA-256 then MD5 (RFC
	// 8760 section 2.4). Clients that take the first challenge whatever
	// its algorithm break on that default: SIPp 3.6.1 aborts with
	// "createAuthHeader: authentication must use MD5 or AKAv1-MD5". Set
	// []string{"MD5"} for them; it is Asterisk's default too
	// (supported_algorithms_uas = MD5). Unknown names are ignored.
	Algorithms []string
}

// Challenger issues digest challenges and verifies credentials.
//
// Nonces are stateless: base64url(t || HMAC-SHA256(key, t || realm)[:16])
// where t is the 8-byte big-endian issue time in Unix nanoseconds. Nothing is
// stored per nonce, so a REGISTER flood costs no memory; the price is that
// a captured Authorization header can be replayed until its nonce expires
// (NonceLifetime), and nc values are not checked for monotonicity. Keep the
// lifetime short; a client with an expired nonce gets a 401 with
// stale=true and re-authenticates without asking its user (RFC 7616
// section 3.3).
type Challenger struct {
	realm    string
	realmB   []byte
	algs     []string
	lifetime time.Duration
	clock    func() time.Time
	opaque   string
	standIn  [2]string // MD5 and SHA-256 stand-in HA1s (Verify of unknown users)
	macs     sync.Pool // of hash.Hash (HMAC-SHA256 keyed)
}

const (
	nonceTimeLen = 8
	nonceMACLen  = 16
	nonceRawLen  = nonceTimeLen + nonceMACLen
	// maxClockSkew tolerates nonces stamped slightly in the future by a
	// peer node sharing the key.
	maxClockSkew = 5 * time.Second
)

var nonceEnc = base64.RawURLEncoding

// NewChallenger returns a Challenger configured by o.
func NewChallenger(o Options) *Challenger {
	c := &Challenger{realm: o.Realm, lifetime: o.NonceLifetime, clock: o.Clock}
	if c.realm == "" {
		c.realm = "entvoice"
	}
	for _, a := range o.Algorithms {
		if id := digest.ParseAlg(a); id != digest.Unknown && a != "" {
			c.algs = append(c.algs, id.String())
		}
	}
	if len(c.algs) == 0 {
		c.algs = []string{SHA256, MD5}
	}
	if c.lifetime <= 0 {
		c.lifetime = 30 * time.Second
	}
	if c.clock == nil {
		c.clock = time.Now
	}
	c.realmB = []byte(c.realm)
	key := o.Key
	if len(key) == 0 {
		key = make([]byte, 32)
		_, _ = rand.Read(key) // never fails (crypto/rand, Go 1.24+)
	}
	key = append([]byte(nil), key...)
	c.macs.New = func() any { return hmac.New(sha256.New, key) }
	m := hmac.New(sha256.New, key)
	m.Write([]byte("opaque\x00" + c.realm))
	c.opaque = hex.EncodeToString(m.Sum(nil)[:8])
	// The stand-in HA1s unknown users are checked against: random, so no
	// response matches them, and ready, so checking one costs what a known
	// user's check does.
	stand := make([]byte, 32)
	_, _ = rand.Read(stand)
	c.standIn = [2]string{string(digest.Hex(digest.AlgMD5, nil, hex.EncodeToString(stand))),
		string(digest.Hex(digest.AlgSHA256, nil, hex.EncodeToString(stand)))}
	return c
}

// Realm returns the realm this Challenger announces.
func (c *Challenger) Realm() string { return c.realm }

// NonceLifetime returns how long a nonce is accepted.
func (c *Challenger) NonceLifetime() time.Duration { return c.lifetime }

// mac computes the truncated HMAC of ts||realm into dst.
func (c *Challenger) mac(ts []byte, dst []byte) []byte {
	m := c.macs.Get().(hash.Hash)
	m.Reset()
	m.Write(ts)
	m.Write(c.realmB)
	var sum [sha256.Size]byte
	s := m.Sum(sum[:0])
	c.macs.Put(m)
	return append(dst, s[:nonceMACLen]...)
}

// Nonce returns a fresh nonce stamped with the current time.
func (c *Challenger) Nonce() string {
	var raw [nonceRawLen]byte
	binary.BigEndian.PutUint64(raw[:nonceTimeLen], uint64(c.clock().UnixNano()))
	c.mac(raw[:nonceTimeLen], raw[:nonceTimeLen])
	return nonceEnc.EncodeToString(raw[:])
}

// nonceState classifies a nonce: valid (ours and fresh), stale (ours but
// expired) or forged/garbled.
type nonceState uint8

const (
	nonceValid nonceState = iota
	nonceExpired
	nonceInvalid
)

func (c *Challenger) checkNonce(n string) nonceState {
	if nonceEnc.EncodedLen(nonceRawLen) != len(n) {
		return nonceInvalid
	}
	var raw [nonceRawLen]byte
	if k, err := nonceEnc.Decode(raw[:], []byte(n)); err != nil || k != nonceRawLen {
		return nonceInvalid
	}
	var want [nonceMACLen]byte
	c.mac(raw[:nonceTimeLen], want[:0])
	if !hmac.Equal(want[:], raw[nonceTimeLen:]) {
		return nonceInvalid
	}
	issued := time.Unix(0, int64(binary.BigEndian.Uint64(raw[:nonceTimeLen])))
	age := c.clock().Sub(issued)
	if age < -maxClockSkew || age > c.lifetime {
		return nonceExpired
	}
	return nonceValid
}

// Algorithms returns the offered algorithms in order of preference.
func (c *Challenger) Algorithms() []string { return append([]string(nil), c.algs...) }

// Challenge returns the WWW-Authenticate headers for a 401, one per offered
// algorithm, all with the same nonce: by default SHA-256 first, then MD5
// (RFC 8760 section 2.4: the UAS lists its preferred algorithm first;
// RFC 3261 clients that know only MD5 should pick the MD5 one). Asterisk's
// PJSIP challenges INVITE with 401 as well; use these for every method
// unless the B2BUA acts as a proxy.
func (c *Challenger) Challenge(stale bool) []sip.Header {
	return c.challenge("WWW-Authenticate", stale, c.algs...)
}

// ProxyChallenge is Challenge for a 407 (Proxy-Authenticate).
func (c *Challenger) ProxyChallenge(stale bool) []sip.Header {
	return c.challenge("Proxy-Authenticate", stale, c.algs...)
}

// ChallengeAlgorithms is Challenge with the given algorithms in order, for
// accounts that only have some HA1 values stored (for example an MD5 HA1
// imported from Asterisk's md5_cred). Unknown names are skipped.
func (c *Challenger) ChallengeAlgorithms(stale bool, algs ...string) []sip.Header {
	return c.challenge("WWW-Authenticate", stale, algs...)
}

func (c *Challenger) challenge(name string, stale bool, algs ...string) []sip.Header {
	nonce := c.Nonce()
	out := make([]sip.Header, 0, len(algs))
	var b strings.Builder
	for _, alg := range algs {
		id := digest.ParseAlg(alg)
		if id == digest.Unknown {
			continue
		}
		b.Reset()
		b.Grow(160)
		b.WriteString(`Digest realm="`)
		b.WriteString(quoteEscape(c.realm))
		b.WriteString(`", nonce="`)
		b.WriteString(nonce)
		b.WriteString(`", opaque="`)
		b.WriteString(c.opaque)
		b.WriteString(`", algorithm=`)
		b.WriteString(id.String())
		b.WriteString(`, qop="auth"`)
		if stale {
			b.WriteString(`, stale=true`)
		}
		out = append(out, sip.NewHeader(name, b.String()))
	}
	return out
}

func quoteEscape(s string) string {
	if !strings.ContainsAny(s, `"\`) {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return r.Replace(s)
}

// standInHA1 is the HA1 an unknown user's digest is checked against.
func (c *Challenger) standInHA1(alg digest.Alg) string {
	if alg == digest.AlgSHA256 {
		return c.standIn[1]
	}
	return c.standIn[0]
}

// ChallengeNonce is the nonce of a challenge header (Challenge's), for
// security events; "" when it has none.
func ChallengeNonce(hs []sip.Header) string {
	for _, h := range hs {
		v := h.Value()
		i := strings.Index(v, `nonce="`)
		if i < 0 {
			continue
		}
		v = v[i+len(`nonce="`):]
		if j := strings.IndexByte(v, '"'); j >= 0 {
			return v[:j]
		}
	}
	return ""
}
