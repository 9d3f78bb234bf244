-- POST /auth/register with an address no one has used: the run's nonce, the thread and
-- a counter make each one unique.
-- args: <nonce> <password>
local nonce, password, counter

function init(args)
  nonce, password, counter = args[1], args[2], 0
end

function request()
  counter = counter + 1
  return wrk.format("POST", "/auth/register", { ["Content-Type"] = "application/json" },
    string.format('{"email":"new-%s-%d-%d@example.com","password":"%s","full_name":"Bench User"}',
      nonce, id, counter, password))
end
