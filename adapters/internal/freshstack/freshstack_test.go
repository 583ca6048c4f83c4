package freshstack_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tenantry/tenantry/adapters/internal/freshstack"
)

func TestRunWaitsForF(t *testing.T) {
	n := 0
	freshstack.Run(func() { n++ })
	assert.Equal(t, 1, n, "f ran before Run returned")
}

func TestRunRaisesFsPanicOnTheCallersGoroutine(t *testing.T) {
	assert.PanicsWithValue(t, "boom", func() {
		freshstack.Run(func() { panic("boom") })
	})
}
