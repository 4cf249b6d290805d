package main

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
)

func randomKey(t *testing.T) string {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(k)
}

// LINKPORT_TOKEN_KEY and LINKPORT_TOKEN_OLD_KEYS: no key stores no tokens;
// a bad key stops start-up naming the setting, never quoting the value.
func TestTokenKeySettings(t *testing.T) {
	cur, old := randomKey(t), randomKey(t)
	cfg, err := loadConfig(nil, "")
	if err != nil || cfg.tokenKeys != nil {
		t.Fatalf("no key: keys %v, err %v; want none", cfg.tokenKeys != nil, err)
	}
	cfg, err = loadConfig([]string{"LINKPORT_TOKEN_KEY=" + cur, "LINKPORT_TOKEN_OLD_KEYS=" + old}, "")
	if err != nil || cfg.tokenKeys == nil {
		t.Fatalf("good keys: %v", err)
	}
	short := base64.StdEncoding.EncodeToString([]byte("sixteen byte key"))
	for _, tc := range []struct {
		env     []string
		setting string
		secret  string
	}{
		{[]string{"LINKPORT_TOKEN_KEY=" + short}, "LINKPORT_TOKEN_KEY", short},
		{[]string{"LINKPORT_TOKEN_KEY=not-base64!!"}, "LINKPORT_TOKEN_KEY", "not-base64!!"},
		{[]string{"LINKPORT_TOKEN_OLD_KEYS=" + old}, "LINKPORT_TOKEN_OLD_KEYS", old},
		{[]string{"LINKPORT_TOKEN_KEY=" + cur, "LINKPORT_TOKEN_OLD_KEYS=" + short}, "LINKPORT_TOKEN_OLD_KEYS", short},
		{[]string{"LINKPORT_TOKEN_KEY=" + cur, "LINKPORT_TOKEN_OLD_KEYS=" + cur}, "LINKPORT_TOKEN_OLD_KEYS", cur},
	} {
		_, err := loadConfig(tc.env, "")
		if err == nil || !strings.HasPrefix(err.Error(), tc.setting+":") || strings.Contains(err.Error(), tc.secret) {
			t.Errorf("%v: err %v; want a %s error without the value", tc.env, err, tc.setting)
		}
	}
}
