package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

type documentRow struct {
	ID         string    `gorm:"column:id;primaryKey"`
	TenantID   string    `gorm:"column:tenant_id"`
	ExternalID *string   `gorm:"column:external_id"`
	Title      string    `gorm:"column:title"`
	Metadata   string    `gorm:"column:metadata"`
	Chunks     int       `gorm:"column:chunks"`
	Bytes      int64     `gorm:"column:bytes"`
	CreatedAt  time.Time `gorm:"column:created_at;autoCreateTime:false"`
	UpdatedAt  time.Time `gorm:"column:updated_at;autoUpdateTime:false"`
}

func (documentRow) TableName() string { return "documents" }

func documentRowFrom(d domain.Document) (documentRow, error) {
	md := d.Metadata
	if md == nil {
		md = map[string]string{}
	}
	b, err := json.Marshal(md)
	if err != nil {
		return documentRow{}, fmt.Errorf("encode metadata: %w", err)
	}
	return documentRow{ID: string(d.ID), TenantID: string(d.TenantID), ExternalID: nullString(d.ExternalID), Title: d.Title,
		Metadata: string(b), Chunks: d.Chunks, Bytes: int64(d.Bytes), CreatedAt: dbTime(d.CreatedAt), UpdatedAt: dbTime(d.UpdatedAt)}, nil
}

func (r documentRow) toDomain() (domain.Document, error) {
	md := map[string]string{}
	if r.Metadata != "" {
		if err := json.Unmarshal([]byte(r.Metadata), &md); err != nil {
			return domain.Document{}, domain.E(domain.KindInternal, "storage_error", "", fmt.Errorf("decode metadata of document %s: %w", r.ID, err))
		}
	}
	return domain.Document{ID: domain.DocumentID(r.ID), TenantID: domain.TenantID(r.TenantID), ExternalID: fromNull(r.ExternalID),
		Title: r.Title, Metadata: md, Chunks: r.Chunks, Bytes: int(r.Bytes), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}, nil
}

// DocumentStore keeps document records, scoped by tenant in every query.
type DocumentStore struct {
	db *gorm.DB
}

var _ ports.DocumentStore = (*DocumentStore)(nil)

// NewDocumentStore returns a DocumentStore on db.
func NewDocumentStore(db *gorm.DB) *DocumentStore { return &DocumentStore{db: db} }

// Save stores d and its chunks in one transaction. When d.ExternalID is set and the
// tenant already has a document with it, that document is deleted (its chunks by the
// foreign key's cascade) and d inserted in the same transaction, and the old id is
// returned. The transaction records a ChangeChunks change, so that every process's
// in-memory indexes see the new chunks.
func (s *DocumentStore) Save(ctx context.Context, d domain.Document, chunks []domain.Chunk) (domain.DocumentID, error) {
	r, err := documentRowFrom(d)
	if err != nil {
		return "", err
	}
	var replaced domain.DocumentID
	err = transact(ctx, s.db, "save document "+string(d.ID), func(tx *gorm.DB) error {
		replaced = ""
		if d.ExternalID != "" {
			var old documentRow
			err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Select("id").
				Where("tenant_id = ? AND external_id = ?", string(d.TenantID), d.ExternalID).Take(&old).Error
			switch {
			case errors.Is(err, gorm.ErrRecordNotFound):
			case err != nil:
				return err
			case old.ID == string(d.ID):
				if err := tx.Model(&documentRow{}).Where("tenant_id = ? AND id = ?", r.TenantID, r.ID).Select("*").Updates(&r).Error; err != nil {
					return err
				}
				return putChunkRows(tx, d.TenantID, chunks)
			default:
				if err := tx.Where("tenant_id = ? AND id = ?", string(d.TenantID), old.ID).Delete(&documentRow{}).Error; err != nil {
					return err
				}
				replaced = domain.DocumentID(old.ID)
			}
		}
		if err := tx.Create(&r).Error; err != nil {
			return err
		}
		return putChunkRows(tx, d.TenantID, chunks)
	})
	if err != nil {
		return "", err
	}
	return replaced, nil
}

// Get returns the document if it belongs to tenant t; otherwise KindNotFound.
func (s *DocumentStore) Get(ctx context.Context, t domain.TenantID, id domain.DocumentID) (domain.Document, error) {
	var r documentRow
	if err := s.db.WithContext(ctx).Where("tenant_id = ? AND id = ?", string(t), string(id)).Take(&r).Error; err != nil {
		return domain.Document{}, translate(err, "load document "+string(id))
	}
	return r.toDomain()
}

// List returns the tenant's documents, newest first.
func (s *DocumentStore) List(ctx context.Context, t domain.TenantID, page domain.Page) ([]domain.Document, error) {
	page = page.Normalize()
	var rows []documentRow
	if err := s.db.WithContext(ctx).Where("tenant_id = ?", string(t)).Order("created_at DESC").Order("id DESC").
		Limit(page.Limit).Offset(page.Offset).Find(&rows).Error; err != nil {
		return nil, translate(err, "list documents")
	}
	out := make([]domain.Document, 0, len(rows))
	for _, r := range rows {
		d, err := r.toDomain()
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// Delete removes the document of tenant t and, by the foreign key's cascade, its
// chunks in one transaction, which records a ChangeChunks change. Unknown or another
// tenant's id is KindNotFound.
func (s *DocumentStore) Delete(ctx context.Context, t domain.TenantID, id domain.DocumentID) error {
	return transact(ctx, s.db, "delete document "+string(id), func(tx *gorm.DB) error {
		res := tx.Where("tenant_id = ? AND id = ?", string(t), string(id)).Delete(&documentRow{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return passThrough{domain.ErrNotFound.WithDetail("document %s does not exist", id)}
		}
		return recordChanges(tx, domain.Change{Kind: domain.ChangeChunks, ID: string(t)})
	})
}

// Existing returns which of ids are documents of tenant t, in one query per chunkBatch
// ids (the bound parameters one statement may take).
func (s *DocumentStore) Existing(ctx context.Context, t domain.TenantID, ids []domain.DocumentID) (map[domain.DocumentID]bool, error) {
	out := make(map[domain.DocumentID]bool, len(ids))
	for batch := range slices.Chunk(ids, chunkBatch) {
		keys := make([]string, 0, len(batch))
		for _, id := range batch {
			keys = append(keys, string(id))
		}
		var found []string
		if err := s.db.WithContext(ctx).Model(&documentRow{}).Where("tenant_id = ? AND id IN ?", string(t), keys).
			Pluck("id", &found).Error; err != nil {
			return nil, translate(err, "check documents exist")
		}
		for _, id := range found {
			out[domain.DocumentID(id)] = true
		}
	}
	return out, nil
}

type chunkRow struct {
	TenantID   string `gorm:"column:tenant_id;primaryKey"`
	DocumentID string `gorm:"column:document_id;primaryKey"`
	Idx        int    `gorm:"column:idx;primaryKey"`
	Title      string `gorm:"column:title"`
	Text       string `gorm:"column:text"`
	Page       int    `gorm:"column:page"`
	Heading    string `gorm:"column:heading"`
	Vector     []byte `gorm:"column:vector"`
}

func (chunkRow) TableName() string { return "chunks" }

// ChunkStore persists the chunks of the lexical and the embedded vector index, vectors
// as little-endian float32 bytes (empty when the chunk has none).
type ChunkStore struct {
	db *gorm.DB
}

var _ ports.ChunkStore = (*ChunkStore)(nil)

// NewChunkStore returns a ChunkStore on db.
func NewChunkStore(db *gorm.DB) *ChunkStore { return &ChunkStore{db: db} }

// chunkBatch bounds the rows of one INSERT (SQLite allows 32766 bound parameters).
const chunkBatch = 500

// putChunkRows upserts chunks of tenant t in tx and records a ChangeChunks change. A
// chunk of a document without a record violates the foreign key (KindInvalid).
func putChunkRows(tx *gorm.DB, t domain.TenantID, chunks []domain.Chunk) error {
	rows := make([]chunkRow, 0, len(chunks))
	for _, c := range chunks {
		rows = append(rows, chunkRow{TenantID: string(t), DocumentID: string(c.DocumentID), Idx: c.Index,
			Title: c.Title, Text: c.Text, Page: c.Page, Heading: c.Heading, Vector: encodeVector(c.Vector)})
	}
	if len(rows) > 0 {
		if err := tx.Clauses(clause.OnConflict{
			Columns: []clause.Column{{Name: "tenant_id"}, {Name: "document_id"}, {Name: "idx"}},
			DoUpdates: clause.Set{
				{Column: clause.Column{Name: "title"}, Value: gorm.Expr("excluded.title")},
				{Column: clause.Column{Name: "text"}, Value: gorm.Expr("excluded.text")},
				{Column: clause.Column{Name: "page"}, Value: gorm.Expr("excluded.page")},
				{Column: clause.Column{Name: "heading"}, Value: gorm.Expr("excluded.heading")},
				// A chunk without a vector keeps the stored one.
				{Column: clause.Column{Name: "vector"}, Value: gorm.Expr("CASE WHEN length(excluded.vector) = 0 THEN chunks.vector ELSE excluded.vector END")},
			},
		}).CreateInBatches(&rows, chunkBatch).Error; err != nil {
			return err
		}
	}
	return recordChanges(tx, domain.Change{Kind: domain.ChangeChunks, ID: string(t)})
}

// LoadChunks returns every chunk of tenant t ordered by document id and index.
func (s *ChunkStore) LoadChunks(ctx context.Context, t domain.TenantID) ([]domain.Chunk, error) {
	var rows []chunkRow
	if err := s.db.WithContext(ctx).Where("tenant_id = ?", string(t)).Order("document_id").Order("idx").Find(&rows).Error; err != nil {
		return nil, translate(err, "load chunks")
	}
	out := make([]domain.Chunk, 0, len(rows))
	for _, r := range rows {
		out = append(out, domain.Chunk{DocumentID: domain.DocumentID(r.DocumentID), Index: r.Idx, Title: r.Title,
			Text: r.Text, Page: r.Page, Heading: r.Heading, Vector: decodeVector(r.Vector)})
	}
	return out, nil
}

var _ ports.ChunkScanner = (*ChunkStore)(nil)

// ChunksAfter returns up to limit chunks of tenant t after the chunk after, ordered by
// document id (collation "C", as Go compares) and index, without vectors, and how many
// come after the last one returned.
func (s *ChunkStore) ChunksAfter(ctx context.Context, t domain.TenantID, after domain.ChunkRef, limit int) ([]domain.Chunk, int, error) {
	db := s.db.WithContext(ctx)
	rest := func(ref domain.ChunkRef) *gorm.DB {
		return db.Model(&chunkRow{}).Where("tenant_id = ? AND (document_id > ? OR (document_id = ? AND idx > ?))",
			string(t), string(ref.Document), string(ref.Document), ref.Index)
	}
	var rows []chunkRow
	if limit > 0 {
		if err := rest(after).Select("document_id", "idx", "title", "text", "page", "heading").Order("document_id").Order("idx").
			Limit(limit).Find(&rows).Error; err != nil {
			return nil, 0, translate(err, "load chunks")
		}
	}
	out := make([]domain.Chunk, 0, len(rows))
	for _, r := range rows {
		out = append(out, domain.Chunk{DocumentID: domain.DocumentID(r.DocumentID), Index: r.Idx, Title: r.Title, Text: r.Text,
			Page: r.Page, Heading: r.Heading})
		after = domain.ChunkRef{Document: domain.DocumentID(r.DocumentID), Index: r.Idx}
	}
	var left int64
	if err := rest(after).Count(&left).Error; err != nil {
		return nil, 0, translate(err, "count chunks")
	}
	return out, int(left), nil
}

// PutVectors updates the vector of each stored chunk of tenant t in one transaction,
// skipping chunks whose row is gone, and records a ChangeChunks change.
func (s *ChunkStore) PutVectors(ctx context.Context, t domain.TenantID, chunks []domain.Chunk) error {
	if len(chunks) == 0 {
		return nil
	}
	return transact(ctx, s.db, "store chunk vectors", func(tx *gorm.DB) error {
		for _, c := range chunks {
			if err := tx.Model(&chunkRow{}).Where("tenant_id = ? AND document_id = ? AND idx = ?", string(t), string(c.DocumentID), c.Index).
				Update("vector", encodeVector(c.Vector)).Error; err != nil {
				return err
			}
		}
		return recordChanges(tx, domain.Change{Kind: domain.ChangeChunks, ID: string(t)})
	})
}
