package pineconetest

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Documented data-plane limits the server enforces.
const (
	maxUpsertVectors = 1000
	maxUpsertBytes   = 2 << 20
	maxMetadataBytes = 40 << 10
	maxIDLength      = 512
	maxTopK          = 10_000
	maxDeleteIDs     = 1000
	maxListLimit     = 100
)

func (s *Server) route(x *exchange) {
	p := x.r.URL.Path
	want := http.MethodPost
	var h func(*exchange)
	switch {
	case p == "/vectors/upsert":
		h = s.upsert
	case p == "/query":
		h = s.query
	case p == "/vectors/delete":
		h = s.deleteVectors
	case p == "/vectors/list":
		want, h = http.MethodGet, s.list
	case p == "/describe_index_stats":
		h = s.stats
	case strings.HasPrefix(p, "/namespaces/"):
		want, h = http.MethodDelete, s.deleteNamespace
	case p == "/embed":
		h = s.embed
	case strings.HasPrefix(p, "/models/"):
		want, h = http.MethodGet, s.describeModel
	default:
		s.violate(x, http.StatusNotFound, "no such Pinecone endpoint: %s %s", x.r.Method, p)
		return
	}
	if x.r.Method != want {
		s.violate(x, http.StatusMethodNotAllowed, "%s %s: Pinecone documents %s", x.r.Method, p, want)
		return
	}
	h(x)
}

// namespace checks that the client named a namespace: tenantry never relies on the
// index's default namespace.
func (s *Server) namespace(x *exchange, ns *string) (string, bool) {
	if ns == nil || *ns == "" {
		s.violate(x, http.StatusBadRequest, "%s without a namespace", x.r.URL.Path)
		return "", false
	}
	x.call.Namespace = *ns
	return *ns, true
}

type upsertVector struct {
	ID           string           `json:"id"`
	Values       []float32        `json:"values"`
	SparseValues *json.RawMessage `json:"sparseValues"`
	Metadata     map[string]any   `json:"metadata"`
}

func (s *Server) upsert(x *exchange) {
	var req struct {
		Vectors   []upsertVector `json:"vectors"`
		Namespace *string        `json:"namespace"`
	}
	if !s.decode(x, &req) {
		return
	}
	ns, ok := s.namespace(x, req.Namespace)
	if !ok {
		return
	}
	x.call.Count = len(req.Vectors)
	if n := len(req.Vectors); n == 0 || n > maxUpsertVectors {
		s.violate(x, http.StatusBadRequest, "upsert of %d vectors: must be 1-%d", n, maxUpsertVectors)
		return
	}
	if x.size > maxUpsertBytes {
		s.violate(x, http.StatusBadRequest, "upsert request of %d bytes exceeds 2 MB", x.size)
		return
	}
	for _, v := range req.Vectors {
		if msg := s.checkVector(v); msg != "" {
			s.violate(x, http.StatusBadRequest, "vector %q: %s", v.ID, msg)
			return
		}
	}
	s.mu.Lock()
	recs := s.nsLocked(x.key, ns)
	for _, v := range req.Vectors {
		recs[v.ID] = record{Values: v.Values, Metadata: v.Metadata}
	}
	s.mu.Unlock()
	s.reply(x, http.StatusOK, map[string]any{"upsertedCount": len(req.Vectors)})
}

func (s *Server) checkVector(v upsertVector) string {
	switch {
	case v.ID == "" || len(v.ID) > maxIDLength:
		return "id must be 1-512 characters"
	case len(v.Values) != s.dim:
		return "values has " + strconv.Itoa(len(v.Values)) + " dimensions, the index " + strconv.Itoa(s.dim)
	case v.SparseValues != nil:
		return "sparse values on a dense index"
	}
	raw, _ := json.Marshal(v.Metadata)
	if len(raw) > maxMetadataBytes {
		return "metadata exceeds 40 KB"
	}
	for k, val := range v.Metadata {
		switch val := val.(type) {
		case string, float64, bool:
		case []any:
			for _, e := range val {
				if _, ok := e.(string); !ok {
					return "metadata " + k + ": lists must hold strings"
				}
			}
		default:
			return "metadata " + k + ": unsupported type"
		}
	}
	return ""
}

func (s *Server) query(x *exchange) {
	var req struct {
		Namespace       *string          `json:"namespace"`
		TopK            *int             `json:"topK"`
		Filter          map[string]any   `json:"filter"`
		IncludeValues   bool             `json:"includeValues"`
		IncludeMetadata bool             `json:"includeMetadata"`
		Vector          []float32        `json:"vector"`
		SparseVector    *json.RawMessage `json:"sparseVector"`
		ID              *string          `json:"id"`
	}
	if !s.decode(x, &req) {
		return
	}
	ns, ok := s.namespace(x, req.Namespace)
	if !ok {
		return
	}
	switch {
	case req.TopK == nil || *req.TopK < 1 || *req.TopK > maxTopK:
		s.violate(x, http.StatusBadRequest, "topK is required, 1-10000")
		return
	case (req.Vector == nil) == (req.ID == nil):
		s.violate(x, http.StatusBadRequest, "query needs exactly one of vector and id")
		return
	case req.Vector != nil && len(req.Vector) != s.dim:
		s.fail(x, http.StatusBadRequest, "Vector dimension "+strconv.Itoa(len(req.Vector))+" does not match the dimension of the index "+strconv.Itoa(s.dim))
		return
	}
	type scored struct {
		ID       string         `json:"id"`
		Score    float64        `json:"score"`
		Values   []float32      `json:"values,omitempty"`
		Metadata map[string]any `json:"metadata,omitempty"`
	}
	s.mu.Lock()
	matches := []scored{}
	for id, r := range s.data[x.key][ns] {
		m := scored{ID: id, Score: cosine(req.Vector, r.Values)}
		if req.IncludeValues {
			m.Values = r.Values
		}
		if req.IncludeMetadata {
			m.Metadata = r.Metadata
		}
		matches = append(matches, m)
	}
	s.mu.Unlock()
	slices.SortFunc(matches, func(a, b scored) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if len(matches) > *req.TopK {
		matches = matches[:*req.TopK]
	}
	s.reply(x, http.StatusOK, map[string]any{"matches": matches, "namespace": ns, "usage": map[string]int{"readUnits": 5}})
}

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range min(len(a), len(b)) {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

func (s *Server) deleteVectors(x *exchange) {
	var req struct {
		IDs       []string       `json:"ids"`
		DeleteAll *bool          `json:"deleteAll"`
		Namespace *string        `json:"namespace"`
		Filter    map[string]any `json:"filter"`
	}
	if !s.decode(x, &req) {
		return
	}
	ns, ok := s.namespace(x, req.Namespace)
	if !ok {
		return
	}
	x.call.Count = len(req.IDs)
	switch {
	case req.Filter != nil:
		s.violate(x, http.StatusBadRequest, "Serverless indexes do not support delete by metadata")
		return
	case req.DeleteAll != nil:
		s.violate(x, http.StatusBadRequest, "deleteAll sent: tenantry deletes a tenant by deleting its namespace")
		return
	case len(req.IDs) == 0 || len(req.IDs) > maxDeleteIDs:
		s.violate(x, http.StatusBadRequest, "delete of %d ids: must be 1-%d", len(req.IDs), maxDeleteIDs)
		return
	}
	s.mu.Lock()
	for _, id := range req.IDs {
		delete(s.data[x.key][ns], id)
	}
	s.mu.Unlock()
	s.reply(x, http.StatusOK, map[string]any{})
}

func (s *Server) list(x *exchange) {
	q := x.r.URL.Query()
	for k := range q {
		if k != "namespace" && k != "prefix" && k != "limit" && k != "paginationToken" {
			s.violate(x, http.StatusBadRequest, "list: undocumented query parameter %q", k)
			return
		}
	}
	ns := q.Get("namespace")
	if _, ok := s.namespace(x, &ns); !ok {
		return
	}
	limit := maxListLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxListLimit {
			s.violate(x, http.StatusBadRequest, "list: limit %q must be 1-%d", v, maxListLimit)
			return
		}
		limit = n
	}
	prefix := q.Get("prefix")
	if strings.Contains(prefix, " ") {
		s.violate(x, http.StatusBadRequest, "list: prefix contains spaces")
		return
	}
	after := ""
	if tok := q.Get("paginationToken"); tok != "" {
		b, err := base64.StdEncoding.DecodeString(tok)
		if err != nil {
			s.violate(x, http.StatusBadRequest, "list: paginationToken %q was not issued by the server", tok)
			return
		}
		after = string(b)
	}
	var ids []string
	for _, id := range s.IDs(x.key, ns) {
		if strings.HasPrefix(id, prefix) && id > after {
			ids = append(ids, id)
		}
	}
	body := map[string]any{"namespace": ns, "usage": map[string]int{"readUnits": 1}}
	if len(ids) > limit {
		ids = ids[:limit]
		body["pagination"] = map[string]string{"next": base64.StdEncoding.EncodeToString([]byte(ids[limit-1]))}
	}
	items := make([]map[string]string, len(ids))
	for i, id := range ids {
		items[i] = map[string]string{"id": id}
	}
	body["vectors"] = items
	x.call.Count = len(ids)
	s.reply(x, http.StatusOK, body)
}

func (s *Server) stats(x *exchange) {
	var req struct {
		Filter map[string]any `json:"filter"`
	}
	if !s.decode(x, &req) {
		return
	}
	if req.Filter != nil {
		s.violate(x, http.StatusBadRequest, "Serverless indexes do not support filtering describe_index_stats by metadata")
		return
	}
	s.mu.Lock()
	namespaces := map[string]any{}
	total := 0
	for ns, recs := range s.data[x.key] {
		if len(recs) > 0 {
			namespaces[ns] = map[string]int{"vectorCount": len(recs)}
			total += len(recs)
		}
	}
	vt := s.vectorType
	s.mu.Unlock()
	out := map[string]any{"namespaces": namespaces, "indexFullness": 0, "totalVectorCount": total, "metric": "cosine", "vectorType": vt}
	if vt == "dense" {
		out["dimension"] = s.dim
	}
	s.reply(x, http.StatusOK, out)
}

func (s *Server) deleteNamespace(x *exchange) {
	raw := strings.TrimPrefix(x.r.URL.EscapedPath(), "/namespaces/")
	ns, err := url.PathUnescape(raw)
	if err != nil || ns == "" || strings.Contains(raw, "/") {
		s.violate(x, http.StatusBadRequest, "delete namespace: bad path %q", x.r.URL.EscapedPath())
		return
	}
	x.call.Namespace = ns
	s.mu.Lock()
	recs, ok := s.data[x.key][ns]
	if ok {
		x.call.Count = len(recs)
		delete(s.data[x.key], ns)
	}
	s.mu.Unlock()
	if !ok {
		s.fail(x, http.StatusNotFound, "Namespace not found")
		return
	}
	s.reply(x, http.StatusOK, map[string]any{})
}
