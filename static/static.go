// Package static embeds Linkport's assets: htmx (vendored from the htmx.org
// npm package, see VERSIONS), the stylesheet and provider icons.
package static

import "embed"

// FS holds every asset served under /static/.
//
//go:embed *.css *.js *.svg
var FS embed.FS
