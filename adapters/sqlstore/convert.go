package sqlstore

import (
	"database/sql/driver"
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// dbTime is the form every instant is stored in: UTC, microsecond precision (what
// PostgreSQL keeps), so that both engines return exactly what was written and SQLite's
// text timestamps sort chronologically.
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func dbTimePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := dbTime(*t)
	return &u
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// nullString maps the empty string to NULL.
func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func fromNull(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// encodeVector stores v as contiguous little-endian float32 values.
func encodeVector(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

// decodeVector reads what encodeVector wrote; an empty value is a nil vector.
func decodeVector(b []byte) []float32 {
	if len(b) < 4 {
		return nil
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// nullBytes is a byte column that stores an empty value as NULL (database/sql would
// bind a nil []byte as an empty blob on SQLite).
type nullBytes []byte

// Value stores an empty value as NULL.
func (b nullBytes) Value() (driver.Value, error) {
	if len(b) == 0 {
		return nil, nil
	}
	return []byte(b), nil
}

// Scan reads NULL as an empty value.
func (b *nullBytes) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*b = nil
	case []byte:
		*b = append(nullBytes(nil), v...)
	case string:
		*b = nullBytes(v)
	default:
		return fmt.Errorf("scan %T into bytes", src)
	}
	return nil
}
