package sqlstore

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

type apiKeyRow struct {
	ID         string     `gorm:"column:id;primaryKey"`
	TenantID   string     `gorm:"column:tenant_id"`
	UserID     string     `gorm:"column:user_id"`
	Name       string     `gorm:"column:name"`
	Hint       string     `gorm:"column:hint"`
	Hash       string     `gorm:"column:hash"`
	CreatedBy  string     `gorm:"column:created_by"`
	CreatedAt  time.Time  `gorm:"column:created_at;autoCreateTime:false"`
	ExpiresAt  *time.Time `gorm:"column:expires_at"`
	LastUsedAt *time.Time `gorm:"column:last_used_at"`
	RevokedAt  *time.Time `gorm:"column:revoked_at"`
}

func (apiKeyRow) TableName() string { return "api_keys" }

func apiKeyRowFrom(k domain.APIKey) apiKeyRow {
	return apiKeyRow{ID: string(k.ID), TenantID: string(k.TenantID), UserID: string(k.UserID), Name: k.Name, Hint: k.Hint,
		Hash: k.Hash, CreatedBy: k.CreatedBy, CreatedAt: dbTime(k.CreatedAt), ExpiresAt: dbTimePtr(k.ExpiresAt),
		LastUsedAt: dbTimePtr(k.LastUsedAt), RevokedAt: dbTimePtr(k.RevokedAt)}
}

func (r apiKeyRow) toDomain() domain.APIKey {
	return domain.APIKey{ID: domain.APIKeyID(r.ID), TenantID: domain.TenantID(r.TenantID), UserID: domain.UserID(r.UserID),
		Name: r.Name, Hint: r.Hint, Hash: r.Hash, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC(),
		ExpiresAt: utcPtr(r.ExpiresAt), LastUsedAt: utcPtr(r.LastUsedAt), RevokedAt: utcPtr(r.RevokedAt)}
}

// APIKeyStore keeps API keys by the hash of their secret; a tenant's or user's
// deletion removes their keys (ON DELETE CASCADE).
type APIKeyStore struct {
	db *gorm.DB
}

var _ ports.APIKeyStore = (*APIKeyStore)(nil)

// NewAPIKeyStore returns an APIKeyStore on db.
func NewAPIKeyStore(db *gorm.DB) *APIKeyStore { return &APIKeyStore{db: db} }

// Create stores k. A taken id or hash is KindConflict; an unknown tenant or user is
// KindInvalid.
func (s *APIKeyStore) Create(ctx context.Context, k domain.APIKey) error {
	r := apiKeyRowFrom(k)
	return translate(s.db.WithContext(ctx).Create(&r).Error, "create API key "+string(k.ID))
}

// GetByHash returns the key with hash through the unique hash index; unknown is
// KindNotFound.
func (s *APIKeyStore) GetByHash(ctx context.Context, hash string) (domain.APIKey, error) {
	var r apiKeyRow
	if err := s.db.WithContext(ctx).Where("hash = ?", hash).Take(&r).Error; err != nil {
		return domain.APIKey{}, translate(err, "load API key by hash")
	}
	return r.toDomain(), nil
}

// List returns t's keys (every key when t is empty), newest first.
func (s *APIKeyStore) List(ctx context.Context, t domain.TenantID, p domain.Page) ([]domain.APIKey, error) {
	p = p.Normalize()
	q := s.db.WithContext(ctx).Order("created_at DESC").Order("id DESC").Limit(p.Limit).Offset(p.Offset)
	if t != "" {
		q = q.Where("tenant_id = ?", string(t))
	}
	var rows []apiKeyRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, translate(err, "list API keys")
	}
	out := make([]domain.APIKey, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.toDomain())
	}
	return out, nil
}

// Revoke marks the key revoked once, in one transaction; another tenant's or an
// unknown key is KindNotFound.
func (s *APIKeyStore) Revoke(ctx context.Context, t domain.TenantID, id domain.APIKeyID, now time.Time) (domain.APIKey, error) {
	var r apiKeyRow
	err := transact(ctx, s.db, "revoke API key "+string(id), func(tx *gorm.DB) error {
		q := tx.Where("id = ?", string(id))
		if t != "" {
			q = q.Where("tenant_id = ?", string(t))
		}
		if err := q.Take(&r).Error; err != nil {
			return err
		}
		if r.RevokedAt != nil {
			return nil
		}
		at := dbTime(now)
		r.RevokedAt = &at
		if err := tx.Model(&apiKeyRow{}).Where("id = ? AND revoked_at IS NULL", r.ID).Update("revoked_at", at).Error; err != nil {
			return err
		}
		return recordChanges(tx, domain.Change{Kind: domain.ChangeAPIKey, ID: r.ID})
	})
	if err != nil {
		return domain.APIKey{}, translate(err, "revoke API key "+string(id))
	}
	return r.toDomain(), nil
}

// Touch sets the key's last_used_at; an unknown id updates nothing and is no error.
func (s *APIKeyStore) Touch(ctx context.Context, id domain.APIKeyID, now time.Time) error {
	err := s.db.WithContext(ctx).Model(&apiKeyRow{}).Where("id = ?", string(id)).Update("last_used_at", dbTime(now)).Error
	return translate(err, "touch API key "+string(id))
}
