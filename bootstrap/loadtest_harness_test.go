package bootstrap

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The load tests (loadtest*_test.go) measure the targets of the performance issue
// (#8) on a real loopback listener with the production server settings (serveOn).
// They are slow and need CPU to themselves, so they run only when asked:
//
//	TENANTRY_LOADTEST=1 go test ./bootstrap -run '^TestLoad' -v -timeout 30m
//
// (or `go tool task bench:load`). Targets 1 and 2 drive the server with wrk, which
// must be installed (apt-get install wrk); the others use Go clients.

// loadtestOnly skips the test unless TENANTRY_LOADTEST=1.
func loadtestOnly(t *testing.T) {
	t.Helper()
	if os.Getenv("TENANTRY_LOADTEST") != "1" {
		t.Skip("load test: run with TENANTRY_LOADTEST=1 (go tool task bench:load)")
	}
}

// envInt reads a positive integer knob of the load tests.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, name)
	require.Positive(t, n, name)
	return n
}

// envDuration reads a duration knob of the load tests.
func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	require.NoError(t, err, name)
	return d
}

// serve runs h on a loopback port with the production server settings and returns
// its base URL; the server stops when the test ends.
func (e *benchEnv) serve(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	rt := &runtime{cfg: e.cfg, log: e.log, router: h}
	done := make(chan error, 1)
	go func() { done <- serveOn(ctx, rt, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// raiseOpenFiles lifts the soft open-files limit to the hard one (children inherit it).
func raiseOpenFiles(t testing.TB) uint64 {
	t.Helper()
	var l syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l))
	l.Cur = l.Max
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l))
	return l.Cur
}

// cpuTime is the CPU time (user + system) this process has used so far.
func cpuTime(t testing.TB) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// wrkReport is a wrk Lua script that prints one JSON line of results.
const wrkReport = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"status":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
`

// wrkResult is one wrk run.
type wrkResult struct {
	Requests   int64   `json:"requests"`
	DurationUS int64   `json:"duration_us"`
	Status     int64   `json:"status"` // responses >= 400
	Connect    int64   `json:"connect"`
	Read       int64   `json:"read"`
	Write      int64   `json:"write"`
	Timeout    int64   `json:"timeout"`
	P50US      float64 `json:"p50_us"`
	P90US      float64 `json:"p90_us"`
	P99US      float64 `json:"p99_us"`
	MaxUS      float64 `json:"max_us"`
	// ServerCPU is the CPU time the server (this process) spent during the run, when
	// the server runs in process; it barely depends on what else the machine runs.
	ServerCPU time.Duration `json:"-"`
}

// cpuPerRequest is the server's CPU time per request, in µs.
func (r wrkResult) cpuPerRequest() float64 {
	return float64(r.ServerCPU) / float64(time.Microsecond) / float64(r.Requests)
}

func (r wrkResult) rps() float64 { return float64(r.Requests) / (float64(r.DurationUS) / 1e6) }

func (r wrkResult) socketErrors() int64 { return r.Connect + r.Read + r.Write + r.Timeout }

func (r wrkResult) String() string {
	return fmt.Sprintf("%9.0f req/s  p50 %7.0f µs  p90 %7.0f µs  p99 %7.0f µs  server CPU %5.1f µs/req  (%d requests, %d >= 400, %d socket errors)",
		r.rps(), r.P50US, r.P90US, r.P99US, r.cpuPerRequest(), r.Requests, r.Status, r.socketErrors())
}

// wrkScript writes a wrk script (setup + the report) and returns its path.
func wrkScript(t testing.TB, setup string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wrk.lua")
	require.NoError(t, os.WriteFile(path, []byte(setup+wrkReport), 0o600))
	return path
}

// wrkPath finds wrk or fails the (opted-in) load test with how to get it.
func wrkPath(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("wrk")
	if err != nil {
		t.Fatal("the load tests need wrk: apt-get install -y wrk")
	}
	return p
}

// runWrk runs wrk -t1 -c conns -d d with script against url and the given headers.
func runWrk(t testing.TB, script string, conns int, d time.Duration, url string, headers ...string) wrkResult {
	t.Helper()
	args := []string{"-t1", "-c" + strconv.Itoa(conns), "-d" + strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s", "--timeout", "5s", "-s", script}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	cpu0 := cpuTime(t)
	out, err := exec.Command(wrkPath(t), append(args, url)...).CombinedOutput()
	cpu := cpuTime(t) - cpu0
	require.NoError(t, err, "wrk: %s", out)
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "WRKJSON "); ok {
			var r wrkResult
			require.NoError(t, json.Unmarshal([]byte(rest), &r), line)
			r.ServerCPU = cpu
			return r
		}
	}
	t.Fatalf("wrk printed no result:\n%s", out)
	return wrkResult{}
}

// startWrk starts wrk in the background; wait returns its result.
func startWrk(t testing.TB, script string, conns int, d time.Duration, url string, headers ...string) (wait func() wrkResult) {
	t.Helper()
	ch := make(chan wrkResult, 1)
	go func() {
		args := []string{"-t1", "-c" + strconv.Itoa(conns), "-d" + strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s", "--timeout", "5s", "-s", script}
		for _, h := range headers {
			args = append(args, "-H", h)
		}
		var out bytes.Buffer
		cmd := exec.Command(wrkPath(t), append(args, url)...)
		cmd.Stdout, cmd.Stderr = &out, &out
		_ = cmd.Run()
		for _, line := range strings.Split(out.String(), "\n") {
			if rest, ok := strings.CutPrefix(line, "WRKJSON "); ok {
				var r wrkResult
				if json.Unmarshal([]byte(rest), &r) == nil {
					ch <- r
					return
				}
			}
		}
		ch <- wrkResult{Connect: -1}
	}()
	return func() wrkResult {
		r := <-ch
		require.GreaterOrEqual(t, r.Connect, int64(0), "background wrk printed no result")
		return r
	}
}

// sumWrk adds runs: requests and time add up, latencies are the median of the runs'.
func sumWrk(rs []wrkResult) wrkResult {
	var out wrkResult
	var p50, p90, p99 []float64
	for _, r := range rs {
		out.Requests += r.Requests
		out.DurationUS += r.DurationUS
		out.Status += r.Status
		out.Connect += r.Connect
		out.Read += r.Read
		out.Write += r.Write
		out.Timeout += r.Timeout
		out.ServerCPU += r.ServerCPU
		out.MaxUS = max(out.MaxUS, r.MaxUS)
		p50, p90, p99 = append(p50, r.P50US), append(p90, r.P90US), append(p99, r.P99US)
	}
	out.P50US, out.P90US, out.P99US = median(p50), median(p90), median(p99)
	return out
}

// median of xs (0 for none).
func median(xs []float64) float64 {
	return percentile(xs, 50)
}

// percentile of xs by nearest rank (0 for none); xs is not modified.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// verdict words a target check.
func verdict(ok bool) string {
	if ok {
		return "MET"
	}
	return "MISSED"
}
