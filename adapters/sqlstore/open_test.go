package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/tenantry/tenantry/domain"
)

func TestParseDatabaseURL(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		raw  string
		want string
	}{
		{name: "postgres", raw: "postgres://u:pw@db.example.com:5432/app?sslmode=require", want: "postgres://u:pw@db.example.com:5432/app?sslmode=require"},
		{name: "postgresql", raw: "postgresql://u:pw@db.example.com/app", want: "postgres://u:pw@db.example.com/app"},
		{name: "psycopg", raw: "postgresql+psycopg://u:pw@db.example.com:6543/app", want: "postgres://u:pw@db.example.com:6543/app"},
		{name: "psycopg2", raw: "postgresql+psycopg2://u:pw@db.example.com/app", want: "postgres://u:pw@db.example.com/app"},
		{name: "asyncpg", raw: "postgresql+asyncpg://u:pw@db.example.com/app", want: "postgres://u:pw@db.example.com/app"},
		{name: "asyncpg ssl parameter becomes sslmode", raw: "postgresql+asyncpg://u:pw@db.example.com/app?ssl=require", want: "postgres://u:pw@db.example.com/app?sslmode=require"},
		{name: "asyncpg ssl=true", raw: "postgresql+asyncpg://u@h/app?ssl=true", want: "postgres://u@h/app?sslmode=require"},
		{name: "upper-case scheme", raw: "PostgreSQL://u@h/app", want: "postgres://u@h/app"},
		{name: "surrounding spaces", raw: "  postgres://u@h/app\n", want: "postgres://u@h/app"},
		{name: "socket host parameter", raw: "postgres:///app?host=/var/run/postgresql", want: "postgres:///app?host=/var/run/postgresql"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseDatabaseURL(tc.raw)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParseDatabaseURLRejectsOtherSchemesWithoutLeakingThePassword(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		raw  string
		want string
	}{
		{name: "mysql", raw: "mysql://root:hunter2secret@db/app", want: `unsupported scheme "mysql"`},
		{name: "sqlite", raw: "sqlite:///tmp/x.db", want: `unsupported scheme "sqlite"`},
		{name: "pg8000", raw: "postgresql+pg8000://u:hunter2secret@db/app", want: `unsupported scheme "postgresql+pg8000"`},
		{name: "no scheme", raw: "u:hunter2secret@db/app", want: "the database URL is invalid"},
		{name: "no host", raw: "postgres://u:hunter2secret@/app", want: "names no host"},
		{name: "garbage", raw: "postgres://u:hunter2secret@db:port/app", want: "not a valid URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseDatabaseURL(tc.raw)
			require.Error(t, err)
			assert.Equal(t, domain.KindInvalid, domain.KindOf(err))
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "hunter2secret")
		})
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, raw, want string
	}{
		{name: "user info password", raw: "postgresql+psycopg://app:s3cr3t@db:5432/app", want: "postgresql+psycopg://app:xxxxx@db:5432/app"},
		{name: "password parameter", raw: "postgres://db/app?user=app&password=s3cr3t", want: "postgres://db/app?password=xxxxx&user=app"},
		{name: "no password", raw: "postgres://app@db/app", want: "postgres://app@db/app"},
		{name: "unparsable", raw: "postgres://app:s3cr3t@db:port/app", want: "[unparsable database URL]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Redact(tc.raw)
			assert.Equal(t, tc.want, got)
			assert.NotContains(t, got, "s3cr3t")
		})
	}
}

func TestOpenUnreachablePostgresIsUnavailableAndRedacted(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // nothing listens there now

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err = Open(ctx, Config{URL: "postgresql+psycopg://app:hunter2secret@" + addr + "/app", ConnectTimeout: 2 * time.Second})
	require.Error(t, err)
	assert.Equal(t, domain.KindUnavailable, domain.KindOf(err))
	assert.NotContains(t, err.Error(), "hunter2secret")
	assert.Contains(t, err.Error(), "xxxxx")
}

func TestOpenWithABadURLIsInvalid(t *testing.T) {
	t.Parallel()
	_, _, err := Open(context.Background(), Config{URL: "mysql://root:hunter2secret@db/app"})
	require.Error(t, err)
	assert.Equal(t, domain.KindInvalid, domain.KindOf(err))
	assert.NotContains(t, err.Error(), "hunter2secret")
}

func TestTranslate(t *testing.T) {
	t.Parallel()
	named := domain.ErrTenantSuspended
	cases := []struct {
		name string
		err  error
		want domain.Kind
	}{
		{name: "record not found", err: gorm.ErrRecordNotFound, want: domain.KindNotFound},
		{name: "duplicated key", err: fmt.Errorf("insert: %w", gorm.ErrDuplicatedKey), want: domain.KindConflict},
		{name: "foreign key", err: gorm.ErrForeignKeyViolated, want: domain.KindInvalid},
		{name: "postgres unique violation", err: &pgconn.PgError{Code: "23505"}, want: domain.KindConflict},
		{name: "postgres foreign key violation", err: &pgconn.PgError{Code: "23503"}, want: domain.KindInvalid},
		{name: "postgres admin shutdown", err: &pgconn.PgError{Code: "57P01"}, want: domain.KindUnavailable},
		{name: "postgres statement timeout", err: &pgconn.PgError{Code: "57014"}, want: domain.KindUnavailable},
		{name: "postgres too many connections", err: &pgconn.PgError{Code: "53300"}, want: domain.KindUnavailable},
		{name: "postgres serialization failure", err: &pgconn.PgError{Code: "40001"}, want: domain.KindUnavailable},
		{name: "postgres syntax error", err: &pgconn.PgError{Code: "42601"}, want: domain.KindInternal},
		{name: "dial error", err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, want: domain.KindUnavailable},
		{name: "deadline", err: context.DeadlineExceeded, want: domain.KindUnavailable},
		{name: "anything else", err: errors.New("odd"), want: domain.KindInternal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := translate(tc.err, "do something")
			assert.Equal(t, tc.want, domain.KindOf(got))
			assert.ErrorIs(t, got, tc.err, "the cause is kept")
		})
	}
	t.Run("domain errors pass through unchanged", func(t *testing.T) {
		t.Parallel()
		assert.Same(t, named, translate(named, "x"))
	})
}
