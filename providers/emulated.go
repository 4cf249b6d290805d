package providers

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"time"

	"github.com/linkport/linkport/providers/emulator"
)

// EmulatedAt is Emulated with the emulator at any base URL, for tests that
// serve it from its own httptest server. next carries requests the
// emulator does not serve (nil: the default transport).
func EmulatedAt(ctx context.Context, db *sql.DB, portalBase, emuBase string, timeout time.Duration, now func() time.Time) (*emulator.Emulator, []*Provider, error) {
	clients := map[string]emulator.Client{}
	for _, name := range []string{"google", "facebook", "x", "kakao", "naver", "github"} {
		clients[name] = emulator.Client{
			ID:          "linkport-emulator-" + name,
			Secret:      randomSecret(),
			RedirectURI: portalBase + "/auth/" + name + "/callback",
		}
	}
	emu, err := emulator.New(ctx, emulator.Config{DB: db, BaseURL: emuBase, Clients: clients, Now: now})
	if err != nil {
		return nil, nil, err
	}
	client := NewHTTPClient(timeout, emu.Transport(nil))
	common := func(name string) Common {
		c := clients[name]
		return Common{
			Name: name, ClientID: c.ID, ClientSecret: c.Secret, CallbackURL: c.RedirectURI,
			HTTPClient: client, AllowInsecureHTTP: true,
		}
	}
	g := Google(common("google"))
	g.Issuer = emu.Issuer()
	google, err := NewOIDC(g)
	if err != nil {
		return nil, nil, err
	}
	facebook, err := NewFacebook(FacebookConfig{Common: common("facebook"), EmulatorBase: emuBase + "/facebook"})
	if err != nil {
		return nil, nil, err
	}
	x, err := NewX(XConfig{
		Common:    common("x"),
		AuthURL:   emuBase + "/x/i/oauth2/authorize",
		TokenURL:  emuBase + "/x/2/oauth2/token",
		UserURL:   emuBase + "/x/2/users/me",
		RevokeURL: emuBase + "/x/2/oauth2/revoke",
	})
	if err != nil {
		return nil, nil, err
	}
	kakao, err := NewKakao(KakaoConfig{
		Common:    common("kakao"),
		AuthURL:   emuBase + "/kakao/oauth/authorize",
		TokenURL:  emuBase + "/kakao/oauth/token",
		UserURL:   emuBase + "/kakao/v2/user/me",
		UnlinkURL: emuBase + "/kakao/v1/user/unlink",
	})
	if err != nil {
		return nil, nil, err
	}
	naver, err := NewNaver(NaverConfig{
		Common:   common("naver"),
		AuthURL:  emuBase + "/naver/oauth2.0/authorize",
		TokenURL: emuBase + "/naver/oauth2.0/token",
		UserURL:  emuBase + "/naver/v1/nid/me",
	})
	if err != nil {
		return nil, nil, err
	}
	github, err := NewGitHub(GitHubConfig{
		Common:    common("github"),
		AuthURL:   emuBase + "/github/login/oauth/authorize",
		TokenURL:  emuBase + "/github/login/oauth/access_token",
		UserURL:   emuBase + "/github/user",
		EmailsURL: emuBase + "/github/user/emails",
		RevokeURL: emuBase + "/github/applications/" + clients["github"].ID + "/grant",
	})
	if err != nil {
		return nil, nil, err
	}
	return emu, []*Provider{google, facebook, x, kakao, naver, github}, nil
}

func randomSecret() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
