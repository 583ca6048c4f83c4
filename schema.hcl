# tenantry's database schema: the single source of truth (Atlas HCL, PostgreSQL dialect).
#
# `tenantry migrate` applies it declaratively in process with the Atlas Go library; the
# embedded SQLite default evaluates this same file and translates its column types (see
# adapters/migrate). Keep to what both engines share: text, integer, bigint, boolean,
# double_precision, bytea and timestamptz columns; plain or lower(...) expression indexes;
# foreign keys. Times are stored in UTC with microsecond precision. Text columns that
# results are ordered by use the "C" collation (byte order, like SQLite's BINARY and Go's
# string comparison), so every engine and the in-memory adapter list in the same order
# whatever the server's locale.
#
# Every tenant-scoped table leads its indexes with tenant_id, and a tenant's data goes with
# it (ON DELETE CASCADE). audit_log deliberately has no foreign key: the record of what was
# done to a tenant outlives the tenant.

schema "public" {}

table "tenants" {
  schema = schema.public
  column "id" {
    type    = text
    collate = "C"
  }
  column "name" {
    type = text
  }
  column "status" {
    type = text
  }
  column "system_prompt" {
    type    = text
    default = ""
  }
  column "retrieval_top_k" {
    type = integer
  }
  column "retrieval_min_score" {
    type    = double_precision
    default = 0
  }
  # lexical, dense or hybrid; empty: automatic (domain.Tenant.RetrievalMode).
  column "retrieval_mode" {
    type    = text
    default = ""
  }
  column "vector_provider" {
    type = text
  }
  column "vector_index_host" {
    type    = text
    default = ""
  }
  column "vector_namespace" {
    type = text
  }
  # Vendor API keys are ciphertext sealed with aad "tenant/<id>/<field>"; NULL when unset.
  column "vector_api_key" {
    type = bytea
    null = true
  }
  column "embedder_provider" {
    type = text
  }
  column "embedder_model" {
    type    = text
    default = ""
  }
  column "embedder_dimensions" {
    type = integer
  }
  column "embedder_send_dimensions" {
    type    = boolean
    default = true
  }
  column "embedder_api_key" {
    type = bytea
    null = true
  }
  column "llm_provider" {
    type = text
  }
  column "llm_base_url" {
    type    = text
    default = ""
  }
  column "llm_model" {
    type = text
  }
  column "llm_temperature" {
    type    = double_precision
    null    = true
    default = 0
  }
  column "llm_max_tokens" {
    type = integer
  }
  column "llm_max_tokens_param" {
    type    = text
    default = "auto"
  }
  column "llm_api_key" {
    type = bytea
    null = true
  }
  column "requests_per_minute" {
    type    = integer
    default = 0
  }
  column "monthly_token_quota" {
    type    = bigint
    default = 0
  }
  column "max_concurrent_streams" {
    type    = integer
    default = 0
  }
  # The vector epoch (domain.VectorState): bumped when the embedder or vector store
  # changes; ready once a re-index built every document's vectors for it. Tenants
  # stored before re-indexing existed count as ready.
  column "vectors_epoch" {
    type    = integer
    default = 0
  }
  column "vectors_ready" {
    type    = boolean
    default = true
  }
  column "created_at" {
    type = timestamptz
  }
  column "updated_at" {
    type = timestamptz
  }
  primary_key {
    columns = [column.id]
  }
}

table "users" {
  schema = schema.public
  column "id" {
    type    = text
    collate = "C"
  }
  # Stored normalised (trimmed, lower-cased); the unique index on lower(email) keeps
  # uniqueness case-insensitive even for rows written by hand.
  column "email" {
    type    = text
    collate = "C"
  }
  column "tenant_id" {
    type = text
    null = true
  }
  column "role" {
    type = text
  }
  column "password_hash" {
    type    = text
    default = ""
  }
  column "disabled" {
    type    = boolean
    default = false
  }
  column "token_version" {
    type    = integer
    default = 1
  }
  column "created_at" {
    type = timestamptz
  }
  column "updated_at" {
    type = timestamptz
  }
  primary_key {
    columns = [column.id]
  }
  foreign_key "users_tenant_id_fkey" {
    columns     = [column.tenant_id]
    ref_columns = [table.tenants.column.id]
    on_update   = NO_ACTION
    on_delete   = SET_NULL
  }
  index "users_email_lower_key" {
    unique = true
    on {
      expr = "lower(email)"
    }
  }
  index "users_tenant_id_email_idx" {
    columns = [column.tenant_id, column.email]
  }
}

table "signing_keys" {
  schema = schema.public
  column "kid" {
    type    = text
    collate = "C"
  }
  column "algorithm" {
    type = text
  }
  # Sealed by the key's owner before it reaches the store.
  column "private_key" {
    type = bytea
  }
  # The public JWK as JSON.
  column "public_key" {
    type = bytea
  }
  column "created_at" {
    type = timestamptz
  }
  column "retired_at" {
    type = timestamptz
    null = true
  }
  primary_key {
    columns = [column.kid]
  }
}

table "refresh_tokens" {
  schema = schema.public
  # Only the hash of an opaque refresh token is ever stored.
  column "hash" {
    type = text
  }
  column "family_id" {
    type = text
  }
  column "user_id" {
    type = text
  }
  # NULL for a user without a tenant.
  column "tenant_id" {
    type = text
    null = true
  }
  column "expires_at" {
    type = timestamptz
  }
  column "created_at" {
    type = timestamptz
  }
  column "used_at" {
    type = timestamptz
    null = true
  }
  column "revoked_at" {
    type = timestamptz
    null = true
  }
  primary_key {
    columns = [column.hash]
  }
  foreign_key "refresh_tokens_user_id_fkey" {
    columns     = [column.user_id]
    ref_columns = [table.users.column.id]
    on_update   = NO_ACTION
    on_delete   = CASCADE
  }
  index "refresh_tokens_family_id_idx" {
    columns = [column.family_id]
  }
  index "refresh_tokens_user_id_idx" {
    columns = [column.user_id]
  }
  index "refresh_tokens_tenant_id_idx" {
    columns = [column.tenant_id]
  }
}

table "documents" {
  schema = schema.public
  column "id" {
    type    = text
    collate = "C"
  }
  column "tenant_id" {
    type = text
  }
  # NULL when the document has none: NULLs never collide in the unique index, so the
  # index holds only where an external id is set.
  column "external_id" {
    type = text
    null = true
  }
  column "title" {
    type = text
  }
  # JSON object of string keys and values.
  column "metadata" {
    type    = text
    default = "{}"
  }
  column "chunks" {
    type    = integer
    default = 0
  }
  column "bytes" {
    type    = bigint
    default = 0
  }
  column "created_at" {
    type = timestamptz
  }
  column "updated_at" {
    type = timestamptz
  }
  primary_key {
    columns = [column.id]
  }
  foreign_key "documents_tenant_id_fkey" {
    columns     = [column.tenant_id]
    ref_columns = [table.tenants.column.id]
    on_update   = NO_ACTION
    on_delete   = CASCADE
  }
  index "documents_tenant_id_external_id_key" {
    unique  = true
    columns = [column.tenant_id, column.external_id]
  }
  index "documents_tenant_id_created_at_idx" {
    columns = [column.tenant_id, column.created_at]
  }
}

# Chunks of every document: their text (which the lexical index and re-indexing read)
# and, for the embedded vector index, their vector. DocumentStore.Save writes a document
# and its chunks in one transaction, and deleting the document removes its chunks by the
# cascade, so no chunk outlives its document. (The migration deletes chunks whose
# document is gone before it adds the foreign key: adapters/migrate's data steps.)
table "chunks" {
  schema = schema.public
  column "tenant_id" {
    type = text
  }
  column "document_id" {
    type    = text
    collate = "C"
  }
  column "idx" {
    type = integer
  }
  column "title" {
    type    = text
    default = ""
  }
  column "text" {
    type = text
  }
  # Where the chunk lies in its source file: 1-based page (0: none) and nearest heading.
  column "page" {
    type    = integer
    default = 0
  }
  column "heading" {
    type    = text
    default = ""
  }
  # Little-endian float32 values, contiguous.
  column "vector" {
    type = bytea
  }
  primary_key {
    columns = [column.tenant_id, column.document_id, column.idx]
  }
  foreign_key "chunks_tenant_id_fkey" {
    columns     = [column.tenant_id]
    ref_columns = [table.tenants.column.id]
    on_update   = NO_ACTION
    on_delete   = CASCADE
  }
  foreign_key "chunks_document_id_fkey" {
    columns     = [column.document_id]
    ref_columns = [table.documents.column.id]
    on_update   = NO_ACTION
    on_delete   = CASCADE
  }
  # The cascade from a deleted document finds its chunks through this index.
  index "chunks_document_id_idx" {
    columns = [column.document_id]
  }
}

# Each tenant's latest re-index job (domain.ReindexJob); the runner holding the lease
# (owner, lease_until) works on from the cursor.
table "reindex_jobs" {
  schema = schema.public
  column "tenant_id" {
    type = text
  }
  column "id" {
    type = text
  }
  column "state" {
    type = text
  }
  column "epoch" {
    type = integer
  }
  column "cursor_document" {
    type    = text
    collate = "C"
    default = ""
  }
  column "cursor_idx" {
    type    = integer
    default = 0
  }
  column "done" {
    type    = integer
    default = 0
  }
  column "total" {
    type    = integer
    default = 0
  }
  column "error" {
    type    = text
    default = ""
  }
  column "owner" {
    type    = text
    default = ""
  }
  column "lease_until" {
    type = timestamptz
    null = true
  }
  column "started_at" {
    type = timestamptz
  }
  column "finished_at" {
    type = timestamptz
    null = true
  }
  primary_key {
    columns = [column.tenant_id]
  }
  foreign_key "reindex_jobs_tenant_id_fkey" {
    columns     = [column.tenant_id]
    ref_columns = [table.tenants.column.id]
    on_update   = NO_ACTION
    on_delete   = CASCADE
  }
  index "reindex_jobs_state_idx" {
    columns = [column.state]
  }
}

table "conversations" {
  schema = schema.public
  column "id" {
    type    = text
    collate = "C"
  }
  column "tenant_id" {
    type = text
  }
  column "user_id" {
    type = text
  }
  column "title" {
    type    = text
    default = ""
  }
  column "created_at" {
    type = timestamptz
  }
  column "updated_at" {
    type = timestamptz
  }
  primary_key {
    columns = [column.id]
  }
  foreign_key "conversations_tenant_id_fkey" {
    columns     = [column.tenant_id]
    ref_columns = [table.tenants.column.id]
    on_update   = NO_ACTION
    on_delete   = CASCADE
  }
  foreign_key "conversations_user_id_fkey" {
    columns     = [column.user_id]
    ref_columns = [table.users.column.id]
    on_update   = NO_ACTION
    on_delete   = CASCADE
  }
  index "conversations_tenant_id_user_id_updated_at_idx" {
    columns = [column.tenant_id, column.user_id, column.updated_at]
  }
  index "conversations_user_id_idx" {
    columns = [column.user_id]
  }
}

table "messages" {
  schema = schema.public
  column "id" {
    type = text
  }
  column "tenant_id" {
    type = text
  }
  column "conversation_id" {
    type = text
  }
  # Position within the conversation, from 1.
  column "seq" {
    type = integer
  }
  column "role" {
    type = text
  }
  column "content" {
    type = text
  }
  # JSON array of the cited passages.
  column "sources" {
    type    = text
    default = "[]"
  }
  column "model" {
    type    = text
    default = ""
  }
  column "prompt_tokens" {
    type    = integer
    default = 0
  }
  column "completion_tokens" {
    type    = integer
    default = 0
  }
  column "incomplete" {
    type    = boolean
    default = false
  }
  column "created_at" {
    type = timestamptz
  }
  primary_key {
    columns = [column.id]
  }
  foreign_key "messages_tenant_id_fkey" {
    columns     = [column.tenant_id]
    ref_columns = [table.tenants.column.id]
    on_update   = NO_ACTION
    on_delete   = CASCADE
  }
  foreign_key "messages_conversation_id_fkey" {
    columns     = [column.conversation_id]
    ref_columns = [table.conversations.column.id]
    on_update   = NO_ACTION
    on_delete   = CASCADE
  }
  index "messages_tenant_id_conversation_id_seq_key" {
    unique  = true
    columns = [column.tenant_id, column.conversation_id, column.seq]
  }
  index "messages_conversation_id_idx" {
    columns = [column.conversation_id]
  }
}

table "usage_records" {
  schema = schema.public
  column "id" {
    type = text
  }
  column "tenant_id" {
    type    = text
    collate = "C"
  }
  column "user_id" {
    type    = text
    default = ""
  }
  column "model" {
    type    = text
    default = ""
  }
  column "prompt_tokens" {
    type    = bigint
    default = 0
  }
  column "completion_tokens" {
    type    = bigint
    default = 0
  }
  column "read_units" {
    type    = bigint
    default = 0
  }
  # Tokens counted by tenantry because the vendor reported none (a stream cut short,
  # or a vendor that sends no usage).
  column "estimated" {
    type    = boolean
    default = false
  }
  column "at" {
    type = timestamptz
  }
  primary_key {
    columns = [column.id]
  }
  foreign_key "usage_records_tenant_id_fkey" {
    columns     = [column.tenant_id]
    ref_columns = [table.tenants.column.id]
    on_update   = NO_ACTION
    on_delete   = CASCADE
  }
  index "usage_records_tenant_id_at_idx" {
    columns = [column.tenant_id, column.at]
  }
  index "usage_records_at_idx" {
    columns = [column.at]
  }
}

table "audit_log" {
  schema = schema.public
  column "id" {
    type    = text
    collate = "C"
  }
  column "actor" {
    type = text
  }
  # NULL for platform-wide actions.
  column "tenant_id" {
    type = text
    null = true
  }
  column "action" {
    type = text
  }
  column "target" {
    type    = text
    default = ""
  }
  # JSON array of changed field names, never values.
  column "changed" {
    type    = text
    default = "[]"
  }
  column "request_id" {
    type    = text
    default = ""
  }
  column "at" {
    type = timestamptz
  }
  primary_key {
    columns = [column.id]
  }
  index "audit_log_tenant_id_at_idx" {
    columns = [column.tenant_id, column.at]
  }
  index "audit_log_at_idx" {
    columns = [column.at]
  }
}

# The change log: every write that another process may hold a copy of (users, tenants,
# signing keys, a tenant's chunks, a tenant's deletion) adds a row here in its own
# transaction, and every process follows the log from the last id it read to drop its
# outdated copies. Rows are added in commit order (PostgreSQL writers take a
# transaction-level advisory lock first; SQLite has one writer), so a follower that has
# read id n has seen every change up to n. Rows older than an hour are pruned.
table "changes" {
  schema = schema.public
  column "id" {
    type = bigint
    identity {
      generated = BY_DEFAULT
    }
  }
  column "kind" {
    type = text
  }
  # The id of what changed (a user id, a tenant id); empty for kinds that carry none.
  column "subject" {
    type    = text
    default = ""
  }
  column "at" {
    type = timestamptz
  }
  # The random id of the connection pool (the process) that recorded the change, so that
  # the process can tell its own writes, which it has already applied to its in-memory
  # copies, from the others'; empty for changes recorded before it existed.
  column "origin" {
    type    = text
    default = ""
  }
  primary_key {
    columns = [column.id]
  }
  index "changes_at_idx" {
    columns = [column.at]
  }
}


# Shared request-rate limits (PostgreSQL deployments): the generic cell rate
# algorithm's theoretical arrival time of each key's next request, in Unix nanoseconds.
table "rate_limits" {
  schema = schema.public
  column "key" {
    type    = text
    collate = "C"
  }
  column "tat" {
    type = bigint
  }
  primary_key {
    columns = [column.key]
  }
  index "rate_limits_tat_idx" {
    columns = [column.tat]
  }
}

# Shared stream slots (PostgreSQL deployments): one lease per open stream, renewed by
# its node while the stream runs, so that a crashed node's slots lapse at expires_at.
table "stream_leases" {
  schema = schema.public
  column "key" {
    type    = text
    collate = "C"
  }
  column "id" {
    type    = text
    collate = "C"
  }
  column "expires_at" {
    type = timestamptz
  }
  primary_key {
    columns = [column.key, column.id]
  }
  index "stream_leases_expires_at_idx" {
    columns = [column.expires_at]
  }
}

# Shared login failure counters (PostgreSQL deployments): one row per failed attempt
# of a key (an email, a client IP) inside the brute-force window.
table "login_failures" {
  schema = schema.public
  column "id" {
    type = bigint
    identity {
      generated = BY_DEFAULT
    }
  }
  column "key" {
    type    = text
    collate = "C"
  }
  column "at" {
    type = timestamptz
  }
  primary_key {
    columns = [column.id]
  }
  index "login_failures_key_at_idx" {
    columns = [column.key, column.at]
  }
  index "login_failures_at_idx" {
    columns = [column.at]
  }
}

table "api_keys" {
  schema = schema.public
  column "id" {
    type    = text
    collate = "C"
  }
  column "tenant_id" {
    type = text
  }
  # The user the key acts as (with the member role).
  column "user_id" {
    type = text
  }
  column "name" {
    type = text
  }
  # The secret's first characters, shown to tell keys apart.
  column "hint" {
    type = text
  }
  # Keyed hash (HMAC-SHA256) of the secret; the secret itself is never stored.
  column "hash" {
    type = text
  }
  column "created_by" {
    type = text
  }
  column "created_at" {
    type = timestamptz
  }
  column "expires_at" {
    type = timestamptz
    null = true
  }
  column "last_used_at" {
    type = timestamptz
    null = true
  }
  column "revoked_at" {
    type = timestamptz
    null = true
  }
  primary_key {
    columns = [column.id]
  }
  foreign_key "api_keys_tenant_id_fkey" {
    columns     = [column.tenant_id]
    ref_columns = [table.tenants.column.id]
    on_update   = NO_ACTION
    on_delete   = CASCADE
  }
  foreign_key "api_keys_user_id_fkey" {
    columns     = [column.user_id]
    ref_columns = [table.users.column.id]
    on_update   = NO_ACTION
    on_delete   = CASCADE
  }
  index "api_keys_hash_key" {
    unique  = true
    columns = [column.hash]
  }
  index "api_keys_tenant_id_created_at_idx" {
    columns = [column.tenant_id, column.created_at]
  }
  index "api_keys_user_id_idx" {
    columns = [column.user_id]
  }
}
