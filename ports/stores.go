package ports

// Stores is one storage backend seen through every storage port: the SQL stores in
// production, the in-memory ones in tests. The stores share their data:
// TenantStore.Delete cascades into the others, and documents, chunks, conversations,
// usage and users refer to tenants (and users) created through them. Bootstrap builds a
// router on one; the porttest suites run against one.
type Stores struct {
	Tenants       TenantStore
	Users         UserStore
	SigningKeys   SigningKeyStore
	RefreshTokens RefreshTokenStore
	Chunks        ChunkStore
	Documents     DocumentStore
	Conversations ConversationStore
	// ConversationEdits renames and deletes conversations: the same store as
	// Conversations, seen as a ConversationEditor.
	ConversationEdits ConversationEditor
	Usage             UsageStore
	Audit             AuditLog
	Reindex           ReindexStore
	ChunkScanner      ChunkScanner
	APIKeys           APIKeyStore
}
