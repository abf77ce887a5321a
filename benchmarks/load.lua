-- The mixed load of benchmarks/load.py, run by wrk:
--   wrk ... -s load.lua URL -- STATIC_FILE
--
-- Each thread cycles through six requests: the plain handler, the mounted Flask app, the
-- mounted FastAPI app, the static file, a KV write and a KV read. wrk hands a response back
-- without the request it answers, so every dynamic request carries a unique id (?id=tXnY)
-- that its answer echoes; the answer must then be exactly the body expected for that
-- request. The static file cannot echo an id: its answer must be the file, byte for byte.
-- A KV read asks for a key whose write has already been answered (the key load.py wrote
-- before the run while there is none yet), and must return the value written; keys are
-- recycled once read, so the store stays small.
--
-- done() prints one line, "LOAD-RESULT {json}", with wrk's summary and the checks' counts.

local STATUS_OK = 200
local EXAMPLES = 5 -- wrong responses kept per thread, to show what went wrong
local SEED_KEY, SEED_VALUE = "seed", "seed-value" -- written by load.py before the run

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("tid", #threads)
end

local static_body
local pending = {} -- id -> what the answer must be
local static_pending = 0
local counter = 0
local free_slots, next_slot = {}, 0
local written, written_head, written_tail = {}, 1, 0 -- answered writes, oldest first

-- Read back by done() through thread:get().
sent, ok, wrong, seed_reads = 0, 0, 0, 0
statuses, kinds, examples = {}, {}, {}

function init(args)
   local file = assert(io.open(args[1], "rb"))
   static_body = file:read("*a")
   file:close()
end

local function take_slot()
   local slot = table.remove(free_slots)
   if slot == nil then
      next_slot = next_slot + 1
      slot = next_slot
   end
   return slot
end

local function slot_key(slot)
   return "s" .. tid .. "x" .. slot
end

local function take_written()
   if written_head > written_tail then
      return nil
   end
   local item = written[written_head]
   written[written_head] = nil
   written_head = written_head + 1
   return item
end

local builders = {
   function(id)
      return "hello", "GET", "/api/hello?id=" .. id, nil, id .. " hello"
   end,
   function(id)
      return "flask", "GET", "/flask/hello?id=" .. id, nil, id .. " flask"
   end,
   function(id)
      return "fastapi", "GET", "/fastapi/hello?id=" .. id, nil,
         '{"id":"' .. id .. '","kind":"fastapi"}'
   end,
   function(id)
      return "static", "GET", "/assets/load.txt", nil, nil
   end,
   function(id)
      local entry = { slot = take_slot(), value = "v" .. id }
      local key = slot_key(entry.slot)
      return "kv put", "PUT", "/api/kv/" .. key .. "?id=" .. id, entry.value,
         id .. " stored " .. key, entry
   end,
   function(id)
      local entry = take_written()
      local key, value = SEED_KEY, SEED_VALUE
      if entry ~= nil then
         key, value = slot_key(entry.slot), entry.value
      else
         seed_reads = seed_reads + 1
      end
      return "kv get", "GET", "/api/kv/" .. key .. "?id=" .. id, nil,
         id .. " read " .. key .. " " .. value, entry
   end,
}

function request()
   counter = counter + 1
   local id = "t" .. tid .. "n" .. counter
   local kind, method, path, body, expect, entry = builders[(counter - 1) % #builders + 1](id)
   if expect == nil then
      static_pending = static_pending + 1
   else
      pending[id] = { kind = kind, expect = expect, entry = entry }
   end
   sent = sent + 1
   return wrk.format(method, path, nil, body)
end

local function count_wrong(status, kind, body)
   wrong = wrong + 1
   if #examples < EXAMPLES then
      table.insert(examples, kind .. ": " .. status .. " " .. string.sub(body, 1, 120))
   end
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   if body == static_body and static_pending > 0 then
      static_pending = static_pending - 1
      if status == STATUS_OK then
         kinds.static = (kinds.static or 0) + 1
         ok = ok + 1
      else
         count_wrong(status, "static", "(the file's content)")
      end
      return
   end
   local id = string.match(body, "t%d+n%d+")
   local item = id and pending[id]
   if item == nil then
      count_wrong(status, "unmatched", body)
      return
   end
   pending[id] = nil
   local right = status == STATUS_OK and body == item.expect
   if item.kind == "kv put" then
      if right then
         written_tail = written_tail + 1
         written[written_tail] = item.entry
      end -- a failed write's slot is never reused: its value is unknown
   elseif item.kind == "kv get" and item.entry ~= nil then
      table.insert(free_slots, item.entry.slot)
   end
   if right then
      kinds[item.kind] = (kinds[item.kind] or 0) + 1
      ok = ok + 1
   else
      count_wrong(status, item.kind, body)
   end
end

local function json_string(text)
   local escaped = string.gsub(text, '[%c"\\\128-\255]', function(char)
      return string.format("\\u%04x", string.byte(char))
   end)
   return '"' .. escaped .. '"'
end

local function json_counts(counts)
   local parts = {}
   for name, count in pairs(counts) do
      table.insert(parts, json_string(tostring(name)) .. ":" .. count)
   end
   return "{" .. table.concat(parts, ",") .. "}"
end

local function add_counts(total, counts)
   for name, count in pairs(counts) do
      total[name] = (total[name] or 0) + count
   end
end

function done(summary, latency, requests)
   local total = { sent = 0, ok = 0, wrong = 0, seed_reads = 0 }
   local all_statuses, all_kinds, all_examples = {}, {}, {}
   for _, thread in ipairs(threads) do
      for _, name in ipairs({ "sent", "ok", "wrong", "seed_reads" }) do
         total[name] = total[name] + thread:get(name)
      end
      add_counts(all_statuses, thread:get("statuses"))
      add_counts(all_kinds, thread:get("kinds"))
      for _, example in ipairs(thread:get("examples")) do
         table.insert(all_examples, json_string(example))
      end
   end
   local errors = summary.errors
   io.write(
      "LOAD-RESULT {",
      '"requests":', summary.requests,
      ',"duration_us":', summary.duration,
      ',"bytes":', summary.bytes,
      ',"errors":{"connect":', errors.connect, ',"read":', errors.read,
      ',"write":', errors.write, ',"status":', errors.status, ',"timeout":', errors.timeout, "}",
      ',"latency_us":{"p50":', latency:percentile(50), ',"p90":', latency:percentile(90),
      ',"p99":', latency:percentile(99), ',"max":', latency.max, ',"mean":', latency.mean, "}",
      ',"sent":', total.sent, ',"ok":', total.ok, ',"wrong":', total.wrong,
      ',"seed_reads":', total.seed_reads,
      ',"statuses":', json_counts(all_statuses),
      ',"kinds":', json_counts(all_kinds),
      ',"examples":[', table.concat(all_examples, ","), "]}\n"
   )
end
