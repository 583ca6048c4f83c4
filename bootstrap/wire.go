package bootstrap

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"gorm.io/gorm"

	"github.com/tenantry/tenantry/adapters/jwtauth"
	"github.com/tenantry/tenantry/adapters/migrate"
	"github.com/tenantry/tenantry/adapters/secretbox"
	"github.com/tenantry/tenantry/adapters/sqlstore"
	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// runtime is one running tenantry: what serve and the admin commands need, and what
// must be closed afterwards, in reverse order of opening.
type runtime struct {
	cfg      Config
	log      *zap.Logger
	router   http.Handler
	draining atomic.Bool
	closers  []func() error

	keys        *jwtauth.Keys
	keyring     *secretbox.Keyring
	tenantDB    *sqlstore.TenantStore
	signingKeys ports.SigningKeyStore
	adminSvc    *adminServices
	api         *API
}

// adminServices are the administration use cases run by the CLI as the operator.
type adminServices struct {
	tenants   *application.ManageTenants
	users     *application.ManageUsers
	documents *application.Documents
	apiKeys   *application.ManageAPIKeys
	ingest    *application.IngestDocument // the first-run demo's sample documents
	reindex   *application.Reindex
	jobs      *reindexRunner
	sweeper   *vectorSweeper
	actor     application.Actor
}

func (rt *runtime) admin() *adminServices { return rt.adminSvc }

// Close releases resources in reverse order of acquisition.
func (rt *runtime) Close() {
	for i := len(rt.closers) - 1; i >= 0; i-- {
		if err := rt.closers[i](); err != nil {
			rt.log.Warn("close", zap.Error(err))
		}
	}
	_ = rt.log.Sync()
}

// openRuntime validates what the config alone cannot, then builds in order: logger,
// secrets, database (and schema), stores, identity, use cases, router.
func openRuntime(ctx context.Context, cfg Config, stdio IO, schemaHCL []byte, migrateFirst bool) (_ *runtime, err error) {
	log, err := newLogger(cfg, stdio.Err)
	if err != nil {
		return nil, err
	}
	rt := &runtime{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			rt.Close()
		}
	}()
	if rt.keyring, err = openKeyring(cfg, log); err != nil {
		return nil, err
	}
	db, sqlDB, err := openDatabase(ctx, cfg, log, schemaHCL, migrateFirst)
	if err != nil {
		return nil, err
	}
	rt.closers = append(rt.closers, sqlDB.Close)

	rt.tenantDB = sqlstore.NewTenantStore(db, rt.keyring)
	stores := SQLStores(db, rt.tenantDB)
	rt.signingKeys = stores.SigningKeys
	changes, err := changeFeed(db, cfg, log)
	if err != nil {
		return nil, err
	}
	bg, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	go pruneChanges(bg, changes, log.Named("changes"))
	rt.closers = append(rt.closers, func() error { stopBackground(); return nil })
	var limits Limits // the embedded default runs one process: in-memory limiters
	if !cfg.Embedded() {
		limits = sharedLimits(bg, db, cfg, log.Named("limits"))
	}
	api, err := Router(ctx, cfg, stores, RouterOptions{
		Log: log, Sealer: rt.keyring, Ready: readiness(sqlDB, schemaHCL, &rt.draining), Operator: operatorActor(stdio),
		Changes: changes, Limits: limits, PDFiumCacheDir: cfg.PDFiumCacheDir,
	})
	if err != nil {
		return nil, err
	}
	rt.closers = append(rt.closers, api.Close)
	rt.router, rt.keys, rt.adminSvc, rt.api = api.Handler, api.keys, api.admin, api
	return rt, nil
}

// openKeyring loads the master key. The embedded default may generate one into the
// data directory; with PostgreSQL a missing key is a startup error, since a key that
// lives on one node's disk would lock every other node out of the secrets.
func openKeyring(cfg Config, log *zap.Logger) (*secretbox.Keyring, error) {
	key := cfg.SecretKey
	if key == "" {
		if !cfg.Embedded() {
			return nil, errors.New("TENANTRY_SECRET_KEY is required with PostgreSQL: set it to 32 random bytes in base64 (for example `openssl rand -base64 32`)")
		}
		path := filepath.Join(cfg.DataDir, "secret.key")
		k, created, err := secretbox.LoadOrCreateKeyFile(path)
		if err != nil {
			return nil, fmt.Errorf("TENANTRY_SECRET_KEY unset and the key file failed: %w", err)
		}
		if created {
			log.Warn("TENANTRY_SECRET_KEY is not set: generated a master key for the embedded database; back it up or set TENANTRY_SECRET_KEY", zap.String("path", path))
		}
		key = k
	}
	kr, err := secretbox.New(key, cfg.PreviousSecretKey...)
	if err != nil {
		return nil, fmt.Errorf("TENANTRY_SECRET_KEY: %w", err)
	}
	return kr, nil
}

// openDatabase opens PostgreSQL or the embedded SQLite file and makes sure the schema
// is the declared one: applied automatically on the embedded default, explicitly
// (migrate, or serve --migrate) on PostgreSQL.
func openDatabase(ctx context.Context, cfg Config, log *zap.Logger, schemaHCL []byte, migrateFirst bool) (*gorm.DB, *sql.DB, error) {
	db, sqlDB, err := openSQL(ctx, dbConfig(cfg))
	if err != nil {
		return nil, nil, err
	}
	if cfg.Embedded() || migrateFirst {
		plan, err := migrate.Apply(ctx, sqlDB, schemaHCL, migrate.Options{})
		if err != nil {
			_ = sqlDB.Close()
			return nil, nil, err
		}
		if !plan.Empty() {
			log.Info("schema applied", zap.String("dialect", plan.Dialect), zap.Int("statements", len(plan.Statements)))
		}
	} else if err := migrate.Check(ctx, sqlDB, schemaHCL); err != nil {
		_ = sqlDB.Close()
		return nil, nil, err
	}
	return db, sqlDB, nil
}

func dbConfig(cfg Config) sqlstore.Config {
	dc := sqlstore.Config{URL: cfg.DatabaseURL, MaxOpenConns: cfg.DBMaxOpenConns, MaxIdleConns: cfg.DBMaxIdleConns,
		ConnMaxLifetime: cfg.DBConnMaxLifetime, ConnectTimeout: cfg.DBTimeout, QueryTimeout: cfg.DBQueryTimeout}
	if cfg.Embedded() {
		dc.SQLitePath = cfg.SQLitePath()
	}
	return dc
}

// openSQL opens the database; errors name the variable and never show the password.
func openSQL(ctx context.Context, dc sqlstore.Config) (*gorm.DB, *sql.DB, error) {
	db, sqlDB, err := sqlstore.Open(ctx, dc)
	if err != nil {
		return nil, nil, fmt.Errorf("open database: %w", err)
	}
	return db, sqlDB, nil
}

// readiness reports ready when the database answers and holds the declared schema,
// and not while draining. The schema check is cached briefly: it inspects the catalog.
func readiness(db *sql.DB, schemaHCL []byte, draining *atomic.Bool) func(context.Context) error {
	var lastOK atomic.Int64
	return func(ctx context.Context) error {
		if draining.Load() {
			return domain.ErrUnavailable.WithDetail("the server is shutting down")
		}
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if err := db.PingContext(ctx); err != nil {
			return domain.ErrUnavailable.WithDetail("the database is unreachable").With(err)
		}
		if time.Since(time.Unix(0, lastOK.Load())) < 10*time.Second {
			return nil
		}
		if err := migrate.Check(ctx, db, schemaHCL); err != nil {
			return err
		}
		lastOK.Store(time.Now().UnixNano())
		return nil
	}
}

// operatorActor is the platform operator running a CLI command.
func operatorActor(stdio IO) application.Actor {
	who := stdio.Getenv("USER")
	if who == "" {
		who = "operator"
	}
	return application.Actor{Principal: domain.Principal{UserID: "cli", Role: domain.RolePlatformAdmin}, Name: "cli:" + who}
}
