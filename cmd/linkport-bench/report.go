package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// column is one server configuration and its figures.
type column struct {
	name     string
	settings map[string]string // LINKPORT_* over the benchmark's own
	skipped  string            // in place of figures, or ""
	reason   string            // why, printed under the table
	optional bool              // a server that does not start is reported, not fatal

	pages   pages
	signIns signIns
	memory  memory
	weight  weight
}

// Targets of issue 5.
const (
	targetRatio        = 0.5
	targetP99          = 10 * time.Millisecond // SQLite only
	targetSignInsSQL   = 1000
	targetSignInsPG    = 500
	targetRSS          = 100_000_000 // bytes
	targetCompressedKB = 30_000      // bytes
)

// machine is where the figures come from.
type machine struct {
	cpus   int
	model  string
	memory string
	goVer  string
	load   string // 1-minute load average when the run began
}

// loadAverage is the 1-minute load average, or "?".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

func readMachine() machine {
	m := machine{cpus: runtime.NumCPU(), model: "unknown CPU", goVer: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
	m.model = procField("/proc/cpuinfo", "model name")
	if kb, err := strconv.ParseInt(strings.TrimSuffix(procField("/proc/meminfo", "MemTotal"), " kB"), 10, 64); err == nil {
		m.memory = fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
	}
	return m
}

// procField returns the first value of key in a /proc file of "key: value"
// lines, or "".
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// printReport prints the table, the details behind it and the machine.
func printReport(w io.Writer, o options, cols []*column, m machine) {
	fmt.Fprintf(w, "| figure | target | %s | %s |\n", cols[0].name, cols[1].name)
	fmt.Fprintln(w, "| --- | --- | --- | --- |")
	row := func(label, target string, cell func(c *column, sqlite bool) string) {
		cells := make([]string, len(cols))
		for i, c := range cols {
			if c.skipped != "" {
				cells[i] = c.skipped
				continue
			}
			cells[i] = cell(c, i == 0)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", label, target, cells[0], cells[1])
	}
	row(fmt.Sprintf("(a) \"Connected accounts\" (3 identities) ÷ /healthz, %d clients", o.concurrency),
		fmt.Sprintf("ratio ≥ %.1f; p99 < %.0f ms on SQLite", targetRatio, float64(targetP99)/float64(time.Millisecond)),
		func(c *column, sqlite bool) string {
			p := c.pages
			ok := p.ratio() >= targetRatio && (!sqlite || p.accounts.p99 < targetP99)
			return fmt.Sprintf("ratio %.2f (%s ÷ %s req/s); /accounts p50 %s, p99 %s %s",
				p.ratio(), count(p.accounts.rps), count(p.healthz.rps), ms(p.accounts.p50), ms(p.accounts.p99), verdict(ok))
		})
	row(fmt.Sprintf("(b) complete sign-ins through the emulator, %d browsers", o.signInWorkers),
		fmt.Sprintf("≥ %s/s on SQLite, ≥ %d/s on PostgreSQL+Redis; 0 errors", count(targetSignInsSQL), targetSignInsPG),
		func(c *column, sqlite bool) string {
			s := c.signIns
			want := float64(targetSignInsPG)
			if sqlite {
				want = targetSignInsSQL
			}
			return fmt.Sprintf("%s/s, %d errors; p50 %s, p99 %s %s",
				count(s.perSec), s.errors, ms(s.p50), ms(s.p99), verdict(s.ok() && s.perSec >= want))
		})
	row(fmt.Sprintf("(c) resident memory holding %s sessions", count(float64(o.sessions))),
		fmt.Sprintf("< %.0f MB", float64(targetRSS)/1e6),
		func(c *column, _ bool) string {
			mem := c.memory
			return fmt.Sprintf("%.1f MB (%.1f MB before; %d of %d sampled sessions read back) %s",
				float64(mem.after)/1e6, float64(mem.before)/1e6, mem.persisted, mem.sampled,
				verdict(mem.after < targetRSS && mem.persisted == mem.sampled && mem.sampled > 0))
		})
	row("(d) login page + every asset it references",
		fmt.Sprintf("< %.0f KB compressed", float64(targetCompressedKB)/1e3),
		func(c *column, _ bool) string {
			wt := c.weight
			raw, wire, _ := wt.total()
			how := fmt.Sprintf("gzip as sent; %s raw", kb(raw))
			if !wt.serverCompresses() {
				how = fmt.Sprintf("if every file were gzipped; %s as sent", kb(wire))
			}
			return fmt.Sprintf("%s (%s; %d files) %s", kb(wt.compressed()), how, len(wt.files), verdict(wt.compressed() < targetCompressedKB))
		})
	fmt.Fprintln(w)
	for _, c := range cols {
		if c.skipped != "" {
			fmt.Fprintf(w, "%s: %s: %s\n\n", c.name, c.skipped, c.reason)
			continue
		}
		p := c.pages
		fmt.Fprintf(w, "%s: /healthz %s req/s (p50 %s, p99 %s, %d requests, server on %.1f cores, %s CPU each, load generator on %.1f cores); /accounts %s req/s (p50 %s, p99 %s, %d requests, server on %.1f cores, %s CPU each, load generator on %.1f cores). ",
			c.name, count(p.healthz.rps), ms(p.healthz.p50), ms(p.healthz.p99), p.healthz.requests, p.healthz.cores, us(p.healthz.perReq), p.healthz.ownCores,
			count(p.accounts.rps), ms(p.accounts.p50), ms(p.accounts.p99), p.accounts.requests, p.accounts.cores, us(p.accounts.perReq), p.accounts.ownCores)
		fmt.Fprintf(w, "Sign-ins: %d in %s, server on %.1f cores, %s CPU each, load generator on %.1f cores. Sessions: %d made in %s (%s/s).",
			c.signIns.count, o.duration, c.signIns.cores, us(c.signIns.perOne), c.signIns.ownCores, c.memory.sessions, c.memory.elapsed.Round(100*time.Millisecond),
			count(float64(c.memory.sessions)/c.memory.elapsed.Seconds()))
		var files []string
		for _, f := range c.weight.files {
			enc := "gzip " + kb(f.gzipped)
			if f.encoding != "" {
				enc = f.encoding + " " + kb(f.wire)
			}
			files = append(files, fmt.Sprintf("%s %s (%s)", f.path, kb(f.raw), enc))
		}
		fmt.Fprintf(w, " Login page: %s.\n\n", strings.Join(files, ", "))
	}
	fmt.Fprintf(w, "Machine: %d × %s, %s memory; %s; %s; load average %s when the run began. Each figure after a %s warm-up, measured for %s; the load generator shares the machine. 1 KB = 1,000 bytes.\n",
		m.cpus, m.model, m.memory, m.goVer, time.Now().Format("2006-01-02"), m.load, o.warmup, o.duration)
}

func verdict(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**missed**"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func us(d time.Duration) string { return count(float64(d)/float64(time.Microsecond)) + " µs" }

func kb(n int) string { return fmt.Sprintf("%.1f KB", float64(n)/1e3) }

// count formats a rate or count with thousands separators.
func count(f float64) string {
	s := strconv.FormatInt(int64(f+0.5), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
