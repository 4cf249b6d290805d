package handlers

import "strings"

// device finds a session's device and browser from its User-Agent, as
// the catalog keys of their names ("device.windows", "browser.firefox";
// see deviceWords). Only the common browsers and systems are told apart;
// the page needs "Firefox on a Windows computer", not versions, and
// anything else is shown honestly as unknown. The order of the checks
// matters: Edge and Opera say "Chrome", Chrome says "Safari", Android
// says "Linux".
func device(ua string) (dev, browser string) {
	has := func(s string) bool { return strings.Contains(ua, s) }
	switch {
	case has("iPad"):
		dev = "device.ipad"
	case has("iPhone"):
		dev = "device.iphone"
	case has("Android") && has("Mobile"):
		dev = "device.android_phone"
	case has("Android"):
		dev = "device.android_tablet"
	case has("CrOS"):
		dev = "device.chromebook"
	case has("Windows"):
		dev = "device.windows"
	case has("Macintosh") || has("Mac OS X"):
		dev = "device.mac"
	case has("Linux") || has("X11"):
		dev = "device.linux"
	default:
		dev = "device.unknown"
	}
	switch {
	case has("Edg/") || has("EdgA/") || has("EdgiOS/"):
		browser = "browser.edge"
	case has("OPR/") || has("Opera"):
		browser = "browser.opera"
	case has("SamsungBrowser/"):
		browser = "browser.samsung"
	case has("Firefox/") || has("FxiOS/"):
		browser = "browser.firefox"
	case has("HeadlessChrome/"):
		browser = "browser.headless_chrome"
	case has("Chrome/") || has("CriOS/") || has("Chromium/"):
		browser = "browser.chrome"
	case has("Safari/") && has("Version/"):
		browser = "browser.safari"
	case has("Go-http-client/"):
		browser = "browser.go"
	case has("curl/"):
		browser = "browser.curl"
	default:
		browser = "browser.unknown"
	}
	return dev, browser
}
