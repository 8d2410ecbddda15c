package sipauth

import "unsafe"

// bytesToString views b as a string without copying; b must not change
// while the string is in use (used only for stack digests passed on).
func bytesToString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
