// Atlas CLI project file, for people who manage the schema with the Atlas CLI:
//
//   atlas schema apply --env local    # DATABASE_URL
//   atlas schema apply --env ci       # TEST_DATABASE_URL
//
// tenantry itself does not need the CLI: `tenantry migrate` (task db:apply) applies the
// same schema.hcl in process with the Atlas Go library and refuses destructive changes
// unless --allow-destructive is given. The CLI understands only postgres:// and
// postgresql:// URLs, not the Python drivers' postgresql+psycopg:// forms that tenantry
// accepts. Only ariga.io/atlas/cmd/atlas@v0.13.1 resolves from the Go module proxy here.

variable "database_url" {
  type    = string
  default = getenv("DATABASE_URL")
}

variable "test_database_url" {
  type    = string
  default = getenv("TEST_DATABASE_URL")
}

env "local" {
  src     = "file://schema.hcl"
  url     = var.database_url
  schemas = ["public"]
}

env "ci" {
  src     = "file://schema.hcl"
  url     = var.test_database_url
  schemas = ["public"]
}
