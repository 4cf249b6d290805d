package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"time"
)

// weight is figure (d).
type weight struct {
	files []file
}

// file is one resource of the login page.
type file struct {
	path     string
	raw      int    // body bytes, uncompressed
	wire     int    // body bytes as sent to a client that accepts gzip
	encoding string // Content-Encoding the server chose, "" none
	gzipped  int    // what gzip (default level) makes of raw
}

func (w weight) total() (raw, wire, gzipped int) {
	for _, f := range w.files {
		raw += f.raw
		wire += f.wire
		gzipped += f.gzipped
	}
	return
}

// compressed is the page's weight for a client that accepts gzip: what
// the server sends when it compresses, else what gzip would make of it.
func (w weight) compressed() int {
	n := 0
	for _, f := range w.files {
		if f.encoding != "" {
			n += f.wire
		} else {
			n += f.gzipped
		}
	}
	return n
}

func (w weight) serverCompresses() bool {
	for _, f := range w.files {
		if f.encoding == "" {
			return false
		}
	}
	return len(w.files) > 0
}

var assetRef = regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`)

// measureWeight loads /login as a first-time visitor whose browser accepts
// gzip, then every /static asset the page references, once each.
func measureWeight(ctx context.Context, base string) (weight, error) {
	client := &http.Client{Transport: newTransport(1), Timeout: 30 * time.Second}
	var w weight
	fetch := func(path string) (string, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		res, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer res.Body.Close()
		wire, err := io.ReadAll(res.Body)
		if err != nil {
			return "", err
		}
		if res.StatusCode != http.StatusOK {
			return "", fmt.Errorf("GET %s: %d", path, res.StatusCode)
		}
		f := file{path: path, wire: len(wire), encoding: res.Header.Get("Content-Encoding")}
		raw := wire
		switch f.encoding {
		case "":
		case "gzip":
			zr, err := gzip.NewReader(bytes.NewReader(wire))
			if err != nil {
				return "", fmt.Errorf("GET %s: %w", path, err)
			}
			if raw, err = io.ReadAll(zr); err != nil {
				return "", fmt.Errorf("GET %s: %w", path, err)
			}
		default:
			return "", fmt.Errorf("GET %s: unexpected Content-Encoding %q", path, f.encoding)
		}
		f.raw = len(raw)
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		_, _ = zw.Write(raw)
		_ = zw.Close()
		f.gzipped = gz.Len()
		w.files = append(w.files, f)
		return string(raw), nil
	}
	login, err := fetch("/login")
	if err != nil {
		return w, err
	}
	seen := map[string]bool{}
	for _, m := range assetRef.FindAllStringSubmatch(login, -1) {
		if seen[m[1]] {
			continue
		}
		seen[m[1]] = true
		if _, err := fetch(m[1]); err != nil {
			return w, err
		}
	}
	if len(w.files) < 2 {
		return w, errors.New("the login page references no /static asset")
	}
	return w, nil
}
