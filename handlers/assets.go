package handlers

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/linkport/linkport/static"
)

// assets serves the embedded files under content-hashed names, so they can
// be cached for a year and still change with every release.
type assets struct {
	urls  map[string]string // logical name → /static/name.hash.ext
	files map[string]asset  // hashed file name → content
}

type asset struct {
	body  []byte
	ctype string
}

func loadAssets() (*assets, error) {
	as := &assets{urls: map[string]string{}, files: map[string]asset{}}
	err := fs.WalkDir(static.FS, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(static.FS, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ext := path.Ext(name)
		hashed := strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:6]) + ext
		as.urls[name] = "/static/" + hashed
		as.files[hashed] = asset{body: body, ctype: mime.TypeByExtension(ext)}
		return nil
	})
	return as, err
}

// serveAsset answers GET /static/{file}.
func (a *App) serveAsset(c *gin.Context) {
	f, ok := a.assets.files[strings.TrimPrefix(c.Param("file"), "/")]
	if !ok {
		a.notFound(c)
		return
	}
	c.Header("Cache-Control", "public, max-age=31536000, immutable")
	c.Data(http.StatusOK, f.ctype, f.body)
}

// icon returns the hashed URL of a provider's icon.
func (a *App) icon(provider string) string {
	if u, ok := a.assets.urls[provider+".svg"]; ok {
		return u
	}
	return a.assets.urls["oidc.svg"]
}

// favicon answers GET /favicon.ico, which browsers ask for on pages that
// name no icon (the emulator's).
func (a *App) favicon(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=86400")
	c.Data(http.StatusOK, "image/svg+xml", a.assets.files[strings.TrimPrefix(a.assets.urls["favicon.svg"], "/static/")].body)
}
