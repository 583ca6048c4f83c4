// Package migrate applies tenantry's declared schema (schema.hcl, Atlas HCL in the
// PostgreSQL dialect) to a live PostgreSQL or SQLite database, in process, with the Atlas
// Go library: it inspects the live schema, diffs it against the evaluated HCL, plans the
// SQL and applies the plan in one transaction. Destructive changes are refused unless the
// operator allows them.
//
// SQLite uses the same schema.hcl: the file is evaluated with Atlas's PostgreSQL codec
// and the resulting tables are translated column by column to SQLite types (see
// sqlite.go), so there is one declared model and no twin to keep in step.
//
// It imports domain and Atlas only; no other adapter.
package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"

	"github.com/tenantry/tenantry/domain"
)

// Command is what an operator runs to apply the declared schema; errors name it.
const Command = "tenantry migrate"

// Named failures, checked with errors.Is.
var (
	// ErrDestructive is returned when the plan drops something and the caller did not
	// allow destructive changes. Its detail lists every such change.
	ErrDestructive = &domain.Error{Kind: domain.KindConflict, Code: "destructive_migration",
		Detail: "the migration would drop data; re-run with --allow-destructive to apply it"}
	// ErrDrift is returned by Check when the live schema differs from the declared one.
	ErrDrift = &domain.Error{Kind: domain.KindUnavailable, Code: "schema_drift",
		Detail: "the database schema differs from the declared schema; run `" + Command + "`"}
)

// Options control Apply.
type Options struct {
	// AllowDestructive applies drops of tables, columns, indexes, foreign keys and
	// checks; without it a plan holding any of them is refused with ErrDestructive.
	AllowDestructive bool
	// DryRun computes and returns the plan but changes nothing.
	DryRun bool
}

// Plan is the SQL that brings the live schema to the declared one.
type Plan struct {
	// Dialect is "postgres" or "sqlite".
	Dialect string
	// Statements are the SQL statements in the order they run.
	Statements []string
	// Destructive describes each change that drops something, e.g.
	// `drop column "nickname" of table "users"`.
	Destructive []string
}

// Empty reports whether the live schema already matches.
func (p Plan) Empty() bool { return len(p.Statements) == 0 }

// SQL returns the statements as a script, one per line, each ending with a semicolon.
func (p Plan) SQL() string {
	var b strings.Builder
	for _, s := range p.Statements {
		b.WriteString(strings.TrimSuffix(strings.TrimSpace(s), ";"))
		b.WriteString(";\n")
	}
	return b.String()
}

// Diff computes the plan for db without changing anything.
func Diff(ctx context.Context, db *sql.DB, hcl []byte) (Plan, error) {
	return Apply(ctx, db, hcl, Options{DryRun: true, AllowDestructive: true})
}

// Check returns ErrDrift, carrying the pending plan in its detail, when the live schema
// differs from the declared one, and nil when it matches.
func Check(ctx context.Context, db *sql.DB, hcl []byte) error {
	p, err := Diff(ctx, db, hcl)
	if err != nil {
		return err
	}
	if !p.Empty() {
		return ErrDrift.WithDetail("the database schema differs from the declared schema (%d pending statements); run `%s`", len(p.Statements), Command)
	}
	return nil
}

// Apply brings db to the declared schema in one transaction and returns the plan it
// applied (or, with DryRun, would apply). A plan with destructive changes is refused with
// ErrDestructive unless opts.AllowDestructive; nothing is changed then.
func Apply(ctx context.Context, db *sql.DB, hcl []byte, opts Options) (Plan, error) {
	d, err := dialectOf(db)
	if err != nil {
		return Plan{}, err
	}
	desired, err := d.desired(hcl)
	if err != nil {
		return Plan{}, domain.E(domain.KindInvalid, "invalid_schema", "the declared schema does not evaluate", err)
	}
	var plan Plan
	err = d.inTx(ctx, db, func(tx *sql.Tx) error {
		drv, err := d.open(tx)
		if err != nil {
			return unavailable("open schema driver", err)
		}
		live, err := drv.InspectSchema(ctx, d.schemaName, nil)
		if err != nil && !schema.IsNotExistError(err) {
			return unavailable("inspect live schema", err)
		}
		if live == nil {
			live = schema.New(d.schemaName)
		}
		changes, err := drv.SchemaDiff(live, desired)
		if err != nil {
			return fmt.Errorf("diff schema: %w", err)
		}
		plan = Plan{Dialect: d.name, Destructive: destructive(changes)}
		if len(changes) == 0 {
			return nil
		}
		mp, err := drv.PlanChanges(ctx, "tenantry", changes)
		if err != nil {
			return fmt.Errorf("plan schema changes: %w", err)
		}
		pre := dataSteps(live)
		plan.Statements = append(pre, statements(mp)...)
		if len(plan.Destructive) > 0 && !opts.AllowDestructive {
			return ErrDestructive.WithDetail("the migration would drop data (%s); re-run with --allow-destructive to apply it",
				strings.Join(plan.Destructive, "; "))
		}
		if opts.DryRun {
			return nil
		}
		for _, q := range pre {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return domain.E(domain.KindInternal, "migration_failed", "a data migration step failed; nothing was applied",
					fmt.Errorf("exec %q: %w", q, err))
			}
		}
		for _, c := range mp.Changes {
			if _, err := tx.ExecContext(ctx, c.Cmd, c.Args...); err != nil {
				return domain.E(domain.KindInternal, "migration_failed", "a schema statement failed; nothing was applied",
					fmt.Errorf("exec %q: %w", c.Cmd, err))
			}
		}
		return nil
	}, opts.DryRun)
	return plan, err
}

// dataStep is a data migration that makes existing rows fit a foreign key the declared
// schema adds. Steps run in Apply's transaction, in order, before the schema
// statements, and only while the live table lacks the foreign key (and the tables
// exist); each is idempotent (running it again, or on data that already fits, changes
// nothing).
type dataStep struct {
	table, refTable string // the foreign key's table and the table it references
	sql             string
}

// allDataSteps lists every data migration; the SQL is the same on PostgreSQL and SQLite.
var allDataSteps = []dataStep{
	// Chunks reference their document with ON DELETE CASCADE: chunks whose document
	// record is gone (left by ingestion that stored chunks before the record) are
	// unreachable and would make adding the foreign key fail.
	{table: "chunks", refTable: "documents",
		sql: "DELETE FROM chunks WHERE NOT EXISTS (SELECT 1 FROM documents WHERE documents.id = chunks.document_id)"},
}

// dataSteps returns the SQL of the steps whose foreign key the live schema still lacks.
func dataSteps(live *schema.Schema) []string {
	var out []string
	for _, st := range allDataSteps {
		t, ok := live.Table(st.table)
		if _, ref := live.Table(st.refTable); !ok || !ref {
			continue
		}
		if !slices.ContainsFunc(t.ForeignKeys, func(fk *schema.ForeignKey) bool {
			return fk.RefTable != nil && fk.RefTable.Name == st.refTable
		}) {
			out = append(out, st.sql)
		}
	}
	return out
}

func statements(p *migrate.Plan) []string {
	out := make([]string, 0, len(p.Changes))
	for _, c := range p.Changes {
		out = append(out, c.Cmd)
	}
	return out
}

// destructive describes every change that drops a table, column, index, foreign key or
// check. Modified columns and indexes are rebuilt, not dropped, and so are not listed.
func destructive(changes []schema.Change) []string {
	var out []string
	for _, c := range changes {
		switch c := c.(type) {
		case *schema.DropSchema:
			out = append(out, fmt.Sprintf("drop schema %q", c.S.Name))
		case *schema.DropTable:
			out = append(out, fmt.Sprintf("drop table %q", c.T.Name))
		case *schema.ModifyTable:
			for _, tc := range c.Changes {
				switch tc := tc.(type) {
				case *schema.DropColumn:
					out = append(out, fmt.Sprintf("drop column %q of table %q", tc.C.Name, c.T.Name))
				case *schema.DropIndex:
					out = append(out, fmt.Sprintf("drop index %q of table %q", tc.I.Name, c.T.Name))
				case *schema.DropForeignKey:
					out = append(out, fmt.Sprintf("drop foreign key %q of table %q", tc.F.Symbol, c.T.Name))
				case *schema.DropCheck:
					out = append(out, fmt.Sprintf("drop check %q of table %q", tc.C.Name, c.T.Name))
				case *schema.DropPrimaryKey:
					out = append(out, fmt.Sprintf("drop primary key of table %q", c.T.Name))
				}
			}
		}
	}
	return out
}

func unavailable(what string, err error) error {
	return domain.ErrUnavailable.With(fmt.Errorf("%s: %w", what, err))
}
