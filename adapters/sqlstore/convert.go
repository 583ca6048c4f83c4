package sqlstore

import (
	"encoding/binary"
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
