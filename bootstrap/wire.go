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

	"github.com/tenantry/tenantry/adapters/cache"
	"github.com/tenantry/tenantry/adapters/extractive"
	"github.com/tenantry/tenantry/adapters/httpapi"
	"github.com/tenantry/tenantry/adapters/jwtauth"
	"github.com/tenantry/tenantry/adapters/memory"
	"github.com/tenantry/tenantry/adapters/migrate"
	"github.com/tenantry/tenantry/adapters/passwords"
	"github.com/tenantry/tenantry/adapters/secretbox"
	"github.com/tenantry/tenantry/adapters/sqlstore"
	"github.com/tenantry/tenantry/adapters/vecsearch"
	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
)

// runtime is one running tenantry: what serve and the admin commands need, and what
// must be closed afterwards, in reverse order of opening.
type runtime struct {
	cfg      Config
	log      *zap.Logger
	router   http.Handler
	draining atomic.Bool
	closers  []func() error

	keys     *jwtauth.Keys
	keyring  *secretbox.Keyring
	tenantDB *sqlstore.TenantStore
	adminSvc *adminServices
	stopBg   context.CancelFunc
}

// adminServices are the administration use cases run by the CLI as the operator.
type adminServices struct {
	tenants *application.ManageTenants
	users   *application.ManageUsers
	actor   application.Actor
}

func (rt *runtime) admin() *adminServices { return rt.adminSvc }

// Close releases resources in reverse order of acquisition.
func (rt *runtime) Close() {
	if rt.stopBg != nil {
		rt.stopBg()
	}
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

	now := time.Now
	st := newStores(db, rt.keyring, cfg)
	rt.tenantDB = st.tenantDB
	rt.keys, err = jwtauth.NewKeys(st.signingKeys, rt.keyring, jwtauth.Config{
		Issuer: cfg.PublicURL, Audience: cfg.JWTAudience, Algorithm: cfg.JWTAlg, AccessTTL: cfg.AccessTTL, Skew: cfg.JWTSkew,
	}, log.Named("jwt"))
	if err != nil {
		return nil, fmt.Errorf("TENANTRY_JWT_ALG: %w", err)
	}
	if err := rt.keys.Load(ctx); err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	bgCtx, stopBg := context.WithCancel(context.WithoutCancel(ctx))
	rt.stopBg = stopBg
	go rt.keys.Run(bgCtx)

	hasher := passwords.New(passwords.Config{MaxConcurrent: cfg.HashConcurrency, MaxWait: cfg.HashWait})
	issuer := jwtauth.NewIssuer(rt.keys)
	verifier := jwtauth.NewCachedVerifier(jwtauth.NewVerifier(rt.keys), 50_000, now)
	index := vecsearch.New(st.chunks, vecsearch.Config{})
	v := &vendors{embedded: index, answerer: extractive.New(), http: newVendorHTTPClient(),
		modelIdle: cfg.ModelIdleTimeout, modelMax: cfg.ModelTimeout}
	policy := application.TokenPolicy{AccessTTL: cfg.AccessTTL, RefreshTTL: cfg.RefreshTTL}
	limiter := memory.NewRateLimiter()

	tenantsUC := application.NewManageTenants(application.ManageTenantsDeps{Tenants: st.tenants, Vendors: v, Audit: st.audit, Now: now, AllowHTTPVendors: cfg.AllowHTTPVendors})
	usersUC := application.NewManageUsers(application.ManageUsersDeps{Users: st.users, Hasher: hasher, Refresh: st.refresh, Audit: st.audit, Now: now})
	rt.adminSvc = &adminServices{tenants: tenantsUC, users: usersUC, actor: operatorActor(stdio)}

	deps := httpapi.Deps{
		Log:           log.Named("http"),
		Login:         application.NewLogin(application.LoginDeps{Users: st.users, Hasher: hasher, Issuer: issuer, Refresh: st.refresh, Attempts: memory.NewAttemptLimiter(cfg.LoginMaxFailures, cfg.LoginWindow), Policy: policy, Now: now}),
		Refresh:       application.NewRefreshTokens(application.RefreshDeps{Users: st.users, Issuer: issuer, Refresh: st.refresh, Policy: policy, Now: now}),
		Revoke:        application.NewRevokeToken(st.refresh, now),
		Authenticate:  application.NewAuthenticate(verifier, st.users),
		ResolveTenant: application.NewResolveTenant(st.tenants, now),
		Profile:       application.NewProfile(st.users, st.tenants),
		Tenants:       tenantsUC,
		Users:         usersUC,
		Ingest: application.NewIngestDocument(application.IngestDeps{Documents: st.documents, Vendors: v, Limiter: limiter,
			Chunker: domain.Chunker{Size: cfg.ChunkSize, Overlap: cfg.ChunkOverlap}, Now: now}),
		Documents:     application.NewDocuments(st.documents, v),
		Conversations: application.NewConversations(st.conversations),
		Chat: application.NewStreamChat(application.StreamChatDeps{Conversations: st.conversations, Usage: st.usage, Vendors: v,
			Limiter: limiter, Slots: memory.NewStreamSlots(), Now: now}),
		Reports:   application.NewReports(st.usage, st.audit, now),
		Ready:     readiness(sqlDB, schemaHCL, &rt.draining),
		JWKS:      func(context.Context) ([]byte, error) { return rt.keys.JWKS(), nil },
		Discovery: httpapi.Discovery{Issuer: cfg.PublicURL, SigningAlgorithms: []string{rt.keys.Algorithm()}},
	}
	rt.router = httpapi.New(httpapi.Config{MaxBodyBytes: cfg.MaxBodyBytes, MaxDocumentBytes: cfg.MaxDocumentBytes, PingInterval: cfg.PingInterval}, deps)
	return rt, nil
}

// stores are the SQL stores, with the user and tenant stores behind their caches.
type stores struct {
	tenantDB      *sqlstore.TenantStore
	tenants       *cache.Tenants
	users         *cache.Users
	signingKeys   *sqlstore.SigningKeyStore
	refresh       *sqlstore.RefreshTokenStore
	chunks        *sqlstore.ChunkStore
	documents     *sqlstore.DocumentStore
	conversations *sqlstore.ConversationStore
	usage         *sqlstore.UsageStore
	audit         *sqlstore.AuditLog
}

func newStores(db *gorm.DB, sealer *secretbox.Keyring, cfg Config) stores {
	opts := cache.Options{TTL: cfg.CacheTTL}
	users := cache.NewUsers(sqlstore.NewUserStore(db), opts)
	tenantDB := sqlstore.NewTenantStore(db, sealer)
	return stores{
		tenantDB:      tenantDB,
		tenants:       cache.NewTenants(tenantDB, opts, users.Invalidate),
		users:         users,
		signingKeys:   sqlstore.NewSigningKeyStore(db),
		refresh:       sqlstore.NewRefreshTokenStore(db),
		chunks:        sqlstore.NewChunkStore(db),
		documents:     sqlstore.NewDocumentStore(db),
		conversations: sqlstore.NewConversationStore(db),
		usage:         sqlstore.NewUsageStore(db),
		audit:         sqlstore.NewAuditLog(db),
	}
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
		ConnMaxLifetime: cfg.DBConnMaxLifetime, ConnectTimeout: cfg.DBTimeout, QueryTimeout: 30 * time.Second}
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
