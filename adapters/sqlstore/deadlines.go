package sqlstore

import (
	"context"
	"time"

	"gorm.io/gorm"
)

const deadlinesName = "tenantry:deadlines"

// deadlines bounds every statement on the client side too. PostgreSQL's
// statement_timeout is enforced by the server, so a frozen server or a half-open
// connection would otherwise hold a request, and its pooled connection, forever. The
// client deadline sits a little past the server's, so that a slow statement still gets
// the server's clean cancellation first.
type deadlines struct{ d time.Duration }

func (p *deadlines) Name() string { return deadlinesName }

// Initialize registers the callbacks around every create, query, update, delete and
// raw statement. Row queries (Rows, Row) are not bounded here: their cursor outlives the
// callback chain; the stores do not use them.
func (p *deadlines) Initialize(db *gorm.DB) error {
	before := func(tx *gorm.DB) {
		ctx, cancel := context.WithTimeout(tx.Statement.Context, p.d)
		tx.Statement.Context = ctx
		tx.InstanceSet(deadlinesName, cancel)
	}
	after := func(tx *gorm.DB) {
		if c, ok := tx.InstanceGet(deadlinesName); ok {
			c.(context.CancelFunc)()
		}
	}
	cb := db.Callback()
	for _, reg := range []struct {
		before, after func(name string, fn func(*gorm.DB)) error
	}{
		{cb.Create().Before("*").Register, cb.Create().After("*").Register},
		{cb.Query().Before("*").Register, cb.Query().After("*").Register},
		{cb.Update().Before("*").Register, cb.Update().After("*").Register},
		{cb.Delete().Before("*").Register, cb.Delete().After("*").Register},
		{cb.Raw().Before("*").Register, cb.Raw().After("*").Register},
	} {
		if err := reg.before(deadlinesName+":before", before); err != nil {
			return err
		}
		if err := reg.after(deadlinesName+":after", after); err != nil {
			return err
		}
	}
	return nil
}

// txContext bounds a whole transaction (its BEGIN and COMMIT are not statements the
// callbacks see) to a few statement deadlines.
func txContext(ctx context.Context, db *gorm.DB) (context.Context, context.CancelFunc) {
	if p, ok := db.Config.Plugins[deadlinesName].(*deadlines); ok {
		return context.WithTimeout(ctx, 3*p.d)
	}
	return ctx, func() {}
}
