package provision

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// KeyFile is the name of the sealing key file in the data directory.
const KeyFile = "secrets.key"

// sealer seals AMI secrets with AES-256-GCM (NIST SP 800-38D): a random
// 96-bit nonce per secret, stored as base64(nonce || ciphertext || tag).
// AMI's Challenge/MD5 login (main/manager.c action_login) hashes
// challenge+secret, so the secret must be recoverable, unlike SIP HA1s.
type sealer struct {
	aead cipher.AEAD
}

// loadSealer reads the 32-byte key from path, creating it (mode 0600) when
// it does not exist.
func loadSealer(path string) (*sealer, error) {
	key, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("provision: secrets key: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("provision: secrets key: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			if errors.Is(err, fs.ErrExist) {
				// Another process created it first: use theirs.
				return loadSealer(path)
			}
			return nil, fmt.Errorf("provision: secrets key: %w", err)
		}
		if _, err := f.Write(key); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("provision: write secrets key: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("provision: write secrets key: %w", err)
		}
	case err != nil:
		return nil, fmt.Errorf("provision: secrets key: %w", err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("provision: secrets key %s: want 32 bytes, have %d", path, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("provision: secrets key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("provision: secrets key: %w", err)
	}
	return &sealer{aead: aead}, nil
}

// additional data binds a sealed secret to its row, so a sealed value
// copied onto another AMI user does not open.
func (s *sealer) seal(name, secret string) (string, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(secret)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("provision: seal: %w", err)
	}
	out := s.aead.Seal(nonce, nonce, []byte(secret), []byte("ami_user:"+name))
	return base64.StdEncoding.EncodeToString(out), nil
}

func (s *sealer) open(name, sealed string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < s.aead.NonceSize()+s.aead.Overhead() {
		return "", fmt.Errorf("provision: AMI user %q: sealed secret is malformed", name)
	}
	n := s.aead.NonceSize()
	pt, err := s.aead.Open(nil, raw[:n], raw[n:], []byte("ami_user:"+name))
	if err != nil {
		return "", fmt.Errorf("provision: AMI user %q: secret does not open with %s (was the key file replaced?): %w", name, KeyFile, err)
	}
	return string(pt), nil
}
