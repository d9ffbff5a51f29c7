"""A scrapy-redis priority queue whose pops are leases, not removals.

scrapy-redis removes a request from Redis when a worker pops it, so a worker
that dies loses every request it had taken. Here a pop moves the request, in
one Lua script, from the queue to a processing area:

- ``<queue>`` (sorted set, as in scrapy-redis): encoded request, score = -priority;
- ``<queue>:leases`` (sorted set): lease id, score = lease expiry (Redis clock);
- ``<queue>:leased`` (hash): lease id -> encoded request, ``<id>:score`` -> its queue score,
  ``<id>:worker`` -> the worker holding it;
- ``<queue>:lease_seq`` (counter): lease ids;
- ``<queue>:workers`` (set): workers that took leases; ``<queue>:alive:<worker>``: the
  worker's heartbeat, a key with a TTL of a few seconds that it keeps refreshing.

The worker acknowledges a lease when it is done with the request, renews the
leases it still works on, and any worker moves back to the queue, atomically,
the leases of workers whose heartbeat is gone (dead: ``kill -9``, machine
gone; within ``CLUSTER_HEARTBEAT_TIMEOUT`` seconds) and, as a backstop for a
worker alive but hung, expired leases. Times come from Redis ``TIME`` and key
TTLs, so the workers' clocks do not matter.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from redis import Redis
from scrapy import Request
from scrapy.utils.request import request_from_dict
from scrapy_redis.queue import PriorityQueue

from booksscraper.cluster.crawlid import crawl_key

# KEYS: queue, leases, leased, seq; ARGV: lease seconds, worker. Returns {id, data} or nil.
POP_LUA = """
local top = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #top == 0 then return false end
redis.call('ZREM', KEYS[1], top[1])
local id = tostring(redis.call('INCR', KEYS[4]))
local t = redis.call('TIME')
redis.call('ZADD', KEYS[2], t[1] + t[2] / 1e6 + tonumber(ARGV[1]), id)
redis.call('HSET', KEYS[3], id, top[1], id .. ':score', top[2], id .. ':worker', ARGV[2])
return {id, top[1]}
"""

# KEYS: queue, leases, leased, workers; ARGV: heartbeat key prefix. Puts back the leases
# of every worker whose heartbeat key is gone; returns {moved, dead worker, ...}.
REQUEUE_DEAD_LUA = """
local dead = {}
local any = false
for _, w in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  if redis.call('EXISTS', ARGV[1] .. w) == 0 then dead[w] = true; any = true end
end
if not any then return {0} end
local moved = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  local w = redis.call('HGET', KEYS[3], id .. ':worker')
  if w and dead[w] then
    redis.call('ZREM', KEYS[2], id)
    local data = redis.call('HGET', KEYS[3], id)
    if data then
      redis.call('ZADD', KEYS[1], redis.call('HGET', KEYS[3], id .. ':score') or '0', data)
      moved = moved + 1
    end
    redis.call('HDEL', KEYS[3], id, id .. ':score', id .. ':worker')
  end
end
local result = {moved}
for w in pairs(dead) do
  redis.call('SREM', KEYS[4], w)
  result[#result + 1] = w
end
return result
"""

# KEYS: queue, leases, leased; ARGV: 'expired' + limit, or 'ids' + lease ids.
# Puts the requests of expired (or the given) leases back in the queue.
REQUEUE_LUA = """
local ids
if ARGV[1] == 'expired' then
  local t = redis.call('TIME')
  ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', t[1] + t[2] / 1e6,
                   'LIMIT', 0, tonumber(ARGV[2]))
else
  ids = {}
  for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
end
local moved = 0
for _, id in ipairs(ids) do
  if redis.call('ZREM', KEYS[2], id) == 1 then
    local data = redis.call('HGET', KEYS[3], id)
    local score = redis.call('HGET', KEYS[3], id .. ':score') or '0'
    if data then
      redis.call('ZADD', KEYS[1], score, data)
      moved = moved + 1
    end
  end
  redis.call('HDEL', KEYS[3], id, id .. ':score', id .. ':worker')
end
return moved
"""

# KEYS: leases; ARGV: lease seconds, ids. Extends the leases still held;
# returns how many were gone (expired and re-queued by someone else).
RENEW_LUA = """
local t = redis.call('TIME')
local expiry = t[1] + t[2] / 1e6 + tonumber(ARGV[1])
local lost = 0
for i = 2, #ARGV do
  if redis.call('ZADD', KEYS[1], 'XX', 'CH', expiry, ARGV[i]) == 0
     and not redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    lost = lost + 1
  end
end
return lost
"""

# KEYS: leases, leased; ARGV: ids. Returns how many were still held.
ACK_LUA = """
local held = 0
for i = 1, #ARGV do
  held = held + redis.call('ZREM', KEYS[1], ARGV[i])
  redis.call('HDEL', KEYS[2], ARGV[i], ARGV[i] .. ':score', ARGV[i] .. ':worker')
end
return held
"""


def lease_keys(queue_key: str) -> tuple[str, str, str]:
    """The keys beside a queue: its leases, the leased requests, the lease id counter."""
    return f"{queue_key}:leases", f"{queue_key}:leased", f"{queue_key}:lease_seq"


class LeasedPriorityQueue(PriorityQueue):
    """scrapy-redis's PriorityQueue with leased pops (see the module docstring)."""

    def __init__(self, server: Redis, spider: Any, key: str, serializer: Any = None) -> None:
        super().__init__(server, spider, key, serializer)
        self.leases_key, self.leased_key, self.seq_key = lease_keys(self.key)
        self.workers_key = f"{self.key}:workers"
        self.alive_prefix = f"{self.key}:alive:"
        self._pop = server.register_script(POP_LUA)
        self._requeue_dead = server.register_script(REQUEUE_DEAD_LUA)
        self._requeue = server.register_script(REQUEUE_LUA)
        self._renew = server.register_script(RENEW_LUA)
        self._ack = server.register_script(ACK_LUA)

    def pop(self, timeout: int = 0) -> Request | None:
        raise TypeError("LeasedPriorityQueue: use pop_leased(); a plain pop would lose requests")

    def pop_leased(self, lease_seconds: float, worker: str = "") -> tuple[str, Request] | None:
        """The next request and its lease id, or None when the queue is empty.

        ``worker``: the id whose heartbeat (``beat``) vouches for the lease.
        """
        found = self._pop(
            keys=[self.key, self.leases_key, self.leased_key, self.seq_key],
            args=[lease_seconds, worker],
        )
        if not found:
            return None
        lease_id, data = found
        lease_id = lease_id.decode() if isinstance(lease_id, bytes) else str(lease_id)
        return lease_id, request_from_dict(self.serializer.loads(data), spider=self.spider)

    def ack(self, lease_ids: Iterable[str]) -> int:
        """Forget finished leases; returns how many were still held (not expired)."""
        ids = list(lease_ids)
        if not ids:
            return 0
        return int(self._ack(keys=[self.leases_key, self.leased_key], args=ids))

    def renew(self, lease_ids: Iterable[str], lease_seconds: float) -> int:
        """Extend leases; returns how many were lost (expired, re-queued by someone)."""
        ids = list(lease_ids)
        if not ids:
            return 0
        return int(self._renew(keys=[self.leases_key], args=[lease_seconds, *ids]))

    def release(self, lease_ids: Iterable[str]) -> int:
        """Give leased requests back to the queue now; returns how many went back."""
        ids = list(lease_ids)
        if not ids:
            return 0
        keys = [self.key, self.leases_key, self.leased_key]
        return int(self._requeue(keys=keys, args=["ids", *ids]))

    def requeue_expired(self, limit: int = 1000) -> int:
        """Move up to ``limit`` expired leases back to the queue; returns how many."""
        keys = [self.key, self.leases_key, self.leased_key]
        return int(self._requeue(keys=keys, args=["expired", limit]))

    def beat(self, worker: str, timeout: float, client: Redis | None = None) -> None:
        """``worker`` is alive for ``timeout`` more seconds (its leases stay its own)."""
        pipe = (client or self.server).pipeline(transaction=False)
        pipe.set(self.alive_prefix + worker, 1, px=max(1, round(timeout * 1000)))
        pipe.sadd(self.workers_key, worker)
        pipe.execute()

    def stop_beating(self, worker: str) -> None:
        self.server.delete(self.alive_prefix + worker)

    def requeue_dead(self) -> tuple[int, list[str]]:
        """Put back the leases of workers whose heartbeat is gone: (how many, dead workers)."""
        keys = [self.key, self.leases_key, self.leased_key, self.workers_key]
        moved, *dead = self._requeue_dead(keys=keys, args=[self.alive_prefix])
        return int(moved), [w.decode() if isinstance(w, bytes) else str(w) for w in dead]

    def leases_by_worker(self) -> dict[str, int]:
        """How many leases each worker holds now (for the "waiting for" log line)."""
        ids = self.server.zrange(self.leases_key, 0, -1)
        if not ids:
            return {}
        owners = self.server.hmget(self.leased_key, [i.decode() + ":worker" for i in ids])
        counts: dict[str, int] = {}
        for owner in owners:
            name = owner.decode() if owner else "?"
            counts[name] = counts.get(name, 0) + 1
        return counts

    @staticmethod
    def finished(server: Redis, queue_key: str, seen_key: str) -> int:
        """Requests seen by a crawl on these keys that has finished, else 0.

        Finished: requests were seen and taken (``lease_seq``), none is queued or leased. A
        crawl that is starting (its first request seen, not yet pushed) or running (a worker
        pushes children before it acknowledges the parent's lease) never looks finished.
        """
        leases_key, _, seq_key = lease_keys(queue_key)
        seen = server.scard(seen_key) if server.type(seen_key) == b"set" else 0
        if (
            not seen
            or not server.exists(seq_key)
            or server.zcard(queue_key)
            or server.zcard(leases_key)
        ):
            return 0
        return int(seen)

    def leased_count(self) -> int:
        return int(self.server.zcard(self.leases_key))

    def clear(self) -> None:
        self.server.delete(
            self.key, self.leases_key, self.leased_key, self.seq_key, self.workers_key,
            crawl_key(self.key),
        )
