package main

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/linkport/linkport/providers"
)

// namesOf lists the providers of a registry in button order.
func namesOf(reg *providers.Registry) []string {
	var out []string
	for _, p := range reg.All() {
		out = append(out, p.Name())
	}
	return out
}

// With the emulator on, every built-in provider is offered, the emulated
// one, without credentials.
func TestEmulatorOffersEveryProvider(t *testing.T) {
	cfg, err := loadConfig([]string{
		"LINKPORT_EMULATOR=on",
		"LINKPORT_DATABASE_URL=" + filepath.Join(t.TempDir(), "linkport.db"),
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := openDatabase(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	reg, emu, err := buildProviders(ctx, cfg, db.DB())
	if err != nil || emu == nil {
		t.Fatalf("buildProviders: %v (emulator %v)", err, emu != nil)
	}
	if diff := cmp.Diff([]string{"google", "facebook", "x", "kakao", "naver", "github"}, namesOf(reg)); diff != "" {
		t.Errorf("providers (-want +got):\n%s", diff)
	}
}

// Real Kakao, Naver and GitHub credentials make those providers, talking
// to the real endpoints; a provider without credentials is not offered.
func TestRealKakaoNaverGitHub(t *testing.T) {
	cfg, err := loadConfig([]string{
		"LINKPORT_BASE_URL=https://login.example.com",
		"LINKPORT_KAKAO_CLIENT_ID=kakao-rest-key", "LINKPORT_KAKAO_CLIENT_SECRET=kakao-secret",
		"LINKPORT_NAVER_CLIENT_ID=naver-id", "LINKPORT_NAVER_CLIENT_SECRET=naver-secret",
		"LINKPORT_GITHUB_CLIENT_ID=Iv1.github", "LINKPORT_GITHUB_CLIENT_SECRET=github-secret",
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	reg, emu, err := buildProviders(context.Background(), cfg, nil)
	if err != nil || emu != nil {
		t.Fatalf("buildProviders: %v (emulator %v)", err, emu != nil)
	}
	if diff := cmp.Diff([]string{"kakao", "naver", "github"}, namesOf(reg)); diff != "" {
		t.Errorf("providers (-want +got):\n%s", diff)
	}
	want := []string{"https://github.com", "https://kauth.kakao.com", "https://nid.naver.com"}
	if diff := cmp.Diff(want, reg.FormActionOrigins()); diff != "" {
		t.Errorf("form-action origins (-want +got):\n%s", diff)
	}
	p, _ := reg.Get("github")
	sess, err := p.BeginAuth("state")
	if err != nil {
		t.Fatal(err)
	}
	authURL, _ := sess.GetAuthURL()
	if want := "https://login.example.com/auth/github/callback"; !strings.Contains(authURL, "redirect_uri="+url.QueryEscape(want)) {
		t.Errorf("authorize URL %s: want redirect_uri %s", authURL, want)
	}
}
