package domain

import "time"

// Claims are what a verified access token says.
type Claims struct {
	Subject      UserID
	TenantID     TenantID // empty when the user has no tenant
	Role         Role
	TokenVersion int
	TokenID      string
	IssuedAt     time.Time
	ExpiresAt    time.Time
}

// Principal is the authenticated caller of one request, built once by Authenticate and
// passed explicitly from then on.
type Principal struct {
	UserID       UserID
	Email        Email
	Role         Role
	TenantID     TenantID
	TokenVersion int
}

// IsPlatformAdmin reports whether the caller administers the whole platform.
func (p Principal) IsPlatformAdmin() bool { return p.Role == RolePlatformAdmin }

// CanAdminTenant reports whether the caller may administer tenant t.
func (p Principal) CanAdminTenant(t TenantID) bool {
	return p.Role == RolePlatformAdmin || (p.Role == RoleTenantAdmin && p.TenantID == t && t != "")
}

// AcceptsClaims checks a verified token against the user's current state: the token
// version must match and the tenant must not have changed.
func (u User) AcceptsClaims(c Claims) error {
	if u.Disabled || c.TokenVersion != u.TokenVersion || c.TenantID != u.TenantID || c.Role != u.Role {
		return ErrInvalidToken
	}
	return nil
}

// Principal returns the principal this user acts as.
func (u User) Principal() Principal {
	return Principal{UserID: u.ID, Email: u.Email, Role: u.Role, TenantID: u.TenantID, TokenVersion: u.TokenVersion}
}

// TenantContext is the resolved tenant of a request, with the caller, handed to
// handlers and use cases as an explicit value.
type TenantContext struct {
	Principal Principal
	Tenant    Tenant
}
