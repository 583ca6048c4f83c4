// Package ports declares the interfaces that tenantry's use cases call, each shaped by
// its caller. It imports only domain and the standard library, and holds no
// implementations (the contract suites live in porttest).
//
// Every method takes ctx first. Errors are *domain.Error values classified by Kind;
// an unreachable backend is always domain.KindUnavailable, never a "not found" or an
// authentication failure. Implementations are safe for concurrent use.
package ports
