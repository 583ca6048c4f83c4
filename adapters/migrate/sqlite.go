package migrate

import (
	"fmt"

	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqlite"
)

// sqliteSchema evaluates the PostgreSQL-dialect HCL and translates its tables to SQLite:
// the same tables, columns, nullability, defaults, primary keys, indexes (also on
// expressions) and foreign keys, with each column type mapped to its SQLite equivalent.
// A type with no faithful equivalent is an error rather than a silent approximation.
func sqliteSchema(hcl []byte) (*schema.Schema, error) {
	pg, err := postgresSchema(hcl)
	if err != nil {
		return nil, err
	}
	out := schema.New("main")
	byName := make(map[string]*schema.Table, len(pg.Tables))
	for _, pt := range pg.Tables {
		t, err := sqliteTable(pt)
		if err != nil {
			return nil, err
		}
		out.AddTables(t)
		byName[t.Name] = t
	}
	for _, pt := range pg.Tables {
		if err := sqliteForeignKeys(pt, byName); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func sqliteTable(pt *schema.Table) (*schema.Table, error) {
	t := schema.NewTable(pt.Name)
	for _, pc := range pt.Columns {
		typ, err := sqliteType(pc.Type.Type)
		if err != nil {
			return nil, fmt.Errorf("table %q column %q: %w", pt.Name, pc.Name, err)
		}
		st, err := sqlite.ParseType(typ)
		if err != nil {
			return nil, fmt.Errorf("table %q column %q: %w", pt.Name, pc.Name, err)
		}
		c := schema.NewColumn(pc.Name)
		c.Type = &schema.ColumnType{Type: st, Raw: typ, Null: pc.Type.Null}
		c.Default = pc.Default
		t.AddColumns(c)
	}
	if pt.PrimaryKey != nil {
		pk, err := sqliteIndex(pt.PrimaryKey, t)
		if err != nil {
			return nil, fmt.Errorf("table %q primary key: %w", pt.Name, err)
		}
		t.SetPrimaryKey(pk)
	}
	for _, pi := range pt.Indexes {
		idx, err := sqliteIndex(pi, t)
		if err != nil {
			return nil, fmt.Errorf("table %q index %q: %w", pt.Name, pi.Name, err)
		}
		t.AddIndexes(idx)
	}
	if len(pt.Attrs) > 0 {
		for _, a := range pt.Attrs {
			if _, ok := a.(*schema.Check); ok {
				return nil, fmt.Errorf("table %q: check constraints are not translated to SQLite", pt.Name)
			}
		}
	}
	return t, nil
}

// sqliteType maps a PostgreSQL column type to the SQLite declared type that keeps its
// meaning: "datetime" so the driver reads times back as time.Time, "boolean" and
// "integer" for numbers (SQLite integers are 64-bit), "real" for doubles.
func sqliteType(t schema.Type) (string, error) {
	switch t := t.(type) {
	case *schema.StringType:
		return "text", nil
	case *schema.IntegerType:
		return "integer", nil
	case *schema.BoolType:
		return "boolean", nil
	case *schema.FloatType:
		return "real", nil
	case *schema.BinaryType:
		return "blob", nil
	case *schema.TimeType:
		if t.T == "timestamptz" || t.T == "timestamp with time zone" {
			return "datetime", nil
		}
		return "", fmt.Errorf("type %q has no SQLite equivalent; use timestamptz", t.T)
	default:
		return "", fmt.Errorf("type %T has no SQLite equivalent in tenantry's schema", t)
	}
}

func sqliteIndex(pi *schema.Index, t *schema.Table) (*schema.Index, error) {
	idx := schema.NewIndex(pi.Name).SetUnique(pi.Unique)
	for _, pp := range pi.Parts {
		switch {
		case pp.C != nil:
			c, ok := t.Column(pp.C.Name)
			if !ok {
				return nil, fmt.Errorf("unknown column %q", pp.C.Name)
			}
			idx.AddColumns(c)
			idx.Parts[len(idx.Parts)-1].Desc = pp.Desc
		case pp.X != nil:
			idx.AddExprs(pp.X)
			idx.Parts[len(idx.Parts)-1].Desc = pp.Desc
		}
	}
	for _, a := range pi.Attrs {
		if p, ok := a.(*postgres.IndexPredicate); ok {
			return nil, fmt.Errorf("partial index (WHERE %s) is not translated to SQLite", p.P)
		}
	}
	return idx, nil
}

func sqliteForeignKeys(pt *schema.Table, byName map[string]*schema.Table) error {
	t := byName[pt.Name]
	for _, pf := range pt.ForeignKeys {
		ref, ok := byName[pf.RefTable.Name]
		if !ok {
			return fmt.Errorf("table %q foreign key %q: unknown table %q", pt.Name, pf.Symbol, pf.RefTable.Name)
		}
		fk := schema.NewForeignKey(pf.Symbol).SetTable(t).SetRefTable(ref).
			SetOnUpdate(pf.OnUpdate).SetOnDelete(pf.OnDelete)
		for _, c := range pf.Columns {
			col, _ := t.Column(c.Name)
			fk.AddColumns(col)
		}
		for _, c := range pf.RefColumns {
			col, ok := ref.Column(c.Name)
			if !ok {
				return fmt.Errorf("table %q foreign key %q: unknown column %q", pt.Name, pf.Symbol, c.Name)
			}
			fk.AddRefColumns(col)
		}
		t.AddForeignKeys(fk)
	}
	return nil
}
