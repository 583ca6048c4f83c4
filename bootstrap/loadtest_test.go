package bootstrap

import (
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLoadAuthenticatedOverhead is target 1: GET /users/me (token verified through the
// cached verifier, user and tenant from the caches, JSON written) reaches at least 0.90×
// the throughput of GET /healthz on the same server with the same wrk settings
// (wrk -t1 -c64), runs alternated in one process; its p99 stays within 1.2× of healthz's.
func TestLoadAuthenticatedOverhead(t *testing.T) {
	loadtestOnly(t)
	// Many short alternating runs: the machine is shared, and a burst of someone
	// else's work then lands on both routes alike.
	rounds := envInt(t, "TENANTRY_LOADTEST_ROUNDS", 10)
	d := envDuration(t, "TENANTRY_LOADTEST_DURATION", 2*time.Second)
	// TENANTRY_LOADTEST_STORE=sqlite runs on the embedded database with its change log
	// followed, as `tenantry serve` does; the default is the in-memory stores.
	store := os.Getenv("TENANTRY_LOADTEST_STORE")
	require.Contains(t, []string{"", "memory", "sqlite"}, store, "TENANTRY_LOADTEST_STORE")
	e := newBenchEnv(t, benchOptions{sqlite: store == "sqlite"})
	base := e.serve(t, e.api.Handler)
	auth := "Authorization: Bearer " + benchLogin(t, e.api.Handler, benchEmail)
	script := wrkScript(t, "")

	runWrk(t, script, 64, 2*time.Second, base+"/healthz")
	runWrk(t, script, 64, 2*time.Second, base+"/users/me", auth)
	if dir := os.Getenv("TENANTRY_LOADTEST_PROFILES"); dir != "" {
		profileDuring(t, filepath.Join(dir, "auth-healthz-cpu.pprof"), func() { runWrk(t, script, 64, d, base+"/healthz") })
		profileDuring(t, filepath.Join(dir, "auth-users-me-cpu.pprof"), func() { runWrk(t, script, 64, d, base+"/users/me", auth) })
	}
	// Each round runs /healthz, /users/me and, as a probe, /healthz carrying the same
	// Authorization header (what the token's bytes alone cost the server and wrk), in
	// a rotating order.
	var health, me, probe []wrkResult
	var pairs []float64
	runs := []func(){
		func() { health = append(health, runWrk(t, script, 64, d, base+"/healthz")) },
		func() { me = append(me, runWrk(t, script, 64, d, base+"/users/me", auth)) },
		func() { probe = append(probe, runWrk(t, script, 64, d, base+"/healthz", auth)) },
	}
	for i := range rounds {
		for j := range runs {
			runs[(i+j)%len(runs)]()
		}
		pairs = append(pairs, me[i].rps()/health[i].rps())
		t.Logf("round %2d  /healthz          %s", i+1, health[i])
		t.Logf("round %2d  /users/me         %s  ratio %.3f", i+1, me[i], pairs[i])
		t.Logf("round %2d  /healthz + bearer %s", i+1, probe[i])
	}
	h, m, hb := sumWrk(health), sumWrk(me), sumWrk(probe)
	for _, r := range []wrkResult{h, m, hb} {
		require.Zero(t, r.Status, "responses >= 400")
		require.Zero(t, r.socketErrors(), "socket errors")
	}
	tput, p99 := m.rps()/h.rps(), m.P99US/h.P99US
	t.Logf("all       /healthz          %s", h)
	t.Logf("all       /users/me         %s", m)
	t.Logf("all       /healthz + bearer %s", hb)
	t.Logf("RESULT target=1 healthz_rps=%.0f me_rps=%.0f ratio=%.3f (>= 0.90: %s) median_round_ratio=%.3f healthz_p99_us=%.0f me_p99_us=%.0f p99_ratio=%.2f (<= 1.2: %s) server_cpu_us_per_req healthz=%.1f me=%.1f healthz_with_bearer=%.1f; healthz_with_bearer_ratio=%.3f",
		h.rps(), m.rps(), tput, verdict(tput >= 0.90), median(pairs), h.P99US, m.P99US, p99, verdict(p99 <= 1.2),
		h.cpuPerRequest(), m.cpuPerRequest(), hb.cpuPerRequest(), hb.rps()/h.rps())
	if tput < 0.90 || p99 > 1.2 {
		t.Errorf("target 1 missed: throughput ratio %.3f (want >= 0.90), p99 ratio %.2f (want <= 1.2)", tput, p99)
	}
}

// profileDuring writes a CPU profile of this process (the server) while run runs.
func profileDuring(t *testing.T, path string, run func()) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, pprof.StartCPUProfile(f))
	run()
	pprof.StopCPUProfile()
}

// stormScript sends wrong passwords for an existing user to the token endpoint.
const stormScript = `
wrk.method = "POST"
wrk.body = "grant_type=password&username=admin%40bench.test&password=not-the-password"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
`

// statusCounter counts the responses of one path by status.
type statusCounter struct {
	next http.Handler
	path string
	mu   sync.Mutex
	n    map[int]int
}

func (s *statusCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != s.path {
		s.next.ServeHTTP(w, r)
		return
	}
	sw := &statusWriter{ResponseWriter: w}
	s.next.ServeHTTP(sw, r)
	s.mu.Lock()
	s.n[sw.status]++
	s.mu.Unlock()
}

func (s *statusCounter) counts() map[int]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int]int, len(s.n))
	for k, v := range s.n {
		out[k] = v
	}
	return out
}

// statusWriter records the status sent; 0 means nothing was sent (the client left
// first, e.g. while waiting for a hashing slot when wrk stopped).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TestLoadLoginStorm is target 2: while 32 connections send wrong passwords to
// POST /auth/token, GET /users/me keeps at least 0.5× its undisturbed throughput.
// "limiter" is the production configuration (bounded hashing plus the brute-force
// limiter answering 429 before hashing). "hashing-only" sets the failure limit out of
// reach, so every attempt is hashed and only the hashing bound protects the server;
// it is reported, not asserted, for the default bound and for TENANTRY_HASH_CONCURRENCY=1.
// "control-healthz-flood" floods GET /healthz instead, for comparison.
func TestLoadLoginStorm(t *testing.T) {
	loadtestOnly(t)
	rounds := envInt(t, "TENANTRY_LOADTEST_ROUNDS", 3)
	d := envDuration(t, "TENANTRY_LOADTEST_DURATION", 5*time.Second)
	for _, tc := range []struct {
		name   string
		env    map[string]string
		flood  string // the storm's path
		script string // the storm's request
		assert bool
	}{
		{name: "limiter", flood: "/auth/token", script: stormScript, assert: true},
		{name: "hashing-only", flood: "/auth/token", script: stormScript, env: map[string]string{"TENANTRY_LOGIN_MAX_FAILURES": "1000000000", "TENANTRY_LOGIN_MAX_DELAY": "0s"}},
		{name: "hashing-only-1", flood: "/auth/token", script: stormScript, env: map[string]string{"TENANTRY_LOGIN_MAX_FAILURES": "1000000000", "TENANTRY_LOGIN_MAX_DELAY": "0s", "TENANTRY_HASH_CONCURRENCY": "1"}},
		// The control: the same 32-connection flood of a request that costs no login
		// work at all, to show what sharing two cores with a second load generator costs.
		{name: "control-healthz-flood", flood: "/healthz", script: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newBenchEnv(t, benchOptions{env: tc.env})
			counter := &statusCounter{next: e.api.Handler, path: "/auth/token", n: map[int]int{}}
			base := e.serve(t, counter)
			auth := "Authorization: Bearer " + benchLogin(t, e.api.Handler, benchEmail)
			report, storm := wrkScript(t, ""), wrkScript(t, tc.script)

			runWrk(t, report, 64, 2*time.Second, base+"/users/me", auth)
			var calm, stormy []wrkResult
			for i := range rounds {
				runCalm := func() { calm = append(calm, runWrk(t, report, 64, d, base+"/users/me", auth)) }
				runStorm := func() {
					wait := startWrk(t, storm, 32, d+2*time.Second, base+tc.flood)
					time.Sleep(time.Second)
					stormy = append(stormy, runWrk(t, report, 64, d, base+"/users/me", auth))
					s := wait()
					t.Logf("round %d  storm     %s", i+1, s)
				}
				if i%2 == 0 {
					runCalm()
					runStorm()
				} else {
					runStorm()
					runCalm()
				}
				t.Logf("round %d  calm      %s", i+1, calm[i])
				t.Logf("round %d  in storm  %s", i+1, stormy[i])
			}
			c, s := sumWrk(calm), sumWrk(stormy)
			require.Zero(t, c.Status+s.Status, "/users/me responses >= 400")
			ratio := s.rps() / c.rps()
			t.Logf("RESULT target=2 case=%s calm_rps=%.0f storm_rps=%.0f ratio=%.3f (>= 0.5: %s) calm_p99_us=%.0f storm_p99_us=%.0f token_statuses=%v (0: client left before an answer)",
				tc.name, c.rps(), s.rps(), ratio, verdict(ratio >= 0.5), c.P99US, s.P99US, counter.counts())
			if tc.assert && ratio < 0.5 {
				t.Errorf("target 2 missed: /users/me kept %.3f× its throughput during the storm (want >= 0.5)", ratio)
			}
		})
	}
}
