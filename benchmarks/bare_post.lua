-- POST /bare on the bare app, with a body the size of a refresh request's.
-- args: <token>
local body

function init(args)
  body = '{"refresh_token":"' .. args[1] .. '"}'
end

function request()
  return wrk.format("POST", "/bare", { ["Content-Type"] = "application/json" }, body)
end
