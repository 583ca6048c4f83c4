package sqlstore

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

type userRow struct {
	ID           string    `gorm:"column:id;primaryKey"`
	Email        string    `gorm:"column:email"`
	TenantID     *string   `gorm:"column:tenant_id"`
	Role         string    `gorm:"column:role"`
	PasswordHash string    `gorm:"column:password_hash"`
	Disabled     bool      `gorm:"column:disabled"`
	TokenVersion int       `gorm:"column:token_version"`
	CreatedAt    time.Time `gorm:"column:created_at;autoCreateTime:false"`
	UpdatedAt    time.Time `gorm:"column:updated_at;autoUpdateTime:false"`
}

func (userRow) TableName() string { return "users" }

func userRowFrom(u domain.User) userRow {
	return userRow{
		ID: string(u.ID), Email: string(u.Email), TenantID: nullString(string(u.TenantID)), Role: string(u.Role),
		PasswordHash: u.PasswordHash, Disabled: u.Disabled, TokenVersion: u.TokenVersion,
		CreatedAt: dbTime(u.CreatedAt), UpdatedAt: dbTime(u.UpdatedAt),
	}
}

func (r userRow) toDomain() domain.User {
	return domain.User{
		ID: domain.UserID(r.ID), Email: domain.Email(r.Email), TenantID: domain.TenantID(fromNull(r.TenantID)),
		Role: domain.Role(r.Role), PasswordHash: r.PasswordHash, Disabled: r.Disabled, TokenVersion: r.TokenVersion,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

// UserStore keeps users. Emails are unique case-insensitively (a unique index on
// lower(email)).
type UserStore struct {
	db *gorm.DB
}

var _ ports.UserStore = (*UserStore)(nil)

// NewUserStore returns a UserStore on db.
func NewUserStore(db *gorm.DB) *UserStore { return &UserStore{db: db} }

// Create stores a new user. A taken email or id is KindConflict; an unknown tenant
// KindInvalid.
func (s *UserStore) Create(ctx context.Context, u domain.User) error {
	r := userRowFrom(u)
	return userError(translate(s.db.WithContext(ctx).Create(&r).Error, "create user "+string(u.ID)), u)
}

// userError words a failed user write for the person who made it: the taken email or
// the missing tenant, rather than the generated id and the violated constraint.
func userError(err error, u domain.User) error {
	switch domain.KindOf(err) {
	case domain.KindConflict:
		return domain.ErrConflict.WithDetail("a user with email %s already exists", u.Email)
	case domain.KindInvalid:
		if e := domain.AsError(err); e != nil && len(e.Fields) > 0 {
			return err
		}
		return domain.Invalid(domain.FieldError{Field: "tenant_id", Message: "tenant " + string(u.TenantID) + " does not exist"})
	}
	return err
}

// Get returns the user by id. Unknown id is KindNotFound.
func (s *UserStore) Get(ctx context.Context, id domain.UserID) (domain.User, error) {
	var r userRow
	if err := s.db.WithContext(ctx).Where("id = ?", string(id)).Take(&r).Error; err != nil {
		return domain.User{}, translate(err, "load user "+string(id))
	}
	return r.toDomain(), nil
}

// GetByEmail returns the user by email, compared case-insensitively through the
// lower(email) index. Unknown email is KindNotFound.
func (s *UserStore) GetByEmail(ctx context.Context, email domain.Email) (domain.User, error) {
	var r userRow
	if err := s.db.WithContext(ctx).Where("lower(email) = lower(?)", string(email)).Take(&r).Error; err != nil {
		return domain.User{}, translate(err, "load user by email")
	}
	return r.toDomain(), nil
}

// List returns users ordered by email; with a TenantID only that tenant's users.
func (s *UserStore) List(ctx context.Context, f ports.UserFilter, page domain.Page) ([]domain.User, error) {
	page = page.Normalize()
	q := s.db.WithContext(ctx).Order("email").Order("id").Limit(page.Limit).Offset(page.Offset)
	if f.TenantID != "" {
		q = q.Where("tenant_id = ?", string(f.TenantID))
	}
	var rows []userRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, translate(err, "list users")
	}
	out := make([]domain.User, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.toDomain())
	}
	return out, nil
}

// Update loads the user under a row lock, applies fn and stores the result in the same
// transaction. An error from fn is returned unchanged; an unknown tenant is
// KindInvalid, a taken email KindConflict, and nothing is stored then.
func (s *UserStore) Update(ctx context.Context, id domain.UserID, fn func(*domain.User) error) (domain.User, error) {
	var out domain.User
	err := transact(ctx, s.db, "update user "+string(id), func(tx *gorm.DB) error {
		var r userRow
		if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("id = ?", string(id)).Take(&r).Error; err != nil {
			return err
		}
		u := r.toDomain()
		if err := fn(&u); err != nil {
			return passThrough{err}
		}
		u.ID = id
		nr := userRowFrom(u)
		if err := tx.Model(&userRow{}).Where("id = ?", string(id)).Select("*").Updates(&nr).Error; err != nil {
			return passThrough{userError(translate(err, "update user "+string(id)), u)}
		}
		out = u
		return recordChanges(tx, domain.Change{Kind: domain.ChangeUser, ID: string(id)})
	})
	return out, err
}
