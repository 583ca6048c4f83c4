package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"
	"gorm.io/gorm"

	"github.com/tenantry/tenantry/adapters/cache"
	"github.com/tenantry/tenantry/adapters/extract"
	"github.com/tenantry/tenantry/adapters/extractive"
	"github.com/tenantry/tenantry/adapters/httpapi"
	"github.com/tenantry/tenantry/adapters/jwtauth"
	"github.com/tenantry/tenantry/adapters/lexical"
	"github.com/tenantry/tenantry/adapters/memory"
	"github.com/tenantry/tenantry/adapters/observe"
	"github.com/tenantry/tenantry/adapters/passwords"
	"github.com/tenantry/tenantry/adapters/sqlstore"
	"github.com/tenantry/tenantry/adapters/tokencount"
	"github.com/tenantry/tenantry/adapters/vecsearch"
	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// Stores are the storage ports a router runs on (ports.Stores).
type Stores = ports.Stores

// SQLStores are the GORM stores on db (PostgreSQL or the embedded SQLite).
func SQLStores(db *gorm.DB, tenants *sqlstore.TenantStore) Stores {
	return Stores{
		Tenants:           tenants,
		Users:             sqlstore.NewUserStore(db),
		SigningKeys:       sqlstore.NewSigningKeyStore(db),
		RefreshTokens:     sqlstore.NewRefreshTokenStore(db),
		Chunks:            sqlstore.NewChunkStore(db),
		Documents:         sqlstore.NewDocumentStore(db),
		Conversations:     sqlstore.NewConversationStore(db),
		ConversationEdits: sqlstore.NewConversationStore(db),
		Usage:             sqlstore.NewUsageStore(db),
		Audit:             sqlstore.NewAuditLog(db),
		Reindex:           sqlstore.NewReindexStore(db),
		ChunkScanner:      sqlstore.NewChunkStore(db),
		APIKeys:           sqlstore.NewAPIKeyStore(db),
	}
}

// MemoryStores are in-memory stores sharing one memory.DB.
func MemoryStores(db *memory.DB) Stores {
	return Stores{
		Tenants: db.Tenants(), Users: db.Users(), SigningKeys: db.SigningKeys(), RefreshTokens: db.RefreshTokens(),
		Chunks: db.Chunks(), Documents: db.Documents(), Conversations: db.Conversations(), ConversationEdits: db.Conversations(), Usage: db.Usage(), Audit: db.Audit(),
		Reindex: db.Reindex(), ChunkScanner: db.Chunks(),
		APIKeys: db.APIKeys(),
	}
}

// RouterOptions are what the router needs besides the config and the stores.
type RouterOptions struct {
	Log    *zap.Logger
	Sealer ports.SecretSealer
	// Hasher keys the hashes API keys are stored under; nil uses Sealer when it is
	// also a ports.SecretHasher (secretbox.Keyring is), and without either API keys
	// are refused.
	Hasher ports.SecretHasher
	// Ready backs GET /readyz; nil is always ready.
	Ready func(context.Context) error
	// Operator is the actor of CLI commands.
	Operator application.Actor
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Vendors replaces the per-tenant vendor factory (tests); nil builds the real one.
	Vendors ports.Vendors
	// Changes follows the database's change log, so that this process drops what the
	// writes of others (other nodes, CLI commands) outdated; nil follows nothing.
	Changes ports.ChangeFeed
	// Limits are the limiters to enforce; nil ones count in memory, per process.
	Limits Limits
	// PDFiumCacheDir keeps PDFium's compiled code across processes; empty compiles it
	// in each process.
	PDFiumCacheDir string
}

// pdfWorkers is how many PDFs are read at once; each worker holds a PDFium instance
// (its own WebAssembly memory), and further uploads wait for a free one.
const pdfWorkers = 2

// API is a built router with what must run beside it and be closed after it.
type API struct {
	Handler *echo.Echo
	keys    *jwtauth.Keys
	admin   *adminServices
	stop    context.CancelFunc
	index   *vecsearch.Index // nil when the caller injected its own vendors
	pdf     *extract.PDFReader
	jobs    *reindexRunner
	sweeper *vectorSweeper
	// retrieve is the chat's retrieval on the same indexes and vendors, for the
	// quality benchmark, which ranks passages without answering.
	retrieve *application.Retrieve
	// listening is closed when the change listener has stopped; nil without one.
	listening chan struct{}
}

// Close stops the API's background work (signing-key refresh, change listener, search
// workers).
func (a *API) Close() error {
	a.jobs.stop()
	a.sweeper.stop()
	a.stop()
	if a.listening != nil {
		<-a.listening
	}
	err := a.pdf.Close()
	if a.index != nil {
		err = errors.Join(err, a.index.Close())
	}
	return err
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
	cached := cache.Options{TTL: cfg.CacheTTL}
	users := cache.NewUsers(st.Users, cached)
	usage := cache.NewUsage(st.Usage, cached, now)
	apiKeys := cache.NewAPIKeys(st.APIKeys, cached)
	tenants := cache.NewTenants(st.Tenants, cached, func() {
		users.Invalidate()   // the deletion unassigned the tenant's users
		usage.Purge()        // and removed its usage
		apiKeys.Invalidate() // and its API keys
	})
	var index *vecsearch.Index
	if o.Vendors == nil {
		index = vecsearch.New(st.Chunks, vecsearch.Config{MaxBytes: cfg.IndexMaxBytes / 2})
	}
	lex := lexical.New(st.Chunks, lexical.Config{Params: lexical.Params{K1: cfg.BM25K1, B: cfg.BM25B}, MaxBytes: cfg.IndexMaxBytes / 2})
	built := false
	defer func() {
		if !built && index != nil {
			_ = index.Close() // stops its search workers
		}
	}()
	sweeper := newVectorSweeper(o.Log.Named("sweeper"), cfg.VectorSweepInterval)
	metrics, observer, err := newMetrics(cfg, o.Log, users, tenants, index, lex, sweeper.Removed)
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
		inv := Invalidations{}
		inv.On(domain.ChangeUser, func(c domain.Change) { users.Forget(domain.UserID(c.ID)) })
		inv.On(domain.ChangeTenant, func(c domain.Change) { tenants.Forget(domain.TenantID(c.ID), false) })
		inv.On(domain.ChangeTenantDeleted, func(c domain.Change) { tenants.Forget(domain.TenantID(c.ID), true) })
		inv.On(domain.ChangeAPIKey, func(c domain.Change) { apiKeys.Forget(domain.APIKeyID(c.ID)) })
		reloadKeys := func(domain.Change) {
			kctx, cancel := context.WithTimeout(bg, 10*time.Second)
			defer cancel()
			if err := keys.Load(kctx); err != nil {
				o.Log.Warn("reloading the signing keys after a change failed; TENANTRY_JWT_KEY_REFRESH retries", zap.Error(err))
			}
		}
		inv.On(domain.ChangeSigningKeys, reloadKeys)
		inv.On(domain.ChangeAll, func(domain.Change) {
			users.Invalidate()
			tenants.Invalidate()
			usage.Purge()
			apiKeys.Invalidate()
		})
		inv.On(domain.ChangeAll, reloadKeys)
		if index != nil {
			inv.TenantCopies(index.Invalidate, index.InvalidateAll)
		}
		inv.TenantCopies(lex.Invalidate, lex.InvalidateAll)
		listening = make(chan struct{})
		go follow(bg, o.Changes, inv, listening)
	}

	v := o.Vendors
	if v == nil {
		v = &vendors{embedded: index, answerer: extractive.New(extractive.Config{Terms: lexical.Terms}),
			http: newVendorHTTPClient(), modelIdle: cfg.ModelIdleTimeout, modelMax: cfg.ModelTimeout}
	}
	v = observe.NewVendors(v, observer)
	hasher := passwords.New(passwords.Config{MaxConcurrent: cfg.HashConcurrency, MaxWait: cfg.HashWait})
	issuer := jwtauth.NewIssuer(keys)
	verifier := jwtauth.NewCachedVerifier(jwtauth.NewVerifier(keys), 50_000, now)
	policy := application.TokenPolicy{AccessTTL: cfg.AccessTTL, RefreshTTL: cfg.RefreshTTL}
	limits := o.Limits.orMemory(cfg)

	jobs := newReindexRunner(o.Log.Named("reindex"), cfg.ReindexLease)
	jobs.uc = application.NewReindex(application.ReindexDeps{Jobs: st.Reindex, Tenants: st.Tenants, Chunks: st.ChunkScanner,
		Documents: st.Documents, Vendors: v, Lexical: lex, Audit: st.Audit, Now: now, Lease: cfg.ReindexLease, Started: jobs.poke,
		// The store records the write in the change log for the other processes;
		// this one drops its cached copy at once.
		TenantChanged: func(id domain.TenantID) { tenants.Forget(id, false) }})
	sweeper.uc = application.NewSweepVectors(application.SweepVectorsDeps{Tenants: st.Tenants, Documents: st.Documents, Vendors: v,
		Now: now, Grace: cfg.VectorSweepInterval})
	tenantsUC := application.NewManageTenants(application.ManageTenantsDeps{Tenants: tenants, Vendors: v, Lexical: lex, Audit: st.Audit, Now: now, AllowHTTPVendors: cfg.AllowHTTPVendors,
		Reindex: jobs.uc})
	secretHasher := o.Hasher
	if secretHasher == nil {
		secretHasher, _ = o.Sealer.(ports.SecretHasher)
	}
	authenticate := application.NewAuthenticate(verifier, users)
	var keysUC *application.ManageAPIKeys
	if secretHasher != nil && st.APIKeys != nil {
		authenticate = authenticate.WithAPIKeys(apiKeys, secretHasher, now)
		keysUC = application.NewManageAPIKeys(application.ManageAPIKeysDeps{Keys: apiKeys, Hasher: secretHasher, Users: users, Audit: st.Audit, Now: now})
	}
	pdf := extract.NewPDFReader(extract.PDFConfig{Workers: pdfWorkers, CacheDir: o.PDFiumCacheDir})
	usersUC := application.NewManageUsers(application.ManageUsersDeps{Users: users, Hasher: hasher, Refresh: st.RefreshTokens, Audit: st.Audit, Now: now})
	deps := httpapi.Deps{
		Log: o.Log.Named("http"),
		Login: application.NewLogin(application.LoginDeps{Users: users, Hasher: hasher, Issuer: issuer, Refresh: st.RefreshTokens,
			Attempts: limits.Attempts, IPAttempts: limits.IPAttempts,
			MaxDelay: cfg.LoginMaxDelay, Wait: holdFor, Policy: policy, Now: now}),
		Refresh:       application.NewRefreshTokens(application.RefreshDeps{Users: users, Issuer: issuer, Refresh: st.RefreshTokens, Policy: policy, Now: now}),
		Revoke:        application.NewRevokeToken(st.RefreshTokens, now),
		Authenticate:  authenticate,
		ResolveTenant: application.NewResolveTenant(tenants, now),
		Profile:       application.NewProfile(users, tenants),
		Tenants:       tenantsUC,
		Users:         usersUC,
		Ingest: application.NewIngestDocument(application.IngestDeps{Documents: st.Documents, Vendors: v, Lexical: lex, Limiter: limits.Rate,
			Extractor: extract.New(pdf), Chunker: domain.Chunker{Size: cfg.ChunkSize, Overlap: cfg.ChunkOverlap}, Now: now}),
		Documents:     application.NewDocuments(st.Documents, v, lex),
		Conversations: application.NewConversations(st.Conversations, st.ConversationEdits),
		Chat: application.NewStreamChat(application.StreamChatDeps{Conversations: st.Conversations, Usage: usage, Vendors: v, Lexical: lex, Documents: st.Documents,
			Limiter: limits.Rate, Slots: limits.Streams, Tokens: tokencount.New(), Now: now}),
		Reports: application.NewReports(usage, st.Audit, now),
		APIKeys: keysUC,
		ChangePassword: application.NewChangePassword(application.ChangePasswordDeps{Users: users, Hasher: hasher, Issuer: issuer,
			Refresh: st.RefreshTokens, Attempts: limits.Attempts, Audit: st.Audit,
			Policy: policy, Now: now}),
		Reindex:   jobs.uc,
		Ready:     o.Ready,
		JWKS:      func(context.Context) ([]byte, error) { return keys.JWKS(), nil },
		Discovery: httpapi.Discovery{Issuer: cfg.PublicURL},
		Metrics:   metrics,
	}
	h := httpapi.New(httpConfig(cfg), deps)
	built = true
	return &API{Handler: h, keys: keys, admin: &adminServices{tenants: tenantsUC, users: usersUC, documents: deps.Documents, apiKeys: keysUC, ingest: deps.Ingest, actor: o.Operator,
		reindex: jobs.uc, jobs: jobs, sweeper: sweeper}, stop: stop, index: index, pdf: pdf, listening: listening,
		retrieve: application.NewRetrieve(lex, v, st.Documents), jobs: jobs, sweeper: sweeper}, nil
}

// httpConfig is the HTTP adapter's configuration; every field comes from cfg
// (TestEveryHTTPOptionIsWired fails when one does not).
func httpConfig(cfg Config) httpapi.Config {
	return httpapi.Config{
		MaxBodyBytes: cfg.MaxBodyBytes, MaxDocumentBytes: cfg.MaxDocumentBytes, PingInterval: cfg.PingInterval,
		MaxFileBytes: map[domain.FileFormat]int64{domain.FormatPDF: cfg.MaxPDFBytes, domain.FormatDOCX: cfg.MaxDOCXBytes,
			domain.FormatHTML: cfg.MaxHTMLBytes, domain.FormatCSV: cfg.MaxCSVBytes},
		StreamWriteTimeout: cfg.StreamWriteTimeout, TrustedProxies: cfg.TrustedProxies,
		ContentSecurityPolicy: cfg.ContentSecurityPolicy, MetricsToken: cfg.MetricsToken, MetricsPublic: cfg.MetricsPublic,
	}
}

// holdFor waits d, or until ctx ends.
func holdFor(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// WarmPDF compiles PDFium in the background, so that the first PDF uploaded does not
// wait for all of it, and logs when it is ready; it returns at once. A PDF uploaded
// meanwhile waits for this compile.
func (a *API) WarmPDF(ctx context.Context, log *zap.Logger) {
	go func() {
		err := a.pdf.Ready(ctx)
		switch {
		case ctx.Err() != nil, domain.KindOf(err) == domain.KindUnavailable: // shutting down, or closed
		case err != nil:
			log.Error("PDFium could not be started; PDF uploads fail until it is compiled again (a minute later at the earliest)", zap.Error(err))
		default:
			log.Info("PDF reader ready")
		}
	}()
}

// RunJobs starts running the re-index jobs and the vector sweeper (serve does; CLI
// commands other than tenant reindex do not). Close stops them.
func (a *API) RunJobs() {
	a.jobs.start()
	a.sweeper.start()
}
