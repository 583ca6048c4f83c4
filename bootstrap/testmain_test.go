package bootstrap

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// binDir holds the tenantry binary built once for the whole test run; TestMain removes
// it afterwards (t.TempDir would vanish with the first test that built it).
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tenantry-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "temp dir for the test binary:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

var built struct {
	once sync.Once
	path string
	err  error
}

// tenantryBinary builds the real command (package main at the module root) once per
// test run and returns its path.
func tenantryBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		path := filepath.Join(binDir, "tenantry")
		cmd := exec.Command("go", "build", "-o", path, module)
		out, err := cmd.CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build %s: %w\n%s", module, err, out)
			return
		}
		built.path = path
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

var schemaFile struct {
	once sync.Once
	hcl  []byte
	err  error
}

// schemaHCL is the declared schema, as main embeds it.
func schemaHCL(t *testing.T) []byte {
	t.Helper()
	schemaFile.once.Do(func() { schemaFile.hcl, schemaFile.err = os.ReadFile("../schema.hcl") })
	require.NoError(t, schemaFile.err)
	return schemaFile.hcl
}

// env is the complete environment of one tenantry instance: nothing is inherited from
// the developer's shell, so a stray DATABASE_URL cannot redirect a test.
type env map[string]string

// newEnv returns an embedded (SQLite) environment in a fresh data directory on a free
// port. PDFium's compiled code is cached for the whole test run, so that each serve's
// warm-up does not compile it again.
func newEnv(t *testing.T) env {
	t.Helper()
	return env{"TENANTRY_DATA_DIR": t.TempDir(), "PORT": fmt.Sprint(freePort(t)),
		"TENANTRY_PDFIUM_CACHE_DIR": filepath.Join(binDir, "pdfium-cache")}
}

func (e env) with(kv ...string) env {
	out := make(env, len(e)+len(kv)/2)
	for k, v := range e {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func (e env) without(keys ...string) env {
	out := e.with()
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

func (e env) getenv(k string) string { return e[k] }

// osEnv is e for a child process, plus what the Go runtime and tools need.
func (e env) osEnv() []string {
	out := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}
	for k, v := range e {
		out = append(out, k+"="+v)
	}
	return out
}

func (e env) config(t *testing.T) Config {
	t.Helper()
	cfg, err := LoadConfig(e.getenv)
	require.NoError(t, err)
	return cfg
}

// result is what one command printed and how it exited.
type result struct {
	out, err string
	code     int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.err)
}

// run executes one command in process through Run, with stdin.
func run(t *testing.T, e env, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(t.Context(), args, IO{In: strings.NewReader(stdin), Out: &out, Err: &errb, Getenv: e.getenv}, schemaHCL(t))
	return result{out: out.String(), err: errb.String(), code: code}
}

// mustRun is run that requires exit 0.
func mustRun(t *testing.T, e env, stdin string, args ...string) result {
	t.Helper()
	r := run(t, e, stdin, args...)
	require.Equal(t, 0, r.code, "tenantry %s\n%s", strings.Join(args, " "), r)
	return r
}

// runBinary executes one command as a separate process of the real binary.
func runBinary(t *testing.T, e env, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tenantryBinary(t), args...)
	cmd.Env = e.osEnv()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		require.True(t, errors.As(err, &ee), "run tenantry %s: %v", strings.Join(args, " "), err)
		code = ee.ExitCode()
	}
	return result{out: out.String(), err: errb.String(), code: code}
}

func mustRunBinary(t *testing.T, e env, stdin string, args ...string) result {
	t.Helper()
	r := runBinary(t, e, stdin, args...)
	require.Equal(t, 0, r.code, "tenantry %s\n%s", strings.Join(args, " "), r)
	return r
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// secretKey returns a fresh master key in the TENANTRY_SECRET_KEY format.
func secretKey(t *testing.T) string {
	t.Helper()
	var b [32]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(b[:])
}

// lockedBuffer collects a child's stderr while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// server is a running `tenantry serve` process.
type server struct {
	url    string
	stdout lockedBuffer
	stderr lockedBuffer
	cmd    *exec.Cmd
	done   chan struct{}
	once   sync.Once
	code   int
}

// startServer runs `tenantry serve` with e and waits until GET /readyz answers 200.
// The cleanup stops it with SIGTERM and requires a clean exit 0. Should another process
// take the free port first, it retries on a new one (updating e["PORT"]).
func startServer(t *testing.T, e env, args ...string) *server {
	t.Helper()
	for attempt := 1; ; attempt++ {
		s, err := launchServer(t, e, args...)
		if err == nil {
			t.Cleanup(func() {
				if code := s.stop(t); code != 0 {
					t.Errorf("tenantry serve exited %d on SIGTERM; stderr:\n%s", code, s.stderr.String())
				}
			})
			return s
		}
		if attempt < 3 && strings.Contains(s.stderr.String(), "address already in use") {
			e["PORT"] = fmt.Sprint(freePort(t))
			continue
		}
		s.stop(t)
		t.Fatalf("%v; stderr:\n%s", err, s.stderr.String())
	}
}

func launchServer(t *testing.T, e env, args ...string) (*server, error) {
	t.Helper()
	s := &server{url: "http://127.0.0.1:" + e["PORT"], done: make(chan struct{})}
	s.cmd = exec.Command(tenantryBinary(t), append([]string{"serve"}, args...)...)
	s.cmd.Env = e.osEnv()
	s.cmd.Stdout, s.cmd.Stderr = &s.stdout, &s.stderr
	require.NoError(t, s.cmd.Start())
	go func() {
		_ = s.cmd.Wait()
		s.code = s.cmd.ProcessState.ExitCode()
		close(s.done)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-s.done:
			return s, fmt.Errorf("tenantry serve exited %d before it was ready", s.code)
		default:
		}
		res, err := http.Get(s.url + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			return s, errors.New("tenantry serve not ready after 30s")
		}
		time.Sleep(40 * time.Millisecond)
	}
}

// stop sends SIGTERM once and returns the exit code; a server that does not stop
// within 15 s is killed and reported.
func (s *server) stop(t *testing.T) int {
	t.Helper()
	s.once.Do(func() {
		select {
		case <-s.done:
			return
		default:
		}
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
			t.Errorf("tenantry serve did not stop within 15s of SIGTERM")
		}
	})
	<-s.done
	return s.code
}
