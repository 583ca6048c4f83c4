package vecsearch

import (
	"github.com/tenantry/tenantry/domain"
)

// matrix holds one tenant's unit-length vectors of one dimension: row r is
// vecs[r*dims:(r+1)*dims] and meta[r] says which chunk it is.
type matrix struct {
	dims int
	vecs []float32
	meta []rowMeta
	rows map[rowKey]int32
	// strBytes is the length of the rows' document ids, titles and texts.
	strBytes int64
}

// rowOverhead estimates a row's fixed cost beside its vector and strings: its rowMeta
// and its entry in rows.
const rowOverhead = 112

// size estimates the bytes the matrix holds.
func (m *matrix) size() int64 {
	return int64(cap(m.vecs))*4 + int64(len(m.meta))*rowOverhead + m.strBytes
}

func (r rowMeta) strBytes() int64 {
	return int64(len(r.key.doc) + len(r.title) + len(r.text) + len(r.heading))
}

type rowKey struct {
	doc   domain.DocumentID
	chunk int
}

type rowMeta struct {
	key     rowKey
	title   string
	text    string
	page    int
	heading string
}

func newMatrix(dims, capacity int) *matrix {
	return &matrix{
		dims: dims,
		vecs: make([]float32, 0, dims*capacity),
		meta: make([]rowMeta, 0, capacity),
		rows: make(map[rowKey]int32, capacity),
	}
}

// buildMatrices copies chunks into one matrix per vector dimension, normalising each
// vector (the store may hold vectors written by someone else). Later chunks with the
// same document and index win.
func buildMatrices(chunks []domain.Chunk) []*matrix {
	counts := make(map[int]int)
	for _, c := range chunks {
		if len(c.Vector) > 0 && finite(c.Vector) {
			counts[len(c.Vector)]++
		}
	}
	var mats []*matrix
	byDims := make(map[int]*matrix, len(counts))
	for _, c := range chunks {
		n, ok := counts[len(c.Vector)]
		if !ok {
			continue
		}
		m := byDims[len(c.Vector)]
		if m == nil {
			m = newMatrix(len(c.Vector), n)
			byDims[len(c.Vector)] = m
			mats = append(mats, m)
		}
		m.upsert(c)
	}
	return mats
}

func (m *matrix) len() int { return len(m.meta) }

func (m *matrix) row(r int) []float32 { return m.vecs[r*m.dims : (r+1)*m.dims : (r+1)*m.dims] }

// upsert stores c's normalised vector, replacing the row with the same key.
func (m *matrix) upsert(c domain.Chunk) {
	key := rowKey{c.DocumentID, c.Index}
	meta := rowMeta{key: key, title: c.Title, text: c.Text, page: c.Page, heading: c.Heading}
	m.strBytes += meta.strBytes()
	if r, ok := m.rows[key]; ok {
		normalizeInto(m.row(int(r)), c.Vector)
		m.strBytes -= m.meta[r].strBytes()
		m.meta[r] = meta
		return
	}
	r := len(m.meta)
	m.vecs = append(m.vecs, make([]float32, m.dims)...)
	normalizeInto(m.row(r), c.Vector)
	m.meta = append(m.meta, meta)
	m.rows[key] = int32(r)
}

// delete removes the row with key, moving the last row into its place.
func (m *matrix) delete(key rowKey) {
	r, ok := m.rows[key]
	if !ok {
		return
	}
	m.removeRow(int(r))
}

// deleteDocument removes every row of document d.
func (m *matrix) deleteDocument(d domain.DocumentID) {
	for r := 0; r < len(m.meta); {
		if m.meta[r].key.doc == d {
			m.removeRow(r)
			continue
		}
		r++
	}
}

func (m *matrix) removeRow(r int) {
	last := len(m.meta) - 1
	m.strBytes -= m.meta[r].strBytes()
	delete(m.rows, m.meta[r].key)
	if r != last {
		copy(m.row(r), m.row(last))
		m.meta[r] = m.meta[last]
		m.rows[m.meta[r].key] = int32(r)
	}
	m.meta[last] = rowMeta{}
	m.meta = m.meta[:last]
	m.vecs = m.vecs[:last*m.dims]
}

// before reports whether row a ranks before row b on equal scores: by document id,
// then chunk index.
func (m *matrix) before(a, b int32) bool {
	ka, kb := m.meta[a].key, m.meta[b].key
	if ka.doc != kb.doc {
		return ka.doc < kb.doc
	}
	return ka.chunk < kb.chunk
}
