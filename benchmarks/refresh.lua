-- POST /auth/refresh. A refresh token is single-use, so every request needs a token no
-- one has presented: each thread starts with its own share of seeded tokens (one per
-- session) and then presents the token each answer hands back, the way a client rotates
-- its own. No token is ever presented twice; a failed answer ends that chain, and the
-- thread takes a spare from its share.
-- args: <token file> <wrk threads>
local queue, first, last

function init(args)
  queue = read_share(args[1], id, tonumber(args[2]))
  first, last = 1, #queue
end

function request()
  local token = "exhausted"
  if first <= last then
    token = queue[first]
    queue[first] = nil
    first = first + 1
  end
  return wrk.format("POST", "/auth/refresh", { ["Content-Type"] = "application/json" },
    '{"refresh_token":"' .. token .. '"}')
end

function response(status, headers, body)
  if status == 200 then
    local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
    if token then
      last = last + 1
      queue[last] = token
    end
  end
end
