package application

import (
	"context"
	"fmt"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// Documents lists, shows and deletes a tenant's documents. Every member may read;
// only tenant admins may delete.
type Documents struct {
	docs    ports.DocumentStore
	vendors ports.Vendors
	lexical ports.LexicalIndex
}

// NewDocuments builds the use case.
func NewDocuments(docs ports.DocumentStore, vendors ports.Vendors, lexical ports.LexicalIndex) *Documents {
	return &Documents{docs: docs, vendors: vendors, lexical: lexical}
}

// List returns the tenant's documents, newest first.
func (d *Documents) List(ctx context.Context, tc domain.TenantContext, page domain.Page) ([]domain.Document, error) {
	return d.docs.List(ctx, tc.Tenant.ID, page.Normalize())
}

// Get returns one document of the tenant; another tenant's is KindNotFound.
func (d *Documents) Get(ctx context.Context, tc domain.TenantContext, id domain.DocumentID) (domain.Document, error) {
	return d.docs.Get(ctx, tc.Tenant.ID, id)
}

// Delete removes the document record and its stored chunks (one transaction), then
// its passages from the process's indexes and its vectors from an external store. Once
// started it runs to the end even if ctx is cancelled (the client went away): nothing
// after the check of the caller's role uses the request's cancellation, only a
// timeout. It is idempotent: when the record is already gone (KindNotFound, also for
// another tenant's id) the tenant's passages and vectors of that id are still removed,
// so a retry after a failure finishes the job, and the KindNotFound is returned.
func (d *Documents) Delete(ctx context.Context, tc domain.TenantContext, id domain.DocumentID) error {
	if !tc.Principal.CanAdminTenant(tc.Tenant.ID) {
		return domain.ErrForbidden.WithDetail("only tenant admins may delete documents")
	}
	var err error
	detached(ctx, func(ctx context.Context) {
		gone := d.docs.Delete(ctx, tc.Tenant.ID, id)
		if gone != nil && domain.KindOf(gone) != domain.KindNotFound {
			err = gone
			return
		}
		if err = removeChunks(ctx, d.lexical, d.vendors, tc.Tenant, id); err == nil {
			err = gone
		}
	})
	return err
}

// Conversations shows, renames and deletes the caller's own conversations.
type Conversations struct {
	store  ports.ConversationStore
	editor ports.ConversationEditor
}

// NewConversations builds the use case.
func NewConversations(store ports.ConversationStore, editor ports.ConversationEditor) *Conversations {
	return &Conversations{store: store, editor: editor}
}

// Rename gives one of the caller's conversations a new title (see
// domain.ParseConversationTitle); another user's or tenant's is KindNotFound.
func (c *Conversations) Rename(ctx context.Context, tc domain.TenantContext, id domain.ConversationID, title string) (domain.Conversation, error) {
	title, err := domain.ParseConversationTitle(title)
	if err != nil {
		return domain.Conversation{}, err
	}
	return c.editor.Rename(ctx, tc.Tenant.ID, tc.Principal.UserID, id, title)
}

// Delete removes one of the caller's conversations with its messages; another user's
// or tenant's, or one already deleted, is KindNotFound.
func (c *Conversations) Delete(ctx context.Context, tc domain.TenantContext, id domain.ConversationID) error {
	return c.editor.Delete(ctx, tc.Tenant.ID, tc.Principal.UserID, id)
}

// List returns the caller's conversations in their tenant, most recent first.
func (c *Conversations) List(ctx context.Context, tc domain.TenantContext, page domain.Page) ([]domain.Conversation, error) {
	return c.store.List(ctx, tc.Tenant.ID, tc.Principal.UserID, page.Normalize())
}

// Get returns one of the caller's conversations with its messages; another user's or
// tenant's conversation is KindNotFound.
func (c *Conversations) Get(ctx context.Context, tc domain.TenantContext, id domain.ConversationID) (domain.Conversation, []domain.Message, error) {
	conv, err := c.store.Get(ctx, tc.Tenant.ID, tc.Principal.UserID, id)
	if err != nil {
		return domain.Conversation{}, nil, err
	}
	msgs, err := c.store.Messages(ctx, tc.Tenant.ID, id, 1000)
	if err != nil {
		return domain.Conversation{}, nil, fmt.Errorf("load messages: %w", err)
	}
	return conv, msgs, nil
}
