package sqlstore

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

type signingKeyRow struct {
	KID        string     `gorm:"column:kid;primaryKey"`
	Algorithm  string     `gorm:"column:algorithm"`
	PrivateKey []byte     `gorm:"column:private_key"`
	PublicKey  []byte     `gorm:"column:public_key"`
	CreatedAt  time.Time  `gorm:"column:created_at;autoCreateTime:false"`
	RetiredAt  *time.Time `gorm:"column:retired_at"`
}

func (signingKeyRow) TableName() string { return "signing_keys" }

func (r signingKeyRow) toDomain() domain.SigningKey {
	return domain.SigningKey{KID: r.KID, Algorithm: r.Algorithm, Private: r.PrivateKey, Public: r.PublicKey,
		CreatedAt: r.CreatedAt.UTC(), RetiredAt: utcPtr(r.RetiredAt)}
}

// SigningKeyStore keeps token signing keys; private parts arrive already sealed.
type SigningKeyStore struct {
	db *gorm.DB
}

var _ ports.SigningKeyStore = (*SigningKeyStore)(nil)

// NewSigningKeyStore returns a SigningKeyStore on db.
func NewSigningKeyStore(db *gorm.DB) *SigningKeyStore { return &SigningKeyStore{db: db} }

// List returns every key, newest first.
func (s *SigningKeyStore) List(ctx context.Context) ([]domain.SigningKey, error) {
	var rows []signingKeyRow
	if err := s.db.WithContext(ctx).Order("created_at DESC").Order("kid DESC").Find(&rows).Error; err != nil {
		return nil, translate(err, "list signing keys")
	}
	out := make([]domain.SigningKey, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.toDomain())
	}
	return out, nil
}

// Add stores k and retires every other active key at k.CreatedAt, in one transaction.
// An existing KID is KindConflict and retires nothing.
func (s *SigningKeyStore) Add(ctx context.Context, k domain.SigningKey) error {
	r := signingKeyRow{KID: k.KID, Algorithm: k.Algorithm, PrivateKey: k.Private, PublicKey: k.Public,
		CreatedAt: dbTime(k.CreatedAt), RetiredAt: dbTimePtr(k.RetiredAt)}
	return transact(ctx, s.db, "add signing key "+k.KID, func(tx *gorm.DB) error {
		if err := tx.Create(&r).Error; err != nil {
			return err
		}
		if err := tx.Model(&signingKeyRow{}).Where("kid <> ? AND retired_at IS NULL", k.KID).
			Update("retired_at", r.CreatedAt).Error; err != nil {
			return err
		}
		return recordChanges(tx, domain.Change{Kind: domain.ChangeSigningKeys})
	})
}

// Delete removes a key. Unknown KID is KindNotFound.
func (s *SigningKeyStore) Delete(ctx context.Context, kid string) error {
	return transact(ctx, s.db, "delete signing key "+kid, func(tx *gorm.DB) error {
		res := tx.Where("kid = ?", kid).Delete(&signingKeyRow{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return passThrough{domain.ErrNotFound.WithDetail("signing key %q does not exist", kid)}
		}
		return recordChanges(tx, domain.Change{Kind: domain.ChangeSigningKeys})
	})
}

type refreshTokenRow struct {
	Hash      string     `gorm:"column:hash;primaryKey"`
	FamilyID  string     `gorm:"column:family_id"`
	UserID    string     `gorm:"column:user_id"`
	TenantID  *string    `gorm:"column:tenant_id"`
	ExpiresAt time.Time  `gorm:"column:expires_at"`
	CreatedAt time.Time  `gorm:"column:created_at;autoCreateTime:false"`
	UsedAt    *time.Time `gorm:"column:used_at"`
	RevokedAt *time.Time `gorm:"column:revoked_at"`
}

func (refreshTokenRow) TableName() string { return "refresh_tokens" }

func (r refreshTokenRow) toDomain() domain.RefreshToken {
	return domain.RefreshToken{Hash: r.Hash, FamilyID: r.FamilyID, UserID: domain.UserID(r.UserID),
		TenantID: domain.TenantID(fromNull(r.TenantID)), ExpiresAt: r.ExpiresAt.UTC(), CreatedAt: r.CreatedAt.UTC(),
		UsedAt: utcPtr(r.UsedAt), RevokedAt: utcPtr(r.RevokedAt)}
}

// RefreshTokenStore keeps refresh tokens by hash.
type RefreshTokenStore struct {
	db *gorm.DB
}

var _ ports.RefreshTokenStore = (*RefreshTokenStore)(nil)

// NewRefreshTokenStore returns a RefreshTokenStore on db.
func NewRefreshTokenStore(db *gorm.DB) *RefreshTokenStore { return &RefreshTokenStore{db: db} }

// Create stores a new token. An existing hash is KindConflict; an unknown user
// KindInvalid.
func (s *RefreshTokenStore) Create(ctx context.Context, t domain.RefreshToken) error {
	r := refreshTokenRow{Hash: t.Hash, FamilyID: t.FamilyID, UserID: string(t.UserID), TenantID: nullString(string(t.TenantID)),
		ExpiresAt: dbTime(t.ExpiresAt), CreatedAt: dbTime(t.CreatedAt), UsedAt: dbTimePtr(t.UsedAt), RevokedAt: dbTimePtr(t.RevokedAt)}
	return translate(s.db.WithContext(ctx).Create(&r).Error, "create refresh token")
}

// Rotate marks the token used at now and inserts next as its successor in one
// transaction, under a lock on the used token's row, and returns the used token as it
// was. An unknown, expired or revoked token, or one whose family has a revoked token,
// is domain.ErrInvalidRefreshToken; a token already used revokes its whole family
// (committed) and fails the same way. Of concurrent calls for one token at most one
// succeeds: the row lock (PostgreSQL) or the write lock taken at BEGIN (SQLite)
// serialises them.
//
// A revocation racing a rotation may miss the successor (on PostgreSQL its UPDATE
// does not see a row inserted after it started), but it always marks at least one
// older token of the family, which this family check then finds: the successor can
// never be rotated.
func (s *RefreshTokenStore) Rotate(ctx context.Context, hash string, next domain.RefreshToken, now time.Time) (domain.RefreshToken, error) {
	var (
		out    domain.RefreshToken
		reject bool
	)
	err := transact(ctx, s.db, "rotate refresh token", func(tx *gorm.DB) error {
		var r refreshTokenRow
		err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("hash = ?", hash).Take(&r).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			reject = true
			return nil
		}
		if err != nil {
			return err
		}
		tok := r.toDomain()
		if tok.Usable(now) != nil {
			reject = true
			if tok.UsedAt != nil && tok.RevokedAt == nil {
				return revokeFamily(tx, tok.FamilyID, now)
			}
			return nil
		}
		var revoked int64
		if err := tx.Model(&refreshTokenRow{}).Where("family_id = ? AND revoked_at IS NOT NULL", tok.FamilyID).Limit(1).Count(&revoked).Error; err != nil {
			return err
		}
		if revoked > 0 {
			reject = true
			return revokeFamily(tx, tok.FamilyID, now)
		}
		if err := tx.Model(&refreshTokenRow{}).Where("hash = ?", hash).Update("used_at", dbTime(now)).Error; err != nil {
			return err
		}
		succ := refreshTokenRow{Hash: next.Hash, FamilyID: r.FamilyID, UserID: r.UserID, TenantID: r.TenantID,
			ExpiresAt: dbTime(next.ExpiresAt), CreatedAt: dbTime(next.CreatedAt)}
		if err := tx.Create(&succ).Error; err != nil {
			return err
		}
		out = tok
		return nil
	})
	if err != nil {
		return domain.RefreshToken{}, err
	}
	if reject {
		return domain.RefreshToken{}, domain.ErrInvalidRefreshToken
	}
	return out, nil
}

func revokeFamily(tx *gorm.DB, family string, now time.Time) error {
	return tx.Model(&refreshTokenRow{}).Where("family_id = ? AND revoked_at IS NULL", family).
		Update("revoked_at", dbTime(now)).Error
}

// RevokeFamily revokes every token of the family that holds hash. Unknown hash is not
// an error.
func (s *RefreshTokenStore) RevokeFamily(ctx context.Context, hash string, now time.Time) error {
	err := s.db.WithContext(ctx).Model(&refreshTokenRow{}).
		Where("family_id IN (?) AND revoked_at IS NULL", s.db.Model(&refreshTokenRow{}).Select("family_id").Where("hash = ?", hash)).
		Update("revoked_at", dbTime(now)).Error
	return translate(err, "revoke refresh token family")
}

// RevokeUser revokes every token of the user.
func (s *RefreshTokenStore) RevokeUser(ctx context.Context, id domain.UserID, now time.Time) error {
	err := s.db.WithContext(ctx).Model(&refreshTokenRow{}).Where("user_id = ? AND revoked_at IS NULL", string(id)).
		Update("revoked_at", dbTime(now)).Error
	return translate(err, "revoke refresh tokens of user "+string(id))
}
