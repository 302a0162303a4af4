#!/usr/bin/env python3
"""hostile-tls-server.py ADDR CERT KEY LIFETIME MODE=PORT... — TLS servers that misbehave on purpose.

For the net tests of the https clients (tests/net/test_https_hostile.sh): one listening socket per
MODE=PORT on ADDR, each connection handled in its own thread, and the process exits by itself after
LIFETIME seconds. The TLS side is Python's ssl module over two memory BIOs (like our own client),
so every byte on the wire is chosen here: records can be cut, close_notify left out, answers held.
CERT/KEY: the certificate chain and key to present (the sandbox CA's www.domain.com).

Modes (what the server does after accepting a connection):
  garbage          reads the ClientHello, answers 64 bytes that are no TLS record (RFC 8446 §5.1:
                   a record starts with a content type of 20..23, and these never do), then waits
  hs-truncated     reads the ClientHello, sends the first 40 bytes of its real ServerHello flight
                   (a record header promising more), then FIN
  hs-stall         reads the ClientHello and never answers
  body-truncated   a full handshake, reads the request, answers the headers (Content-Length 200000)
                   and 100000 bytes of body, then half of the next record, then FIN
  eof-mid-body     the same but the last record is whole: 100000 of 200000 bytes, then FIN without
                   close_notify (RFC 8446 §6.1: a truncation)
  notify-mid-body  100000 of 200000 bytes, then close_notify and FIN: a clean TLS close, but the HTTP
                   body is short (curl: "transfer closed with N bytes remaining", exit 18)
  eof-no-length    no Content-Length: 100000 bytes then FIN without close_notify (the body is read
                   until the close, so only close_notify can say it is whole)
  stall            a full handshake, reads the request, then says nothing

After its act each connection watches how the client ends it and prints one line:
  conn mode=MODE port=PORT end=rst|fin|timeout at=SECONDS sent=BYTES [note=...]
(end=rst: ECONNRESET on our socket; fin: an orderly close; timeout: LIFETIME passed first.)
Standard library only; run it in the sandbox's internet namespace.
"""
import random
import socket
import ssl
import sys
import threading
import time

ADDR, CERT, KEY, LIFETIME = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
MODES = [a.split("=", 1) for a in sys.argv[5:]]
START = time.monotonic()
BODY_TOTAL, BODY_SENT = 200000, 100000
out_lock = threading.Lock()


def say(line):
    with out_lock:
        print(line, flush=True)


def left():
    return max(0.1, LIFETIME - (time.monotonic() - START))


def recv_some(conn):
    conn.settimeout(left())
    return conn.recv(65536)


def handshake(conn, ctx):
    """A server handshake over memory BIOs; returns (sslobj, incoming, outgoing, bytes sent)."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_side=True)
    sent = 0
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            data = out.read()
            if data:
                conn.sendall(data)
                sent += len(data)
            got = recv_some(conn)
            if not got:
                raise EOFError("client closed during the handshake")
            inc.write(got)
    data = out.read()
    if data:
        conn.sendall(data)
        sent += len(data)
    return obj, inc, out, sent


def read_request(conn, obj, inc):
    buf = b""
    while b"\r\n\r\n" not in buf:
        try:
            buf += obj.read(65536)
        except ssl.SSLWantReadError:
            got = recv_some(conn)
            if not got:
                raise EOFError("client closed before its request was complete")
            inc.write(got)
    return buf


def send_plain(conn, obj, out, data):
    """Writes `data` as TLS records and sends them whole; returns the ciphertext size."""
    obj.write(data)
    cipher = out.read()
    conn.sendall(cipher)
    return len(cipher)


def read_client_hello(conn):
    data = recv_some(conn)
    if not data:
        raise EOFError("no ClientHello")
    return data


def act(mode, conn, ctx):
    """Does MODE's misbehaviour; returns (bytes sent, note). False as the note: the socket is shut."""
    if mode == "garbage":
        read_client_hello(conn)
        rng = random.Random(7)
        junk = bytes([0x00]) + bytes(rng.randrange(256) for _ in range(63))
        conn.sendall(junk)
        return len(junk), "garbage sent"
    if mode == "hs-truncated":
        hello = read_client_hello(conn)
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(inc, out, server_side=True)
        inc.write(hello)
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        flight = out.read()
        conn.sendall(flight[:40])
        conn.shutdown(socket.SHUT_WR)
        return 40, "cut the %d-byte ServerHello flight at 40, FIN" % len(flight)
    if mode == "hs-stall":
        read_client_hello(conn)
        return 0, "ClientHello read, no answer"

    obj, inc, out, sent = handshake(conn, ctx)
    read_request(conn, obj, inc)
    if mode == "stall":
        return sent, "handshake done, request read, no answer"
    length = "" if mode == "eof-no-length" else "Content-Length: %d\r\n" % BODY_TOTAL
    head = ("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n%sConnection: close\r\n\r\n" % length).encode()
    sent += send_plain(conn, obj, out, head)
    body = bytes(random.Random(11).randrange(256) for _ in range(BODY_SENT))
    for i in range(0, BODY_SENT, 16384):
        sent += send_plain(conn, obj, out, body[i:i + 16384])
    if mode == "body-truncated":
        obj.write(b"x" * 16384)
        record = out.read()
        conn.sendall(record[:len(record) // 2])
        sent += len(record) // 2
        conn.shutdown(socket.SHUT_WR)
        return sent, "a %d-byte record cut in half, FIN" % len(record)
    if mode == "notify-mid-body":
        try:
            obj.unwrap()
        except ssl.SSLWantReadError:
            pass  # our close_notify is written; the client's is not awaited
        notify = out.read()
        conn.sendall(notify)
        sent += len(notify)
        conn.shutdown(socket.SHUT_WR)
        return sent, "close_notify and FIN after %d of %d body bytes" % (BODY_SENT, BODY_TOTAL)
    if mode in ("eof-mid-body", "eof-no-length"):
        conn.shutdown(socket.SHUT_WR)
        return sent, "FIN without close_notify after %d body bytes" % BODY_SENT
    raise ValueError("unknown mode " + mode)


def watch_end(conn):
    """How the client ends the connection: rst, fin or timeout (reading and dropping its bytes)."""
    while True:
        try:
            conn.settimeout(left())
            if not conn.recv(65536):
                return "fin"
        except ConnectionResetError:
            return "rst"
        except (socket.timeout, TimeoutError):
            return "timeout"


def serve_one(mode, port, conn, ctx):
    t0 = time.monotonic()
    try:
        sent, note = act(mode, conn, ctx)
        end = watch_end(conn)
    except ConnectionResetError:
        sent, note, end = 0, "reset during the act", "rst"
    except (EOFError, ssl.SSLError, OSError) as e:
        sent, note, end = 0, "act failed: %s" % e, "error"
    say("conn mode=%s port=%s end=%s at=%.2f sent=%d note=%s" % (mode, port, end, time.monotonic() - t0, sent, note))
    conn.close()


def bind(port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((ADDR, int(port)))
    ls.listen(16)
    ls.settimeout(0.5)
    return ls


def listen(mode, port, ls, ctx):
    while time.monotonic() - START < LIFETIME:
        try:
            conn, _ = ls.accept()
        except (socket.timeout, TimeoutError):
            continue
        threading.Thread(target=serve_one, args=(mode, port, conn, ctx), daemon=True).start()


def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(CERT, KEY)
    ctx.set_alpn_protocols(["http/1.1"])
    threads = [threading.Thread(target=listen, args=(m, p, bind(p), ctx), daemon=True) for m, p in MODES]
    for t in threads:
        t.start()
    say("listening " + " ".join("%s=%s" % (m, p) for m, p in MODES))
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
