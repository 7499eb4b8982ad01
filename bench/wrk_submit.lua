-- bench/wrk_submit.lua — wrk script for bench/api_bench.sh --wrk: POSTs one PDF (env PDF) as a raw
-- application/pdf body with the API key (env KEY), counts answers by status in every wrk thread,
-- and prints one JSON object in the shape of `api_bench submit` (accepted, latency in ms).
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local f = assert(io.open(os.getenv("PDF"), "rb"))
  wrk.method = "POST"
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Content-Type"] = "application/pdf"
  wrk.headers["X-API-Key"] = os.getenv("KEY")
  accepted, refused, other = 0, 0, 0
end

function response(status, headers, body)
  if status == 202 then accepted = accepted + 1
  elseif status == 503 then refused = refused + 1
  else other = other + 1 end
end

function done(summary, latency, requests)
  local a, r, o = 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("accepted"); r = r + t:get("refused"); o = o + t:get("other")
  end
  local e = summary.errors
  local ms = function(us) return us / 1000 end
  io.write(string.format('{"client": "wrk", "accepted": %d, "accepted_per_second": %.1f, "refused_503": %d, ' ..
    '"errors": %d, "latency_ms": {"p50": %.3f, "p90": %.3f, "p99": %.3f, "max": %.3f}}\n',
    a, a / (summary.duration / 1e6), r, o + e.connect + e.read + e.write + e.timeout,
    ms(latency:percentile(50)), ms(latency:percentile(90)), ms(latency:percentile(99)), ms(latency.max)))
end
