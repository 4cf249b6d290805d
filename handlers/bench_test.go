package handlers_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/linkport/linkport/providers/emulator"
)

// The benchmarks measure the signed-in "Connected accounts" page and a
// whole sign-in against /healthz on the same server in the same run: read
// them as ratios, the machine is noisy. `make bench-go` runs them (`make bench` runs cmd/linkport-bench).

func benchGet(b *testing.B, c *http.Client, url string) {
	b.Helper()
	b.ReportAllocs()
	for b.Loop() {
		res, err := c.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %d", url, res.StatusCode)
		}
	}
}

func BenchmarkHealthz(b *testing.B) {
	p := newPortal(b)
	benchGet(b, p.browser().client, p.srv.URL+"/healthz")
}

func BenchmarkAccountsPage(b *testing.B) {
	p := newPortal(b)
	br := p.browser()
	br.mustSignIn("google", emulator.Person{Sub: "300000000000000000001", Name: "Bench", Email: "bench@example.com", EmailVerified: true})
	benchGet(b, br.client, p.srv.URL+"/accounts")
}

// BenchmarkSignIn is one complete sign-in through the emulator: begin,
// consent, callback (token, ID token check, userinfo), write, session.
func BenchmarkSignIn(b *testing.B) {
	p := newPortal(b)
	br := p.browser()
	ada := emulator.Person{Sub: "300000000000000000002", Name: "Ada", Email: "ada@example.com", EmailVerified: true}
	br.mustSignIn("google", ada)
	b.ReportAllocs()
	for b.Loop() {
		res := br.signIn("google", ada)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/accounts" {
			b.Fatalf("sign-in: %d %s", res.StatusCode, res.Header.Get("Location"))
		}
	}
}
