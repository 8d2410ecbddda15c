package e2e

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests: every
// node, phone and peer must be stopped by its test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
