package store

import "github.com/redis/go-redis/v9"

// scripts are the Lua scripts of a Store. They run atomically on the server, which is how the
// Store gets compare-and-set semantics and consistent multi-key reads without WATCH retries.
type scripts struct {
	renewLease    *redis.Script
	releaseLease  *redis.Script
	beginOnce     *redis.Script
	abortOnce     *redis.Script
	deleteIndexed *redis.Script
	readCluster   *redis.Script
}

func newScripts() scripts {
	return scripts{
		// KEYS[1] lease, ARGV[1] owner, ARGV[2] ttl ms. 1 when extended, 0 when not the owner.
		renewLease: redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`),
		// KEYS[1] lease, ARGV[1] owner. 1 when deleted, 0 when not the owner.
		releaseLease: redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`),
		// KEYS[1] once key, ARGV[1] pending value, ARGV[2] claim ttl ms. Returns "" when the
		// claim was taken, otherwise the current value.
		beginOnce: redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then
  return v
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ''`),
		// KEYS[1] once key, ARGV[1] pending value. 1 when the claim was released.
		abortOnce: redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`),
		// KEYS[1] key index, KEYS[2] set of names, KEYS[3..] more keys to delete; ARGV[1]
		// name. Deletes every indexed key, the other keys, the index, and the name from the
		// set, atomically; returns the number of keys deleted. unpack is bounded by the Lua
		// stack, hence the batches.
		deleteIndexed: redis.NewScript(`
local ks = redis.call('SMEMBERS', KEYS[1])
for i = 3, #KEYS do
  ks[#ks + 1] = KEYS[i]
end
local n = 0
for i = 1, #ks, 500 do
  n = n + redis.call('DEL', unpack(ks, i, math.min(i + 499, #ks)))
end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return n`),
		// KEYS[1..n-1] STRING keys read with GET, KEYS[n] the node SET; ARGV[1] the node key
		// prefix. Returns {GET values..., {name, current, name, current, ...}}; a missing
		// value, or an empty node set, is nil. The node keys are built in the script because they are known only
		// once the set is read, which is what a MULTI cannot do.
		readCluster: redis.NewScript(`
local out = {}
for i = 1, #KEYS - 1 do
  out[i] = redis.call('GET', KEYS[i])
end
local names = redis.call('SMEMBERS', KEYS[#KEYS])
table.sort(names)
local nodes = {}
for _, n in ipairs(names) do
  nodes[#nodes + 1] = n
  nodes[#nodes + 1] = redis.call('HGET', ARGV[1] .. n, 'current')
end
if #names == 0 then
  nodes = false
end
out[#KEYS] = nodes
return out`),
	}
}
