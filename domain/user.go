package domain

import (
	"net/mail"
	"strings"
	"time"
)

// UserID identifies a user (a UUID string).
type UserID string

// Email is a normalised (trimmed, lower-cased) email address. Uniqueness is
// case-insensitive because of this normalisation.
type Email string

// ParseEmail validates and normalises s.
func ParseEmail(s string) (Email, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 254 || !strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".") && !strings.HasSuffix(s, "@localhost") {
		return "", Invalid(FieldError{Field: "email", Message: "must be a valid email address"})
	}
	return Email(s), nil
}

// Role is what a user may do.
type Role string

// Roles.
const (
	RoleMember        Role = "member"
	RoleTenantAdmin   Role = "tenant_admin"
	RolePlatformAdmin Role = "platform_admin"
)

// ParseRole validates s as a role.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleMember, RoleTenantAdmin, RolePlatformAdmin:
		return r, nil
	}
	return "", Invalid(FieldError{Field: "role", Message: "must be member, tenant_admin or platform_admin"})
}

// User is a person who logs in. A user may exist without a tenant (not yet assigned);
// such a user has no tenant context.
type User struct {
	ID           UserID
	Email        Email
	PasswordHash string
	Role         Role
	TenantID     TenantID // empty when unassigned
	Disabled     bool
	TokenVersion int
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// NewUser builds a user. A tenant admin needs a tenant; a member may wait for one.
func NewUser(id UserID, email Email, role Role, tenant TenantID, passwordHash string, now time.Time) (User, error) {
	u := User{ID: id, Email: email, Role: role, TenantID: tenant, PasswordHash: passwordHash, TokenVersion: 1, CreatedAt: now.UTC(), UpdatedAt: now.UTC()}
	return u, u.Validate()
}

// Validate checks the user's fields and their combination.
func (u User) Validate() error {
	var fs []FieldError
	if u.ID == "" {
		fs = append(fs, FieldError{Field: "id", Message: "is required"})
	}
	if _, err := ParseEmail(string(u.Email)); err != nil {
		fs = append(fs, FieldError{Field: "email", Message: "must be a valid email address"})
	}
	if _, err := ParseRole(string(u.Role)); err != nil {
		fs = append(fs, FieldError{Field: "role", Message: "must be member, tenant_admin or platform_admin"})
	}
	if u.Role == RoleTenantAdmin && u.TenantID == "" {
		fs = append(fs, FieldError{Field: "tenant_id", Message: "a tenant_admin must belong to a tenant"})
	}
	if u.TenantID != "" {
		if _, err := ParseTenantID(string(u.TenantID)); err != nil {
			fs = append(fs, FieldError{Field: "tenant_id", Message: "is not a valid tenant id"})
		}
	}
	if len(fs) > 0 {
		return Invalid(fs...)
	}
	return nil
}

// HasTenant reports whether the user is assigned to a tenant.
func (u User) HasTenant() bool { return u.TenantID != "" }

// MemberOf reports whether the user belongs to tenant t.
func (u User) MemberOf(t TenantID) bool { return u.TenantID != "" && u.TenantID == t }

// CanLogin reports whether the user may obtain tokens.
func (u User) CanLogin() error {
	if u.Disabled {
		return ErrUserDisabled
	}
	return nil
}

// AssignTo moves the user to tenant t (empty to unassign) and invalidates outstanding
// tokens, so a token naming the old tenant fails at once.
func (u *User) AssignTo(t TenantID, now time.Time) {
	if u.TenantID == t {
		return
	}
	u.TenantID = t
	u.RevokeTokens(now)
}

// LoseTenant is what happens to a user whose tenant is deleted: unassigned, tokens
// invalidated, and a tenant admin becomes a member, since the role means nothing
// without a tenant.
func (u *User) LoseTenant(now time.Time) {
	u.AssignTo("", now)
	if u.Role == RoleTenantAdmin {
		u.Role = RoleMember
	}
}

// SetPassword stores a new hash and invalidates outstanding tokens.
func (u *User) SetPassword(hash string, now time.Time) {
	u.PasswordHash = hash
	u.RevokeTokens(now)
}

// RehashPassword replaces the stored hash with an equivalent one (a stronger algorithm)
// without logging anyone out.
func (u *User) RehashPassword(hash string, now time.Time) {
	u.PasswordHash = hash
	u.UpdatedAt = now.UTC()
}

// SetDisabled disables or re-enables the user; disabling invalidates tokens.
func (u *User) SetDisabled(disabled bool, now time.Time) {
	if u.Disabled == disabled {
		return
	}
	u.Disabled = disabled
	u.RevokeTokens(now)
}

// SetRole changes the role and invalidates tokens, which carry the role.
func (u *User) SetRole(r Role, now time.Time) {
	if u.Role == r {
		return
	}
	u.Role = r
	u.RevokeTokens(now)
}

// RevokeTokens raises the token version ("log out everywhere").
func (u *User) RevokeTokens(now time.Time) {
	u.TokenVersion++
	u.UpdatedAt = now.UTC()
}

// Password length bounds. The upper bound keeps hashing cost predictable.
const (
	MinPasswordLength = 8
	MaxPasswordLength = 1024
)

// ValidatePassword checks a new password against the policy.
func ValidatePassword(pw string) error {
	if len(pw) < MinPasswordLength || len(pw) > MaxPasswordLength {
		return Invalid(FieldError{Field: "password", Message: "must be 8-1024 bytes"})
	}
	return nil
}

// UserPatch is a partial change to a user; nil fields stay as they are. A non-nil
// empty TenantID unassigns the user.
type UserPatch struct {
	Role     *Role
	TenantID *TenantID
	Disabled *bool
}

// Fields lists the names of the fields the patch sets.
func (p UserPatch) Fields() []string {
	var fs []string
	if p.Role != nil {
		fs = append(fs, "role")
	}
	if p.TenantID != nil {
		fs = append(fs, "tenant_id")
	}
	if p.Disabled != nil {
		fs = append(fs, "disabled")
	}
	return fs
}

// rank orders roles for administration: a platform admin above a tenant admin above
// a member.
func (r Role) rank() int {
	switch r {
	case RolePlatformAdmin:
		return 3
	case RoleTenantAdmin:
		return 2
	case RoleMember:
		return 1
	}
	return 0
}

// Reaches reports whether a holder of role r may manage a user holding role target:
// only a role at least as high as the target's.
func (r Role) Reaches(target Role) bool { return r.rank() >= target.rank() && target.rank() > 0 }

// AllowedFor checks the caller may change user u this way (an empty patch asks about
// any change, such as a new password). Platform admins may change anyone. A tenant
// admin may change members and tenant admins of their own tenant, never a platform
// admin even one assigned to that tenant, never a user's tenant and never a role above
// their own. Members change no one. A user outside the tenant admin's tenant is
// KindNotFound; every other refusal is KindForbidden.
func (p UserPatch) AllowedFor(who Principal, u User) error {
	if who.IsPlatformAdmin() {
		return nil
	}
	if err := who.CanManageUsers(); err != nil {
		return err
	}
	if !u.MemberOf(who.TenantID) {
		return ErrNotFound
	}
	if !who.Role.Reaches(u.Role) {
		return ErrForbidden.WithDetail("only a platform admin may change a platform admin")
	}
	if p.TenantID != nil && *p.TenantID != u.TenantID {
		return ErrForbidden.WithDetail("only a platform admin may move users between tenants")
	}
	if p.Role != nil && !who.Role.Reaches(*p.Role) {
		return ErrForbidden.WithDetail("only a platform admin may grant platform_admin")
	}
	return nil
}

// Apply changes u as the patch says and validates the result.
func (p UserPatch) Apply(u *User, now time.Time) error {
	if p.Role != nil {
		u.SetRole(*p.Role, now)
	}
	if p.TenantID != nil {
		u.AssignTo(*p.TenantID, now)
	}
	if p.Disabled != nil {
		u.SetDisabled(*p.Disabled, now)
	}
	return u.Validate()
}

// CanManageUsers checks the caller administers users at all: a platform admin, or a
// tenant admin of a tenant. It depends on no user, so a refusal reveals none.
func (who Principal) CanManageUsers() error {
	if !who.CanAdminTenant(who.TenantID) {
		return ErrForbidden.WithDetail("only tenant admins and platform admins manage users")
	}
	return nil
}

// CanCreateUser checks the caller may create a user with role r in tenant t.
func (who Principal) CanCreateUser(r Role, t TenantID) error {
	if who.IsPlatformAdmin() {
		return nil
	}
	if !who.CanAdminTenant(t) {
		return ErrForbidden.WithDetail("tenant admins create users only in their own tenant")
	}
	if !who.Role.Reaches(r) {
		return ErrForbidden.WithDetail("only a platform admin may grant platform_admin")
	}
	return nil
}
