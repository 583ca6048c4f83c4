package migrate

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqlite"

	"github.com/tenantry/tenantry/domain"
)

// declaredSchema is the schema schema.hcl declares its tables in.
const declaredSchema = "public"

// dialect holds what differs between PostgreSQL and SQLite.
type dialect struct {
	name       string
	schemaName string
	desired    func(hcl []byte) (*schema.Schema, error)
	open       func(schema.ExecQuerier) (migrate.Driver, error)
	inTx       func(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error, rollback bool) error
}

// dialectOf picks the dialect from the database/sql driver behind db: any driver whose
// type names sqlite (modernc's, which github.com/glebarez/sqlite wraps) is SQLite, every
// other one is PostgreSQL (pgx's stdlib driver).
func dialectOf(db *sql.DB) (dialect, error) {
	if db == nil {
		return dialect{}, errors.New("migrate: nil database handle")
	}
	if strings.Contains(strings.ToLower(fmt.Sprintf("%T", db.Driver())), "sqlite") {
		return dialect{name: "sqlite", schemaName: "main", desired: sqliteSchema, open: sqlite.Open, inTx: sqliteTx}, nil
	}
	return dialect{name: "postgres", schemaName: declaredSchema, desired: postgresSchema, open: postgres.Open, inTx: postgresTx}, nil
}

// postgresSchema evaluates the HCL and returns its "public" schema.
func postgresSchema(hcl []byte) (*schema.Schema, error) {
	var realm schema.Realm
	if err := postgres.EvalHCLBytes(hcl, &realm, nil); err != nil {
		return nil, err
	}
	s, ok := realm.Schema(declaredSchema)
	if !ok {
		return nil, fmt.Errorf("schema %q is not declared", declaredSchema)
	}
	return s, nil
}

// migrationLock is the key of the advisory lock that serialises concurrent migrations
// of one PostgreSQL database ("tenantry" as bytes).
const migrationLock = 0x74656e616e747279

func postgresTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error, rollback bool) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return unavailable("begin migration", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLock)); err != nil {
		return unavailable("lock migration", err)
	}
	if err := fn(tx); err != nil {
		return err
	}
	if rollback {
		return nil
	}
	if err := tx.Commit(); err != nil {
		return unavailable("commit migration", err)
	}
	return nil
}

// sqliteTx runs fn in a transaction on one connection with foreign-key enforcement
// switched off, as SQLite requires for rebuilding a table (the pragma is a no-op inside
// a transaction, and dropping a rebuilt parent table would otherwise cascade). Before
// committing it checks that no foreign key is left dangling.
func sqliteTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error, rollback bool) (err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return unavailable("open migration connection", err)
	}
	defer func() { _ = conn.Close() }()
	var fkOn bool
	if err := conn.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fkOn); err != nil {
		return unavailable("read foreign_keys pragma", err)
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = off"); err != nil {
		return unavailable("disable foreign keys", err)
	}
	if fkOn {
		defer func() {
			if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA foreign_keys = on"); rerr != nil {
				// Never hand a connection without foreign keys back to the pool.
				_ = conn.Raw(func(any) error { return driver.ErrBadConn })
				if err == nil {
					err = unavailable("re-enable foreign keys", rerr)
				}
			}
		}()
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return unavailable("begin migration", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := fn(tx); err != nil {
		return err
	}
	if rollback {
		return nil
	}
	if err := foreignKeyCheck(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return unavailable("commit migration", err)
	}
	return nil
}

func foreignKeyCheck(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return unavailable("check foreign keys", err)
	}
	defer func() { _ = rows.Close() }()
	var broken []string
	for rows.Next() {
		var table, parent string
		var rowid sql.NullInt64
		var fkid int
		if err := rows.Scan(&table, &rowid, &parent, &fkid); err != nil {
			return unavailable("check foreign keys", err)
		}
		broken = append(broken, fmt.Sprintf("%s -> %s", table, parent))
	}
	if err := rows.Err(); err != nil {
		return unavailable("check foreign keys", err)
	}
	if len(broken) > 0 {
		return domain.E(domain.KindInternal, "migration_failed",
			"the migration would leave rows referencing missing parents; nothing was applied",
			fmt.Errorf("foreign key check: %s", strings.Join(broken, ", ")))
	}
	return nil
}
