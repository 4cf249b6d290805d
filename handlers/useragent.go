package handlers

import "strings"

// device names a session's device and browser for the sessions page from
// its User-Agent. Only the common browsers and systems are told apart; the
// page needs "Firefox on a Windows computer", not versions, and anything
// else is shown honestly as unknown. The order of the checks matters:
// Edge and Opera say "Chrome", Chrome says "Safari", Android says "Linux".
func device(ua string) (dev, browser string) {
	has := func(s string) bool { return strings.Contains(ua, s) }
	switch {
	case has("iPad"):
		dev = "iPad"
	case has("iPhone"):
		dev = "iPhone"
	case has("Android") && has("Mobile"):
		dev = "Android phone"
	case has("Android"):
		dev = "Android tablet"
	case has("CrOS"):
		dev = "Chromebook"
	case has("Windows"):
		dev = "Windows computer"
	case has("Macintosh") || has("Mac OS X"):
		dev = "Mac"
	case has("Linux") || has("X11"):
		dev = "Linux computer"
	default:
		dev = "unknown device"
	}
	switch {
	case has("Edg/") || has("EdgA/") || has("EdgiOS/"):
		browser = "Edge"
	case has("OPR/") || has("Opera"):
		browser = "Opera"
	case has("SamsungBrowser/"):
		browser = "Samsung Internet"
	case has("Firefox/") || has("FxiOS/"):
		browser = "Firefox"
	case has("HeadlessChrome/"):
		browser = "Headless Chrome"
	case has("Chrome/") || has("CriOS/") || has("Chromium/"):
		browser = "Chrome"
	case has("Safari/") && has("Version/"):
		browser = "Safari"
	case has("Go-http-client/"):
		browser = "Go program"
	case has("curl/"):
		browser = "curl"
	default:
		browser = "Unknown browser"
	}
	return dev, browser
}
