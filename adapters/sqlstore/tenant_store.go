package sqlstore

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

type tenantRow struct {
	ID                   string    `gorm:"column:id;primaryKey"`
	Name                 string    `gorm:"column:name"`
	Status               string    `gorm:"column:status"`
	SystemPrompt         string    `gorm:"column:system_prompt"`
	RetrievalTopK        int       `gorm:"column:retrieval_top_k"`
	RetrievalMinScore    float64   `gorm:"column:retrieval_min_score"`
	RetrievalMode        string    `gorm:"column:retrieval_mode"`
	VectorProvider       string    `gorm:"column:vector_provider"`
	VectorIndexHost      string    `gorm:"column:vector_index_host"`
	VectorNamespace      string    `gorm:"column:vector_namespace"`
	VectorAPIKey         nullBytes `gorm:"column:vector_api_key"`
	EmbedderProvider     string    `gorm:"column:embedder_provider"`
	EmbedderModel        string    `gorm:"column:embedder_model"`
	EmbedderDimensions   int       `gorm:"column:embedder_dimensions"`
	EmbedderSendDims     bool      `gorm:"column:embedder_send_dimensions"`
	EmbedderAPIKey       nullBytes `gorm:"column:embedder_api_key"`
	LLMProvider          string    `gorm:"column:llm_provider"`
	LLMBaseURL           string    `gorm:"column:llm_base_url"`
	LLMModel             string    `gorm:"column:llm_model"`
	LLMTemperature       *float64  `gorm:"column:llm_temperature"`
	LLMMaxTokens         int       `gorm:"column:llm_max_tokens"`
	LLMMaxTokensParam    string    `gorm:"column:llm_max_tokens_param"`
	LLMAPIKey            nullBytes `gorm:"column:llm_api_key"`
	RequestsPerMinute    int       `gorm:"column:requests_per_minute"`
	MonthlyTokenQuota    int64     `gorm:"column:monthly_token_quota"`
	MaxConcurrentStreams int       `gorm:"column:max_concurrent_streams"`
	VectorsEpoch         int       `gorm:"column:vectors_epoch"`
	VectorsReady         bool      `gorm:"column:vectors_ready"`
	CreatedAt            time.Time `gorm:"column:created_at;autoCreateTime:false"`
	UpdatedAt            time.Time `gorm:"column:updated_at;autoUpdateTime:false"`
}

func (tenantRow) TableName() string { return "tenants" }

// The sealed fields and the aad each is bound to: "tenant/<id>/<field>", so a
// ciphertext can be moved neither to another tenant nor to another field.
const (
	fieldVectorKey   = "vector_store.api_key"
	fieldEmbedderKey = "embedder.api_key"
	fieldLLMKey      = "llm.api_key"
)

func secretAAD(id domain.TenantID, field string) string {
	return "tenant/" + string(id) + "/" + field
}

// sealedField is one encrypted column of a tenant row.
type sealedField struct {
	name string
	col  *nullBytes
	val  *domain.Secret
}

func (r *tenantRow) sealedFields(t *domain.Tenant) []sealedField {
	return []sealedField{
		{fieldVectorKey, &r.VectorAPIKey, &t.VectorStore.APIKey},
		{fieldEmbedderKey, &r.EmbedderAPIKey, &t.Embedder.APIKey},
		{fieldLLMKey, &r.LLMAPIKey, &t.LLM.APIKey},
	}
}

func tenantRowFrom(t domain.Tenant, s ports.SecretSealer) (tenantRow, error) {
	r := tenantRow{
		ID: string(t.ID), Name: t.Name, Status: string(t.Status), SystemPrompt: t.SystemPrompt,
		RetrievalTopK: t.Retrieval.TopK, RetrievalMinScore: t.Retrieval.MinScore, RetrievalMode: t.Retrieval.Mode,
		VectorProvider: t.VectorStore.Provider, VectorIndexHost: t.VectorStore.IndexHost, VectorNamespace: t.VectorStore.Namespace,
		EmbedderProvider: t.Embedder.Provider, EmbedderModel: t.Embedder.Model, EmbedderDimensions: t.Embedder.Dimensions,
		EmbedderSendDims: t.Embedder.SendDimensions,
		LLMProvider:      t.LLM.Provider, LLMBaseURL: t.LLM.BaseURL, LLMModel: t.LLM.Model,
		LLMTemperature: t.LLM.Temperature, LLMMaxTokens: t.LLM.MaxTokens, LLMMaxTokensParam: t.LLM.MaxTokensParam,
		RequestsPerMinute: t.Limits.RequestsPerMinute, MonthlyTokenQuota: t.Limits.MonthlyTokenQuota,
		MaxConcurrentStreams: t.Limits.MaxConcurrentStreams,
		CreatedAt:            dbTime(t.CreatedAt), UpdatedAt: dbTime(t.UpdatedAt),
		VectorsEpoch: t.Vectors.Epoch, VectorsReady: t.Vectors.Ready,
	}
	for _, f := range r.sealedFields(&t) {
		if !f.val.IsSet() {
			continue
		}
		sealed, err := s.Seal([]byte(f.val.Reveal()), secretAAD(t.ID, f.name))
		if err != nil {
			return tenantRow{}, fmt.Errorf("seal %s of tenant %s: %w", f.name, t.ID, err)
		}
		*f.col = sealed
	}
	return r, nil
}

func (r tenantRow) toDomain(s ports.SecretSealer) (domain.Tenant, error) {
	t := domain.Tenant{
		ID: domain.TenantID(r.ID), Name: r.Name, Status: domain.TenantStatus(r.Status), SystemPrompt: r.SystemPrompt,
		Retrieval:   domain.RetrievalSettings{TopK: r.RetrievalTopK, MinScore: r.RetrievalMinScore, Mode: r.RetrievalMode},
		VectorStore: domain.VectorStoreSettings{Provider: r.VectorProvider, IndexHost: r.VectorIndexHost, Namespace: r.VectorNamespace},
		Embedder: domain.EmbedderSettings{Provider: r.EmbedderProvider, Model: r.EmbedderModel, Dimensions: r.EmbedderDimensions,
			SendDimensions: r.EmbedderSendDims},
		LLM: domain.LLMSettings{Provider: r.LLMProvider, BaseURL: r.LLMBaseURL, Model: r.LLMModel,
			Temperature: r.LLMTemperature, MaxTokens: r.LLMMaxTokens, MaxTokensParam: r.LLMMaxTokensParam},
		Limits: domain.Limits{RequestsPerMinute: r.RequestsPerMinute, MonthlyTokenQuota: r.MonthlyTokenQuota,
			MaxConcurrentStreams: r.MaxConcurrentStreams},
		Vectors:   domain.VectorState{Epoch: r.VectorsEpoch, Ready: r.VectorsReady},
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	for _, f := range r.sealedFields(&t) {
		if len(*f.col) == 0 {
			continue
		}
		plain, err := s.Open(*f.col, secretAAD(t.ID, f.name))
		if err != nil {
			return domain.Tenant{}, fmt.Errorf("open %s of tenant %s: %w", f.name, t.ID, err)
		}
		*f.val = domain.Secret(plain)
	}
	return t, nil
}

// TenantStore keeps tenants; vendor API keys are sealed with the SecretSealer it was
// built with, each bound to its tenant and field.
type TenantStore struct {
	db     *gorm.DB
	sealer ports.SecretSealer
	now    func() time.Time
}

var _ ports.TenantStore = (*TenantStore)(nil)

// NewTenantStore returns a TenantStore on db that seals secrets with sealer.
func NewTenantStore(db *gorm.DB, sealer ports.SecretSealer) *TenantStore {
	return &TenantStore{db: db, sealer: sealer, now: time.Now}
}

// Create stores a new tenant. An existing id is KindConflict.
func (s *TenantStore) Create(ctx context.Context, t domain.Tenant) error {
	r, err := tenantRowFrom(t, s.sealer)
	if err != nil {
		return err
	}
	return transact(ctx, s.db, "create tenant "+string(t.ID), func(tx *gorm.DB) error {
		if err := tx.Create(&r).Error; err != nil {
			return err
		}
		return recordChanges(tx, domain.Change{Kind: domain.ChangeTenant, ID: string(t.ID)})
	})
}

// Get returns the tenant with its secrets opened. An unknown id is KindNotFound.
func (s *TenantStore) Get(ctx context.Context, id domain.TenantID) (domain.Tenant, error) {
	var r tenantRow
	if err := s.db.WithContext(ctx).Where("id = ?", string(id)).Take(&r).Error; err != nil {
		return domain.Tenant{}, translate(err, "load tenant "+string(id))
	}
	return r.toDomain(s.sealer)
}

// List returns tenants ordered by id.
func (s *TenantStore) List(ctx context.Context, page domain.Page) ([]domain.Tenant, error) {
	page = page.Normalize()
	var rows []tenantRow
	if err := s.db.WithContext(ctx).Order("id").Limit(page.Limit).Offset(page.Offset).Find(&rows).Error; err != nil {
		return nil, translate(err, "list tenants")
	}
	out := make([]domain.Tenant, 0, len(rows))
	for _, r := range rows {
		t, err := r.toDomain(s.sealer)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// Update loads the tenant under a row lock, applies fn and stores the result in the
// same transaction; an error from fn is returned unchanged and nothing is stored.
func (s *TenantStore) Update(ctx context.Context, id domain.TenantID, fn func(*domain.Tenant) error) (domain.Tenant, error) {
	var out domain.Tenant
	err := transact(ctx, s.db, "update tenant "+string(id), func(tx *gorm.DB) error {
		var r tenantRow
		if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("id = ?", string(id)).Take(&r).Error; err != nil {
			return err
		}
		t, err := r.toDomain(s.sealer)
		if err != nil {
			return err
		}
		if err := fn(&t); err != nil {
			return passThrough{err}
		}
		t.ID = id
		nr, err := tenantRowFrom(t, s.sealer)
		if err != nil {
			return err
		}
		if err := tx.Model(&tenantRow{}).Where("id = ?", string(id)).Select("*").Updates(&nr).Error; err != nil {
			return err
		}
		out = t
		return recordChanges(tx, domain.Change{Kind: domain.ChangeTenant, ID: string(id)})
	})
	return out, err
}

// Delete removes the tenant and everything stored under it in one transaction: its
// documents, chunks, conversations and messages, usage and refresh tokens. Its users
// stay, without tenant, with their token version raised so that outstanding access
// tokens fail. Unknown id is KindNotFound.
func (s *TenantStore) Delete(ctx context.Context, id domain.TenantID) error {
	tid := string(id)
	return transact(ctx, s.db, "delete tenant "+tid, func(tx *gorm.DB) error {
		var r tenantRow
		if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Select("id").Where("id = ?", tid).Take(&r).Error; err != nil {
			return err
		}
		if err := tx.Exec("UPDATE users SET tenant_id = NULL, token_version = token_version + 1, updated_at = ?, role = CASE WHEN role = ? THEN ? ELSE role END WHERE tenant_id = ?",
			dbTime(s.now()), string(domain.RoleTenantAdmin), string(domain.RoleMember), tid).Error; err != nil {
			return err
		}
		// The foreign keys cascade too; deleting explicitly keeps the contract even on a
		// connection opened without SQLite's foreign_keys pragma.
		for _, table := range []string{"refresh_tokens", "messages", "conversations", "chunks", "documents", "usage_records", "reindex_jobs"} {
			if err := tx.Exec("DELETE FROM "+table+" WHERE tenant_id = ?", tid).Error; err != nil {
				return err
			}
		}
		if err := tx.Exec("DELETE FROM tenants WHERE id = ?", tid).Error; err != nil {
			return err
		}
		return recordChanges(tx, domain.Change{Kind: domain.ChangeTenantDeleted, ID: tid})
	})
}

// ResealSecrets opens every stored vendor API key with the store's sealer and seals it
// again with to (normally the same key ring with a new active master key). Each tenant
// is re-sealed in its own transaction, so an interrupted run loses nothing and can be
// run again. When to reports NeedsReseal (as secretbox.Keyring does), values already
// under its active key are left alone, which makes a second run change nothing. It
// returns how many values it re-sealed.
func (s *TenantStore) ResealSecrets(ctx context.Context, to ports.SecretSealer) (int, error) {
	var ids []string
	if err := s.db.WithContext(ctx).Model(&tenantRow{}).Order("id").
		Where("vector_api_key IS NOT NULL OR embedder_api_key IS NOT NULL OR llm_api_key IS NOT NULL").
		Pluck("id", &ids).Error; err != nil {
		return 0, translate(err, "list tenants with secrets")
	}
	checker, _ := to.(interface{ NeedsReseal([]byte) bool })
	total := 0
	for _, id := range ids {
		n, err := s.resealTenant(ctx, domain.TenantID(id), to, checker)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

func (s *TenantStore) resealTenant(ctx context.Context, id domain.TenantID, to ports.SecretSealer, checker interface{ NeedsReseal([]byte) bool }) (int, error) {
	n := 0
	err := transact(ctx, s.db, "reseal secrets of tenant "+string(id), func(tx *gorm.DB) error {
		n = 0
		var r tenantRow
		if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("id = ?", string(id)).Take(&r).Error; err != nil {
			return err
		}
		var t domain.Tenant
		updates := map[string]any{}
		cols := map[string]string{fieldVectorKey: "vector_api_key", fieldEmbedderKey: "embedder_api_key", fieldLLMKey: "llm_api_key"}
		for _, f := range r.sealedFields(&t) {
			if len(*f.col) == 0 || (checker != nil && !checker.NeedsReseal(*f.col)) {
				continue
			}
			aad := secretAAD(id, f.name)
			plain, err := s.sealer.Open(*f.col, aad)
			if err != nil {
				return fmt.Errorf("open %s of tenant %s: %w", f.name, id, err)
			}
			sealed, err := to.Seal(plain, aad)
			clear(plain)
			if err != nil {
				return fmt.Errorf("seal %s of tenant %s: %w", f.name, id, err)
			}
			updates[cols[f.name]] = sealed
		}
		if len(updates) == 0 {
			return nil
		}
		n = len(updates)
		return tx.Model(&tenantRow{}).Where("id = ?", string(id)).Updates(updates).Error
	})
	if domain.KindOf(err) == domain.KindNotFound {
		return 0, nil // deleted meanwhile
	}
	return n, err
}
