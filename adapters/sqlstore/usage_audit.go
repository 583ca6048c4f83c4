package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

type usageRow struct {
	ID               string    `gorm:"column:id;primaryKey"`
	TenantID         string    `gorm:"column:tenant_id"`
	UserID           string    `gorm:"column:user_id"`
	Model            string    `gorm:"column:model"`
	PromptTokens     int64     `gorm:"column:prompt_tokens"`
	CompletionTokens int64     `gorm:"column:completion_tokens"`
	ReadUnits        int64     `gorm:"column:read_units"`
	Estimated        bool      `gorm:"column:estimated"`
	At               time.Time `gorm:"column:at"`
}

func (usageRow) TableName() string { return "usage_records" }

// UsageStore records token usage per tenant, user and model.
type UsageStore struct {
	db *gorm.DB
}

var _ ports.UsageStore = (*UsageStore)(nil)

// NewUsageStore returns a UsageStore on db.
func NewUsageStore(db *gorm.DB) *UsageStore { return &UsageStore{db: db} }

// Record adds one usage record. An unknown tenant is KindInvalid.
func (s *UsageStore) Record(ctx context.Context, r domain.UsageRecord) error {
	row := usageRow{ID: uuid.NewString(), TenantID: string(r.TenantID), UserID: string(r.UserID), Model: r.Model,
		PromptTokens: int64(r.PromptTokens), CompletionTokens: int64(r.CompletionTokens), ReadUnits: int64(r.ReadUnits), Estimated: r.Estimated, At: dbTime(r.At)}
	return translate(s.db.WithContext(ctx).Create(&row).Error, "record usage of tenant "+string(r.TenantID))
}

// totalsRow is one aggregate row; the casts keep PostgreSQL's SUM of bigint (numeric)
// and SQLite's integers scanning alike.
type totalsRow struct {
	TenantID         string
	PromptTokens     int64
	CompletionTokens int64
	ReadUnits        int64
	Requests         int64
	EstimatedTokens  int64
}

const totalsSelect = "tenant_id, CAST(COALESCE(SUM(prompt_tokens), 0) AS BIGINT) AS prompt_tokens, " +
	"CAST(COALESCE(SUM(completion_tokens), 0) AS BIGINT) AS completion_tokens, " +
	"CAST(COALESCE(SUM(read_units), 0) AS BIGINT) AS read_units, COUNT(*) AS requests, " +
	"CAST(COALESCE(SUM(CASE WHEN estimated THEN prompt_tokens + completion_tokens ELSE 0 END), 0) AS BIGINT) AS estimated_tokens"

// Totals sums tenant t's usage at or after since.
func (s *UsageStore) Totals(ctx context.Context, t domain.TenantID, since time.Time) (domain.UsageTotals, error) {
	var rows []totalsRow
	err := s.db.WithContext(ctx).Model(&usageRow{}).Select(totalsSelect).
		Where("tenant_id = ? AND at >= ?", string(t), dbTime(since)).Group("tenant_id").Scan(&rows).Error
	if err != nil {
		return domain.UsageTotals{}, translate(err, "sum usage of tenant "+string(t))
	}
	out := domain.UsageTotals{TenantID: t, PeriodStart: since.UTC()}
	if len(rows) == 1 {
		r := rows[0]
		out.PromptTokens, out.CompletionTokens, out.ReadUnits, out.Requests = r.PromptTokens, r.CompletionTokens, r.ReadUnits, r.Requests
		out.EstimatedTokens = r.EstimatedTokens
	}
	return out, nil
}

// AllTotals sums every tenant's usage at or after since, ordered by tenant; tenants
// without usage in the period are not listed.
func (s *UsageStore) AllTotals(ctx context.Context, since time.Time) ([]domain.UsageTotals, error) {
	var rows []totalsRow
	err := s.db.WithContext(ctx).Model(&usageRow{}).Select(totalsSelect).
		Where("at >= ?", dbTime(since)).Group("tenant_id").Order("tenant_id").Scan(&rows).Error
	if err != nil {
		return nil, translate(err, "sum usage of all tenants")
	}
	out := make([]domain.UsageTotals, 0, len(rows))
	for _, r := range rows {
		out = append(out, domain.UsageTotals{TenantID: domain.TenantID(r.TenantID), PeriodStart: since.UTC(),
			PromptTokens: r.PromptTokens, CompletionTokens: r.CompletionTokens, ReadUnits: r.ReadUnits, Requests: r.Requests, EstimatedTokens: r.EstimatedTokens})
	}
	return out, nil
}

type auditRow struct {
	ID        string    `gorm:"column:id;primaryKey"`
	Actor     string    `gorm:"column:actor"`
	TenantID  *string   `gorm:"column:tenant_id"`
	Action    string    `gorm:"column:action"`
	Target    string    `gorm:"column:target"`
	Changed   string    `gorm:"column:changed"`
	RequestID string    `gorm:"column:request_id"`
	At        time.Time `gorm:"column:at"`
}

func (auditRow) TableName() string { return "audit_log" }

// AuditLog records administrative writes. Entries outlive their tenant.
type AuditLog struct {
	db *gorm.DB
}

var _ ports.AuditLog = (*AuditLog)(nil)

// NewAuditLog returns an AuditLog on db.
func NewAuditLog(db *gorm.DB) *AuditLog { return &AuditLog{db: db} }

// Append records e; an entry without ID gets a random one. An existing ID is
// KindConflict.
func (s *AuditLog) Append(ctx context.Context, e domain.AuditEntry) error {
	changed := e.Changed
	if changed == nil {
		changed = []string{}
	}
	b, err := json.Marshal(changed)
	if err != nil {
		return fmt.Errorf("encode changed fields: %w", err)
	}
	id := e.ID
	if id == "" {
		id = uuid.NewString()
	}
	r := auditRow{ID: id, Actor: e.Actor, TenantID: nullString(string(e.TenantID)), Action: e.Action, Target: e.Target,
		Changed: string(b), RequestID: e.RequestID, At: dbTime(e.At)}
	return translate(s.db.WithContext(ctx).Create(&r).Error, "append audit entry")
}

// List returns entries newest first; a non-empty tenant narrows to that tenant.
func (s *AuditLog) List(ctx context.Context, t domain.TenantID, page domain.Page) ([]domain.AuditEntry, error) {
	page = page.Normalize()
	q := s.db.WithContext(ctx).Order("at DESC").Order("id DESC").Limit(page.Limit).Offset(page.Offset)
	if t != "" {
		q = q.Where("tenant_id = ?", string(t))
	}
	var rows []auditRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, translate(err, "list audit entries")
	}
	out := make([]domain.AuditEntry, 0, len(rows))
	for _, r := range rows {
		var changed []string
		if err := json.Unmarshal([]byte(r.Changed), &changed); err != nil {
			return nil, domain.E(domain.KindInternal, "storage_error", "", fmt.Errorf("decode audit entry %s: %w", r.ID, err))
		}
		if len(changed) == 0 {
			changed = nil
		}
		out = append(out, domain.AuditEntry{ID: r.ID, Actor: r.Actor, TenantID: domain.TenantID(fromNull(r.TenantID)), Action: r.Action,
			Target: r.Target, Changed: changed, RequestID: r.RequestID, At: r.At.UTC()})
	}
	return out, nil
}
