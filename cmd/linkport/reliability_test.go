package main

import (
	"errors"
	"strings"
	"testing"
)

// E-11b: a session store that lives in the process (scs memstore) would
// lose every sign-in in flight, and every session, on a restart, and
// cannot be shared by several instances. Linkport has no such option:
// LINKPORT_SESSION_STORE is "database" or a Redis URL, and anything else —
// memstore included — stops the start-up with a configuration error
// (exit status 2, TestBadSettingExitsWithStatus2).
func TestE11b_InProcessSessionStoreRefused(t *testing.T) {
	for _, v := range []string{"memstore", "memory", "mem", "inmemory", "cookie", "redis", "file:///tmp/sessions"} {
		_, err := loadConfig([]string{"LINKPORT_SESSION_STORE=" + v}, "")
		var ce *configError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "LINKPORT_SESSION_STORE") {
			t.Errorf("LINKPORT_SESSION_STORE=%s: error %v, want a configuration error naming the setting", v, err)
		}
	}
	if _, err := loadConfig([]string{"LINKPORT_SESSION_STORE=database"}, ""); err != nil {
		t.Errorf("LINKPORT_SESSION_STORE=database: %v", err)
	}
}
