// Package pineconetest is an in-process Pinecone for tests: an httptest server that
// speaks the documented REST data plane of a serverless index and Inference's
// POST /embed and GET /models/{model} (API versions APIVersions), and checks the method, path, headers and JSON body of
// every call as Pinecone documents them. Vectors are kept per (API key, namespace), so
// a test can prove that one tenant's key and namespace never see another's.
//
// A request that breaks the documented protocol is answered 400 and recorded as a
// violation; the server fails the test at cleanup if any was recorded. Faults (status
// codes, Retry-After, stalls) can be injected per path.
//
// It imports only the standard library and is meant for tests only.
package pineconetest

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// APIVersions are the X-Pinecone-Api-Version values the server accepts: the stable
// versions Pinecone serves in December 2026, each for 12 months after its release
// (2025-04 and older are past that window and refused).
var APIVersions = []string{"2025-10", "2026-04", "2026-07"}

// Call is one request the server received.
type Call struct {
	Method    string
	Path      string
	APIKey    string
	Namespace string
	Status    int
	// Count is the number of vectors, ids or inputs the request carried.
	Count int
	// InputType is the input_type parameter of an embed request.
	InputType string
}

// Fault makes matching requests fail before they reach the index.
type Fault struct {
	// Method and Path select requests; empty matches any.
	Method string
	Path   string
	// Status is the answer (for example 429 or 503); 0 with Delay only stalls.
	Status int
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter string
	// Delay stalls the answer (or until the client gives up).
	Delay time.Duration
	// Times is how many requests the fault hits; 0 means one, negative means all.
	Times int
}

type record struct {
	Values   []float32
	Metadata map[string]any
}

// Server is a fake Pinecone. Safe for concurrent use.
type Server struct {
	// URL is the base URL, usable both as an index host and as the Inference host.
	URL string
	// CertificatePEM is the server's certificate under NewTLS, nil under New.
	CertificatePEM []byte

	t   testing.TB
	dim int
	// vectorType is what describe_index_stats reports ("dense" unless SetVectorType).
	vectorType string

	mu         sync.Mutex
	keys       map[string]bool
	data       map[string]map[string]map[string]record // API key → namespace → id
	calls      []Call
	faults     []*Fault
	violations []string
}

// New starts a server for an index of the given dimension accepting apiKeys, and
// closes it when the test ends, failing the test on protocol violations.
func New(t testing.TB, dimension int, apiKeys ...string) *Server {
	t.Helper()
	return start(t, false, dimension, apiKeys)
}

// NewTLS is New served over HTTPS, as Pinecone is: URL starts with https://, and the
// client must trust CertificatePEM (issued for 127.0.0.1 and example.com).
func NewTLS(t testing.TB, dimension int, apiKeys ...string) *Server {
	t.Helper()
	return start(t, true, dimension, apiKeys)
}

func start(t testing.TB, tls bool, dimension int, apiKeys []string) *Server {
	t.Helper()
	s := &Server{t: t, dim: dimension, vectorType: "dense", keys: map[string]bool{}, data: map[string]map[string]map[string]record{}}
	for _, k := range apiKeys {
		s.keys[k] = true
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	if tls {
		srv.StartTLS()
		s.CertificatePEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	} else {
		srv.Start()
	}
	s.URL = srv.URL
	t.Cleanup(func() {
		srv.Close()
		for _, v := range s.Violations() {
			t.Errorf("pinecone protocol violation: %s", v)
		}
	})
	return s
}

// SetVectorType makes the index another kind than a dense vector index, as its
// describe_index_stats shows: "sparse" reports no dimension, and so does any other
// kind (a document index).
func (s *Server) SetVectorType(vectorType string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vectorType = vectorType
}

// Inject adds a fault; faults are matched in the order they were added.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Times == 0 {
		f.Times = 1
	}
	s.faults = append(s.faults, &f)
}

// Calls returns every request received so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// CallsTo returns the received requests with the given method and path.
func (s *Server) CallsTo(method, path string) []Call {
	var out []Call
	for _, c := range s.Calls() {
		if c.Method == method && c.Path == path {
			out = append(out, c)
		}
	}
	return out
}

// Violations returns the protocol violations recorded so far.
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.violations)
}

// TakeViolations returns the violations recorded so far and forgets them, for tests
// that break the protocol on purpose.
func (s *Server) TakeViolations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.violations
	s.violations = nil
	return v
}

// IDs returns the sorted vector ids stored under apiKey and namespace.
func (s *Server) IDs(apiKey, namespace string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id := range s.data[apiKey][namespace] {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Metadata returns the metadata stored with one vector, or nil.
func (s *Server) Metadata(apiKey, namespace, id string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.data[apiKey][namespace][id]
	if !ok {
		return nil
	}
	return r.Metadata
}

// Namespaces returns the sorted namespaces holding vectors under apiKey.
func (s *Server) Namespaces(apiKey string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for ns, recs := range s.data[apiKey] {
		if len(recs) > 0 {
			out = append(out, ns)
		}
	}
	slices.Sort(out)
	return out
}

// Put stores a vector directly, bypassing the API (to seed another tenant's data).
func (s *Server) Put(apiKey, namespace, id string, values []float32, metadata map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nsLocked(apiKey, namespace)[id] = record{Values: slices.Clone(values), Metadata: metadata}
}

func (s *Server) nsLocked(key, ns string) map[string]record {
	if s.data[key] == nil {
		s.data[key] = map[string]map[string]record{}
	}
	if s.data[key][ns] == nil {
		s.data[key][ns] = map[string]record{}
	}
	return s.data[key][ns]
}

// exchange is one request being served.
type exchange struct {
	w      http.ResponseWriter
	r      *http.Request
	key    string
	call   Call
	status int
	body   []byte
	size   int
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	x := &exchange{w: w, r: r, key: r.Header.Get("Api-Key"), call: Call{Method: r.Method, Path: r.URL.Path, APIKey: r.Header.Get("Api-Key")}}
	defer func() {
		x.call.Status = x.status
		s.mu.Lock()
		s.calls = append(s.calls, x.call)
		s.mu.Unlock()
	}()
	// Reading the body first lets net/http notice a client that hangs up during a stall.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4<<20))
	if err != nil {
		s.violate(x, http.StatusRequestEntityTooLarge, "%s body unreadable: %v", r.URL.Path, err)
		return
	}
	x.body, x.size = body, len(body)
	if !s.checkHeaders(x) || s.fault(x) {
		return
	}
	s.route(x)
}

// checkHeaders validates authentication and the documented headers.
func (s *Server) checkHeaders(x *exchange) bool {
	if x.key == "" {
		s.violate(x, http.StatusUnauthorized, "missing Api-Key header on %s %s", x.r.Method, x.r.URL.Path)
		return false
	}
	if v := x.r.Header.Get("X-Pinecone-Api-Version"); !slices.Contains(APIVersions, v) {
		s.violate(x, http.StatusBadRequest, "X-Pinecone-Api-Version is %q, want one of %q", v, APIVersions)
		return false
	}
	if h := x.r.Header.Get("Authorization"); h != "" {
		s.violate(x, http.StatusBadRequest, "unexpected Authorization header: Pinecone uses Api-Key")
		return false
	}
	if x.r.Method == http.MethodPost && !strings.HasPrefix(x.r.Header.Get("Content-Type"), "application/json") {
		s.violate(x, http.StatusBadRequest, "Content-Type is %q on %s", x.r.Header.Get("Content-Type"), x.r.URL.Path)
		return false
	}
	s.mu.Lock()
	ok := s.keys[x.key]
	s.mu.Unlock()
	if !ok {
		x.status = http.StatusUnauthorized
		x.w.Header().Set("Content-Type", "text/plain")
		x.w.WriteHeader(http.StatusUnauthorized)
		_, _ = x.w.Write([]byte("Unauthorized"))
		return false
	}
	return true
}

// fault answers x with the first matching injected fault, if any.
func (s *Server) fault(x *exchange) bool {
	s.mu.Lock()
	var f *Fault
	for _, c := range s.faults {
		if c.Times != 0 && (c.Method == "" || c.Method == x.r.Method) && (c.Path == "" || c.Path == x.r.URL.Path) {
			f = c
			if c.Times > 0 {
				c.Times--
			}
			break
		}
	}
	s.mu.Unlock()
	if f == nil {
		return false
	}
	if f.Delay > 0 {
		select {
		case <-time.After(f.Delay):
		case <-x.r.Context().Done():
			x.status = 499
			return true
		}
	}
	if f.Status == 0 {
		return false
	}
	if f.RetryAfter != "" {
		x.w.Header().Set("Retry-After", f.RetryAfter)
	}
	s.fail(x, f.Status, "injected fault")
	return true
}

// violate records a protocol violation by the client and answers with status.
func (s *Server) violate(x *exchange, status int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.mu.Lock()
	s.violations = append(s.violations, msg)
	s.mu.Unlock()
	s.fail(x, status, msg)
}

// fail writes Pinecone's data-plane error body ({"code":..,"message":..}).
func (s *Server) fail(x *exchange, status int, msg string) {
	s.reply(x, status, map[string]any{"code": grpcCode(status), "message": msg, "details": []any{}})
}

func (s *Server) reply(x *exchange, status int, body any) {
	x.status = status
	x.w.Header().Set("Content-Type", "application/json")
	x.w.WriteHeader(status)
	_ = json.NewEncoder(x.w).Encode(body)
}

func grpcCode(status int) int {
	switch status {
	case http.StatusBadRequest:
		return 3
	case http.StatusNotFound:
		return 5
	case http.StatusUnauthorized:
		return 16
	case http.StatusTooManyRequests:
		return 8
	case http.StatusServiceUnavailable:
		return 14
	default:
		return 2
	}
}

// decode reads a JSON body strictly into v: unknown fields are a violation.
func (s *Server) decode(x *exchange, v any) bool {
	dec := json.NewDecoder(bytes.NewReader(x.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		s.violate(x, http.StatusBadRequest, "%s body does not match the documented schema: %v", x.r.URL.Path, err)
		return false
	}
	return true
}
