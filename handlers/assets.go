package handlers

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
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
	gz    []byte // body gzipped once at start; nil when that saves nothing
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
		gz, err := gzipped(body)
		if err != nil {
			return err
		}
		as.files[hashed] = asset{body: body, gz: gz, ctype: mime.TypeByExtension(ext)}
		return nil
	})
	return as, err
}

// gzipped is body compressed at the best level, or nil when that is not
// smaller (tiny or already compressed files).
func gzipped(body []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(body); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if buf.Len() >= len(body) {
		return nil, nil
	}
	return buf.Bytes(), nil
}

// serveAsset answers GET /static/{file}.
func (a *App) serveAsset(c *gin.Context) {
	f, ok := a.assets.files[strings.TrimPrefix(c.Param("file"), "/")]
	if !ok {
		a.notFound(c)
		return
	}
	c.Header("Cache-Control", "public, max-age=31536000, immutable")
	// Static files hold no secret and reflect nothing from the request, so
	// compressing them leaks nothing (BREACH needs both; see render).
	body := f.body
	if f.gz != nil {
		c.Header("Vary", "Accept-Encoding")
		if acceptsGzip(c.Request.Header.Values("Accept-Encoding")) {
			c.Header("Content-Encoding", "gzip")
			body = f.gz
		}
	}
	c.Header("Content-Length", strconv.Itoa(len(body)))
	c.Data(http.StatusOK, f.ctype, body)
}

// acceptsGzip reports whether Accept-Encoding header values allow gzip
// (RFC 9110 §12.5.3): "gzip" or "x-gzip" with a q-value above zero, or
// "*" when gzip is not listed.
func acceptsGzip(values []string) bool {
	star := false
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			if coding != "gzip" && coding != "x-gzip" && coding != "*" {
				continue
			}
			ok := qAboveZero(params)
			if coding == "*" {
				star = ok
				continue
			}
			return ok
		}
	}
	return star
}

// qAboveZero reports whether the parameters of one Accept-Encoding entry
// leave its weight above zero (no q means q=1).
func qAboveZero(params string) bool {
	for p := range strings.SplitSeq(params, ";") {
		k, v, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(k), "q") {
			q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return err == nil && q > 0
		}
	}
	return true
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
