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

type reindexRow struct {
	TenantID       string     `gorm:"column:tenant_id;primaryKey"`
	ID             string     `gorm:"column:id"`
	State          string     `gorm:"column:state"`
	Epoch          int        `gorm:"column:epoch"`
	CursorDocument string     `gorm:"column:cursor_document"`
	CursorIdx      int        `gorm:"column:cursor_idx"`
	Done           int        `gorm:"column:done"`
	Total          int        `gorm:"column:total"`
	Error          string     `gorm:"column:error"`
	Owner          string     `gorm:"column:owner"`
	LeaseUntil     *time.Time `gorm:"column:lease_until"`
	StartedAt      time.Time  `gorm:"column:started_at"`
	FinishedAt     *time.Time `gorm:"column:finished_at"`
}

func (reindexRow) TableName() string { return "reindex_jobs" }

// optTime maps the zero instant to NULL.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return dbTimePtr(&t)
}

func fromOptTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func reindexRowFrom(j domain.ReindexJob) reindexRow {
	return reindexRow{TenantID: string(j.TenantID), ID: j.ID, State: j.State, Epoch: j.Epoch,
		CursorDocument: string(j.Cursor.Document), CursorIdx: j.Cursor.Index, Done: j.Done, Total: j.Total,
		Error: j.Error, Owner: j.Owner, LeaseUntil: optTime(j.LeaseUntil), StartedAt: dbTime(j.StartedAt),
		FinishedAt: optTime(j.FinishedAt)}
}

func (r reindexRow) toDomain() domain.ReindexJob {
	return domain.ReindexJob{ID: r.ID, TenantID: domain.TenantID(r.TenantID), State: r.State, Epoch: r.Epoch,
		Cursor: domain.ChunkRef{Document: domain.DocumentID(r.CursorDocument), Index: r.CursorIdx},
		Done:   r.Done, Total: r.Total, Error: r.Error, Owner: r.Owner, LeaseUntil: fromOptTime(r.LeaseUntil),
		StartedAt: r.StartedAt.UTC(), FinishedAt: fromOptTime(r.FinishedAt)}
}

// ReindexStore keeps each tenant's latest re-index job, one row per tenant.
type ReindexStore struct {
	db *gorm.DB
}

var _ ports.ReindexStore = (*ReindexStore)(nil)

// NewReindexStore returns a ReindexStore on db.
func NewReindexStore(db *gorm.DB) *ReindexStore { return &ReindexStore{db: db} }

// Get returns tenant t's latest job; none is KindNotFound.
func (s *ReindexStore) Get(ctx context.Context, t domain.TenantID) (domain.ReindexJob, error) {
	var r reindexRow
	if err := s.db.WithContext(ctx).Where("tenant_id = ?", string(t)).Take(&r).Error; err != nil {
		return domain.ReindexJob{}, translate(err, "load re-index job of "+string(t))
	}
	return r.toDomain(), nil
}

// Update runs fn on tenant t's job read with a row lock (the zero job when there is
// none) and writes the result in the same transaction. Two first jobs inserted at once
// collide on the primary key; the loser runs again and then sees the winner's row.
func (s *ReindexStore) Update(ctx context.Context, t domain.TenantID, fn func(*domain.ReindexJob) error) (domain.ReindexJob, error) {
	for attempt := 0; ; attempt++ {
		out, err := s.update(ctx, t, fn)
		if attempt < 2 && errors.Is(err, errRacedInsert) {
			continue
		}
		return out, err
	}
}

// errRacedInsert is a first job whose insert met a row another transaction inserted.
var errRacedInsert = domain.ErrConflict.WithDetail("a re-index job was started concurrently")

func (s *ReindexStore) update(ctx context.Context, t domain.TenantID, fn func(*domain.ReindexJob) error) (domain.ReindexJob, error) {
	var out domain.ReindexJob
	err := transact(ctx, s.db, "update re-index job of "+string(t), func(tx *gorm.DB) error {
		var r reindexRow
		err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("tenant_id = ?", string(t)).Take(&r).Error
		found := err == nil
		if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		j := domain.ReindexJob{}
		if found {
			j = r.toDomain()
		}
		if err := fn(&j); err != nil {
			return passThrough{err}
		}
		j.TenantID = t
		nr := reindexRowFrom(j)
		if found {
			err = tx.Model(&reindexRow{}).Where("tenant_id = ?", string(t)).Select("*").Updates(&nr).Error
		} else if err = tx.Create(&nr).Error; errors.Is(err, gorm.ErrDuplicatedKey) {
			return passThrough{errRacedInsert}
		}
		out = j
		return err
	})
	return out, err
}

// Claimable returns the running jobs without an owner or whose lease ended by now,
// oldest start first.
func (s *ReindexStore) Claimable(ctx context.Context, now time.Time) ([]domain.ReindexJob, error) {
	var rows []reindexRow
	err := s.db.WithContext(ctx).Where("state = ? AND (owner = '' OR lease_until IS NULL OR lease_until <= ?)",
		domain.ReindexRunning, dbTime(now)).Order("started_at").Order("tenant_id").Find(&rows).Error
	if err != nil {
		return nil, translate(err, "list claimable re-index jobs")
	}
	out := make([]domain.ReindexJob, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.toDomain())
	}
	return out, nil
}
