-- Numbers wrk's threads 0..n-1, so each can take its own share of a seeded file
-- (`id`, set here in the main state, becomes a global in the thread's state).
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

-- The lines of `path` whose (0-based) index modulo `shares` is `share`.
function read_share(path, share, shares)
  local lines, index = {}, 0
  for line in io.lines(path) do
    if index % shares == share then
      lines[#lines + 1] = line
    end
    index = index + 1
  end
  return lines
end
