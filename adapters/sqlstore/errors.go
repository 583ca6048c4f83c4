package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	gosqlite "github.com/glebarez/go-sqlite"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tenantry/tenantry/domain"
)

// errInvalidReference is a write that names a parent row (a tenant, a user) that does
// not exist.
var errInvalidReference = &domain.Error{Kind: domain.KindInvalid, Code: "invalid_reference",
	Detail: "a referenced tenant or user does not exist"}

// translate turns a database error into a *domain.Error of the right kind, keeping the
// vendor error as cause; what says what was being done ("load tenant acme"). Values
// that already are *domain.Error pass through unchanged.
func translate(err error, what string) error {
	if err == nil {
		return nil
	}
	if domain.AsError(err) != nil {
		return err
	}
	cause := fmt.Errorf("%s: %w", what, err)
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound), errors.Is(err, sql.ErrNoRows):
		return domain.ErrNotFound.With(cause)
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return domain.ErrConflict.With(cause)
	case errors.Is(err, gorm.ErrForeignKeyViolated):
		return errInvalidReference.With(cause)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return domain.ErrUnavailable.With(cause)
	}
	if k, ok := sqliteKind(err); ok {
		return kindError(k, cause)
	}
	if k, ok := postgresKind(err); ok {
		return kindError(k, cause)
	}
	if unreachable(err) {
		return domain.ErrUnavailable.With(cause)
	}
	return domain.E(domain.KindInternal, "storage_error", "", cause)
}

func kindError(k domain.Kind, cause error) error {
	switch k {
	case domain.KindConflict:
		return domain.ErrConflict.With(cause)
	case domain.KindInvalid:
		return errInvalidReference.With(cause)
	case domain.KindUnavailable:
		return domain.ErrUnavailable.With(cause)
	}
	return domain.E(domain.KindInternal, "storage_error", "", cause)
}

// sqliteKind classifies SQLite errors that GORM's translator leaves untouched: a busy
// or locked database is Unavailable (retry), constraint failures by their message when
// the extended code is missing.
func sqliteKind(err error) (domain.Kind, bool) {
	var se *gosqlite.Error
	if !errors.As(err, &se) {
		return 0, false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_FULL, sqlite3.SQLITE_NOMEM:
		return domain.KindUnavailable, true
	case sqlite3.SQLITE_CONSTRAINT:
		msg := se.Error()
		switch {
		case strings.Contains(msg, "FOREIGN KEY"):
			return domain.KindInvalid, true
		case strings.Contains(msg, "UNIQUE"), strings.Contains(msg, "PRIMARY KEY"):
			return domain.KindConflict, true
		}
	}
	return 0, false
}

// postgresKind classifies PostgreSQL server errors by SQLSTATE class: connection
// exceptions, shutdowns, resource exhaustion, statement timeouts, serialization
// failures and deadlocks are Unavailable (the caller may retry).
func postgresKind(err error) (domain.Kind, bool) {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return 0, false
	}
	switch {
	case pe.Code == "23505":
		return domain.KindConflict, true
	case pe.Code == "23503":
		return domain.KindInvalid, true
	case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "53"), strings.HasPrefix(pe.Code, "57"),
		pe.Code == "40001", pe.Code == "40P01", pe.Code == "55P03":
		return domain.KindUnavailable, true
	}
	return 0, false
}

// refusedLogin reports whether PostgreSQL refused the connection's credentials or
// database (SQLSTATE class 28, invalid authorization, or 3D000, no such database):
// a configuration mistake that retrying does not fix.
func refusedLogin(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (strings.HasPrefix(pe.Code, "28") || pe.Code == "3D000")
}

// unreachable reports whether err means the database could not be reached or the
// connection broke.
func unreachable(err error) bool {
	var ne net.Error
	var ce *pgconn.ConnectError
	return errors.As(err, &ne) || errors.As(err, &ce) || pgconn.Timeout(err) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "sql: database is closed")
}

// passThrough carries an error that must leave a transaction unchanged (the error of
// a caller's update function).
type passThrough struct{ err error }

func (p passThrough) Error() string { return p.err.Error() }
func (p passThrough) Unwrap() error { return p.err }

// transact runs fn in one transaction and translates what comes out of it; errors fn
// wraps in passThrough come out exactly as they went in.
func transact(ctx context.Context, db *gorm.DB, what string, fn func(tx *gorm.DB) error) error {
	ctx, cancel := txContext(ctx, db)
	defer cancel()
	err := db.WithContext(ctx).Transaction(fn)
	var p passThrough
	if errors.As(err, &p) {
		return p.err
	}
	return translate(err, what)
}
