package pki

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/entvoice/entvoice/internal/provision"
)

// tokenPrefix versions the token format.
const tokenPrefix = "evn1"

// Token is a parsed node enrolment token:
//
//	evn1.<id>.<secret>.<ca>
//
// id is 8 random bytes in hex (the row key), secret 16 random bytes in
// base64url, ca the base64url SHA-256 of the CA certificate's DER. Central
// stores only SHA-256("<id>.<secret>"); the ca part lets the node pin the
// hub's CA before it sends the secret, as kubeadm's discovery token CA
// hash does.
type Token struct {
	ID     string
	Secret string
	CA     [32]byte
}

// ErrBadToken is a token that does not parse.
var ErrBadToken = errors.New("cluster: malformed node token (want evn1.<id>.<secret>.<ca-hash>)")

// NewToken makes a token for the CA whose DER has SHA-256 ca.
func NewToken(ca [32]byte) (Token, error) {
	id := make([]byte, 8)
	sec := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return Token{}, fmt.Errorf("cluster: %w", err)
	}
	if _, err := rand.Read(sec); err != nil {
		return Token{}, fmt.Errorf("cluster: %w", err)
	}
	return Token{ID: hex.EncodeToString(id), Secret: base64.RawURLEncoding.EncodeToString(sec), CA: ca}, nil
}

// String is the token as printed to the operator.
func (t Token) String() string {
	return tokenPrefix + "." + t.ID + "." + t.Secret + "." + base64.RawURLEncoding.EncodeToString(t.CA[:])
}

// Hash is what central stores: the hex SHA-256 of "<id>.<secret>", as
// API tokens are stored.
func (t Token) Hash() string { return hashSecret(t.ID, t.Secret) }

func hashSecret(id, secret string) string { return provision.HashToken(id + "." + secret) }

// TokenMatches reports, in constant time, whether the id and secret a
// node presents are those of the token central stored as hash.
func TokenMatches(hash, id, secret string) bool {
	return subtle.ConstantTimeCompare([]byte(hash), []byte(hashSecret(id, secret))) == 1
}

// ParseToken parses a token string.
func ParseToken(s string) (Token, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) != 4 || parts[0] != tokenPrefix {
		return Token{}, ErrBadToken
	}
	if id, err := hex.DecodeString(parts[1]); err != nil || len(id) != 8 {
		return Token{}, ErrBadToken
	}
	if sec, err := base64.RawURLEncoding.DecodeString(parts[2]); err != nil || len(sec) != 16 {
		return Token{}, ErrBadToken
	}
	ca, err := base64.RawURLEncoding.DecodeString(parts[3])
	if err != nil || len(ca) != 32 {
		return Token{}, ErrBadToken
	}
	t := Token{ID: parts[1], Secret: parts[2]}
	copy(t.CA[:], ca)
	return t, nil
}
