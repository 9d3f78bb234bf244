-- GET /users/me with a bearer token; each thread cycles through its share of the
-- seeded access tokens (one per session, spread over many users).
-- args: <token file> <wrk threads>
local tokens, position

function init(args)
  tokens = read_share(args[1], id, tonumber(args[2]))
  position = 0
end

function request()
  position = position % #tokens + 1
  return wrk.format("GET", "/users/me", { ["Authorization"] = "Bearer " .. tokens[position] })
end
