package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/alexedwards/scs/redisstore"
	"github.com/gomodule/redigo/redis"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/handlers"
)

// Limits of the Redis session store (LINKPORT_SESSION_STORE=redis://...).
// A request waits at most redisWait for one of redisMaxConns connections,
// then redisDialTimeout to connect and redisIOTimeout for each read and
// write: when Redis is stopped or unreachable, a request gets its 503
// within a few seconds instead of hanging (SECURITY.md E-08a).
const (
	redisMaxConns    = 64
	redisMaxIdle     = 16
	redisWait        = 2 * time.Second
	redisDialTimeout = 2 * time.Second
	redisIOTimeout   = 2 * time.Second
	// A connection idle longer than this is pinged before use, so that
	// connections left over from before a Redis restart fail the ping
	// rather than a person's request.
	redisTestIdle = 5 * time.Second
)

// errRedisBusy: every Redis connection stayed in use for redisWait.
var errRedisBusy = errors.New("redis session store: all connections busy")

// redisSessions is scs's redisstore with the waits bounded. redigo's Pool
// waits for a free connection without a deadline when scs's store calls
// Get, so the pool itself does not wait (Wait false) and a slot, taken
// with a deadline before each call, keeps the callers within
// redisMaxConns. It is an scs.CtxStore, so the readiness probe reaches it.
// Keys are prefix + the token's hash (scs's HashTokenInStore).
type redisSessions struct {
	store  *redisstore.RedisStore
	pool   *redis.Pool
	slots  chan struct{}
	prefix string
}

// newRedisSessions makes the pool for the Redis URL (checked by
// checkRedisURL) and the store on it. It does not connect: an instance
// started while Redis is down serves, not ready, until Redis answers.
func newRedisSessions(rawURL, prefix string) *redisSessions {
	pool := &redis.Pool{
		MaxActive:   redisMaxConns,
		MaxIdle:     redisMaxIdle,
		IdleTimeout: 5 * time.Minute,
		Wait:        false,
		DialContext: func(ctx context.Context) (redis.Conn, error) {
			// rediss:// turns TLS on; the server name is the URL's host.
			return redis.DialURLContext(ctx, rawURL,
				redis.DialConnectTimeout(redisDialTimeout),
				redis.DialReadTimeout(redisIOTimeout),
				redis.DialWriteTimeout(redisIOTimeout),
				redis.DialTLSHandshakeTimeout(redisDialTimeout),
				redis.DialTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12}),
			)
		},
		TestOnBorrow: func(c redis.Conn, idleSince time.Time) error {
			if time.Since(idleSince) < redisTestIdle {
				return nil
			}
			_, err := c.Do("PING")
			return err
		},
	}
	return &redisSessions{
		store:  redisstore.NewWithPrefix(pool, prefix),
		pool:   pool,
		slots:  make(chan struct{}, redisMaxConns),
		prefix: prefix,
	}
}

// acquire takes a slot, waiting at most redisWait or until ctx ends.
func (r *redisSessions) acquire(ctx context.Context) error {
	select {
	case r.slots <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(redisWait)
	defer t.Stop()
	select {
	case r.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("redis session store: %w", ctx.Err())
	case <-t.C:
		return errRedisBusy
	}
}

func (r *redisSessions) release() { <-r.slots }

// FindCtx implements scs.CtxStore.
func (r *redisSessions) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	if err := r.acquire(ctx); err != nil {
		return nil, false, err
	}
	defer r.release()
	return r.store.Find(token)
}

// CommitCtx implements scs.CtxStore.
func (r *redisSessions) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if err := r.acquire(ctx); err != nil {
		return err
	}
	defer r.release()
	return r.store.Commit(token, b, expiry)
}

// DeleteCtx implements scs.CtxStore.
func (r *redisSessions) DeleteCtx(ctx context.Context, token string) error {
	if err := r.acquire(ctx); err != nil {
		return err
	}
	defer r.release()
	return r.store.Delete(token)
}

// Find implements scs.Store.
func (r *redisSessions) Find(token string) ([]byte, bool, error) {
	return r.FindCtx(context.Background(), token)
}

// Commit implements scs.Store.
func (r *redisSessions) Commit(token string, b []byte, expiry time.Time) error {
	return r.CommitCtx(context.Background(), token, b, expiry)
}

// Delete implements scs.Store.
func (r *redisSessions) Delete(token string) error {
	return r.DeleteCtx(context.Background(), token)
}

// Ping reports whether Redis answers.
func (r *redisSessions) Ping(ctx context.Context) error {
	if err := r.acquire(ctx); err != nil {
		return err
	}
	defer r.release()
	conn, err := r.pool.GetContext(ctx)
	if err != nil {
		return fmt.Errorf("redis session store: %w", err)
	}
	defer conn.Close()
	if _, err := redis.DoContext(conn, ctx, "PING"); err != nil {
		return fmt.Errorf("redis session store: %w", err)
	}
	return nil
}

// Close closes the pool's connections.
func (r *redisSessions) Close() error { return r.pool.Close() }

// redisIndex is the session index in the database, which also deletes the
// Redis data of the sessions it revokes. The index row is the revocation
// (B-04c): once it is gone the session is anonymous on every instance,
// whether or not its data could be deleted, so a failed delete only leaves
// data that expires at the session's deadline.
type redisIndex struct {
	handlers.SessionIndex
	sessions *redisSessions
}

// Revoke implements handlers.SessionIndex.
func (x redisIndex) Revoke(ctx context.Context, hash string) error {
	if err := x.SessionIndex.Revoke(ctx, hash); err != nil {
		return err
	}
	_ = x.sessions.DeleteCtx(ctx, hash)
	return nil
}

// RevokeOthers implements handlers.SessionIndex.
func (x redisIndex) RevokeOthers(ctx context.Context, userID int64, keepHash string) (int, error) {
	before, lerr := x.SessionIndex.List(ctx, userID)
	n, err := x.SessionIndex.RevokeOthers(ctx, userID, keepHash)
	if err == nil && lerr == nil {
		x.forget(ctx, before, func(s accounts.Session) bool { return s.TokenHash != keepHash })
	}
	return n, err
}

// RevokeIdentity implements handlers.SessionIndex.
func (x redisIndex) RevokeIdentity(ctx context.Context, userID, identityID int64, keepHash string) (int, error) {
	before, lerr := x.SessionIndex.List(ctx, userID)
	n, err := x.SessionIndex.RevokeIdentity(ctx, userID, identityID, keepHash)
	if err == nil && lerr == nil {
		x.forget(ctx, before, func(s accounts.Session) bool {
			return s.IdentityID == identityID && s.TokenHash != keepHash
		})
	}
	return n, err
}

// forget deletes the Redis data of the listed sessions that match, and
// whose index row is gone.
func (x redisIndex) forget(ctx context.Context, list []accounts.Session, match func(accounts.Session) bool) {
	for _, s := range list {
		if !match(s) {
			continue
		}
		if _, err := x.SessionIndex.Get(ctx, s.TokenHash); errors.Is(err, accounts.ErrNotFound) {
			_ = x.sessions.DeleteCtx(ctx, s.TokenHash)
		}
	}
}

// rateScript is GCRA, the generic cell rate algorithm, as one atomic
// script: KEYS[1] holds the theoretical arrival time (TAT) in microseconds
// of Redis's own clock, so instances whose clocks differ still agree.
// ARGV[1] is the burst, ARGV[2] the emission interval in microseconds. It
// returns 0 and moves the TAT when a request is allowed, else the
// microseconds until one is, and changes nothing. The key expires when
// its budget is full again, so idle clients leave nothing behind.
// Numbers are written with %d: Lua would print a 16-digit float with an
// exponent.
var rateScript = redis.NewScript(1, `
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local burst = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local newTAT = tat + interval
local allowAt = newTAT - burst * interval
if now < allowAt then
  return allowAt - now
end
local ttl = math.ceil((newTAT - now) / 1000)
redis.call('SET', KEYS[1], string.format('%d', newTAT), 'PX', string.format('%d', ttl))
return 0
`)

// redisRates is handlers.RateStore in the session store's Redis, so that
// every instance enforces one budget per client and per user (B-09c,
// E-12c). It shares the pool's connections and slots with the sessions;
// keys are LINKPORT_REDIS_PREFIX + "ratelimit:" + the limiter's key. It
// was written rather than taken from a library: go-redis/redis_rate would
// bring a second Redis client, and throttled's redigostore makes up to ten
// compare-and-swap round trips a request where one script does.
type redisRates struct{ r *redisSessions }

// rates is the rate-limit store on the same Redis.
func (r *redisSessions) rates() redisRates { return redisRates{r} }

// Take implements handlers.RateStore.
func (x redisRates) Take(ctx context.Context, key string, rt handlers.Rate) (time.Duration, error) {
	if rt.Events <= 0 || rt.Per <= 0 {
		return 0, errors.New("redis rate limits: empty budget")
	}
	if err := x.r.acquire(ctx); err != nil {
		return 0, err
	}
	defer x.r.release()
	conn, err := x.r.pool.GetContext(ctx)
	if err != nil {
		return 0, fmt.Errorf("redis rate limits: %w", err)
	}
	defer conn.Close()
	interval := max((rt.Per / time.Duration(rt.Events)).Microseconds(), 1)
	wait, err := redis.Int64(rateScript.DoContext(ctx, conn, x.r.prefix+"ratelimit:"+key, rt.Events, interval))
	if err != nil {
		return 0, fmt.Errorf("redis rate limits: %w", err)
	}
	return time.Duration(wait) * time.Microsecond, nil
}
