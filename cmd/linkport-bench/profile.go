package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// pprofTag is the build tag under which cmd/linkport serves net/http/pprof
// on LINKPORT_PPROF_ADDR (cmd/linkport/pprof.go).
const pprofTag = "linkport_pprof"

// profilePrefix turns a column name into a file name prefix:
// "PostgreSQL+Redis" → "postgresql-redis".
func profilePrefix(column string) string {
	return strings.Trim(strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, column), "-")
}

// startProfile, when the server serves pprof, records its CPU profile and
// the allocations it makes over the next d, into <dir>/<prefix>-<name>-cpu.pprof
// and -allocs.pprof. The returned function waits for both files; it is a
// no-op without -profile.
func (s *server) startProfile(ctx context.Context, name string, d time.Duration) func() error {
	if s.pprof == "" {
		return func() error { return nil }
	}
	secs := max(1, int((d+time.Second/2)/time.Second))
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for kind, path := range map[string]string{
		"cpu":    "/debug/pprof/profile",
		"allocs": "/debug/pprof/allocs",
	} {
		file := filepath.Join(s.profDir, fmt.Sprintf("%s-%s-%s.pprof", s.profPre, name, kind))
		wg.Go(func() {
			if err := fetchProfile(ctx, fmt.Sprintf("%s%s?seconds=%d", s.pprof, path, secs), file); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("profile %s: %w (is linkport built with -tags %s?)", file, err, pprofTag))
				mu.Unlock()
			}
		})
	}
	return func() error {
		wg.Wait()
		if len(errs) > 0 {
			return errs[0]
		}
		return nil
	}
}

func fetchProfile(ctx context.Context, url, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return fmt.Errorf("%s: %s", res.Status, b)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
