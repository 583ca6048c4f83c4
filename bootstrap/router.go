package bootstrap

import (
	"context"
	"fmt"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"
	"gorm.io/gorm"

	"github.com/tenantry/tenantry/adapters/cache"
	"github.com/tenantry/tenantry/adapters/extractive"
	"github.com/tenantry/tenantry/adapters/httpapi"
	"github.com/tenantry/tenantry/adapters/jwtauth"
	"github.com/tenantry/tenantry/adapters/memory"
	"github.com/tenantry/tenantry/adapters/observe"
	"github.com/tenantry/tenantry/adapters/passwords"
	"github.com/tenantry/tenantry/adapters/sqlstore"
	"github.com/tenantry/tenantry/adapters/vecsearch"
	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// Stores are the storage ports a router runs on: the SQL stores in production, the
// in-memory ones in tests.
type Stores struct {
	Tenants       ports.TenantStore
	Users         ports.UserStore
	SigningKeys   ports.SigningKeyStore
	RefreshTokens ports.RefreshTokenStore
	Chunks        ports.ChunkStore
	Documents     ports.DocumentStore
	Conversations ports.ConversationStore
	Usage         ports.UsageStore
	Audit         ports.AuditLog
}

// SQLStores are the GORM stores on db (PostgreSQL or the embedded SQLite).
func SQLStores(db *gorm.DB, tenants *sqlstore.TenantStore) Stores {
	return Stores{
		Tenants:       tenants,
		Users:         sqlstore.NewUserStore(db),
		SigningKeys:   sqlstore.NewSigningKeyStore(db),
		RefreshTokens: sqlstore.NewRefreshTokenStore(db),
		Chunks:        sqlstore.NewChunkStore(db),
		Documents:     sqlstore.NewDocumentStore(db),
		Conversations: sqlstore.NewConversationStore(db),
		Usage:         sqlstore.NewUsageStore(db),
		Audit:         sqlstore.NewAuditLog(db),
	}
}

// MemoryStores are in-memory stores sharing one memory.DB.
func MemoryStores(db *memory.DB) Stores {
	return Stores{
		Tenants: db.Tenants(), Users: db.Users(), SigningKeys: db.SigningKeys(), RefreshTokens: db.RefreshTokens(),
		Chunks: db.Chunks(), Documents: db.Documents(), Conversations: db.Conversations(), Usage: db.Usage(), Audit: db.Audit(),
	}
}

// RouterOptions are what the router needs besides the config and the stores.
type RouterOptions struct {
	Log    *zap.Logger
	Sealer ports.SecretSealer
	// Ready backs GET /readyz; nil is always ready.
	Ready func(context.Context) error
	// Operator is the actor of CLI commands.
	Operator application.Actor
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Vendors replaces the per-tenant vendor factory (tests); nil builds the real one.
	Vendors ports.Vendors
	// Changes connects this node's caches with the other nodes' writes; nil when no
	// other process shares the database (the embedded SQLite).
	Changes ports.ChangeFeed
}

// API is a built router with what must run beside it and be closed after it.
type API struct {
	Handler *echo.Echo
	// Streams are the event streams the handler handed off, which the server waits
	// for when it shuts down.
	Streams *httpapi.Streams
	keys    *jwtauth.Keys
	admin   *adminServices
	stop    context.CancelFunc
	index   *vecsearch.Index // nil when the caller injected its own vendors
	// listening is closed when the change listener has stopped; nil without one.
	listening chan struct{}
}

// Close stops the API's background work (signing-key refresh, change listener, search
// workers).
func (a *API) Close() error {
	a.stop()
	if a.listening != nil {
		<-a.listening
	}
	if a.index != nil {
		return a.index.Close()
	}
	return nil
}

// Router builds the one Echo router for every use: serve, tests and benchmarks. It
// loads (or on first start creates) the signing keys, and wires the use cases on st.
func Router(ctx context.Context, cfg Config, st Stores, o RouterOptions) (*API, error) {
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	publish := publisher(o.Changes, o.Log.Named("changes"))
	cached := cache.Options{TTL: cfg.CacheTTL, Changed: publish}
	users := cache.NewUsers(st.Users, cached)
	usage := cache.NewUsage(st.Usage, cached, now)
	tenants := cache.NewTenants(st.Tenants, cached, func() {
		users.Invalidate() // the deletion unassigned the tenant's users
		usage.Purge()      // and removed its usage
	})
	var index *vecsearch.Index
	if o.Vendors == nil {
		index = vecsearch.New(st.Chunks, vecsearch.Config{MaxBytes: cfg.IndexMaxBytes,
			Changed: func(t domain.TenantID) { publish(domain.Change{Kind: domain.ChangeChunks, ID: string(t)}) }})
	}
	built := false
	defer func() {
		if !built && index != nil {
			_ = index.Close() // stops its search workers
		}
	}()
	metrics, observer, err := newMetrics(cfg, o.Log, users, tenants, index)
	if err != nil {
		return nil, err
	}
	keys, err := jwtauth.NewKeys(st.SigningKeys, o.Sealer, jwtauth.Config{
		Issuer: cfg.PublicURL, Audience: cfg.JWTAudience, Algorithm: cfg.JWTAlg, AccessTTL: cfg.AccessTTL, Skew: cfg.JWTSkew, Clock: now,
		RefreshInterval: cfg.JWTKeyRefresh,
	}, o.Log.Named("jwt"))
	if err != nil {
		return nil, fmt.Errorf("TENANTRY_JWT_ALG: %w", err)
	}
	if err := keys.Load(ctx); err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	go keys.Run(bg)
	var listening chan struct{}
	if o.Changes != nil {
		listening = make(chan struct{})
		go nodeCaches{users: users, tenants: tenants, usage: usage, index: index}.listen(bg, o.Changes, listening)
	}

	v := o.Vendors
	if v == nil {
		v = &vendors{embedded: index, answerer: extractive.New(extractive.Config{}),
			http: newVendorHTTPClient(), modelIdle: cfg.ModelIdleTimeout, modelMax: cfg.ModelTimeout}
	}
	v = observe.NewVendors(v, observer)
	hasher := passwords.New(passwords.Config{MaxConcurrent: cfg.HashConcurrency, MaxWait: cfg.HashWait})
	issuer := jwtauth.NewIssuer(keys)
	verifier := jwtauth.NewCachedVerifier(jwtauth.NewVerifier(keys), 50_000, now)
	policy := application.TokenPolicy{AccessTTL: cfg.AccessTTL, RefreshTTL: cfg.RefreshTTL}
	limiter := memory.NewRateLimiter()

	tenantsUC := application.NewManageTenants(application.ManageTenantsDeps{Tenants: tenants, Vendors: v, Audit: st.Audit, Now: now, AllowHTTPVendors: cfg.AllowHTTPVendors})
	usersUC := application.NewManageUsers(application.ManageUsersDeps{Users: users, Hasher: hasher, Refresh: st.RefreshTokens, Audit: st.Audit, Now: now})
	deps := httpapi.Deps{
		Log: o.Log.Named("http"),
		Login: application.NewLogin(application.LoginDeps{Users: users, Hasher: hasher, Issuer: issuer, Refresh: st.RefreshTokens,
			Attempts: memory.NewAttemptLimiter(cfg.LoginMaxFailures, cfg.LoginWindow), Policy: policy, Now: now}),
		Refresh:       application.NewRefreshTokens(application.RefreshDeps{Users: users, Issuer: issuer, Refresh: st.RefreshTokens, Policy: policy, Now: now}),
		Revoke:        application.NewRevokeToken(st.RefreshTokens, now),
		Authenticate:  application.NewAuthenticate(verifier, users),
		ResolveTenant: application.NewResolveTenant(tenants, now),
		Profile:       application.NewProfile(users, tenants),
		Tenants:       tenantsUC,
		Users:         usersUC,
		Ingest: application.NewIngestDocument(application.IngestDeps{Documents: st.Documents, Vendors: v, Limiter: limiter,
			Chunker: domain.Chunker{Size: cfg.ChunkSize, Overlap: cfg.ChunkOverlap}, Now: now}),
		Documents:     application.NewDocuments(st.Documents, v),
		Conversations: application.NewConversations(st.Conversations),
		Chat: application.NewStreamChat(application.StreamChatDeps{Conversations: st.Conversations, Usage: usage, Vendors: v,
			Limiter: limiter, Slots: memory.NewStreamSlots(), Now: now}),
		Reports:   application.NewReports(usage, st.Audit, now),
		Ready:     o.Ready,
		JWKS:      func(context.Context) ([]byte, error) { return keys.JWKS(), nil },
		Discovery: httpapi.Discovery{Issuer: cfg.PublicURL},
		Metrics:   metrics,
		Streams:   httpapi.NewStreams(),
	}
	h := httpapi.New(httpapi.Config{MaxBodyBytes: cfg.MaxBodyBytes, MaxDocumentBytes: cfg.MaxDocumentBytes, PingInterval: cfg.PingInterval,
		MetricsToken: cfg.MetricsToken}, deps)
	built = true
	return &API{Handler: h, Streams: deps.Streams, keys: keys, admin: &adminServices{tenants: tenantsUC, users: usersUC, ingest: deps.Ingest, actor: o.Operator}, stop: stop, index: index, listening: listening}, nil
}
