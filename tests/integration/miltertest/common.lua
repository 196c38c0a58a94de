-- Shared by the miltertest scripts: connect to signet-milter and run one
-- message through it. SIGNET_SOCKET names the milter's socket.
socket = os.getenv("SIGNET_SOCKET")

function check(ok, what)
  if not ok then error("FAILED: " .. what) end
end

function open(ip)
  local conn = mt.connect(socket, 20, 0.1)
  check(conn ~= nil, "connect to " .. socket)
  mt.set_timeout(10)
  check(mt.conninfo(conn, "client.example", ip or "127.0.0.1") == nil, "conninfo")
  check(mt.getreply(conn) == SMFIR_CONTINUE, "conninfo reply")
  return conn
end

-- Sends MAIL FROM and the headers; returns the reply to end-of-headers.
function start_message(conn, queue_id, headers)
  if queue_id then mt.macro(conn, SMFIC_MAIL, "i", queue_id) end
  check(mt.mailfrom(conn, "<sender@example.com>") == nil, "mailfrom")
  local r = mt.getreply(conn)
  if r ~= SMFIR_CONTINUE then return r end
  for _, h in ipairs(headers) do mt.header(conn, h[1], h[2]) end
  check(mt.eoh(conn) == nil, "eoh")
  return mt.getreply(conn)
end

function finish_message(conn)
  check(mt.eom(conn) == nil, "eom")
  return mt.getreply(conn)
end

standard_headers = {
  {"From", " Sender <sender@example.com>"},
  {"To", " rcpt@example.org"},
  {"Subject", " miltertest"},
}
