package membudget_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tenantry/tenantry/adapters/internal/membudget"
)

type copyOf struct {
	name string
	membudget.Copy
}

// TestTrimEvictsLeastRecentlyUsedFirstUntilWithinMax loads four copies of 10 bytes
// into a budget of 25, uses them in a known order, and checks that trimming offers the
// least recently used first, never keep or an empty copy, goes on past a copy that
// stays (in use), and stops once the total is within Max.
func TestTrimEvictsLeastRecentlyUsedFirstUntilWithinMax(t *testing.T) {
	t.Parallel()
	b := &membudget.Budget{Max: 25}
	a, c, d, e, empty := &copyOf{name: "a"}, &copyOf{name: "c"}, &copyOf{name: "d"}, &copyOf{name: "e"}, &copyOf{name: "empty"}
	for _, x := range []*copyOf{a, c, d, e} {
		b.Resized(&x.Copy, 10)
	}
	for _, x := range []*copyOf{d, a, e, empty, c} { // d least recently, c most
		b.Used(&x.Copy)
	}
	assert.Equal(t, int64(40), b.Total())
	assert.True(t, b.Over())

	var offered []string
	membudget.Trim(b, []*copyOf{a, c, d, e, empty}, e, func(x *copyOf) {
		offered = append(offered, x.name)
		if x != d { // d is in use and stays
			b.Resized(&x.Copy, 0)
		}
	})
	assert.Equal(t, []string{"d", "a", "c"}, offered, "least recently used first, keep and the empty copy never")
	assert.Equal(t, int64(20), b.Total())
	assert.False(t, b.Over())
	assert.Zero(t, a.Bytes())
	assert.Equal(t, int64(10), d.Bytes())
}

func TestAZeroBudgetIsNeverOver(t *testing.T) {
	t.Parallel()
	var b membudget.Budget
	var x copyOf
	b.Resized(&x.Copy, 1<<40)
	assert.False(t, b.Over())
}
