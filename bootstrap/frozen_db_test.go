package bootstrap

import (
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// relSignal sends sig to the cluster's postmaster and all its children, as a frozen
// (not dead) server: the kernel still accepts the bytes, nobody answers.
func (p *relPostgres) relSignal(t *testing.T, sig string) {
	t.Helper()
	out, err := exec.Command("pgrep", "-f", "-d", " ", "postgres.*"+p.data).Output()
	require.NoError(t, err, "find the cluster's postmaster")
	pids := strings.Fields(string(out))
	children, _ := exec.Command("pgrep", "-d", " ", "-P", strings.Join(pids, ",")).Output()
	pids = append(pids, strings.Fields(string(children))...)
	require.NotEmpty(t, pids)
	for _, pid := range pids {
		if _, err := strconv.Atoi(pid); err == nil {
			_ = exec.Command("kill", "-"+sig, pid).Run()
		}
	}
}

// A frozen database must not hang requests: the statements on already pooled
// connections hit the client-side deadline (TENANTRY_DB_QUERY_TIMEOUT + 2 s) and answer
// 503, and the service recovers when the server thaws.
func TestReliabilityFrozenDatabaseAnswers503(t *testing.T) {
	requirePostgres(t)
	pg := relStartPostgres(t)
	s := relStartServer(t, pg, env{"TENANTRY_DB_QUERY_TIMEOUT": "500ms"})
	l := &relLoad{base: s.base, client: &http.Client{Timeout: 30 * time.Second}, docs: map[string]string{}}
	l.token, l.betaToken = l.relLogin(t, "admin@acme.test"), l.relLogin(t, "member@beta.test")
	o, b := l.do("GET /documents", "", "")
	require.Equal(t, http.StatusOK, o.status, "%s", b)

	pg.relSignal(t, "STOP")
	thawed := false
	thaw := func() {
		if !thawed {
			pg.relSignal(t, "CONT")
			thawed = true
		}
	}
	t.Cleanup(thaw)

	bound := 500*time.Millisecond + 2*time.Second + 3*time.Second // deadline plus a loaded machine's slack
	for _, route := range []string{"GET /documents", "GET /conversations"} {
		o, b := l.do(route, "", "")
		assert.Equal(t, http.StatusServiceUnavailable, o.status, "%s with a frozen database: %s", route, b)
		assert.Less(t, o.ended.Sub(o.began), bound, "%s hung on the frozen database", route)
	}

	thaw()
	require.Eventually(t, func() bool {
		o, _ := l.do("GET /documents", "", "")
		return o.status == http.StatusOK
	}, 20*time.Second, 100*time.Millisecond, "no recovery after the database thawed")
}
