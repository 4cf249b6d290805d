package e2e

import (
	"bytes"
	"fmt"
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
)

// binDir holds the linkport binary that the tests build once.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "linkport-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var build struct {
	once sync.Once
	path string
	err  error
}

// linkportBinary builds ./cmd/linkport once per test run, so tests that
// skip (no Chromium) pay nothing.
func linkportBinary(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		wd, err := os.Getwd()
		if err != nil {
			build.err = err
			return
		}
		root := filepath.Dir(wd) // e2e/ is one level below the module root
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
			build.err = fmt.Errorf("module root not found above %s: %w", wd, err)
			return
		}
		out := filepath.Join(binDir, "linkport")
		cmd := exec.Command("go", "build", "-o", out, "./cmd/linkport")
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build ./cmd/linkport: %w\n%s", err, b)
			return
		}
		build.path = out
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

// server is one running linkport process.
type server struct {
	// URL is the base URL, http://localhost:<port>, as the browser uses it.
	URL string
}

// startServer starts the real program on a free port with a fresh SQLite
// file and the provider emulator on, and waits until /healthz answers. At
// cleanup it sends SIGTERM and wants a graceful exit with status 0. The
// program's output is printed when the test fails.
func startServer(t *testing.T) *server {
	t.Helper()
	return startServerWith(t)
}

// startServerWith is startServer with extra settings (NAME=value), which
// win over the defaults above.
func startServerWith(t *testing.T, env ...string) *server {
	t.Helper()
	bin := linkportBinary(t)
	for attempt := 1; ; attempt++ {
		s, inUse := tryStartServer(t, bin, env...)
		if s != nil {
			return s
		}
		if !inUse || attempt == 3 {
			t.FailNow()
		}
		t.Logf("port taken before linkport could listen; trying another (attempt %d)", attempt)
	}
}

// tryStartServer returns nil after reporting the failure with t.Error,
// and inUse when the port was taken by someone else in the meantime.
func tryStartServer(t *testing.T, bin string, env ...string) (s *server, inUse bool) {
	t.Helper()
	port := freePort(t)
	dir := t.TempDir()
	logs := new(syncBuffer)
	cmd := exec.Command(bin, "-env-file=")
	cmd.Dir = dir
	cmd.Env = append(environWithout("LINKPORT_"),
		"LINKPORT_ADDR=127.0.0.1:"+port,
		"LINKPORT_BASE_URL=http://localhost:"+port,
		"LINKPORT_DATABASE_URL="+filepath.Join(dir, "linkport.db"),
		"LINKPORT_EMULATOR=on",
		// The emulated provider on another site (127.0.0.1 vs localhost),
		// as a real provider is: SameSite=Lax and form-action are then
		// exercised for real (SECURITY.md H7, B-06c, B-10d).
		"LINKPORT_EMULATOR_URL=http://127.0.0.1:"+port+"/_emulator",
		"LINKPORT_LOG_FORMAT=json",
	)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Errorf("start linkport: %v", err)
		return nil, false
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()

	health := "http://127.0.0.1:" + port + "/healthz"
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-exited:
			inUse = strings.Contains(logs.String(), "address already in use")
			if !inUse {
				t.Errorf("linkport exited before it was healthy: %v\n--- linkport output ---\n%s", waitErr, logs)
			}
			return nil, inUse
		default:
		}
		if resp, err := client.Get(health); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("linkport did not answer %s with 200 within 20s\n--- linkport output ---\n%s", health, logs)
			return nil, false
		}
		time.Sleep(50 * time.Millisecond)
	}

	t.Cleanup(func() {
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Errorf("SIGTERM linkport: %v", err)
		}
		select {
		case <-exited:
			if waitErr != nil {
				t.Errorf("linkport did not shut down cleanly after SIGTERM: %v", waitErr)
			}
		case <-time.After(40 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("linkport still running 40s after SIGTERM; killed")
		}
		if t.Failed() {
			t.Logf("--- linkport output ---\n%s", logs)
		}
	})
	return &server{URL: "http://localhost:" + port}, false
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// environWithout is this process's environment minus the variables that
// start with prefix, so a developer's LINKPORT_ settings do not leak in.
func environWithout(prefix string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, prefix) {
			out = append(out, kv)
		}
	}
	return out
}

// syncBuffer is a bytes.Buffer that the process and the test can share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
