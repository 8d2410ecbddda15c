package dialplan

import (
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// mustParse parses an inline dialplan or fails the test.
func mustParse(t testing.TB, conf string) *Dialplan {
	t.Helper()
	d, err := Parse("test.conf", strings.NewReader(conf))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return d
}
