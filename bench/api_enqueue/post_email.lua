-- wrk script: POST one email per request to /v1/emails, each to its own recipient.
-- MR_TOKEN and MR_CONFIG come from the environment (bench/api_enqueue/run sets them).
local token = os.getenv("MR_TOKEN")
local config = os.getenv("MR_CONFIG")
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  n = 0
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  n = n + 1
  local body = string.format(
    '{"configuration":"%s","to":"r%d-%d@example.com","subject":"bench","text":"hello"}', config, id, n)
  return wrk.format(nil, "/v1/emails", nil, body)
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("WRK_RESULT %f %f %f %d %d\n", summary.requests / (summary.duration / 1e6),
                         latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.requests, errors))
end
