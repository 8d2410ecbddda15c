package hub_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/entvoice/entvoice/internal/cluster/clustertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var waitFor = clustertest.WaitFor
