#!/usr/bin/env python3
"""tiny-window-peer.py TAP SERVER_IP PORT PATH — a TCP client that offers a tiny window, made by hand.

Stands on the kernel's side of the sandbox's TAP device (an AF_PACKET socket on it, in the router
namespace) with an address nobody else uses (10.77.0.9, its own MAC, answering ARP for it), so the
kernel never sees the connection. It opens a connection to SERVER_IP:PORT with a 4000-byte window,
asks for PATH, takes the first window of the response, then acknowledges everything it gets with
a window of 8 bytes (WINDOW=N to choose), and reports when each later segment arrived. A sender without the SWS override
timer (RFC 1122 §4.2.3.4, RFC 9293 §3.8.6.2.1) sends nothing after the first window: the report says
`stalled`. Finally it resets the connection (RST) so that nothing is left behind.

Output, one key=value per line: handshake=ok, first_window=BYTES, then small_segment=N at=SECONDS
len=BYTES for each segment after the window shrank, and result=flowing|stalled. With WINDOW=0 the window never opens: the peer answers the
probes and prints probe lines until the server gives up with RST (rst_at=SECONDS) or DEADLINE
passes (result=no-rst).
Standard library only; run as root inside the router namespace.
"""
import os
import random
import select
import socket
import struct
import sys
import time

TAP, SERVER, PORT, PATH = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
WANT_SMALL = int(os.environ.get("WANT_SMALL", "6"))       # segments to see after the window shrank
DEADLINE = float(os.environ.get("DEADLINE", "10"))        # seconds to wait for them
WINDOW = int(os.environ.get("WINDOW", "8"))               # the window offered after the first one
MY_IP = socket.inet_aton(os.environ.get("PEER_IP", "10.77.0.9"))
MY_MAC = bytes([0x02, 0x77, 0x00, 0x00, 0x00, 0x09])
SRV_IP = socket.inet_aton(SERVER)
ETH_P_ALL, ETH_P_IP, ETH_P_ARP = 0x0003, 0x0800, 0x0806

sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
sock.bind((TAP, 0))
srv_mac = None


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def send_tcp(seq, ack, flags, window, payload=b"", options=b""):
    hl = 20 + len(options)
    tcp = struct.pack("!HHIIBBHHH", 50009, PORT, seq, ack, (hl // 4) << 4, flags, window, 0, 0) + options + payload
    pseudo = MY_IP + SRV_IP + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), random.randint(0, 65535), 0, 64, 6, 0, MY_IP, SRV_IP)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    sock.send(srv_mac + MY_MAC + struct.pack("!H", ETH_P_IP) + ip + tcp)


def answer_arp(frame):
    """Answers "who has 10.77.0.9" (from anyone) and learns the server's MAC from its requests."""
    global srv_mac
    if len(frame) < 42:
        return
    op = struct.unpack("!H", frame[20:22])[0]
    sha, spa, tpa = frame[22:28], frame[28:32], frame[38:42]
    if op == 1 and tpa == MY_IP:
        if spa == SRV_IP:
            srv_mac = sha
        reply = struct.pack("!HHBBH", 1, ETH_P_IP, 6, 4, 2) + MY_MAC + MY_IP + sha + spa
        sock.send(sha + MY_MAC + struct.pack("!H", ETH_P_ARP) + reply)


def next_segment(until):
    """The next TCP segment from the server to us, or None at `until`; ARP answered meanwhile."""
    while True:
        left = until - time.monotonic()
        if left <= 0:
            return None
        r, _, _ = select.select([sock], [], [], left)
        if not r:
            return None
        frame = sock.recv(65536)
        if len(frame) < 14 or frame[6:12] == MY_MAC:
            continue
        etype = struct.unpack("!H", frame[12:14])[0]
        if etype == ETH_P_ARP:
            answer_arp(frame[14:])
            continue
        if etype != ETH_P_IP or len(frame) < 34:
            continue
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        if ip[9] != 6 or ip[12:16] != SRV_IP or ip[16:20] != MY_IP:
            continue
        tcp = ip[ihl:total]
        sport, dport, seq, ack, off, flags, win = struct.unpack("!HHIIBBH", tcp[:16])
        if sport != PORT or dport != 50009:
            continue
        return seq, ack, flags, win, tcp[(off >> 4) * 4:]


# Learn the server's MAC: our gratuitous ARP request makes it ask for us (or answer).
def learn_server_mac():
    global srv_mac
    req = struct.pack("!HHBBH", 1, ETH_P_IP, 6, 4, 1) + MY_MAC + MY_IP + b"\0" * 6 + SRV_IP
    end = time.monotonic() + 5
    while srv_mac is None and time.monotonic() < end:
        sock.send(b"\xff" * 6 + MY_MAC + struct.pack("!H", ETH_P_ARP) + req)
        r, _, _ = select.select([sock], [], [], 0.5)
        while r:
            frame = sock.recv(65536)
            if len(frame) >= 42 and struct.unpack("!H", frame[12:14])[0] == ETH_P_ARP:
                a = frame[14:]
                if a[14:18] == SRV_IP and a[6:8] == b"\x00\x02" and a[24:28] == MY_IP:
                    srv_mac = a[8:14]
                answer_arp(a)
            r, _, _ = select.select([sock], [], [], 0)
    if srv_mac is None:
        print("result=no-arp")
        sys.exit(1)


learn_server_mac()
iss = random.randint(0, 2**32 - 1)
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
send_tcp(iss, 0, SYN, 4000, options=struct.pack("!BBH", 2, 4, 1460))
seg = next_segment(time.monotonic() + 5)
if seg is None or not (seg[2] & SYN and seg[2] & ACK):
    print("result=no-synack")
    sys.exit(1)
rcv_nxt = (seg[0] + 1) & 0xFFFFFFFF
snd_nxt = (iss + 1) & 0xFFFFFFFF
request = ("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (PATH, SERVER)).encode()
send_tcp(snd_nxt, rcv_nxt, ACK, 4000)
send_tcp(snd_nxt, rcv_nxt, ACK | PSH, 4000, request)
snd_nxt = (snd_nxt + len(request)) & 0xFFFFFFFF
print("handshake=ok")

# Take the first window (4000 bytes) as a receiver whose application reads nothing: each ACK
# offers what is left of the 4000 (the right edge stays put), so the sender runs out of window
# with more data queued. Then the application "reads" a little: the window reopens to WINDOW.
got = 0
end = time.monotonic() + 5
while got < 4000:
    seg = next_segment(end)
    if seg is None:
        break
    seq, _, flags, _, payload = seg
    if payload and seq == rcv_nxt:
        rcv_nxt = (rcv_nxt + len(payload)) & 0xFFFFFFFF
        got += len(payload)
    send_tcp(snd_nxt, rcv_nxt, ACK, max(0, 4000 - got))
print("first_window=%d" % got)
send_tcp(snd_nxt, rcv_nxt, ACK, WINDOW)
shrunk_at = time.monotonic()

n = 0
end = shrunk_at + DEADLINE
while n < WANT_SMALL or WINDOW == 0:
    seg = next_segment(end)
    if seg is None:
        break
    seq, _, flags, _, payload = seg
    if flags & RST:
        print("rst_at=%.3f" % (time.monotonic() - shrunk_at))
        sys.exit(0)
    if payload and seq == rcv_nxt and WINDOW > 0:
        take = min(len(payload), WINDOW)
        rcv_nxt = (rcv_nxt + take) & 0xFFFFFFFF
        n += 1
        print("small_segment=%d at=%.3f len=%d" % (n, time.monotonic() - shrunk_at, len(payload)))
    elif payload:
        print("probe at=%.3f len=%d" % (time.monotonic() - shrunk_at, len(payload)))
    send_tcp(snd_nxt, rcv_nxt, ACK, WINDOW)
if WINDOW > 0:
    print("result=%s" % ("flowing" if n >= WANT_SMALL else "stalled"))
else:
    print("result=no-rst")
send_tcp(snd_nxt, rcv_nxt, RST | ACK, 0)
sys.exit(0)
