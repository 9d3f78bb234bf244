"""Password attempts counted before they are evaluated: lockout and the account cap.

Counting a failure after the hash was checked lets every request already in flight
through: forty guesses sent at once against a threshold of five were all evaluated.
Here each attempt first takes a place, in one atomic step (a Lua script in Redis, a
synchronous block in process), and only an attempt that got one is evaluated:

- per account and client address, a run of consecutive failures: the first
  `LOCKOUT_THRESHOLD - 1` attempts go through; the attempt that makes the run
  `LOCKOUT_THRESHOLD` long locks the pair *before* it is evaluated, for
  `LOCKOUT_BASE_SECONDS`, doubled for each attempt beyond (capped at
  `LOCKOUT_MAX_SECONDS`), and while a lock stands nothing else of that pair is
  evaluated; a correct password ends the run and the lock it took;
- per account, from every address together, at most
  `RATE_LIMIT_FAILED_LOGINS_PER_ACCOUNT` attempts in the window; a correct password
  empties it (the failures were not consecutive any more).

So with a threshold of N at most N wrong guesses of a pair are ever evaluated before
the first lock, and one after each lock ends, however many arrive at once.

Keys name accounts and addresses by digest. A store that fails lets the attempt
through and is left alone for a while (`CircuitBreaker`), as the rate limits do.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from limits import parse

from fastapi_auth.kernel.circuit_breaker import TIMEOUT_SECONDS, CircuitBreaker
from fastapi_auth.kernel.errors import RateLimited
from fastapi_auth.kernel.settings import Settings

if TYPE_CHECKING:
    import redis.asyncio as redis


LOCKED_DETAIL = "Too many failed password attempts for this account; try again later."
EPOCH_SECONDS = 400 * 24 * 3600
SWEEP_EVERY = 1024


def digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class LockoutPolicy:
    threshold: int
    base_ms: int
    max_ms: int
    account_cap: int
    account_window_ms: int

    @classmethod
    def from_settings(cls, settings: Settings) -> LockoutPolicy:
        cap = parse(settings.rate_limit_failed_logins_per_account)
        return cls(
            threshold=settings.lockout_threshold,
            base_ms=settings.lockout_base_seconds * 1000,
            max_ms=settings.lockout_max_seconds * 1000,
            account_cap=cap.amount,
            account_window_ms=cap.get_expiry() * 1000,
        )

    def lock_ms(self, run: int) -> int:
        """The lock the `run`-th consecutive attempt takes (from the threshold on)."""
        return int(min(self.max_ms, self.base_ms * 2 ** min(run - self.threshold, 62)))


@dataclass(frozen=True)
class AttemptKeys:
    lock: str
    run: str
    window: str


@dataclass(frozen=True)
class Reservation:
    """The place one attempt took; `release` it when the password was right."""

    keys: AttemptKeys | None
    member: str = field(default_factory=lambda: secrets.token_hex(8))


class AttemptStore(Protocol):
    async def reserve(self, keys: AttemptKeys, policy: LockoutPolicy, member: str) -> int | None:
        """None when the attempt got its place; else milliseconds until one may be free."""

    async def release(self, keys: AttemptKeys) -> None: ...

    async def epoch(self, account: str) -> int: ...

    async def next_epoch(self, account: str) -> None: ...

    async def aclose(self) -> None: ...


RESERVE_SCRIPT = """
local lock_ttl = redis.call('PTTL', KEYS[1])
if lock_ttl > 0 then return lock_ttl end
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local threshold, base_ms, max_ms = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local cap, window_ms = tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now_ms - window_ms)
if redis.call('ZCARD', KEYS[3]) >= cap then
  local oldest = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window_ms - now_ms)
end
local run = redis.call('INCR', KEYS[2])
local keep_ms = max_ms
if run >= threshold then
  local lock_ms = math.min(max_ms, base_ms * 2 ^ math.min(run - threshold, 62))
  redis.call('SET', KEYS[1], '1', 'PX', math.floor(lock_ms))
  keep_ms = math.floor(lock_ms) + max_ms
end
redis.call('PEXPIRE', KEYS[2], keep_ms)
redis.call('ZADD', KEYS[3], now_ms, ARGV[6])
redis.call('PEXPIRE', KEYS[3], window_ms)
return false
"""


class RedisAttemptStore:
    """One script call per attempt, so every instance on one Redis counts as one. The
    client is imported here, not with the module: a process without Redis spares its
    memory (about 6 MiB)."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis.asyncio as redis

        self._client: redis.Redis = redis.from_url(
            url,
            socket_timeout=TIMEOUT_SECONDS,
            socket_connect_timeout=TIMEOUT_SECONDS,
        )
        self._prefix = prefix
        self._reserve = self._client.register_script(RESERVE_SCRIPT)

    def _key(self, key: str) -> str:
        return f"{self._prefix}:{key}"

    async def reserve(self, keys: AttemptKeys, policy: LockoutPolicy, member: str) -> int | None:
        wait = await self._reserve(
            keys=[self._key(keys.lock), self._key(keys.run), self._key(keys.window)],
            args=[
                policy.threshold,
                policy.base_ms,
                policy.max_ms,
                policy.account_cap,
                policy.account_window_ms,
                member,
            ],
        )
        return None if wait is None else int(wait)

    async def release(self, keys: AttemptKeys) -> None:
        await self._client.delete(self._key(keys.lock), self._key(keys.run), self._key(keys.window))

    async def epoch(self, account: str) -> int:
        return int(await self._client.get(self._key(f"epoch/{account}")) or 0)

    async def next_epoch(self, account: str) -> None:
        key = self._key(f"epoch/{account}")
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, EPOCH_SECONDS)
            await pipe.execute()

    async def aclose(self) -> None:
        await self._client.aclose()


class MemoryAttemptStore:
    """For one process: each method runs to its end without awaiting, so under asyncio it
    is as atomic as the script. Entries expire as they are read, and a sweep now and
    then drops the ones nobody reads again."""

    def __init__(self) -> None:
        self._locks: dict[str, float] = {}
        self._runs: dict[str, tuple[int, float]] = {}
        self._windows: dict[str, list[float]] = {}
        self._epochs: dict[str, int] = {}
        self._reservations = 0

    async def reserve(self, keys: AttemptKeys, policy: LockoutPolicy, member: str) -> int | None:
        now = time.time() * 1000
        self._reservations += 1
        if self._reservations % SWEEP_EVERY == 0:
            self._sweep(now, policy)
        locked_until = self._locks.get(keys.lock, 0.0)
        if locked_until > now:
            return math.ceil(locked_until - now)
        horizon = now - policy.account_window_ms
        window = [at for at in self._windows.get(keys.window, []) if at > horizon]
        if len(window) >= policy.account_cap:
            return max(1, math.ceil(window[0] + policy.account_window_ms - now))
        run, run_expires = self._runs.get(keys.run, (0, 0.0))
        run = (run if run_expires > now else 0) + 1
        keep_ms: float = policy.max_ms
        if run >= policy.threshold:
            lock_ms = policy.lock_ms(run)
            self._locks[keys.lock] = now + lock_ms
            keep_ms = lock_ms + policy.max_ms
        self._runs[keys.run] = (run, now + keep_ms)
        window.append(now)
        self._windows[keys.window] = window
        return None

    def _sweep(self, now: float, policy: LockoutPolicy) -> None:
        self._locks = {key: until for key, until in self._locks.items() if until > now}
        self._runs = {key: run for key, run in self._runs.items() if run[1] > now}
        horizon = now - policy.account_window_ms
        self._windows = {key: w for key, w in self._windows.items() if w and w[-1] > horizon}

    async def release(self, keys: AttemptKeys) -> None:
        self._locks.pop(keys.lock, None)
        self._runs.pop(keys.run, None)
        self._windows.pop(keys.window, None)

    async def epoch(self, account: str) -> int:
        return self._epochs.get(account, 0)

    async def next_epoch(self, account: str) -> None:
        self._epochs[account] = self._epochs.get(account, 0) + 1

    async def aclose(self) -> None:
        return None


class PasswordAttempts:
    """Takes and gives back the places of password attempts (see the module's text)."""

    def __init__(self, settings: Settings, store: AttemptStore | None = None) -> None:
        self.enabled = settings.rate_limit_enabled
        self._policy = LockoutPolicy.from_settings(settings)
        if store is not None:
            self._store: AttemptStore = store
        elif settings.redis_url:
            prefix = f"{settings.rate_limit_key_prefix}:attempts"
            self._store = RedisAttemptStore(settings.redis_url.get_secret_value(), prefix)
        else:
            self._store = MemoryAttemptStore()
        self._breaker = CircuitBreaker("the lockout's store (REDIS_URL)")

    async def reserve(self, account: str, ip: str | None) -> Reservation:
        """Raises `RateLimited` when the pair is locked or the account's cap is reached."""
        if not self.enabled or self._breaker.is_open():
            return Reservation(keys=None)
        account_id = digest(account)
        try:
            epoch = await self._store.epoch(account_id)
            keys = AttemptKeys(
                lock=f"lock/{account_id}/{epoch}/{digest(ip or 'unknown')}",
                run=f"run/{account_id}/{epoch}/{digest(ip or 'unknown')}",
                window=f"window/{account_id}/{epoch}",
            )
            reservation = Reservation(keys=keys)
            wait_ms = await self._store.reserve(keys, self._policy, reservation.member)
        except Exception as error:
            self._breaker.failed(error)
            return Reservation(keys=None)
        self._breaker.succeeded()
        if wait_ms is not None:
            raise RateLimited(math.ceil(wait_ms / 1000), LOCKED_DETAIL)
        return reservation

    async def release(self, reservation: Reservation) -> None:
        """The password was right: the run of failures (and its lock) ends, here and
        account-wide."""
        if reservation.keys is None or self._breaker.is_open():
            return
        try:
            await self._store.release(reservation.keys)
        except Exception as error:
            self._breaker.failed(error)

    async def lift(self, account: str) -> None:
        """A password reset proves the owner: every lock and count of the account ends."""
        if not self.enabled:
            return
        try:
            await self._store.next_epoch(digest(account))
        except Exception as error:
            self._breaker.failed(error)

    async def aclose(self) -> None:
        await self._store.aclose()
