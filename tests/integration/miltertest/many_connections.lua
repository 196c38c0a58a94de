-- 64 connections open at once, each with a message in flight, then all finish.
dofile("common.lua")
local conns = {}
for i = 1, 64 do
  conns[i] = open()
  check(start_message(conns[i], "MT-MANY-" .. i, standard_headers) == SMFIR_CONTINUE, "eoh " .. i)
  mt.bodystring(conns[i], "message " .. i .. "\r\n")
end
for i = 1, 64 do
  check(finish_message(conns[i]) == SMFIR_CONTINUE, "eom " .. i)
  check(mt.eom_check(conns[i], MT_HDRINSERT, "DKIM-Signature"), "signed " .. i)
  mt.disconnect(conns[i])
end
