package sipauth

import (
	"crypto/md5"
	"encoding/hex"
)

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// HA1Like computes H(a:b) with MD5 (A2 for tests).
func HA1Like(a, b string) string { return md5hex(a + ":" + b) }
