// Package httpapi is tenantry's HTTP adapter: the Echo router, its handlers and
// middleware, RFC 9457 problem responses, the OAuth2 token endpoints and the SSE chat
// stream. It imports domain, ports and application plus Echo and zap, and never another
// adapter or bootstrap. Handlers call the concrete use cases; JSON shapes stay here.
package httpapi
