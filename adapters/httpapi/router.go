package httpapi

import (
	"context"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/adapters/httpapi/sse"
	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
)

// Config tunes the HTTP adapter. Zero values take the documented defaults.
type Config struct {
	// MaxBodyBytes caps request bodies (default 1 MiB); larger ones are 413.
	MaxBodyBytes int64
	// MaxDocumentBytes caps a document's text on POST /documents, given as JSON or
	// uploaded as a text or Markdown file (default 5 MiB).
	MaxDocumentBytes int64
	// MaxFileBytes caps an uploaded file of each other format (defaults in
	// DefaultMaxFileBytes); a format without a positive entry takes its default.
	MaxFileBytes map[domain.FileFormat]int64
	// PingInterval is the idle time after which an SSE stream gets a ": ping" comment
	// (default 15 s; negative disables pings).
	PingInterval time.Duration
	// StreamWriteTimeout bounds each write to an SSE client that stopped reading
	// (default 30 s). The server's own WriteTimeout would cut long streams, so the
	// stream sets a fresh deadline per write instead.
	StreamWriteTimeout time.Duration
	// TrustedProxies are the proxy addresses whose X-Forwarded-For is believed when
	// finding the client IP (brute-force limits count per IP). None: the peer address.
	TrustedProxies []netip.Prefix
	// ContentSecurityPolicy is sent on every response (default: nothing may load).
	ContentSecurityPolicy string
	// MetricsToken, when set, is the bearer token GET /metrics requires. Without it
	// GET /metrics answers only requests straight from a loopback address, unless
	// MetricsPublic opens it to everyone.
	MetricsToken  string
	MetricsPublic bool
}

// Defaults of Config.
const (
	DefaultMaxBodyBytes       = 1 << 20
	DefaultMaxDocumentBytes   = 5 << 20
	DefaultPingInterval       = 15 * time.Second
	DefaultStreamWriteTimeout = 30 * time.Second
	DefaultCSP                = "default-src 'none'; frame-ancestors 'none'"
	// tokenBodyBytes caps the OAuth form endpoints.
	tokenBodyBytes = 16 << 10
)

// DefaultMaxFileBytes are the upload limits of file formats whose text is extracted.
var DefaultMaxFileBytes = map[domain.FileFormat]int64{
	domain.FormatPDF: 50 << 20, domain.FormatDOCX: 25 << 20, domain.FormatHTML: 5 << 20, domain.FormatCSV: 10 << 20,
}

func (c Config) withDefaults() Config {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxDocumentBytes <= 0 {
		c.MaxDocumentBytes = DefaultMaxDocumentBytes
	}
	files := maps.Clone(DefaultMaxFileBytes)
	for f, n := range c.MaxFileBytes {
		if n > 0 {
			files[f] = n
		}
	}
	c.MaxFileBytes = files
	if c.PingInterval == 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.PingInterval < 0 {
		c.PingInterval = 0
	}
	if c.StreamWriteTimeout <= 0 {
		c.StreamWriteTimeout = DefaultStreamWriteTimeout
	}
	if c.ContentSecurityPolicy == "" {
		c.ContentSecurityPolicy = DefaultCSP
	}
	return c
}

// Deps are the use cases and small functions the handlers call. Each route group is
// registered only when its use cases are set, so a partial wiring answers 404 for the
// rest rather than failing at request time.
type Deps struct {
	Log *zap.Logger

	Login         *application.Login
	Refresh       *application.RefreshTokens
	Revoke        *application.RevokeToken
	Authenticate  *application.Authenticate
	ResolveTenant *application.ResolveTenant

	Profile       *application.Profile
	Tenants       *application.ManageTenants
	Users         *application.ManageUsers
	Ingest        *application.IngestDocument
	Documents     *application.Documents
	Conversations *application.Conversations
	Chat          *application.StreamChat
	Reports       *application.Reports
	Reindex       *application.Reindex
	APIKeys       *application.ManageAPIKeys
	// ChangePassword serves POST /users/me/password.
	ChangePassword *application.ChangePassword

	// Ready reports readiness for GET /readyz (nil: always ready).
	Ready func(ctx context.Context) error
	// JWKS returns the public key set as JSON for GET /.well-known/jwks.json.
	JWKS func(ctx context.Context) ([]byte, error)
	// Discovery fills GET /.well-known/oauth-authorization-server (RFC 8414); an empty
	// Issuer leaves the route out.
	Discovery Discovery
	// Metrics, when set, counts requests and serves GET /metrics.
	Metrics *Metrics
}

// New builds the Echo router with every route, the middleware chain and the problem
// error handler.
func New(cfg Config, d Deps) *echo.Echo {
	cfg = cfg.withDefaults()
	log := d.Log
	if log == nil {
		log = zap.NewNop()
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = ipExtractor(cfg.TrustedProxies)
	pr := problems{log: log}
	e.HTTPErrorHandler = pr.handle
	// HEAD is seen as GET from here on until restoreHead, so that compression treats
	// it as the GET whose headers it must carry (gzhttp leaves HEAD uncompressed).
	e.Pre(headAsGet)
	if gz, ok := compression(); ok {
		e.Pre(gz) // outside every other middleware, so that all of them write through it
	} else {
		log.Error("response compression is off: its middleware could not be built")
	}

	limits := map[string]int64{
		http.MethodPost + " /documents":   max(cfg.MaxDocumentBytes, slices.Max(slices.Collect(maps.Values(cfg.MaxFileBytes)))) + multipartOverhead,
		http.MethodPost + " /auth/token":  0,
		http.MethodPost + " /auth/revoke": 0,
	}
	e.Use(restoreHead, requestID(), requestLog(log), recoverPanic(), securityHeaders(cfg.ContentSecurityPolicy),
		bodyLimit(func(c echo.Context) int64 {
			if n, ok := limits[c.Request().Method+" "+c.Path()]; ok {
				return n
			}
			return cfg.MaxBodyBytes
		}))

	e.GET("/healthz", healthz)
	e.GET("/readyz", readyz(d.Ready))
	registerAuth(e, d, log)
	st := &streamer{problems: pr, opts: sse.Options{Ping: cfg.PingInterval, WriteTimeout: cfg.StreamWriteTimeout}}
	registerAPI(e, cfg, d, st)
	registerOpenAI(e, d, st)
	registerOps(e, cfg, d)
	registerConsole(e)
	return e
}

func registerAuth(e *echo.Echo, d Deps, log *zap.Logger) {
	if d.Login != nil && d.Refresh != nil {
		o := oauthHandlers{login: d.Login, refresh: d.Refresh, revoke: d.Revoke, log: log}
		e.POST("/auth/token", o.token)
		if d.Revoke != nil {
			e.POST("/auth/revoke", o.revokeToken)
		}
	}
	if d.JWKS != nil {
		e.GET("/.well-known/jwks.json", jwks(d.JWKS))
	}
	if d.Discovery.Issuer != "" {
		e.GET("/.well-known/oauth-authorization-server", authorizationServerMetadata(d.Discovery))
	}
}

// routes registers handlers that share a middleware chain. Middleware is attached per
// route, not through an Echo group, because a group with middleware catches every
// unknown path below its prefix and would answer 401 where 404 is right.
type routes struct {
	e   *echo.Echo
	mws []echo.MiddlewareFunc
}

func (r routes) with(mw ...echo.MiddlewareFunc) routes {
	return routes{e: r.e, mws: append(append([]echo.MiddlewareFunc{}, r.mws...), mw...)}
}

func (r routes) add(method, path string, h echo.HandlerFunc) { r.e.Add(method, path, h, r.mws...) }

func registerAPI(e *echo.Echo, cfg Config, d Deps, st *streamer) {
	if d.Authenticate == nil {
		return
	}
	authed := routes{e: e}.with(bearerAuth(d.Authenticate))
	if d.Profile != nil {
		authed.add(http.MethodGet, "/users/me", userHandlers{profile: d.Profile}.me)
	}
	if d.ChangePassword != nil {
		authed.add(http.MethodPost, "/users/me/password", userHandlers{password: d.ChangePassword}.changePassword)
	}
	registerAdmin(authed.with(requirePlatformAdmin), d)
	if d.ResolveTenant == nil {
		return
	}
	scoped := authed.with(tenantScope(d.ResolveTenant))
	if d.Tenants != nil {
		th := tenantHandlers{tenants: d.Tenants}
		scoped.add(http.MethodGet, "/tenant", th.own)
		scoped.add(http.MethodPatch, "/tenant", th.patchOwn)
	}
	if d.Reindex != nil {
		xh := reindexHandlers{reindex: d.Reindex}
		scoped.add(http.MethodGet, "/tenant/reindex", xh.ownStatus)
		scoped.add(http.MethodPost, "/tenant/reindex", xh.startOwn)
	}
	if d.Users != nil {
		uh := userHandlers{users: d.Users}
		scoped.add(http.MethodGet, "/tenant/users", uh.listInTenant)
		scoped.add(http.MethodPost, "/tenant/users", uh.createInTenant)
		scoped.add(http.MethodPatch, "/tenant/users/:id", uh.patchInTenant)
	}
	if d.Reports != nil {
		rh := reportHandlers{reports: d.Reports}
		scoped.add(http.MethodGet, "/tenant/audit", rh.tenantAudit)
		scoped.add(http.MethodGet, "/usage", rh.usage)
	}
	if d.APIKeys != nil {
		kh := apiKeyHandlers{keys: d.APIKeys}
		scoped.add(http.MethodGet, "/tenant/api-keys", kh.listInTenant)
		scoped.add(http.MethodPost, "/tenant/api-keys", kh.create)
		scoped.add(http.MethodDelete, "/tenant/api-keys/:id", kh.revokeInTenant)
	}
	if d.Ingest != nil && d.Documents != nil {
		dh := documentHandlers{ingest: d.Ingest, docs: d.Documents, maxBytes: cfg.MaxDocumentBytes, maxFileBytes: cfg.MaxFileBytes}
		scoped.add(http.MethodPost, "/documents", dh.create)
		scoped.add(http.MethodGet, "/documents", dh.list)
		scoped.add(http.MethodGet, "/documents/:id", dh.get)
		scoped.add(http.MethodDelete, "/documents/:id", dh.remove)
	}
	if d.Chat != nil {
		ch := chatHandlers{streamer: st, chat: d.Chat}
		scoped.add(http.MethodPost, "/chat/stream", ch.stream)
	}
	if d.Conversations != nil {
		vh := conversationHandlers{convs: d.Conversations}
		scoped.add(http.MethodGet, "/conversations", vh.list)
		scoped.add(http.MethodGet, "/conversations/:id", vh.get)
		scoped.add(http.MethodPatch, "/conversations/:id", vh.rename)
		scoped.add(http.MethodDelete, "/conversations/:id", vh.remove)
	}
}

func registerAdmin(admin routes, d Deps) {
	if d.Tenants != nil {
		th := tenantHandlers{tenants: d.Tenants}
		admin.add(http.MethodGet, "/admin/tenants", th.list)
		admin.add(http.MethodPost, "/admin/tenants", th.create)
		admin.add(http.MethodGet, "/admin/tenants/:id", th.get)
		admin.add(http.MethodPatch, "/admin/tenants/:id", th.patchAny)
		admin.add(http.MethodDelete, "/admin/tenants/:id", th.remove)
	}
	if d.Reindex != nil {
		xh := reindexHandlers{reindex: d.Reindex}
		admin.add(http.MethodGet, "/admin/tenants/:id/reindex", xh.anyStatus)
		admin.add(http.MethodPost, "/admin/tenants/:id/reindex", xh.startAny)
	}
	if d.Users != nil {
		uh := userHandlers{users: d.Users}
		admin.add(http.MethodGet, "/admin/users", uh.listAny)
		admin.add(http.MethodPost, "/admin/users", uh.createAny)
		admin.add(http.MethodPatch, "/admin/users/:id", uh.patchAny)
	}
	if d.Reports != nil {
		rh := reportHandlers{reports: d.Reports}
		admin.add(http.MethodGet, "/admin/audit", rh.adminAudit)
		admin.add(http.MethodGet, "/admin/usage", rh.allUsage)
	}
	if d.APIKeys != nil {
		kh := apiKeyHandlers{keys: d.APIKeys}
		admin.add(http.MethodGet, "/admin/api-keys", kh.listAny)
		admin.add(http.MethodDelete, "/admin/api-keys/:id", kh.revokeAny)
	}
}

// requirePlatformAdmin guards /admin: the platform's own surface, open to platform
// admins only (the use cases check again).
func requirePlatformAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, err := mustPrincipal(c)
		if err != nil {
			return err
		}
		if !p.IsPlatformAdmin() {
			return domain.ErrForbidden.WithDetail("this route is for platform admins")
		}
		return next(c)
	}
}

// ipExtractor finds the client IP: the peer address, or with trusted proxies the
// first untrusted address of X-Forwarded-For.
func ipExtractor(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		opts = append(opts, echo.TrustIPRange(prefixToIPNet(p)))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}
