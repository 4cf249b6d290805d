package handlers

import (
	"bytes"
	"encoding/gob"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/google/go-cmp/cmp"
)

// testCodec is the codec the tests share, as the sessions of one App do.
var testCodec = newSessionCodec()

// freshDecode is how sessions were read before: a new gob.Decoder.
func freshDecode(b []byte) (v sessionData, err error, panicked bool) {
	defer func() {
		if recover() != nil {
			panicked = true
		}
	}()
	err = gob.NewDecoder(bytes.NewReader(b)).Decode(&v)
	return v, err, false
}

func guardedDecode(b []byte) (v sessionData, err error, panicked bool) {
	defer func() {
		if recover() != nil {
			panicked = true
		}
	}()
	v, err = testCodec.decode(b)
	return v, err, false
}

func encodeSession(t *testing.T, deadline time.Time, values map[string]any) []byte {
	t.Helper()
	b, err := scs.GobCodec{}.Encode(deadline, values)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The pooled, primed decoders read what scs.GobCodec writes exactly as a
// fresh decoder does, and take the fast path for what sessions hold.
func TestSessionCodecMatchesGob(t *testing.T) {
	deadline := time.Date(2026, 11, 26, 12, 0, 0, 123, time.UTC)
	long := strings.Repeat("x", 70000) // multi-byte message and string lengths
	cases := []struct {
		name   string
		values map[string]any
		fast   bool
	}{
		{"empty", map[string]any{}, true},
		{"nil", nil, true},
		{"csrf", map[string]any{keyCSRF: "tok"}, true},
		{"signed in", map[string]any{keyUserID: int64(42), keyIdentityID: int64(7), keyAuthAt: int64(1764158400), keyCSRF: "abc", keyFlash: "hi"}, true},
		{"negative and big ints", map[string]any{"a": int64(-1), "b": int64(1 << 62)}, true},
		{"long", map[string]any{keyFlows: long, keyUserID: int64(1)}, true},
		{"other types", map[string]any{"list": []string{"a", "b"}, keyUserID: int64(3)}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := encodeSession(t, deadline, tc.values)
			want, err, _ := freshDecode(b)
			if err != nil {
				t.Fatal(err)
			}
			if _, fast := testCodec.decodePrimed(b); fast != tc.fast {
				t.Errorf("primed decoder used: %v, want %v", fast, tc.fast)
			}
			for range 3 { // and again, with a decoder from the pool
				got, err := testCodec.decode(b)
				if err != nil {
					t.Fatal(err)
				}
				if !got.Deadline.Equal(want.Deadline) {
					t.Errorf("deadline %v, want %v", got.Deadline, want.Deadline)
				}
				if diff := cmp.Diff(want.Values, got.Values); diff != "" {
					t.Errorf("values (-fresh +primed):\n%s", diff)
				}
			}
		})
	}
}

// Damaged data gets the same answer as from a fresh decoder: the same
// values, or an error (never another session's values).
func TestSessionCodecDamagedData(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := encodeSession(t, time.Unix(1764158400, 0), map[string]any{keyUserID: int64(42), keyCSRF: "token", keyIdentityID: int64(9)})
	other := encodeSession(t, time.Unix(1, 0), map[string]any{keyUserID: int64(7), keyCSRF: "other"})
	for i := range 5000 {
		b := bytes.Clone(base)
		switch i % 3 {
		case 0:
			b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
		case 1:
			b = b[:rng.IntN(len(b))]
		case 2:
			b = append(b, other[rng.IntN(len(other)):]...)
		}
		want, werr, wpanic := freshDecode(b)
		got, gerr, gpanic := guardedDecode(b)
		if wpanic || werr != nil {
			if !gpanic && gerr == nil {
				t.Fatalf("%x: fresh decoder fails (%v), primed gives %v", b, werr, got)
			}
			continue
		}
		if gerr != nil || gpanic {
			t.Fatalf("%x: fresh decoder reads it, primed fails: %v", b, gerr)
		}
		if !got.Deadline.Equal(want.Deadline) || !cmp.Equal(want.Values, got.Values) {
			t.Fatalf("%x: primed %v, fresh %v", b, got, want)
		}
		// The pool still decodes a good session afterwards.
		if v, err := testCodec.decode(other); err != nil || v.Values[keyUserID] != int64(7) {
			t.Fatalf("after damaged data: %v, %v", v.Values, err)
		}
	}
}

func TestSessionCodecConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 200 {
				id := int64(w*1000 + i)
				b, err := scs.GobCodec{}.Encode(time.Unix(id, 0), map[string]any{keyUserID: id, keyCSRF: strings.Repeat("c", i)})
				if err != nil {
					t.Error(err)
					return
				}
				v, err := testCodec.decode(b)
				if err != nil || v.Values[keyUserID] != id || v.Values[keyCSRF] != strings.Repeat("c", i) || v.Deadline.Unix() != id {
					t.Errorf("decoded %v, %v; want user %d", v, err, id)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkSessionDecode(b *testing.B) {
	data, _ := scs.GobCodec{}.Encode(time.Now(), map[string]any{keyUserID: int64(42), keyIdentityID: int64(7), keyAuthAt: int64(1764158400), keyCSRF: "0123456789abcdef0123456789abcdef0123456789a"})
	b.Run("fresh", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _, _ = freshDecode(data)
		}
	})
	b.Run("primed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = testCodec.decode(data)
		}
	})
}
