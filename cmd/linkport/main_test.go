package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMain lets a test run the real main in a child process, to check its
// exit status.
func TestMain(m *testing.M) {
	if os.Getenv("LINKPORT_TEST_RUN_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// A bad setting stops start-up with one line naming it and status 2.
func TestBadSettingExitsWithStatus2(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		want string
	}{
		{"base url not a url", []string{"LINKPORT_BASE_URL=localhost:8080"}, "LINKPORT_BASE_URL"},
		{"base url http off loopback", []string{"LINKPORT_BASE_URL=http://login.example.com"}, "LINKPORT_BASE_URL"},
		{"emulator off loopback", []string{"LINKPORT_BASE_URL=https://login.example.com", "LINKPORT_EMULATOR=on"}, "LINKPORT_EMULATOR"},
		{"emulator bad value", []string{"LINKPORT_EMULATOR=yes"}, "LINKPORT_EMULATOR"},
		{"half credentials", []string{"LINKPORT_GOOGLE_CLIENT_ID=abc"}, "LINKPORT_GOOGLE_CLIENT_SECRET"},
		{"kakao id without secret", []string{"LINKPORT_KAKAO_CLIENT_ID=abc"}, "LINKPORT_KAKAO_CLIENT_SECRET"},
		{"naver secret without id", []string{"LINKPORT_NAVER_CLIENT_SECRET=abc"}, "LINKPORT_NAVER_CLIENT_SECRET"},
		{"github id without secret", []string{"LINKPORT_GITHUB_CLIENT_ID=abc"}, "LINKPORT_GITHUB_CLIENT_SECRET"},
		{"oidc takes a built-in name", []string{"LINKPORT_OIDC_PROVIDERS=kakao"}, "LINKPORT_OIDC_PROVIDERS"},
		{"bad duration", []string{"LINKPORT_SESSION_LIFETIME=forever"}, "LINKPORT_SESSION_LIFETIME"},
		{"idle longer than lifetime", []string{"LINKPORT_SESSION_IDLE_TIMEOUT=48h"}, "LINKPORT_SESSION_IDLE_TIMEOUT"},
		{"bad proxy", []string{"LINKPORT_TRUSTED_PROXIES=10.0.0.0/99"}, "LINKPORT_TRUSTED_PROXIES"},
		{"bad postgres url", []string{"LINKPORT_DATABASE_URL=postgres://localhost/x?sslmode=bogus"}, "LINKPORT_DATABASE_URL"},
		{"session store unknown", []string{"LINKPORT_SESSION_STORE=memory"}, "LINKPORT_SESSION_STORE"},
		{"redis bad port", []string{"LINKPORT_SESSION_STORE=redis://localhost:notaport"}, "LINKPORT_SESSION_STORE"},
		{"redis bad prefix", []string{"LINKPORT_SESSION_STORE=redis://localhost:6379", "LINKPORT_REDIS_PREFIX=a b"}, "LINKPORT_REDIS_PREFIX"},
		{"oidc missing issuer", []string{"LINKPORT_OIDC_PROVIDERS=corp", "LINKPORT_OIDC_CORP_CLIENT_ID=a", "LINKPORT_OIDC_CORP_CLIENT_SECRET=b"}, "LINKPORT_OIDC_CORP_ISSUER"},
		{"oidc http issuer", []string{"LINKPORT_OIDC_PROVIDERS=corp", "LINKPORT_OIDC_CORP_ISSUER=http://sso.example.com", "LINKPORT_OIDC_CORP_CLIENT_ID=a", "LINKPORT_OIDC_CORP_CLIENT_SECRET=b"}, "LINKPORT_OIDC_CORP_ISSUER"},
		{"oidc reserved name", []string{"LINKPORT_OIDC_PROVIDERS=google"}, "LINKPORT_OIDC_PROVIDERS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-env-file=")
			cmd.Env = append([]string{"LINKPORT_TEST_RUN_MAIN=1", "PATH=" + os.Getenv("PATH"),
				"LINKPORT_DATABASE_URL=" + filepath.Join(t.TempDir(), "x.db")}, tc.env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 {
				t.Fatalf("exit: %v, want status 2; stderr: %s", err, stderr.String())
			}
			out := strings.TrimSpace(stderr.String())
			if strings.Count(out, "\n") != 0 || !strings.Contains(out, tc.want) {
				t.Errorf("stderr %q: want one line naming %s", out, tc.want)
			}
		})
	}
}

// A secret set in the environment never appears in start-up output.
func TestConfigErrorsDoNotEchoSecrets(t *testing.T) {
	_, err := loadConfig([]string{"LINKPORT_GOOGLE_CLIENT_SECRET=s3cr3t-value-123"}, "")
	if err == nil || strings.Contains(err.Error(), "s3cr3t-value-123") {
		t.Fatalf("err = %v; want an error without the secret", err)
	}
}

// The .env file fills in settings; the environment wins over it.
func TestEnvFileAndEnvironment(t *testing.T) {
	f := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(f, []byte("LINKPORT_ADDR=127.0.0.1:9999\nLINKPORT_LOG_LEVEL=debug\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig([]string{"LINKPORT_LOG_LEVEL=warn"}, f)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:9999" || cfg.LogLevel != "warn" {
		t.Errorf("Addr %q LogLevel %q; want the file's address and the environment's level", cfg.Addr, cfg.LogLevel)
	}
}

// instance is the real program running in this process.
type instance struct {
	cancel context.CancelFunc
	done   chan error
	out    *lockedBuffer
}

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

func start(t *testing.T, env []string) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{cancel: cancel, done: make(chan error, 1), out: &lockedBuffer{}}
	go func() { in.done <- run(ctx, []string{"-env-file="}, env, in.out) }()
	return in
}

func (in *instance) stop(t *testing.T) {
	t.Helper()
	in.cancel()
	select {
	case err := <-in.done:
		if err != nil {
			t.Fatalf("run returned %v; output:\n%s", err, in.out.String())
		}
	case <-time.After(35 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	if !strings.Contains(in.out.String(), "stopped") {
		t.Errorf("no graceful stop logged:\n%s", in.out.String())
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).AddrPort().String()
}

func waitHealthy(t *testing.T, base string, in *instance) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		res, err := http.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-in.done:
			t.Fatalf("run exited early: %v\n%s", err, in.out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("not healthy in time:\n%s", in.out.String())
}

var hiddenInput = regexp.MustCompile(`<input[^>]*type="hidden"[^>]*>`)
var attr = regexp.MustCompile(`(name|value)="([^"]*)"`)

// hiddenFields reads the hidden inputs of a page's forms.
func hiddenFields(body string) url.Values {
	v := url.Values{}
	for _, in := range hiddenInput.FindAllString(body, -1) {
		var name, value string
		for _, m := range attr.FindAllStringSubmatch(in, -1) {
			if m[1] == "name" {
				name = m[2]
			} else {
				value = strings.ReplaceAll(m[2], "&amp;", "&")
			}
		}
		if name != "" && v.Get(name) == "" {
			v.Set(name, value)
		}
	}
	return v
}

// The real program signs a person in through the emulator, and a restart
// while the person is at the provider loses nothing: the flow is in the
// session store and the emulator's pending request in the database (E-11a).
// It also shuts down gracefully on cancel.
func TestRestartWhileAtProvider(t *testing.T) {
	testRestartWhileAtProvider(t, filepath.Join(t.TempDir(), "data", "linkport.db"))
}

// testRestartWhileAtProvider is TestRestartWhileAtProvider on the database
// at databaseURL.
func testRestartWhileAtProvider(t *testing.T, databaseURL string) {
	addr := freePort(t)
	base := "http://" + addr
	env := []string{
		"LINKPORT_ADDR=" + addr,
		"LINKPORT_BASE_URL=" + base,
		"LINKPORT_DATABASE_URL=" + databaseURL,
		"LINKPORT_EMULATOR=on",
		"LINKPORT_LOG_FORMAT=json",
	}
	first := start(t, env)
	waitHealthy(t, base, first)

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	body := get(t, client, base+"/login")
	form := url.Values{"csrf_token": {hiddenFields(body).Get("csrf_token")}}
	req, _ := http.NewRequest(http.MethodPost, base+"/auth/google", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	authorize := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(authorize, base+"/_emulator/google/authorize?") {
		t.Fatalf("begin: %d %q", res.StatusCode, authorize)
	}
	consent := get(t, client, authorize)
	if !strings.Contains(consent, "Local provider emulator") {
		t.Fatalf("consent page lacks the emulator banner")
	}
	first.stop(t)

	second := start(t, env)
	defer second.stop(t)
	waitHealthy(t, base, second)
	answer := hiddenFields(consent)
	answer.Set("name", "Ada Lovelace")
	answer.Set("email", "ada@example.com")
	answer.Set("email_verified", "on")
	req, _ = http.NewRequest(http.MethodPost, strings.Split(authorize, "?")[0], strings.NewReader(answer.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	res, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	callback := res.Header.Get("Location")
	if !strings.HasPrefix(callback, base+"/auth/google/callback?") {
		t.Fatalf("consent: %d %q", res.StatusCode, callback)
	}
	res, err = client.Get(callback)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/accounts" {
		t.Fatalf("callback after restart: %d %q; output:\n%s", res.StatusCode, res.Header.Get("Location"), second.out.String())
	}
	page := get(t, client, base+"/accounts")
	if !strings.Contains(page, `data-testid="identity" data-provider="google"`) || !strings.Contains(page, "ada@example.com") {
		t.Errorf("accounts page after restart lacks the Google identity")
	}
	// Nothing secret reaches the logs: not the code, not the state.
	cb, _ := url.Parse(callback)
	for _, secret := range []string{cb.Query().Get("code"), cb.Query().Get("state")} {
		if secret == "" || strings.Contains(first.out.String()+second.out.String(), secret) {
			t.Errorf("a code or state is missing from the callback or present in the logs")
		}
	}
}

func get(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	res, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", u, res.StatusCode)
	}
	return string(b)
}
