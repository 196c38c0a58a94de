#!/usr/bin/python3
"""A minimal milter protocol (version 6) client for cases miltertest cannot
send: header fields past ~30 KB (miltertest crashes on them). Speaks only what
the tests need: option negotiation, connect, macros, MAIL, header, EOH, body,
end of message, abort, quit. See libmilter's mfdef.h for the constants.
"""
import socket
import struct

SMFIP_MDS_1M = 0x20000000
ALL_STEPS = 0x001FFFFF  # every protocol step flag up to SMFIP_HDR_LEADSPC


class MilterClient:
    def __init__(self, host, port, offer_steps=ALL_STEPS, timeout=30):
        """A TCP connection to host:port, or with port None a unix socket at host."""
        if port is None:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.settimeout(timeout)
            self.sock.connect(host)
        else:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        self.send(b"O", struct.pack(">III", 6, 0x1FF, offer_steps))
        cmd, data = self.recv()
        assert cmd == b"O", cmd
        self.version, self.actions, self.steps = struct.unpack(">III", data[:12])

    def send(self, cmd, data=b""):
        self.sock.sendall(struct.pack(">I", len(data) + 1) + cmd + data)

    def recv(self):
        head = self._exact(5)
        (length,) = struct.unpack(">I", head[:4])
        return head[4:5], self._exact(length - 1)

    def _exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("milter closed the connection")
            buf += chunk
        return buf

    def reply(self, step_no_reply_flag=0):
        """Reads replies until one that ends the step (skips progress)."""
        if self.steps & step_no_reply_flag:
            return None
        while True:
            cmd, data = self.recv()
            if cmd != b"p":
                return cmd, data

    def connect(self, ip="127.0.0.1", hostname="client.example", macros=None):
        if macros:
            self.macro(b"C", macros)
        self.send(b"C", hostname.encode() + b"\0" + b"4" + struct.pack(">H", 25) + ip.encode() + b"\0")
        return self.reply(0x1000)

    def macro(self, for_cmd, macros):
        data = for_cmd
        for k, v in macros.items():
            data += k.encode() + b"\0" + v.encode() + b"\0"
        self.send(b"D", data)

    def mail(self, sender, macros=None):
        if macros:
            self.macro(b"M", macros)
        self.send(b"M", sender.encode() + b"\0")
        return self.reply(0x4000)

    def header(self, name, value):
        self.send(b"L", name.encode() + b"\0" + value + b"\0")
        return self.reply(0x80)

    def eoh(self):
        self.send(b"N")
        return self.reply(0x40000)

    def body(self, data):
        for i in range(0, len(data), 65535):
            self.send(b"B", data[i:i + 65535])
            r = self.reply(0x80000)
            if r and r[0] != b"c":
                return r
        return (b"c", b"")

    def end_of_message(self):
        """Returns (final reply, [modification replies])."""
        self.send(b"E")
        mods = []
        while True:
            cmd, data = self.recv()
            if cmd in (b"h", b"i", b"m", b"+", b"-", b"e", b"b", b"p"):
                mods.append((cmd, data))
                continue
            return (cmd, data), mods

    def quit(self):
        self.send(b"Q")
        self.sock.close()


def send_one(host, port, queue_id, body, headers=((b"From", b" a@example.com"),)):
    """One whole message on a fresh connection, as an MTA sends it; returns
    (final reply, modification replies such as inserted headers)."""
    c = MilterClient(host, port)
    c.connect()
    c.mail("<a@example.com>", {"i": queue_id})
    for name, value in headers:
        c.header(name.decode() if isinstance(name, bytes) else name, value)
    c.eoh()
    c.body(body)
    final, mods = c.end_of_message()
    c.quit()
    return final, mods
