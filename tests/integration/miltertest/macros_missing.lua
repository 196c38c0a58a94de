-- No macros at all: a trusted client address still gets signed (queue id
-- logged as NOQUEUE); an untrusted one is accepted untouched at MAIL FROM.
dofile("common.lua")
local conn = open("127.0.0.1")
check(start_message(conn, nil, standard_headers) == SMFIR_CONTINUE, "trusted eoh")
mt.bodystring(conn, "no macros\r\n")
check(finish_message(conn) == SMFIR_CONTINUE, "trusted eom")
check(mt.eom_check(conn, MT_HDRINSERT, "DKIM-Signature"), "trusted signed")
mt.disconnect(conn)
local outside = open("192.0.2.44")
check(start_message(outside, nil, standard_headers) == SMFIR_ACCEPT, "untrusted accepted at MAIL FROM")
mt.disconnect(outside)
