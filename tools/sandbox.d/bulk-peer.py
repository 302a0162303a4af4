#!/usr/bin/env python3
"""bulk-peer.py — the kernel's end of a bulk transfer test, and the bytes it carries.

  bulk-peer.py gen SIZE KEY               SIZE pseudo-random bytes on stdout
  bulk-peer.py source ADDR PORT SIZE KEY  an HTTP server for one request: answers any GET with
                                          200, Content-Length SIZE and the bytes `gen` makes
  bulk-peer.py sink ADDR PORT             takes one TCP connection and reads it to the end

The bytes: AES-128-CTR of zeros under KEY (32 hex digits, a fresh random one per test run),
made by `openssl enc`: incompressible, never repeating within a run, and reproducible, so the
test computes the SHA-256 it expects from `gen` without keeping the data anywhere. Nothing is
written to disk. `source` and `sink` print "listening" once they accept connections (the test
waits for that line), then one line when done: "sent BYTES" or "received BYTES SHA256".
Standard library and the openssl command only; run inside the namespace of the kernel peer.
"""
import hashlib
import socket
import subprocess
import sys

CHUNK = 1 << 20


def stream(size, key):
    """Yields `size` bytes of AES-128-CTR keystream (the encryption of zeros) under `key`."""
    gen = subprocess.Popen(["openssl", "enc", "-aes-128-ctr", "-K", key, "-iv", "0" * 32, "-in", "/dev/zero"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    left = size
    try:
        while left > 0:
            block = gen.stdout.read(min(CHUNK, left))
            if not block:
                raise SystemExit("bulk-peer: openssl ended early")
            left -= len(block)
            yield block
    finally:
        gen.kill()  # our own child; it would write zeros' ciphertext for ever
        gen.wait()


def listen(addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(1)
    print("listening", flush=True)
    conn, _ = s.accept()
    s.close()
    return conn


def source(addr, port, size, key):
    conn = listen(addr, port)
    head = b""
    while b"\r\n\r\n" not in head:  # the whole request, so that closing never resets it
        data = conn.recv(4096)
        if not data:
            raise SystemExit("bulk-peer: the client closed before a whole request")
        head += data
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                 b"Content-Length: %d\r\nConnection: close\r\n\r\n" % size)
    sent = 0
    for block in stream(size, key):
        conn.sendall(block)
        sent += len(block)
    conn.shutdown(socket.SHUT_WR)
    while conn.recv(65536):  # until the client's FIN
        pass
    conn.close()
    print("sent %d" % sent, flush=True)


def sink(addr, port):
    conn = listen(addr, port)
    digest = hashlib.sha256()
    total = 0
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    while True:
        n = conn.recv_into(buf)
        if n == 0:
            break
        digest.update(view[:n])
        total += n
    conn.close()
    print("received %d %s" % (total, digest.hexdigest()), flush=True)


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "gen" and len(sys.argv) == 4:
        out = sys.stdout.buffer
        for block in stream(int(sys.argv[2]), sys.argv[3]):
            out.write(block)
        out.flush()
    elif mode == "source" and len(sys.argv) == 6:
        source(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    elif mode == "sink" and len(sys.argv) == 4:
        sink(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
