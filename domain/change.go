package domain

// ChangeKind names what a Change is about.
type ChangeKind string

// The kinds of Change. Each but ChangeSigningKeys and ChangeAll carries the id of the
// record that changed.
const (
	ChangeUser          ChangeKind = "user"           // a user (ID: its UserID)
	ChangeTenant        ChangeKind = "tenant"         // a tenant's settings (ID: its TenantID)
	ChangeTenantDeleted ChangeKind = "tenant_deleted" // a tenant and, by cascade, its users' assignment and usage
	ChangeChunks        ChangeKind = "chunks"         // a tenant's stored chunk vectors (ID: its TenantID)
	ChangeSigningKeys   ChangeKind = "signing_keys"   // the token signing keys (no ID)
	ChangeAPIKey        ChangeKind = "api_key"        // an API key was revoked (ID: its APIKeyID)
	ChangeAll           ChangeKind = "all"            // anything may have changed: changes may have been missed
)

// Change says that a record shared through the database changed, so that copies of it
// cached by other processes must go.
type Change struct {
	Kind ChangeKind
	ID   string
	// Local says that this process recorded the change itself, so that copies it keeps
	// in step with its own writes need not be dropped.
	Local bool
}

// Known reports whether k is one of the kinds above; a receiver treats an unknown kind
// (from a newer version, say) as ChangeAll.
func (k ChangeKind) Known() bool {
	switch k {
	case ChangeUser, ChangeTenant, ChangeTenantDeleted, ChangeChunks, ChangeSigningKeys, ChangeAPIKey, ChangeAll:
		return true
	}
	return false
}
