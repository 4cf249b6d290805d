// prefs.js tells Linkport the browser's time zone, so that pages show
// times on the person's own clock. It sets the tz cookie from
// Intl.DateTimeFormat().resolvedOptions().timeZone when the cookie is
// absent or different, and fills the time zone field of the language
// switcher. No page depends on it: without it, times are shown in UTC and
// say so. Served from 'self' under the CSP; no inline script, no eval.
(function () {
  "use strict";
  var tz;
  try {
    tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (e) {
    return;
  }
  // The same shape the server accepts; it checks the name again.
  if (typeof tz !== "string" || tz.length > 64 ||
      !/^[A-Za-z][A-Za-z0-9_+\-]*(\/[A-Za-z0-9_+\-]+){0,2}$/.test(tz)) {
    return;
  }
  var current = null;
  document.cookie.split("; ").forEach(function (c) {
    if (c.indexOf("tz=") === 0) {
      try {
        current = decodeURIComponent(c.slice(3));
      } catch (e) {
        current = null;
      }
    }
  });
  if (current !== tz) {
    document.cookie = "tz=" + tz + "; Path=/; Max-Age=31536000; SameSite=Lax" +
      (location.protocol === "https:" ? "; Secure" : "");
  }
  document.querySelectorAll('form.prefs input[name="tz"]').forEach(function (input) {
    input.value = tz;
  });
})();
