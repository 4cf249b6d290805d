package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/joho/godotenv"

	"github.com/linkport/linkport/seal"
)

// config is every setting; .env.example documents each one.
type config struct {
	Addr            string        `env:"LINKPORT_ADDR" envDefault:"127.0.0.1:8080"`
	BaseURL         string        `env:"LINKPORT_BASE_URL" envDefault:"http://localhost:8080"`
	DatabaseURL     string        `env:"LINKPORT_DATABASE_URL" envDefault:"./data/linkport.db"`
	SessionStore    string        `env:"LINKPORT_SESSION_STORE" envDefault:"database"`
	RedisPrefix     string        `env:"LINKPORT_REDIS_PREFIX" envDefault:"linkport:session:"`
	TokenKey        string        `env:"LINKPORT_TOKEN_KEY"`
	TokenOldKeys    []string      `env:"LINKPORT_TOKEN_OLD_KEYS" envSeparator:","`
	Emulator        string        `env:"LINKPORT_EMULATOR" envDefault:"off"`
	EmulatorURL     string        `env:"LINKPORT_EMULATOR_URL"`
	SessionIdle     time.Duration `env:"LINKPORT_SESSION_IDLE_TIMEOUT" envDefault:"2h"`
	SessionLifetime time.Duration `env:"LINKPORT_SESSION_LIFETIME" envDefault:"24h"`
	ProviderTimeout time.Duration `env:"LINKPORT_PROVIDER_TIMEOUT" envDefault:"10s"`
	StepUpAge       time.Duration `env:"LINKPORT_STEP_UP_AGE" envDefault:"15m"`
	DeletionGrace   time.Duration `env:"LINKPORT_DELETION_GRACE" envDefault:"168h"`
	TrustedProxies  []string      `env:"LINKPORT_TRUSTED_PROXIES" envSeparator:","`
	LogLevel        string        `env:"LINKPORT_LOG_LEVEL" envDefault:"info"`
	LogFormat       string        `env:"LINKPORT_LOG_FORMAT" envDefault:"text"`

	GoogleClientID       string   `env:"LINKPORT_GOOGLE_CLIENT_ID"`
	GoogleClientSecret   string   `env:"LINKPORT_GOOGLE_CLIENT_SECRET"`
	FacebookClientID     string   `env:"LINKPORT_FACEBOOK_CLIENT_ID"`
	FacebookClientSecret string   `env:"LINKPORT_FACEBOOK_CLIENT_SECRET"`
	XClientID            string   `env:"LINKPORT_X_CLIENT_ID"`
	XClientSecret        string   `env:"LINKPORT_X_CLIENT_SECRET"`
	KakaoClientID        string   `env:"LINKPORT_KAKAO_CLIENT_ID"`
	KakaoClientSecret    string   `env:"LINKPORT_KAKAO_CLIENT_SECRET"`
	NaverClientID        string   `env:"LINKPORT_NAVER_CLIENT_ID"`
	NaverClientSecret    string   `env:"LINKPORT_NAVER_CLIENT_SECRET"`
	GitHubClientID       string   `env:"LINKPORT_GITHUB_CLIENT_ID"`
	GitHubClientSecret   string   `env:"LINKPORT_GITHUB_CLIENT_SECRET"`
	OIDCProviders        []string `env:"LINKPORT_OIDC_PROVIDERS" envSeparator:","`

	baseURL     *url.URL
	emulatorURL string
	tokenKeys   *seal.Keyring // nil: provider tokens are not stored
	redisURL    string        // LINKPORT_SESSION_STORE when it names Redis, else ""
	oidc        []oidcSetting
}

// oidcSetting is one generic OpenID Connect provider, configured by
// LINKPORT_OIDC_<NAME>_{LABEL,ISSUER,CLIENT_ID,CLIENT_SECRET,TRUST_EMAIL}.
type oidcSetting struct {
	Name, Label, Issuer, ClientID, ClientSecret string
	TrustEmail                                  bool
}

// configError is a bad or missing setting: main prints it on one line and
// exits with status 2.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

func badSetting(name, format string, args ...any) error {
	return &configError{msg: name + ": " + fmt.Sprintf(format, args...)}
}

var providerName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// loadConfig reads the environment, then fills what it lacks from the
// .env file if there is one; the real environment wins.
func loadConfig(environ []string, envFile string) (config, error) {
	vars := map[string]string{}
	if envFile != "" {
		fromFile, err := godotenv.Read(envFile)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return config{}, &configError{msg: envFile + ": " + err.Error()}
		}
		for k, v := range fromFile {
			vars[k] = v
		}
	}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	var cfg config
	if err := env.ParseWithOptions(&cfg, env.Options{Environment: vars}); err != nil {
		return config{}, parseError(err)
	}
	return cfg, cfg.validate(vars)
}

// parseError turns the env library's error into one line that names the
// variable, not the Go field.
func parseError(err error) error {
	var agg env.AggregateError
	if errors.As(err, &agg) && len(agg.Errors) > 0 {
		err = agg.Errors[0]
	}
	var pe env.ParseError
	if errors.As(err, &pe) {
		if f, ok := reflect.TypeFor[config]().FieldByName(pe.Name); ok {
			return badSetting(f.Tag.Get("env"), "cannot read it as %s: %v", pe.Type, pe.Err)
		}
	}
	return &configError{msg: err.Error()}
}

func (c *config) validate(vars map[string]string) error {
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return badSetting("LINKPORT_BASE_URL", "must be an absolute http(s) URL with no path, e.g. https://login.example.com (got %q)", c.BaseURL)
	}
	u.Path = ""
	c.baseURL = u
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return badSetting("LINKPORT_BASE_URL", "must be https unless the host is loopback (got %q)", c.BaseURL)
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return badSetting("LINKPORT_ADDR", "must be host:port, e.g. 127.0.0.1:8080 (got %q)", c.Addr)
	}
	switch c.Emulator {
	case "on", "off":
	default:
		return badSetting("LINKPORT_EMULATOR", "must be on or off (got %q)", c.Emulator)
	}
	if c.Emulator == "on" && !isLoopback(u.Hostname()) {
		return badSetting("LINKPORT_EMULATOR", "the provider emulator signs anyone in as anyone, so it only runs when LINKPORT_BASE_URL is on loopback (localhost, 127.0.0.1, ::1); got %q", c.BaseURL)
	}
	c.emulatorURL = u.String() + "/_emulator"
	if c.EmulatorURL != "" {
		eu, err := url.Parse(c.EmulatorURL)
		if err != nil || eu.Scheme != u.Scheme || !isLoopback(eu.Hostname()) || eu.Port() != u.Port() || eu.Path != "/_emulator" || eu.RawQuery != "" {
			return badSetting("LINKPORT_EMULATOR_URL", "must be this server under another loopback name, with path /_emulator, e.g. http://127.0.0.1:8080/_emulator (got %q)", c.EmulatorURL)
		}
		c.emulatorURL = eu.String()
	}
	if isPostgresURL(c.DatabaseURL) {
		// pgx's error shows the URL with its password masked.
		if _, err := pgxpool.ParseConfig(c.DatabaseURL); err != nil {
			return badSetting("LINKPORT_DATABASE_URL", "not a PostgreSQL URL pgx accepts, e.g. postgres://linkport:PASSWORD@db.internal:5432/linkport: %v", err)
		}
	} else if c.DatabaseURL == "" {
		return badSetting("LINKPORT_DATABASE_URL", "must be a SQLite file path or a postgres:// URL")
	}
	switch {
	case c.SessionStore == "database":
	case strings.HasPrefix(c.SessionStore, "redis://"), strings.HasPrefix(c.SessionStore, "rediss://"):
		if err := checkRedisURL(c.SessionStore); err != nil {
			return err
		}
		c.redisURL = c.SessionStore
	default:
		return badSetting("LINKPORT_SESSION_STORE", "must be \"database\" or a Redis URL, redis://[:PASSWORD@]host:port[/db] (rediss:// for TLS)")
	}
	if c.RedisPrefix == "" || len(c.RedisPrefix) > 64 || strings.ContainsFunc(c.RedisPrefix, func(r rune) bool { return r <= ' ' || r > '~' || r == '*' || r == '?' || r == '[' }) {
		return badSetting("LINKPORT_REDIS_PREFIX", "must be 1 to 64 printable ASCII characters without spaces or *?[ (got %q)", c.RedisPrefix)
	}
	if c.SessionIdle <= 0 || c.SessionLifetime <= 0 || c.SessionIdle > c.SessionLifetime {
		return badSetting("LINKPORT_SESSION_IDLE_TIMEOUT", "must be positive and not longer than LINKPORT_SESSION_LIFETIME")
	}
	if c.ProviderTimeout <= 0 || c.ProviderTimeout > time.Minute {
		return badSetting("LINKPORT_PROVIDER_TIMEOUT", "must be between 0 and 1m (got %s)", c.ProviderTimeout)
	}
	if c.StepUpAge < time.Second || c.StepUpAge > 24*time.Hour {
		return badSetting("LINKPORT_STEP_UP_AGE", "must be between 1s and 24h (got %s)", c.StepUpAge)
	}
	if c.DeletionGrace < time.Hour || c.DeletionGrace > 365*24*time.Hour {
		return badSetting("LINKPORT_DELETION_GRACE", "must be between 1h and 8760h (a year) (got %s)", c.DeletionGrace)
	}
	if err := c.loadTokenKeys(); err != nil {
		return err
	}
	for _, p := range c.TrustedProxies {
		if _, _, err := net.ParseCIDR(p); err != nil && net.ParseIP(p) == nil {
			return badSetting("LINKPORT_TRUSTED_PROXIES", "%q is not an IP address or CIDR", p)
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return badSetting("LINKPORT_LOG_LEVEL", "must be debug, info, warn or error (got %q)", c.LogLevel)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return badSetting("LINKPORT_LOG_FORMAT", "must be text or json (got %q)", c.LogFormat)
	}
	for _, pair := range [][3]string{
		{"GOOGLE", c.GoogleClientID, c.GoogleClientSecret},
		{"FACEBOOK", c.FacebookClientID, c.FacebookClientSecret},
		{"X", c.XClientID, c.XClientSecret},
		{"KAKAO", c.KakaoClientID, c.KakaoClientSecret},
		{"NAVER", c.NaverClientID, c.NaverClientSecret},
		{"GITHUB", c.GitHubClientID, c.GitHubClientSecret},
	} {
		if (pair[1] == "") != (pair[2] == "") {
			return badSetting("LINKPORT_"+pair[0]+"_CLIENT_SECRET", "set both LINKPORT_%[1]s_CLIENT_ID and LINKPORT_%[1]s_CLIENT_SECRET, or neither", pair[0])
		}
	}
	seen := map[string]bool{"google": true, "facebook": true, "x": true, "kakao": true, "naver": true, "github": true,
		"confirm": true, "switch": true, "conflict": true, "error": true}
	for _, name := range c.OIDCProviders {
		name = strings.TrimSpace(name)
		if !providerName.MatchString(name) || seen[name] {
			return badSetting("LINKPORT_OIDC_PROVIDERS", "%q must be a new lower-case name (letters, digits, -), not a built-in provider (google, facebook, x, kakao, naver, github) or a word the portal uses in its URLs (confirm, switch, conflict, error)", name)
		}
		seen[name] = true
		prefix := "LINKPORT_OIDC_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")) + "_"
		s := oidcSetting{
			Name:         name,
			Label:        vars[prefix+"LABEL"],
			Issuer:       vars[prefix+"ISSUER"],
			ClientID:     vars[prefix+"CLIENT_ID"],
			ClientSecret: vars[prefix+"CLIENT_SECRET"],
			TrustEmail:   vars[prefix+"TRUST_EMAIL"] == "true",
		}
		if s.Label == "" {
			s.Label = name
		}
		for key, v := range map[string]string{"ISSUER": s.Issuer, "CLIENT_ID": s.ClientID, "CLIENT_SECRET": s.ClientSecret} {
			if v == "" {
				return badSetting(prefix+key, "is required for OpenID Connect provider %q", name)
			}
		}
		iu, err := url.Parse(s.Issuer)
		if err != nil || iu.Host == "" || (iu.Scheme != "https" && !(iu.Scheme == "http" && isLoopback(iu.Hostname()))) {
			return badSetting(prefix+"ISSUER", "must be an https URL (got %q)", s.Issuer)
		}
		if v := vars[prefix+"TRUST_EMAIL"]; v != "" && v != "true" && v != "false" {
			return badSetting(prefix+"TRUST_EMAIL", "must be true or false (got %q)", v)
		}
		c.oidc = append(c.oidc, s)
	}
	return nil
}

// loadTokenKeys builds the keyring that seals stored provider tokens from
// LINKPORT_TOKEN_KEY and LINKPORT_TOKEN_OLD_KEYS. Without a key, tokens are
// not stored; old keys without a current key are refused, since nothing
// could be written. Errors never quote a key.
func (c *config) loadTokenKeys() error {
	if strings.TrimSpace(c.TokenKey) == "" {
		if len(c.TokenOldKeys) > 0 {
			return badSetting("LINKPORT_TOKEN_OLD_KEYS", "needs LINKPORT_TOKEN_KEY: old keys only decrypt, the current key encrypts")
		}
		return nil
	}
	current, err := seal.ParseKey(c.TokenKey)
	if err != nil {
		return badSetting("LINKPORT_TOKEN_KEY", "%v; make one with: openssl rand -base64 32", err)
	}
	var old [][]byte
	for i, s := range c.TokenOldKeys {
		if strings.TrimSpace(s) == "" {
			continue
		}
		k, err := seal.ParseKey(s)
		if err != nil {
			return badSetting("LINKPORT_TOKEN_OLD_KEYS", "key %d %v", i+1, err)
		}
		old = append(old, k)
	}
	if c.tokenKeys, err = seal.NewKeyring(current, old...); err != nil {
		return badSetting("LINKPORT_TOKEN_OLD_KEYS", "%v", err)
	}
	return nil
}

// checkRedisURL validates a Redis URL for LINKPORT_SESSION_STORE. Its
// errors never quote the URL, which may carry a password.
func checkRedisURL(raw string) error {
	const example = "e.g. redis://:PASSWORD@redis.internal:6379/0 (rediss:// for TLS)"
	u, err := url.Parse(raw)
	if err != nil {
		return badSetting("LINKPORT_SESSION_STORE", "not a Redis URL, %s", example)
	}
	if u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return badSetting("LINKPORT_SESSION_STORE", "the Redis URL needs a host, %s", example)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return badSetting("LINKPORT_SESSION_STORE", "the Redis URL's port must be 1 to 65535, %s", example)
		}
	}
	if u.Path != "" && u.Path != "/" {
		if n, err := strconv.Atoi(strings.TrimPrefix(u.Path, "/")); err != nil || n < 0 || strings.HasPrefix(u.Path, "/+") {
			return badSetting("LINKPORT_SESSION_STORE", "the Redis URL's path must be a database number such as /0, %s", example)
		}
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return badSetting("LINKPORT_SESSION_STORE", "the Redis URL takes no ?query or #fragment, %s", example)
	}
	return nil
}

// isLoopback reports whether a host name is this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
