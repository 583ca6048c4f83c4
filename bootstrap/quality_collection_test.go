package bootstrap

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// beirCollection is a retrieval test collection in BEIR's format: corpus.jsonl
// ({"_id","title","text"} per line), queries.jsonl ({"_id","text"}) and qrels/test.tsv
// (query-id, corpus-id, score, after a header line). Only the queries judged in the
// test qrels are kept.
type beirCollection struct {
	name    string
	docs    []beirDoc
	queries []beirQuery // sorted by id
}

type beirDoc struct {
	ID    string `json:"_id"`
	Title string `json:"title"`
	Text  string `json:"text"`
}

type beirQuery struct {
	ID   string `json:"_id"`
	Text string `json:"text"`
	// rels are the judged documents' gains; zero marks a judged non-relevant one.
	rels map[string]int
}

func loadBEIR(t *testing.T, dir string) beirCollection {
	t.Helper()
	c := beirCollection{name: filepath.Base(dir)}
	readJSONL(t, filepath.Join(dir, "corpus.jsonl"), func(dec *json.Decoder) error {
		var d beirDoc
		if err := dec.Decode(&d); err != nil {
			return err
		}
		c.docs = append(c.docs, d)
		return nil
	})
	qrels := readQrels(t, filepath.Join(dir, "qrels", "test.tsv"))
	readJSONL(t, filepath.Join(dir, "queries.jsonl"), func(dec *json.Decoder) error {
		var q beirQuery
		if err := dec.Decode(&q); err != nil {
			return err
		}
		if rels, ok := qrels[q.ID]; ok {
			q.rels = rels
			c.queries = append(c.queries, q)
		}
		return nil
	})
	require.Len(t, c.queries, len(qrels), "every judged query is in queries.jsonl")
	slices.SortFunc(c.queries, func(a, b beirQuery) int { return strings.Compare(a.ID, b.ID) })
	require.NotEmpty(t, c.docs)
	return c
}

func readJSONL(t *testing.T, path string, decode func(*json.Decoder) error) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	dec := json.NewDecoder(bufio.NewReaderSize(f, 1<<20))
	for {
		err := decode(dec)
		if errors.Is(err, io.EOF) {
			return
		}
		require.NoError(t, err, path)
	}
}

func readQrels(t *testing.T, path string) map[string]map[string]int {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	out := make(map[string]map[string]int)
	for i, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		f := strings.Split(strings.TrimSpace(line), "\t")
		if i == 0 && f[0] == "query-id" {
			continue
		}
		require.Len(t, f, 3, "%s line %d", path, i+1)
		score, err := strconv.Atoi(f[2])
		require.NoError(t, err, "%s line %d", path, i+1)
		if out[f[0]] == nil {
			out[f[0]] = make(map[string]int)
		}
		out[f[0]][f[1]] = score
	}
	return out
}

// ndcgAt is nDCG@k as trec_eval computes it: gain = the judged score, discount
// log2(rank+1), normalised by the ideal ordering of the judged gains; zero when
// nothing relevant is retrieved.
func ndcgAt(ranked []string, rels map[string]int, k int) float64 {
	var dcg float64
	for i, d := range ranked[:min(k, len(ranked))] {
		if g := rels[d]; g > 0 {
			dcg += float64(g) / math.Log2(float64(i+2))
		}
	}
	gains := make([]int, 0, len(rels))
	for _, g := range rels {
		if g > 0 {
			gains = append(gains, g)
		}
	}
	slices.SortFunc(gains, func(a, b int) int { return b - a })
	var ideal float64
	for i, g := range gains[:min(k, len(gains))] {
		ideal += float64(g) / math.Log2(float64(i+2))
	}
	if ideal == 0 {
		return 0
	}
	return dcg / ideal
}

// recallAt is the share of the relevant (positively judged) documents in the first k.
func recallAt(ranked []string, rels map[string]int, k int) float64 {
	var relevant, found int
	for d, g := range rels {
		if g > 0 {
			relevant++
			if slices.Contains(ranked[:min(k, len(ranked))], d) {
				found++
			}
		}
	}
	if relevant == 0 {
		return 0
	}
	return float64(found) / float64(relevant)
}

func TestQualityMetricsMatchTrecEval(t *testing.T) {
	t.Parallel()
	rels := map[string]int{"a": 2, "b": 1, "z": 0}
	tests := []struct {
		name             string
		ranked           []string
		wantNDCG, wantR2 float64
	}{
		{name: "ideal", ranked: []string{"a", "b", "c"}, wantNDCG: 1, wantR2: 1},
		{name: "swapped", ranked: []string{"b", "a"},
			wantNDCG: (1 + 2/math.Log2(3)) / (2 + 1/math.Log2(3)), wantR2: 1},
		{name: "judged non-relevant counts nothing", ranked: []string{"z", "c", "a"},
			wantNDCG: (2 / math.Log2(4)) / (2 + 1/math.Log2(3)), wantR2: 0},
		{name: "nothing retrieved", ranked: nil, wantNDCG: 0, wantR2: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.InDelta(t, tc.wantNDCG, ndcgAt(tc.ranked, rels, 10), 1e-12)
			require.InDelta(t, tc.wantR2, recallAt(tc.ranked, rels, 2), 1e-12)
		})
	}
}
