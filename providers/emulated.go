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
	for _, name := range []string{"google", "facebook", "x"} {
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
	return emu, []*Provider{google, facebook, x}, nil
}

func randomSecret() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
