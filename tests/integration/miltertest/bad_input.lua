-- Bad messages through the milter: each passes unsigned (on-error = accept)
-- or is signed when it can be; the milter never dies. The runner checks that
-- each gets its one log line.
dofile("common.lua")

local function unsigned(queue_id, headers, body)
  local conn = open()
  local r = start_message(conn, queue_id, headers)
  if r == SMFIR_CONTINUE then
    mt.bodystring(conn, body)
    r = finish_message(conn)
    check(r == SMFIR_CONTINUE or r == SMFIR_ACCEPT, queue_id .. " eom reply")
    check(not mt.eom_check(conn, MT_HDRINSERT, "DKIM-Signature"), queue_id .. " must not be signed")
  else
    check(r == SMFIR_ACCEPT, queue_id .. " accepted")
  end
  mt.disconnect(conn)
end

local function signed(queue_id, headers, body)
  local conn = open()
  check(start_message(conn, queue_id, headers) == SMFIR_CONTINUE, queue_id .. " eoh")
  mt.bodystring(conn, body)
  check(finish_message(conn) == SMFIR_CONTINUE, queue_id .. " eom")
  check(mt.eom_check(conn, MT_HDRINSERT, "DKIM-Signature"), queue_id .. " signed")
  mt.disconnect(conn)
end

unsigned("MT-NOFROM", {{"To", " a@example.org"}, {"Subject", " no from"}}, "x\r\n")
unsigned("MT-TWOFROM", {{"From", " a@example.com"}, {"From", " b@example.com"}}, "x\r\n")
-- (The 1 MB header goes through milter_client.py: miltertest crashes on values over ~30 KB.)
signed("MT-NULBODY", standard_headers, "nul \0 byte\r\n")
signed("MT-BARECR", standard_headers, "bare\rCR and bare\nLF\r\n")
signed("MT-BROKENMIME", {{"From", " a@example.com"}, {"Content-Type", " multipart/mixed; boundary=\"missing"}},
       "--nothing\r\nContent-Type: text/plain\r\n\r\nno closing boundary\r\n")
