-- With on-error = tempfail, a message signet cannot sign is tempfailed.
dofile("common.lua")
local conn = open()
check(start_message(conn, "MT-TEMPFAIL", {{"To", " a@example.org"}}) == SMFIR_CONTINUE, "eoh")
mt.bodystring(conn, "no From header\r\n")
check(finish_message(conn) == SMFIR_TEMPFAIL, "tempfail at end of message")
mt.disconnect(conn)
