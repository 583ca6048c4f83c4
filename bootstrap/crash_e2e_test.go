package bootstrap

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/glebarez/go-sqlite"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestE2EKilledDuringIngestionAndDeletionLeavesNothingHalfDone runs the real binary,
// ingests and deletes documents from several clients, and kills the server with SIGKILL
// at a random moment, several times; after the last restart every chunk row belongs to
// a document and every document has all its chunks, every listed document is found by
// a word only it contains, and no answer cites a document that GET /documents/{id}
// says is missing. SQLite always, PostgreSQL when TEST_DATABASE_URL is set.
func TestE2EKilledDuringIngestionAndDeletionLeavesNothingHalfDone(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		db, err := sql.Open("sqlite", filepath.Join(e["TENANTRY_DATA_DIR"], "tenantry.db")+"?_pragma=busy_timeout(5000)")
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		crashAndCheck(t, e, db, "?")
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		pg := newPostgresDatabase(t)
		e := newEnv(t).with("DATABASE_URL", pg.url, "TENANTRY_SECRET_KEY", secretKey(t))
		mustRun(t, e, "", "migrate")
		crashAndCheck(t, e, pg.db, "$1")
	})
}

// crashWord is a word of letters only, unique to document n, that analysis keeps whole.
func crashWord(n int) string {
	var b strings.Builder
	b.WriteString("zyqx")
	for {
		b.WriteByte(byte('a' + n%26))
		n /= 26
		if n == 0 {
			break
		}
	}
	return b.String() + "vok"
}

// crashEnv is e with the small chunks the crash tests use, so that every document has
// several.
func crashEnv(e env) env {
	return e.with("TENANTRY_CHUNK_SIZE", "100", "TENANTRY_CHUNK_OVERLAP", "0")
}

// crashAndCheck runs the rounds on e and checks the invariants, reading the rows
// through db (whose placeholder is ph).
func crashAndCheck(t *testing.T, e env, db *sql.DB, ph string) {
	e = crashEnv(e)
	seed(t, e, "acme", "admin@acme.test", "tenant_admin")
	// Hybrid: ingestion embeds (hashing) and writes the embedded vector index too, the
	// longest path from the first chunk to the record.
	mustRun(t, e, "", "tenant", "update", "acme", "--retrieval-mode", "hybrid")
	next := crashRounds(t, e)
	s := startServer(t, e)
	crashInvariants(t, s, db, ph, next)
}

// crashRounds starts the server of tenant acme (whose admin is admin@acme.test) five
// times; each time three clients ingest documents, each with a unique word
// (crashWord), and delete acknowledged ones until the server is killed with SIGKILL at
// a random moment. It returns how many words were tried.
func crashRounds(t *testing.T, e env) int {
	t.Helper()
	rngSeed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", rngSeed)
	rng := rand.New(rand.NewPCG(rngSeed, 7))

	var mu sync.Mutex
	words := map[string]string{} // document id -> its unique word, for every 201
	next := 0
	for round := range 5 {
		s, err := launchServer(t, e)
		t.Cleanup(func() { _ = s.cmd.Process.Kill() })
		require.NoError(t, err, "stderr:\n%s", s.stderr.String())
		token := s.login(t, nil, "admin@acme.test", e2ePassword).AccessToken
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					mu.Lock()
					n := next
					next++
					var victim string
					if (w+i)%3 == 2 {
						for id := range words {
							victim = id
							break
						}
					}
					mu.Unlock()
					if victim != "" {
						if status, _, err := crashSend(s, http.MethodDelete, "/documents/"+victim, token, ""); err == nil && status == http.StatusNoContent {
							mu.Lock()
							delete(words, victim)
							mu.Unlock()
						}
						continue
					}
					word := crashWord(n)
					var text strings.Builder
					for k := range 40 {
						fmt.Fprintf(&text, "Paragraph %d of the notice %s explains the parcel rules in some detail. ", k, word)
					}
					body, _ := json.Marshal(map[string]string{"title": "Notice " + word, "text": text.String()})
					status, out, err := crashSend(s, http.MethodPost, "/documents", token, string(body))
					if err == nil && status == http.StatusCreated {
						var doc struct{ ID string }
						if json.Unmarshal(out, &doc) == nil {
							mu.Lock()
							words[doc.ID] = word
							mu.Unlock()
						}
					}
				}
			}()
		}
		time.Sleep(time.Duration(30+rng.IntN(250)) * time.Millisecond) // picks the kill point, synchronises nothing
		require.NoError(t, s.cmd.Process.Signal(syscall.SIGKILL))
		<-s.done
		close(stop)
		wg.Wait()
		t.Logf("round %d: %d documents acknowledged so far, %d attempted", round, len(words), next)
	}
	return next
}

// crashInvariants checks, on the restarted server s over the rows of db (placeholder
// ph), that every chunk row belongs to a document and every document has all its
// chunks, that each listed document is found by its word, and that no answer for any
// of the first next words cites a document GET /documents/{id} says is missing. It
// returns the listed documents with their chunk counts.
func crashInvariants(t *testing.T, s *server, db *sql.DB, ph string, next int) map[string]int {
	t.Helper()
	token := s.login(t, nil, "admin@acme.test", e2ePassword).AccessToken

	// Rows: no chunk without its document, no document missing chunks.
	var orphans int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM chunks WHERE NOT EXISTS (SELECT 1 FROM documents WHERE documents.id = chunks.document_id)`).Scan(&orphans))
	assert.Zero(t, orphans, "chunk rows whose document does not exist")

	listed := map[string]int{} // id -> chunks
	for offset := 0; ; offset += 100 {
		r := s.get(t, nil, fmt.Sprintf("/documents?limit=100&offset=%d", offset), token)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var page struct {
			Items []struct {
				ID     string `json:"id"`
				Title  string `json:"title"`
				Chunks int    `json:"chunks"`
			} `json:"items"`
		}
		require.NoError(t, json.Unmarshal(r.body, &page))
		for _, d := range page.Items {
			listed[d.ID] = d.Chunks
			var rows int
			require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM chunks WHERE document_id = `+ph, d.ID).Scan(&rows))
			assert.Equal(t, d.Chunks, rows, "document %s (%s) has %d of its %d chunks", d.ID, d.Title, rows, d.Chunks)
		}
		if len(page.Items) < 100 {
			break
		}
	}
	require.NotEmpty(t, listed, "no ingestion survived: the test proves nothing")

	cited := func(word string) []string { return crashCited(t, s, token, word) }
	// Every word ever tried: listed documents are found by theirs; nothing cited is missing.
	titles := map[string]string{}
	for id := range listed {
		r := s.get(t, nil, "/documents/"+id, token)
		require.Equal(t, http.StatusOK, r.status)
		titles[id] = r.json(t)["title"].(string)
	}
	listedWords := map[string]bool{}
	for _, title := range titles {
		listedWords[strings.TrimPrefix(title, "Notice ")] = true
	}
	exists := map[string]bool{}
	others := 0
	for n := range next {
		word := crashWord(n)
		if !listedWords[word] {
			if others++; others > 30 {
				continue // enough words of deleted or never saved documents
			}
		}
		ids := cited(word)
		for _, id := range ids {
			if _, ok := exists[id]; !ok {
				exists[id] = s.get(t, nil, "/documents/"+id, token).status == http.StatusOK
			}
			assert.True(t, exists[id], "the answer for %q cites %s, which GET /documents says is missing", word, id)
		}
		for id, title := range titles {
			if title == "Notice "+word {
				assert.Contains(t, ids, id, "listed document %s is not found by its word %q", id, word)
			}
		}
	}
	return listed
}

// crashSend sends one request; a server killed under it is an error, not a failure.
func crashSend(s *server, method, path, token, body string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	return res.StatusCode, out, err
}

// crashCited asks s the question word as token's user and returns the ids of the
// documents the answer cites.
func crashCited(t *testing.T, s *server, token, word string) []string {
	t.Helper()
	r := s.do(t, nil, http.MethodPost, "/chat/stream", token, "application/json", `{"message":"`+word+`"}`)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	events := hParseSSE(t, r.body)
	require.NotEmpty(t, events)
	require.Equal(t, "sources", events[0].Name, "%s", r.body)
	require.Equal(t, "done", events[len(events)-1].Name, "the answer ended: %s", r.body)
	var ev struct {
		Sources []struct {
			DocumentID string `json:"document_id"`
		} `json:"sources"`
	}
	require.NoError(t, json.Unmarshal([]byte(events[0].Data), &ev))
	var ids []string
	for _, s := range ev.Sources {
		ids = append(ids, s.DocumentID)
	}
	return ids
}
