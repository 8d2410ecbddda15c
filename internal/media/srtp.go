package media

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/pion/srtp/v3"
)

// SRTP keyed in SDP (SDES, RFC 4568): the a=crypto attributes, the suites
// entVoice speaks, and the per-session contexts that encrypt what a
// session sends and decrypt what it receives (pion/srtp, with replay
// protection: a replayed or forged packet is dropped and counted).

// The crypto suites, in our order of preference: RFC 4568's two
// AES_CM_128 suites and RFC 7714's AES-GCM.
const (
	SuiteAESCM80 = "AES_CM_128_HMAC_SHA1_80"
	SuiteAESCM32 = "AES_CM_128_HMAC_SHA1_32"
	SuiteGCM128  = "AEAD_AES_128_GCM"
)

// Suites are the supported crypto suites in order of preference.
func Suites() []string { return []string{SuiteAESCM80, SuiteAESCM32, SuiteGCM128} }

// Errors of SRTP negotiation; the SIP layer answers 488.
var (
	// ErrSRTPRequired: the endpoint requires SRTP (media_encryption) and
	// the SDP offers none we support.
	ErrSRTPRequired = errors.New("media: SRTP required but not offered")
	// ErrSRTPRefused: the SDP offers SRTP only (RTP/SAVP) to an endpoint
	// that does not use it.
	ErrSRTPRefused = errors.New("media: SRTP offered to an endpoint without media_encryption")
)

func suiteProfile(suite string) (srtp.ProtectionProfile, bool) {
	switch suite {
	case SuiteAESCM80:
		return srtp.ProtectionProfileAes128CmHmacSha1_80, true
	case SuiteAESCM32:
		return srtp.ProtectionProfileAes128CmHmacSha1_32, true
	case SuiteGCM128:
		return srtp.ProtectionProfileAeadAes128Gcm, true
	}
	return 0, false
}

// keySaltLen is the master key and salt length of a suite.
func keySaltLen(suite string) (key, salt int, ok bool) {
	p, ok := suiteProfile(suite)
	if !ok {
		return 0, 0, false
	}
	k, err1 := p.KeyLen()
	s, err2 := p.SaltLen()
	return k, s, err1 == nil && err2 == nil
}

// Crypto is one a=crypto attribute (RFC 4568 section 9.1):
// "<tag> <suite> inline:<base64 key||salt>[|lifetime][|MKI:length]".
type Crypto struct {
	Tag   int
	Suite string
	// Key is the master key followed by the master salt.
	Key []byte
}

// NewCrypto makes a Crypto of suite with a fresh random key.
func NewCrypto(tag int, suite string) (Crypto, error) {
	k, s, ok := keySaltLen(suite)
	if !ok {
		return Crypto{}, fmt.Errorf("media: crypto suite %q not supported", suite)
	}
	key := make([]byte, k+s)
	if _, err := rand.Read(key); err != nil {
		return Crypto{}, fmt.Errorf("media: SRTP key: %w", err)
	}
	return Crypto{Tag: tag, Suite: suite, Key: key}, nil
}

// String renders the attribute's value.
func (c Crypto) String() string {
	return strconv.Itoa(c.Tag) + " " + c.Suite + " inline:" + base64.StdEncoding.EncodeToString(c.Key)
}

// ParseCrypto parses an a=crypto value. Only what entVoice can use is
// accepted: a supported suite, one inline key of the suite's length, no
// MKI (RFC 4568 section 6.1) and no session parameters.
func ParseCrypto(v string) (Crypto, error) {
	f := strings.Fields(v)
	if len(f) < 3 {
		return Crypto{}, fmt.Errorf("media: a=crypto %q: want tag, suite and key", v)
	}
	if len(f) > 3 {
		return Crypto{}, fmt.Errorf("media: a=crypto %q: session parameters not supported", v)
	}
	tag, err := strconv.Atoi(f[0])
	if err != nil || tag < 0 || tag > 999999999 {
		return Crypto{}, fmt.Errorf("media: a=crypto %q: bad tag", v)
	}
	k, s, ok := keySaltLen(f[1])
	if !ok {
		return Crypto{}, fmt.Errorf("media: a=crypto %q: suite not supported", v)
	}
	params, found := strings.CutPrefix(f[2], "inline:")
	if !found || strings.Contains(params, ";") {
		return Crypto{}, fmt.Errorf("media: a=crypto %q: want one inline key", v)
	}
	b64, rest, _ := strings.Cut(params, "|")
	if strings.Contains(rest, ":") {
		return Crypto{}, fmt.Errorf("media: a=crypto %q: MKI not supported", v)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(b64)
	}
	if err != nil || len(key) != k+s {
		return Crypto{}, fmt.Errorf("media: a=crypto %q: key is not %d bytes of base64", v, k+s)
	}
	return Crypto{Tag: tag, Suite: f[1], Key: key}, nil
}

// SRTP are the keys of an SRTP session: Local encrypts what we send,
// Remote decrypts what the peer sends; both of Suite.
type SRTP struct {
	Suite  string
	Tag    int
	Local  []byte
	Remote []byte
}

func (k *SRTP) same(o *SRTP) bool {
	return k != nil && o != nil && k.Suite == o.Suite && bytes.Equal(k.Local, o.Local) && bytes.Equal(k.Remote, o.Remote)
}

// AnswerCrypto chooses, from an offer's crypto attributes, the first of a
// supported suite, and returns the answer's attribute (same tag and suite,
// the key of ours for that suite from local) and the session's keys.
func AnswerCrypto(offered []Crypto, local func(suite string) (Crypto, error)) (Crypto, *SRTP, error) {
	for _, c := range offered {
		if _, ok := suiteProfile(c.Suite); !ok {
			continue
		}
		mine, err := local(c.Suite)
		if err != nil {
			return Crypto{}, nil, err
		}
		mine.Tag = c.Tag
		return mine, &SRTP{Suite: c.Suite, Tag: c.Tag, Local: mine.Key, Remote: c.Key}, nil
	}
	return Crypto{}, nil, ErrSRTPRequired
}

// OfferedCrypto matches an answer's crypto attribute with the one we
// offered under the same tag and suite (RFC 4568 section 7.1.3).
func OfferedCrypto(ours []Crypto, answer []Crypto) (*SRTP, error) {
	for _, a := range answer {
		for _, o := range ours {
			if a.Tag == o.Tag && a.Suite == o.Suite {
				return &SRTP{Suite: a.Suite, Tag: a.Tag, Local: o.Key, Remote: a.Key}, nil
			}
		}
	}
	return nil, ErrSRTPRequired
}

// srtpSession holds a session's SRTP contexts: one per direction and
// protocol, each used by one goroutine at a time (the sender under its
// lock, the readers on their own goroutines, RTCP reports under rtcpMu).
type srtpSession struct {
	keys         *SRTP
	txRTP, rxRTP *srtp.Context
	txRTCP       *srtp.Context
	rxRTCP       *srtp.Context
	rtcpMu       sync.Mutex // txRTCP
	encBuf       []byte     // the sender's, under its lock
	rtcpBuf      []byte     // under rtcpMu
}

// setSRTP keys the session for SRTP (nil: plain RTP). Contexts are kept
// when the keys did not change (a re-INVITE repeats them): their rollover
// counters and replay windows go on.
func (s *Session) setSRTP(k *SRTP) error {
	if k == nil {
		s.crypt.Store(nil)
		return nil
	}
	if cur := s.crypt.Load(); cur != nil && cur.keys.same(k) {
		return nil
	}
	c, err := newSRTPSession(k)
	if err != nil {
		return err
	}
	s.crypt.Store(c)
	return nil
}

// Encrypted reports whether the session sends and receives SRTP.
func (s *Session) Encrypted() bool { return s.crypt.Load() != nil }

// replayWindow is the SRTP and SRTCP replay window (RFC 3711 section
// 3.3.2: at least 64).
const replayWindow = 128

func newSRTPSession(k *SRTP) (*srtpSession, error) {
	p, ok := suiteProfile(k.Suite)
	if !ok {
		return nil, fmt.Errorf("media: crypto suite %q not supported", k.Suite)
	}
	kl, sl, _ := keySaltLen(k.Suite)
	if len(k.Local) != kl+sl || len(k.Remote) != kl+sl {
		return nil, fmt.Errorf("media: SRTP keys of %s must be %d bytes", k.Suite, kl+sl)
	}
	ctx := func(key []byte, opts ...srtp.ContextOption) (*srtp.Context, error) {
		return srtp.CreateContext(key[:kl], key[kl:], p, opts...)
	}
	s := &srtpSession{keys: k, encBuf: make([]byte, 0, 12+maxPayload+64), rtcpBuf: make([]byte, 0, 1500)}
	var err error
	if s.txRTP, err = ctx(k.Local); err != nil {
		return nil, fmt.Errorf("media: SRTP context: %w", err)
	}
	if s.txRTCP, err = ctx(k.Local); err != nil {
		return nil, fmt.Errorf("media: SRTCP context: %w", err)
	}
	if s.rxRTP, err = ctx(k.Remote, srtp.SRTPReplayProtection(replayWindow)); err != nil {
		return nil, fmt.Errorf("media: SRTP context: %w", err)
	}
	if s.rxRTCP, err = ctx(k.Remote, srtp.SRTCPReplayProtection(replayWindow)); err != nil {
		return nil, fmt.Errorf("media: SRTCP context: %w", err)
	}
	return s, nil
}
