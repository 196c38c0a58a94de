#!/usr/bin/python3
"""A capture SMTP server for the integration tests (Python 3.11 stdlib only).

Accepts every message (HELO/EHLO, MAIL, RCPT, DATA, RSET, NOOP, VRFY, QUIT),
never relays anything, and writes each message's exact bytes -- CRLF line
endings as received, after dot-unstuffing, without the terminating "." line --
to DIR/NNNNNN.eml (000001.eml, 000002.eml, ...).  Each file is written to a
temporary name in DIR and renamed into place, so a reader only ever sees
complete messages.  Numbering continues after the highest NNNNNN.eml already
in DIR.

As a module:

    sink = SmtpSink("/tmp/out")          # port=0: any free port
    sink.start()                         # serves in a background thread
    ... sink.port, sink.count(), sink.paths(), sink.envelopes ...
    sink.stop()

or `with SmtpSink(dir) as sink: ...`.

As a CLI:

    smtp_sink.py --dir DIR [--host 127.0.0.1] [--port PORT]

prints "listening on HOST:PORT" and serves until SIGINT/SIGTERM.
"""

import argparse
import asyncio
import os
import re
import signal
import sys
import threading

MAX_LINE = 1 << 20          # longest command / data line accepted
MAX_MESSAGE = 64 << 20      # largest message accepted (552 above that)


class SmtpSink:
    def __init__(self, out_dir, host="127.0.0.1", port=0, hostname="sink.test"):
        self.out_dir = os.path.abspath(out_dir)
        self.host = host
        self.port = port
        self.hostname = hostname
        self.envelopes = []        # (file name, mail from, [rcpt to]) per message
        self.errors = []           # unexpected exceptions in session handlers
        self._lock = threading.Lock()
        self._seq = 0
        self._loop = None
        self._server = None
        self._thread = None
        self._ready = threading.Event()
        self._start_error = None
        self._sessions = set()

    # -- public API -------------------------------------------------------
    def start(self, timeout=10):
        os.makedirs(self.out_dir, exist_ok=True)
        self._seq = self._highest_existing()
        self._thread = threading.Thread(target=self._run, name="smtp-sink",
                                        daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("smtp sink did not start within %ss" % timeout)
        if self._start_error is not None:
            raise self._start_error
        return self

    def stop(self, timeout=10):
        loop = self._loop
        if loop is None or self._thread is None:
            return
        if loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
            try:
                fut.result(timeout)
            except Exception:
                pass
        self._thread.join(timeout)
        self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def count(self):
        with self._lock:
            return len(self.envelopes)

    def paths(self):
        """Sorted paths of every .eml file in the output directory."""
        return sorted(os.path.join(self.out_dir, n)
                      for n in os.listdir(self.out_dir)
                      if re.fullmatch(r"\d{6,}\.eml", n))

    # -- internals --------------------------------------------------------
    def _highest_existing(self):
        best = 0
        for n in os.listdir(self.out_dir):
            m = re.fullmatch(r"(\d+)\.eml", n)
            if m:
                best = max(best, int(m.group(1)))
        return best

    def _run(self):
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            self._server = loop.run_until_complete(asyncio.start_server(
                self._session, self.host, self.port, limit=MAX_LINE,
                reuse_address=True))
            self.port = self._server.sockets[0].getsockname()[1]
        except Exception as e:  # e.g. port in use
            self._start_error = e
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _shutdown(self):
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._sessions):
            task.cancel()
        if self._sessions:
            await asyncio.gather(*self._sessions, return_exceptions=True)
        asyncio.get_running_loop().stop()

    def _store(self, data, mail_from, rcpts):
        with self._lock:
            self._seq += 1
            seq = self._seq
            name = "%06d.eml" % seq
            tmp = os.path.join(self.out_dir, ".tmp-%06d" % seq)
            with open(tmp, "wb") as f:
                f.write(data)
            os.rename(tmp, os.path.join(self.out_dir, name))
            self.envelopes.append((name, mail_from, list(rcpts)))
        return name

    async def _session(self, reader, writer):
        task = asyncio.current_task()
        self._sessions.add(task)
        try:
            await self._converse(reader, writer)
        except (asyncio.CancelledError, ConnectionError,
                asyncio.IncompleteReadError):
            pass
        except Exception as e:  # keep the server alive, remember the bug
            self.errors.append(repr(e))
        finally:
            self._sessions.discard(task)
            try:
                writer.close()
            except Exception:
                pass

    async def _converse(self, reader, writer):
        def reply(text):
            writer.write(text.encode("ascii") + b"\r\n")

        reply("220 %s ESMTP capture sink" % self.hostname)
        await writer.drain()
        mail_from, rcpts = None, []
        while True:
            try:
                line = await reader.readuntil(b"\n")
            except asyncio.LimitOverrunError:
                reply("500 5.5.2 line too long")
                await writer.drain()
                return
            except asyncio.IncompleteReadError:
                return
            cmd = line.rstrip(b"\r\n").decode("utf-8", "replace")
            verb = cmd.split(" ", 1)[0].upper()
            arg = cmd[len(verb):].strip()
            if verb == "EHLO":
                mail_from, rcpts = None, []
                writer.write(("250-%s\r\n250-PIPELINING\r\n250-SIZE %d\r\n"
                              "250-8BITMIME\r\n250-SMTPUTF8\r\n"
                              "250 ENHANCEDSTATUSCODES\r\n"
                              % (self.hostname, MAX_MESSAGE)).encode())
            elif verb == "HELO":
                mail_from, rcpts = None, []
                reply("250 %s" % self.hostname)
            elif verb == "MAIL":
                m = re.match(r"(?i)FROM:\s*<([^>]*)>", arg)
                if not m:
                    reply("501 5.5.4 syntax: MAIL FROM:<address>")
                else:
                    mail_from, rcpts = m.group(1), []
                    reply("250 2.1.0 ok")
            elif verb == "RCPT":
                m = re.match(r"(?i)TO:\s*<([^>]*)>", arg)
                if mail_from is None:
                    reply("503 5.5.1 MAIL first")
                elif not m:
                    reply("501 5.5.4 syntax: RCPT TO:<address>")
                else:
                    rcpts.append(m.group(1))
                    reply("250 2.1.5 ok")
            elif verb == "DATA":
                if mail_from is None or not rcpts:
                    reply("503 5.5.1 MAIL and RCPT first")
                    await writer.drain()
                    continue
                reply("354 end data with <CR><LF>.<CR><LF>")
                await writer.drain()
                data, too_big = await self._read_data(reader)
                if data is None:
                    return
                if too_big:
                    reply("552 5.3.4 message too big")
                else:
                    name = self._store(data, mail_from, rcpts)
                    reply("250 2.0.0 ok %s" % name)
                mail_from, rcpts = None, []
            elif verb == "RSET":
                mail_from, rcpts = None, []
                reply("250 2.0.0 ok")
            elif verb == "NOOP":
                reply("250 2.0.0 ok")
            elif verb == "VRFY":
                reply("252 2.0.0 cannot verify, will accept")
            elif verb == "QUIT":
                reply("221 2.0.0 bye")
                await writer.drain()
                return
            else:
                reply("502 5.5.2 command not implemented")
            await writer.drain()

    async def _read_data(self, reader):
        """Read DATA lines up to the lone ".", undo dot-stuffing.

        Returns (bytes, too_big) or (None, False) if the client went away."""
        chunks = []
        size = 0
        too_big = False
        at_line_start = True
        while True:
            try:
                line = await reader.readuntil(b"\n")
            except asyncio.LimitOverrunError as e:
                # An over-long line: take it in pieces; only the first piece
                # starts a line (dot-unstuffing), none is the terminator.
                line = await reader.readexactly(max(e.consumed, 1))
                if at_line_start and line.startswith(b"."):
                    line = line[1:]
                at_line_start = False
                size += len(line)
                if not too_big:
                    chunks.append(line)
                continue
            except asyncio.IncompleteReadError:
                return None, False
            if at_line_start:
                if line in (b".\r\n", b".\n"):
                    break
                if line.startswith(b"."):
                    line = line[1:]
            at_line_start = True
            size += len(line)
            if size > MAX_MESSAGE:
                too_big = True
                chunks = []
            if not too_big:
                chunks.append(line)
        return b"".join(chunks), too_big


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", required=True, help="where to write NNNNNN.eml")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0: any free port")
    args = ap.parse_args(argv)
    sink = SmtpSink(args.dir, args.host, args.port)
    sink.start()
    print("listening on %s:%d" % (args.host, sink.port), flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sink.stop()
        print("stored %d messages" % sink.count(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
