package main

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/linkport/linkport/providers"
	"github.com/linkport/linkport/providers/emulator"
)

// buildProviders makes the registry from the configuration. With the
// emulator on, Google, Facebook, X, Kakao, Naver and GitHub are the local
// emulator's; real credentials for them are ignored. Generic OpenID
// Connect providers come after them, in the order configured.
func buildProviders(ctx context.Context, cfg config, db *sql.DB) (*providers.Registry, *emulator.Emulator, error) {
	base := cfg.baseURL.String()
	var list []*providers.Provider
	var emu *emulator.Emulator
	if cfg.Emulator == "on" {
		var err error
		emu, list, err = providers.EmulatedAt(ctx, db, base, cfg.emulatorURL, cfg.ProviderTimeout, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("start the provider emulator: %w", err)
		}
	} else {
		client := providers.NewHTTPClient(cfg.ProviderTimeout, nil)
		common := func(name, id, secret string) providers.Common {
			return providers.Common{Name: name, ClientID: id, ClientSecret: secret, CallbackURL: base + "/auth/" + name + "/callback", HTTPClient: client}
		}
		if cfg.GoogleClientID != "" {
			p, err := providers.NewOIDC(providers.Google(common("google", cfg.GoogleClientID, cfg.GoogleClientSecret)))
			if err != nil {
				return nil, nil, badSetting("LINKPORT_GOOGLE_CLIENT_ID", "%v", err)
			}
			list = append(list, p)
		}
		if cfg.FacebookClientID != "" {
			p, err := providers.NewFacebook(providers.FacebookConfig{Common: common("facebook", cfg.FacebookClientID, cfg.FacebookClientSecret)})
			if err != nil {
				return nil, nil, badSetting("LINKPORT_FACEBOOK_CLIENT_ID", "%v", err)
			}
			list = append(list, p)
		}
		if cfg.XClientID != "" {
			p, err := providers.NewX(providers.XConfig{Common: common("x", cfg.XClientID, cfg.XClientSecret)})
			if err != nil {
				return nil, nil, badSetting("LINKPORT_X_CLIENT_ID", "%v", err)
			}
			list = append(list, p)
		}
		if cfg.KakaoClientID != "" {
			p, err := providers.NewKakao(providers.KakaoConfig{Common: common("kakao", cfg.KakaoClientID, cfg.KakaoClientSecret)})
			if err != nil {
				return nil, nil, badSetting("LINKPORT_KAKAO_CLIENT_ID", "%v", err)
			}
			list = append(list, p)
		}
		if cfg.NaverClientID != "" {
			p, err := providers.NewNaver(providers.NaverConfig{Common: common("naver", cfg.NaverClientID, cfg.NaverClientSecret)})
			if err != nil {
				return nil, nil, badSetting("LINKPORT_NAVER_CLIENT_ID", "%v", err)
			}
			list = append(list, p)
		}
		if cfg.GitHubClientID != "" {
			p, err := providers.NewGitHub(providers.GitHubConfig{Common: common("github", cfg.GitHubClientID, cfg.GitHubClientSecret)})
			if err != nil {
				return nil, nil, badSetting("LINKPORT_GITHUB_CLIENT_ID", "%v", err)
			}
			list = append(list, p)
		}
	}
	for _, s := range cfg.oidc {
		p, err := providers.NewOIDC(providers.OIDCConfig{
			Common: providers.Common{
				Name: s.Name, Label: s.Label, ClientID: s.ClientID, ClientSecret: s.ClientSecret,
				CallbackURL:       base + "/auth/" + s.Name + "/callback",
				HTTPClient:        providers.NewHTTPClient(cfg.ProviderTimeout, nil),
				AllowInsecureHTTP: cfg.Emulator == "on",
			},
			Issuer:             s.Issuer,
			TrustEmailVerified: s.TrustEmail,
		})
		if err != nil {
			return nil, nil, badSetting("LINKPORT_OIDC_PROVIDERS", "%s: %v", s.Name, err)
		}
		list = append(list, p)
	}
	reg, err := providers.NewRegistry(list...)
	if err != nil {
		return nil, nil, err
	}
	return reg, emu, nil
}
