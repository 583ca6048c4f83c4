// Package application holds tenantry's use cases. Each loads data through ports, asks
// the domain for decisions and returns; it imports only domain, ports and the standard
// library, and never logs (decorators in adapters/observe do that).
package application
