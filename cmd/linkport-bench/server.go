package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// buildLinkport builds cmd/linkport into dir, as `make build` does, and
// returns the binary's path. It works from anywhere inside the module.
// Tags are added to the build (pprofTag for -profile).
func buildLinkport(ctx context.Context, dir string, tags ...string) (string, error) {
	bin := filepath.Join(dir, "linkport")
	args := []string{"build", "-trimpath", "-o", bin}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.CommandContext(ctx, "go", append(args, "github.com/linkport/linkport/cmd/linkport")...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/linkport (run from the module, or pass -linkport): %v\n%s", err, out)
	}
	return bin, nil
}

// server is a linkport child process.
type server struct {
	cmd  *exec.Cmd
	base string // http://127.0.0.1:port
	logs *tailBuffer
	done chan struct{}
	err  error // the process's exit, once done is closed

	pprof   string // http://127.0.0.1:port of its pprof listener, or ""
	profDir string // where profiles go
	profPre string // file name prefix of this server's profiles
}

// refusedError is a server that stopped at start-up on a bad setting (exit
// status 2): a build that does not support what the column asks for.
type refusedError struct{ line string }

func (e *refusedError) Error() string { return "linkport refused its settings: " + e.line }

// startServer starts bin on a free loopback port with the emulator on, the
// given settings over the benchmark's own, and waits for /healthz.
//
// Rate limits stay on, as in production: the sign-in budget is per client
// IP, so the benchmark sends each sign-in as another client behind a
// trusted proxy (X-Forwarded-For from 127.0.0.1, addresses in 127/8).
//
// With profDir set, the server (built with pprofTag) also serves
// net/http/pprof on a loopback port of its own.
func startServer(ctx context.Context, bin string, settings map[string]string, profDir, profPre string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	env := map[string]string{
		"LINKPORT_ADDR":            "127.0.0.1:" + strconv.Itoa(port),
		"LINKPORT_BASE_URL":        base,
		"LINKPORT_EMULATOR":        "on",
		"LINKPORT_LOG_LEVEL":       "warn",
		"LINKPORT_TRUSTED_PROXIES": "127.0.0.1",
	}
	for k, v := range settings {
		env[k] = v
	}
	var pprofBase string
	if profDir != "" {
		pp, err := freePort()
		if err != nil {
			return nil, err
		}
		env["LINKPORT_PPROF_ADDR"] = "127.0.0.1:" + strconv.Itoa(pp)
		pprofBase = "http://" + env["LINKPORT_PPROF_ADDR"]
	}
	var environ []string
	for _, kv := range os.Environ() {
		// The developer's own settings must not change what is measured.
		if !strings.HasPrefix(kv, "LINKPORT_") {
			environ = append(environ, kv)
		}
	}
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	s := &server{base: base, logs: &tailBuffer{max: 16 << 10}, done: make(chan struct{}),
		pprof: pprofBase, profDir: profDir, profPre: profPre}
	// -env-file= : a .env in the working directory is not read either.
	s.cmd = exec.Command(bin, "-env-file=")
	s.cmd.Env = environ
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { s.err = s.cmd.Wait(); close(s.done) }()
	if err := s.waitHealthy(ctx, 60*time.Second); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// waitHealthy polls /healthz until it answers 200, the process exits or
// the time is up.
func (s *server) waitHealthy(ctx context.Context, limit time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(limit)
	for {
		select {
		case <-s.done:
			var exit *exec.ExitError
			line := strings.TrimSpace(s.logs.String())
			if i := strings.LastIndexByte(line, '\n'); i >= 0 {
				line = line[i+1:]
			}
			if errors.As(s.err, &exit) && exit.ExitCode() == 2 {
				return &refusedError{line: strings.TrimPrefix(line, "linkport: ")}
			}
			return fmt.Errorf("linkport exited at start-up (%v): %s", s.err, line)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		res, err := client.Get(s.base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("linkport did not answer /healthz within %s%s", limit, s.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the server as an operator would, with SIGTERM, and kills it if
// it has not drained within ten seconds.
func (s *server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// rss returns the server's resident memory in bytes (VmRSS, Linux only).
func (s *server) rss() (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("resident memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("resident memory: %q: %w", sc.Text(), err)
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("resident memory: no VmRSS line")
}

// cpu returns the CPU time the server has used so far, user and system
// (Linux only; 0 elsewhere). Linux reports it in USER_HZ, 100 a second.
func (s *server) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which ends with ')': state is
	// field 3, utime 14 and stime 15.
	_, rest, _ := bytes.Cut(b, []byte(") "))
	f := strings.Fields(string(rest))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * (time.Second / 100)
}

// logTail is the end of the server's log, for an error message.
func (s *server) logTail() string {
	t := strings.TrimSpace(s.logs.String())
	if t == "" {
		return ""
	}
	if lines := strings.Split(t, "\n"); len(lines) > 10 {
		t = strings.Join(lines[len(lines)-10:], "\n")
	}
	return "\nlinkport's last log lines:\n" + t
}

// freePort asks the kernel for a free loopback port. Another process could
// take it before linkport listens; start-up would then fail plainly.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   bytes.Buffer
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b.Write(p)
	if over := t.b.Len() - t.max; over > 0 {
		t.b.Next(over)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.b.String()
}
