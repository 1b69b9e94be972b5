-- wrk script: each request takes the next URL from the file named by the URLS
-- environment variable (one path per line, as `groupscout bench --urls` writes them);
-- the summary counts answers of status 400 and above (wrk's status errors).
local urls = {}
local counter = 0

function init(args)
  local path = os.getenv("URLS") or "bench-data/urls.txt"
  for line in io.lines(path) do
    if #line > 0 then urls[#urls + 1] = line end
  end
  counter = math.random(#urls)
end

function request()
  counter = counter % #urls + 1
  return wrk.format("GET", urls[counter])
end

function done(summary, latency, requests)
  io.write(string.format("requests/s %.0f | p50 %.2f ms | p99 %.2f ms | non-2xx %d | socket errors %d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
