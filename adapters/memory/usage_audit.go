package memory

import (
	"context"
	"sort"
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// UsageStore keeps usage records in a DB.
type UsageStore struct{ db *DB }

var _ ports.UsageStore = (*UsageStore)(nil)

// Record adds one usage record. An unknown tenant is KindInvalid.
func (s *UsageStore) Record(ctx context.Context, r domain.UsageRecord) error {
	if err := s.db.lock(ctx); err != nil {
		return err
	}
	defer s.db.mu.Unlock()
	if !s.db.tenantExists(r.TenantID) {
		return unknownTenant(r.TenantID)
	}
	s.db.usage = append(s.db.usage, r)
	return nil
}

// Totals sums tenant t's usage at or after since.
func (s *UsageStore) Totals(ctx context.Context, t domain.TenantID, since time.Time) (domain.UsageTotals, error) {
	if err := s.db.lock(ctx); err != nil {
		return domain.UsageTotals{}, err
	}
	defer s.db.mu.Unlock()
	tot := domain.UsageTotals{TenantID: t, PeriodStart: since}
	for _, r := range s.db.usage {
		if r.TenantID == t && !r.At.Before(since) {
			tot.Add(r)
		}
	}
	return tot, nil
}

// AllTotals sums the usage at or after since of every tenant that has some, ordered by
// tenant.
func (s *UsageStore) AllTotals(ctx context.Context, since time.Time) ([]domain.UsageTotals, error) {
	if err := s.db.lock(ctx); err != nil {
		return nil, err
	}
	defer s.db.mu.Unlock()
	byTenant := map[domain.TenantID]*domain.UsageTotals{}
	for _, r := range s.db.usage {
		if r.At.Before(since) {
			continue
		}
		tot := byTenant[r.TenantID]
		if tot == nil {
			tot = &domain.UsageTotals{TenantID: r.TenantID, PeriodStart: since}
			byTenant[r.TenantID] = tot
		}
		tot.Add(r)
	}
	out := make([]domain.UsageTotals, 0, len(byTenant))
	for _, tot := range byTenant {
		out = append(out, *tot)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TenantID < out[j].TenantID })
	return out, nil
}

// AuditLog keeps audit entries in a DB. Entries outlive their tenant.
type AuditLog struct{ db *DB }

var _ ports.AuditLog = (*AuditLog)(nil)

type auditRow struct {
	seq   int64
	entry domain.AuditEntry
}

func copyAudit(e domain.AuditEntry) domain.AuditEntry {
	if e.Changed != nil {
		e.Changed = append([]string{}, e.Changed...)
	}
	return e
}

// Append records e.
func (s *AuditLog) Append(ctx context.Context, e domain.AuditEntry) error {
	if err := s.db.lock(ctx); err != nil {
		return err
	}
	defer s.db.mu.Unlock()
	s.db.auditSeq++
	s.db.audit = append(s.db.audit, auditRow{seq: s.db.auditSeq, entry: copyAudit(e)})
	return nil
}

// List returns entries newest first (by At, then by insertion); a non-empty tenant
// narrows to that tenant.
func (s *AuditLog) List(ctx context.Context, t domain.TenantID, p domain.Page) ([]domain.AuditEntry, error) {
	if err := s.db.lock(ctx); err != nil {
		return nil, err
	}
	defer s.db.mu.Unlock()
	var rows []auditRow
	for _, r := range s.db.audit {
		if t == "" || r.entry.TenantID == t {
			rows = append(rows, r)
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		if !rows[i].entry.At.Equal(rows[j].entry.At) {
			return rows[i].entry.At.After(rows[j].entry.At)
		}
		return rows[i].seq > rows[j].seq
	})
	lo, hi := page(p, len(rows))
	out := make([]domain.AuditEntry, 0, hi-lo)
	for _, r := range rows[lo:hi] {
		out = append(out, copyAudit(r.entry))
	}
	return out, nil
}
