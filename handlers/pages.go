package handlers

import (
	"net/http"
	"regexp"

	"github.com/gin-gonic/gin"

	"github.com/linkport/linkport/views"
	"github.com/linkport/linkport/views/locale"
)

// home answers GET /: the accounts page when signed in, else the chooser.
func (a *App) home(c *gin.Context) {
	if a.userID(c.Request.Context()) != 0 {
		c.Redirect(http.StatusSeeOther, "/accounts")
		return
	}
	a.loginPage(c)
}

// loginPage answers GET /login: one POST form per configured provider.
func (a *App) loginPage(c *gin.Context) {
	page := views.LoginPage{Next: ""}
	if next := c.Query("next"); next != "" && safeReturnPath(next) == next {
		page.Next = next
	}
	if c.Query("signed_out") == "1" {
		page.Notice = locale.T(c.Request.Context(), "login.signed_out")
	}
	for _, p := range a.providers.All() {
		page.Providers = append(page.Providers, views.ProviderButton{Name: p.Name(), Label: p.Label, Icon: a.icon(p.Name()),
			Unavailable: a.health.unavailable(p.Name())})
	}
	a.render(c, http.StatusOK, views.Login(a.layout(c, "login.title"), page))
}

// authError answers GET /auth/error?reason=...: where a failed callback
// lands, so the callback URL itself never renders a page (A-10b).
func (a *App) authError(c *gin.Context) {
	p, ok := callbackProblem(c.Query("reason"))
	if !ok {
		p = problemInvalidState
	}
	ref := c.Query("ref")
	if !requestIDPattern.MatchString(ref) {
		ref = requestID(c)
	}
	a.renderProblemRef(c, p, ref)
}

// requestIDPattern is what requestIDs makes; anything else in ?ref= is not
// shown, so the page reflects nothing a link could inject.
var requestIDPattern = regexp.MustCompile(`^[0-9a-f]{24}$`)
