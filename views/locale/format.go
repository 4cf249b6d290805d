package locale

import (
	"context"
	"fmt"
	"time"
)

// DateTime formats t in the Locale's language and time zone: English
// "Nov 26, 2026, 3:04 PM", Korean "2026년 11월 26일 오후 3:04". Without a
// chosen zone the time is UTC and says so ("… 3:04 PM UTC"), so nobody
// reads it as their own clock.
func (l *Locale) DateTime(t time.Time) string {
	zone, suffix := l.zone, ""
	if zone == nil {
		zone, suffix = time.UTC, " UTC"
	}
	t = t.In(zone)
	if l.lang == Korean {
		ampm := "오전"
		if t.Hour() >= 12 {
			ampm = "오후"
		}
		h := t.Hour() % 12
		if h == 0 {
			h = 12
		}
		return fmt.Sprintf("%d년 %d월 %d일 %s %d:%02d", t.Year(), int(t.Month()), t.Day(), ampm, h, t.Minute()) + suffix
	}
	return t.Format("Jan 2, 2006, 3:04 PM") + suffix
}

// Date formats the calendar day of t as t holds it, with no time zone
// conversion (a day such as "deleted on" is a day, not an instant):
// English "November 26, 2026", Korean "2026년 11월 26일".
func (l *Locale) Date(t time.Time) string {
	if l.lang == Korean {
		return fmt.Sprintf("%d년 %d월 %d일", t.Year(), int(t.Month()), t.Day())
	}
	return t.Format("January 2, 2006")
}

// DateTime formats t in the language and time zone of ctx (see
// Locale.DateTime); without a Locale, in English and UTC.
func DateTime(ctx context.Context, t time.Time) string { return orDefault(ctx).DateTime(t) }

// Date formats the calendar day of t in the language of ctx (see
// Locale.Date).
func Date(ctx context.Context, t time.Time) string { return orDefault(ctx).Date(t) }

// orDefault is ctx's Locale, or an English one in UTC that can format
// dates but knows no messages.
func orDefault(ctx context.Context) *Locale {
	if l := From(ctx); l != nil {
		return l
	}
	return &Locale{lang: English}
}
