-- POST /auth/login as the seeded, verified users in turn (every thread its own users).
-- args: <users> <password> <wrk threads>
local users, password, threads, position

function init(args)
  users, password, threads = tonumber(args[1]), args[2], tonumber(args[3])
  position = id
end

function request()
  position = (position + threads) % users
  return wrk.format("POST", "/auth/login", { ["Content-Type"] = "application/json" },
    string.format('{"email":"bench-%d@example.com","password":"%s"}', position, password))
end
