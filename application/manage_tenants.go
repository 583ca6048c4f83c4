package application

import (
	"context"
	"fmt"
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// ManageTenantsDeps are the ports tenant administration calls.
type ManageTenantsDeps struct {
	Tenants ports.TenantStore
	Vendors ports.Vendors
	Lexical ports.LexicalIndex
	Audit   ports.AuditLog
	Now     func() time.Time
	// AllowHTTPVendors permits plain-http vendor endpoints (local Ollama, vLLM, tests).
	AllowHTTPVendors bool
	// Reindex, when set, starts a re-index after a change that leaves the tenant's
	// vectors unready (a new embedder, vector store or mode that needs vectors).
	Reindex *Reindex
}

// ManageTenants creates, shows, changes and deletes tenants. Platform admins manage
// every tenant; tenant admins read and change only parts of their own. Every write is
// audited with the changed field names, never their values.
type ManageTenants struct {
	d ManageTenantsDeps
}

// NewManageTenants builds the use case.
func NewManageTenants(d ManageTenantsDeps) *ManageTenants { return &ManageTenants{d: d} }

// Actor is who performs an administrative action and under which request.
type Actor struct {
	Principal domain.Principal
	// Name is how the audit log names the actor (a user id, or "cli:<user>").
	Name      string
	RequestID string
	// Scope, when set, confines the action to one tenant (the tenant-scoped routes):
	// anything outside it is KindNotFound, even for a platform admin.
	Scope domain.TenantID
}

// reaches reports whether a resource of tenant t is inside the actor's scope.
func (a Actor) reaches(t domain.TenantID) bool { return a.Scope == "" || a.Scope == t }

func (a Actor) auditName() string {
	if a.Name != "" {
		return a.Name
	}
	return string(a.Principal.UserID)
}

// Create makes a tenant with offline defaults. Platform admins only.
func (m *ManageTenants) Create(ctx context.Context, who Actor, id, name string) (domain.Tenant, error) {
	if !who.Principal.IsPlatformAdmin() {
		return domain.Tenant{}, domain.ErrForbidden
	}
	tid, err := domain.ParseTenantID(id)
	if err != nil {
		return domain.Tenant{}, err
	}
	t, err := domain.NewTenant(tid, name, m.d.Now())
	if err != nil {
		return domain.Tenant{}, err
	}
	if err := m.d.Tenants.Create(ctx, t); err != nil {
		return domain.Tenant{}, err
	}
	return t, m.audit(ctx, who, tid, "tenant.create", string(tid), []string{"id", "name"})
}

// Get returns a tenant's configuration (secrets masked by the presenter): any tenant
// for platform admins, their own for tenant admins. A member asking for their own
// tenant is KindForbidden; any other tenant is KindNotFound, so its existence does not
// leak.
func (m *ManageTenants) Get(ctx context.Context, who domain.Principal, id domain.TenantID) (domain.Tenant, error) {
	if !who.CanAdminTenant(id) {
		if who.TenantID != "" && who.TenantID == id {
			return domain.Tenant{}, domain.ErrForbidden.WithDetail("only tenant admins may read the tenant's configuration")
		}
		return domain.Tenant{}, domain.ErrNotFound
	}
	return m.d.Tenants.Get(ctx, id)
}

// List returns tenants. Platform admins only.
func (m *ManageTenants) List(ctx context.Context, who domain.Principal, page domain.Page) ([]domain.Tenant, error) {
	if !who.IsPlatformAdmin() {
		return nil, domain.ErrForbidden
	}
	return m.d.Tenants.List(ctx, page.Normalize())
}

// Update applies a patch. Tenant admins may change only their own tenant's prompt,
// retrieval settings and keys; vendor endpoints must be https unless allowed. A patch
// that changes where or how the vectors live, or the vector store's or embedder's key,
// is first checked with the tenant's vendors (Vendors.Check); a configuration they
// refuse is not stored.
func (m *ManageTenants) Update(ctx context.Context, who Actor, id domain.TenantID, p domain.TenantPatch) (domain.Tenant, error) {
	if !who.Principal.IsPlatformAdmin() && who.Principal.TenantID != id {
		return domain.Tenant{}, domain.ErrNotFound
	}
	if err := p.AllowedFor(who.Principal, id); err != nil {
		return domain.Tenant{}, err
	}
	checked, err := m.checkVendors(ctx, id, p)
	if err != nil {
		return domain.Tenant{}, err
	}
	t, err := m.d.Tenants.Update(ctx, id, func(t *domain.Tenant) error {
		if err := m.apply(p, t); err != nil {
			return err
		}
		if checked != nil && !sameVectorSetup(*checked, *t) {
			return domain.E(domain.KindConflict, "tenant_changed", "the tenant's vector configuration changed meanwhile; try again", nil)
		}
		t.Touch(m.d.Now())
		return nil
	})
	if err != nil {
		return domain.Tenant{}, err
	}
	if err := m.audit(ctx, who, id, "tenant.update", string(id), p.Fields()); err != nil {
		return t, err
	}
	if m.d.Reindex == nil {
		return t, nil
	}
	return m.d.Reindex.startAfterChange(ctx, who, t)
}

// apply changes t as p says and refuses insecure vendor endpoints.
func (m *ManageTenants) apply(p domain.TenantPatch, t *domain.Tenant) error {
	if err := p.Apply(t); err != nil {
		return err
	}
	return t.VendorURLsSecure(m.d.AllowHTTPVendors)
}

// checkVendors asks the tenant's vendors whether the patched configuration works, when
// p touches the vector store or the embedder (keys included). It returns the checked
// configuration, or nil when nothing needed checking. The check sees a copy: nothing is
// stored before it passes.
func (m *ManageTenants) checkVendors(ctx context.Context, id domain.TenantID, p domain.TenantPatch) (*domain.Tenant, error) {
	if !p.ChangesVectors() && p.VectorAPIKey == nil && p.EmbedderAPIKey == nil {
		return nil, nil
	}
	t, err := m.d.Tenants.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := m.apply(p, &t); err != nil {
		return nil, err
	}
	if err := m.d.Vendors.Check(ctx, t); err != nil {
		return nil, fmt.Errorf("check vendor configuration of %s: %w", id, err)
	}
	return &t, nil
}

// sameVectorSetup reports whether a and b store and embed vectors alike, keys included.
func sameVectorSetup(a, b domain.Tenant) bool {
	return a.VectorStore == b.VectorStore && a.Embedder == b.Embedder
}

// SetStatus suspends or reactivates a tenant. Platform admins only.
func (m *ManageTenants) SetStatus(ctx context.Context, who Actor, id domain.TenantID, s domain.TenantStatus) (domain.Tenant, error) {
	if !who.Principal.IsPlatformAdmin() {
		return domain.Tenant{}, domain.ErrForbidden
	}
	return m.Update(ctx, who, id, domain.TenantPatch{Status: &s})
}

// Delete removes a suspended tenant: its vectors in its own index first, then its
// documents, conversations and usage; its users lose access. Platform admins only.
func (m *ManageTenants) Delete(ctx context.Context, who Actor, id domain.TenantID) error {
	if !who.Principal.IsPlatformAdmin() {
		return domain.ErrForbidden
	}
	t, err := m.d.Tenants.Get(ctx, id)
	if err != nil {
		return err
	}
	if err := t.Deletable(); err != nil {
		return err
	}
	idx, err := m.d.Vendors.VectorIndex(t)
	if err != nil {
		return err
	}
	if err := idx.DropTenant(ctx, id); err != nil {
		return fmt.Errorf("drop vectors of %s: %w", id, err)
	}
	if err := m.d.Lexical.DropTenant(ctx, id); err != nil {
		return fmt.Errorf("drop chunks of %s: %w", id, err)
	}
	if err := m.d.Tenants.Delete(ctx, id); err != nil {
		return err
	}
	return m.audit(ctx, who, id, "tenant.delete", string(id), nil)
}

func (m *ManageTenants) audit(ctx context.Context, who Actor, t domain.TenantID, action, target string, changed []string) error {
	return appendAudit(ctx, m.d.Audit, m.d.Now(), who, t, action, target, changed)
}

func appendAudit(ctx context.Context, log ports.AuditLog, now time.Time, who Actor, t domain.TenantID, action, target string, changed []string) error {
	e := domain.AuditEntry{ID: newID(), Actor: who.auditName(), TenantID: t, Action: action, Target: target,
		Changed: changed, RequestID: who.RequestID, At: now}
	if err := log.Append(ctx, e); err != nil {
		return fmt.Errorf("write audit entry: %w", err)
	}
	return nil
}
