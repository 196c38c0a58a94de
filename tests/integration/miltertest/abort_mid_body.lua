-- The MTA aborts a message mid-body; the next message on the same connection
-- is signed normally.
dofile("common.lua")
local conn = open()
check(start_message(conn, "MT-ABORT", standard_headers) == SMFIR_CONTINUE, "eoh")
mt.bodystring(conn, "first half of a body that never ends\r\n")
check(mt.abort(conn) == nil, "abort")
check(start_message(conn, "MT-AFTER-ABORT", standard_headers) == SMFIR_CONTINUE, "second eoh")
mt.bodystring(conn, "second message\r\n")
check(finish_message(conn) == SMFIR_CONTINUE, "second eom")
check(mt.eom_check(conn, MT_HDRINSERT, "DKIM-Signature"), "second message signed")
mt.disconnect(conn)
