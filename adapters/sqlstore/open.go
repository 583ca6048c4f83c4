// Package sqlstore implements tenantry's storage ports with GORM on PostgreSQL (through
// pgx) and on SQLite (the embedded default, pure Go through github.com/glebarez/sqlite).
// The schema comes from schema.hcl, applied by the migrate adapter; nothing here creates
// or alters tables (no AutoMigrate).
//
// Row types stay unexported and are converted to domain values at the boundary; every
// database error leaves as a *domain.Error of the right kind with the vendor error as
// its cause. It imports domain, ports, GORM and the two drivers; never another adapter.
package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	gormlogger "gorm.io/gorm/logger"

	"github.com/tenantry/tenantry/domain"
)

// Config selects and tunes the database. With URL empty the embedded SQLite database at
// SQLitePath is used.
type Config struct {
	// URL is a PostgreSQL URL in any form ParseDatabaseURL accepts.
	URL string
	// SQLitePath is the embedded database file; its directory is created if missing.
	SQLitePath string
	// MaxOpenConns and MaxIdleConns size the pool (0: database/sql defaults, except
	// that SQLite defaults to 8 open connections).
	MaxOpenConns int
	MaxIdleConns int
	// ConnMaxLifetime and ConnMaxIdleTime recycle connections (0: never).
	ConnMaxLifetime time.Duration
	ConnMaxIdleTime time.Duration
	// ConnectTimeout bounds establishing one PostgreSQL connection (0: 10s).
	ConnectTimeout time.Duration
	// QueryTimeout is PostgreSQL's statement_timeout for every statement, and (plus
	// two seconds) the client-side deadline of every statement on either engine, so a
	// frozen server cannot hold a request forever (0: none).
	QueryTimeout time.Duration
	// BusyTimeout is how long a SQLite writer waits for the lock (0: 10s).
	BusyTimeout time.Duration
	// Logger receives GORM's logs; nil discards them.
	Logger gormlogger.Interface
}

// Dialect names the database engine behind a Config.
func (c Config) Dialect() string {
	if c.URL != "" {
		return "postgres"
	}
	return "sqlite"
}

// Redacted returns a form of the configuration safe to log: the URL without its
// password, or the SQLite path.
func (c Config) Redacted() string {
	if c.URL != "" {
		return Redact(c.URL)
	}
	return "sqlite:" + c.SQLitePath
}

// schemes maps every accepted URL scheme (including the Python drivers' prefixes that
// users paste from other tools) to the one pgx understands.
var schemes = map[string]bool{
	"postgres":            true,
	"postgresql":          true,
	"postgresql+psycopg":  true,
	"postgresql+psycopg2": true,
	"postgresql+asyncpg":  true,
	"postgres+psycopg":    true,
	"postgres+psycopg2":   true,
	"postgres+asyncpg":    true,
}

// ParseDatabaseURL accepts postgres://, postgresql://, postgresql+psycopg://,
// postgresql+psycopg2:// and postgresql+asyncpg:// URLs and returns the equivalent
// postgres:// URL. asyncpg's ssl= parameter becomes sslmode=. Any other scheme, or a
// URL without a host, is KindInvalid; the error never contains the password.
func ParseDatabaseURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", invalidURL("it is not a valid URL", "")
	}
	scheme := strings.ToLower(u.Scheme)
	if !schemes[scheme] {
		return "", invalidURL(fmt.Sprintf("unsupported scheme %q; use postgres://, postgresql://, postgresql+psycopg://, postgresql+psycopg2:// or postgresql+asyncpg://", u.Scheme), Redact(raw))
	}
	if u.Host == "" && u.Query().Get("host") == "" {
		return "", invalidURL("it names no host", Redact(raw))
	}
	u.Scheme = "postgres"
	q := u.Query()
	if ssl := q.Get("ssl"); ssl != "" {
		q.Del("ssl")
		if q.Get("sslmode") == "" {
			q.Set("sslmode", asyncpgSSLMode(ssl))
		}
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

func asyncpgSSLMode(v string) string {
	switch strings.ToLower(v) {
	case "true", "1", "on":
		return "require"
	case "false", "0", "off":
		return "disable"
	}
	return strings.ToLower(v)
}

func invalidURL(why, redacted string) error {
	detail := "the database URL is invalid: " + why
	if redacted != "" {
		detail += " (" + redacted + ")"
	}
	return domain.E(domain.KindInvalid, "invalid_database_url", detail, nil)
}

// Redact returns raw with any password (in the user info or a password= parameter)
// replaced by "xxxxx", for logs and error messages. A value that does not parse as a
// URL is replaced entirely.
func Redact(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "[unparsable database URL]"
	}
	if u.Opaque != "" {
		// "user:pass@host" without "//" parses as scheme "user" and an opaque rest.
		return u.Scheme + ":[redacted]"
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// Open connects to the configured database, checks that it answers and returns the GORM
// handle (opened with TranslateError) and the database/sql pool under it. An
// unreachable database is KindUnavailable; a bad URL KindInvalid.
func Open(ctx context.Context, c Config) (*gorm.DB, *sql.DB, error) {
	var (
		sqlDB *sql.DB
		dial  gorm.Dialector
		err   error
	)
	if c.URL != "" {
		sqlDB, err = openPostgres(c)
		if err != nil {
			return nil, nil, err
		}
		dial = postgres.New(postgres.Config{Conn: sqlDB})
	} else {
		sqlDB, err = openSQLite(c)
		if err != nil {
			return nil, nil, err
		}
		dial = &sqlite.Dialector{Conn: sqlDB}
	}
	configurePool(sqlDB, c)
	logger := c.Logger
	if logger == nil {
		logger = gormlogger.Discard
	}
	gdb, err := gorm.Open(dial, &gorm.Config{
		TranslateError:         true,
		Logger:                 logger,
		SkipDefaultTransaction: true,
		NowFunc:                func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
	})
	if err != nil {
		_ = sqlDB.Close()
		return nil, nil, connectError(fmt.Errorf("open %s: %w", c.Redacted(), err))
	}
	if err := gdb.Use(origin{id: rand.Text()}); err != nil {
		_ = sqlDB.Close()
		return nil, nil, err
	}
	if c.QueryTimeout > 0 {
		if err := gdb.Use(&deadlines{d: c.QueryTimeout + 2*time.Second}); err != nil {
			_ = sqlDB.Close()
			return nil, nil, fmt.Errorf("register statement deadlines: %w", err)
		}
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, nil, connectError(fmt.Errorf("connect to %s: %w", c.Redacted(), err))
	}
	return gdb, sqlDB, nil
}

func openPostgres(c Config) (*sql.DB, error) {
	pc, err := pgConfig(c)
	if err != nil {
		return nil, err
	}
	return stdlib.OpenDB(*pc), nil
}

// pgConfig is the pgx connection configuration of c's URL, timeouts included.
func pgConfig(c Config) (*pgx.ConnConfig, error) {
	norm, err := ParseDatabaseURL(c.URL)
	if err != nil {
		return nil, err
	}
	pc, err := pgx.ParseConfig(norm)
	if err != nil {
		// pgx's parse errors may quote the connection string; keep only our redacted form.
		return nil, invalidURL("its parameters are not understood", Redact(c.URL))
	}
	pc.ConnectTimeout = c.ConnectTimeout
	if pc.ConnectTimeout <= 0 {
		pc.ConnectTimeout = 10 * time.Second
	}
	if c.QueryTimeout > 0 {
		pc.RuntimeParams["statement_timeout"] = fmt.Sprint(c.QueryTimeout.Milliseconds())
	}
	return pc, nil
}

func openSQLite(c Config) (*sql.DB, error) {
	if c.SQLitePath == "" {
		return nil, domain.E(domain.KindInvalid, "invalid_database", "neither a database URL nor a SQLite path is configured", nil)
	}
	if strings.ContainsAny(c.SQLitePath, "?#") {
		return nil, domain.E(domain.KindInvalid, "invalid_database", "the SQLite path must not contain '?' or '#'", nil)
	}
	if dir := filepath.Dir(c.SQLitePath); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, domain.ErrUnavailable.With(fmt.Errorf("create data directory: %w", err))
		}
	}
	busy := c.BusyTimeout
	if busy <= 0 {
		busy = 10 * time.Second
	}
	// Immediate transactions take the write lock at BEGIN, so two read-modify-write
	// transactions queue on busy_timeout instead of failing on lock upgrade.
	dsn := fmt.Sprintf("%s?_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate",
		c.SQLitePath, busy.Milliseconds())
	db, err := sql.Open(sqlite.DriverName, dsn)
	if err != nil {
		return nil, domain.ErrUnavailable.With(fmt.Errorf("open sqlite %s: %w", c.SQLitePath, err))
	}
	if c.MaxOpenConns == 0 {
		db.SetMaxOpenConns(8)
	}
	return db, nil
}

func configurePool(db *sql.DB, c Config) {
	if c.MaxOpenConns > 0 {
		db.SetMaxOpenConns(c.MaxOpenConns)
	}
	if c.MaxIdleConns > 0 {
		db.SetMaxIdleConns(c.MaxIdleConns)
	}
	if c.ConnMaxLifetime > 0 {
		db.SetConnMaxLifetime(c.ConnMaxLifetime)
	}
	if c.ConnMaxIdleTime > 0 {
		db.SetConnMaxIdleTime(c.ConnMaxIdleTime)
	}
}

// connectError classifies a failure to connect: refused credentials or database are a
// configuration mistake to fix, anything else is Unavailable (try again).
func connectError(cause error) error {
	if refusedLogin(cause) {
		return domain.E(domain.KindInvalid, "database_login_refused",
			"PostgreSQL refused the login: check the user, password and database name in DATABASE_URL (or DATABASE_PUBLIC_URL)", cause)
	}
	return domain.ErrUnavailable.With(cause)
}
