// Package e2e holds Linkport's browser tests. They build and start the real
// linkport binary with the provider emulator on, and drive Debian's Chromium
// through the pages a person uses (DESIGN.md, SECURITY.md H7).
//
// Run them with
//
//	go test -count=1 -v ./e2e/
//
// They need Chromium (apt-get install -y chromium); without it they skip,
// unless CI=true, where they fail. LINKPORT_CHROMIUM names another browser
// binary, and LINKPORT_E2E_ARTIFACTS a folder for the screenshots.
package e2e
