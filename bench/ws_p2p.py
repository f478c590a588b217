#!/usr/bin/env python3
"""p2p over MQTT/WebSockets: one publisher, one subscriber (raw WebSocket clients, frames of
many PUBLISHes each), N messages at QoS 0 or 1; prints messages per second received.

  python3 bench/ws_p2p.py PORT QOS COUNT [tcp]

With `tcp` the same clients speak plain MQTT over TCP (no handshake, no frames): the baseline
for syscalls and instructions per message (run the broker under `strace -c -f` or `perf stat`).
"""
import base64, os, socket, struct, sys, time

TCP = len(sys.argv) > 4 and sys.argv[4] == "tcp"

def ws(port):
    if TCP:
        s = socket.create_connection(("127.0.0.1", port)); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s, b""
    s = socket.create_connection(("127.0.0.1", port)); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(f"GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n".encode())
    buf = b""
    while b"\r\n\r\n" not in buf: buf += s.recv(4096)
    return s, buf.split(b"\r\n\r\n", 1)[1]

def frame(p):  # mask of zeros: XOR is the identity, the bytes stay as they are
    if TCP: return p
    n = len(p)
    h = bytes([0x82]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n) if n < 65536 else bytes([0x80 | 127]) + struct.pack(">Q", n))
    return h + b"\0\0\0\0" + p

def pkt(t, body): 
    n, v = len(body), b""
    while True:
        b = n & 0x7F; n >>= 7; v += bytes([b | (0x80 if n else 0)])
        if not n: break
    return bytes([t]) + v + body

def s16(x): return struct.pack(">H", len(x)) + x

def connect(cid): return pkt(0x10, s16(b"MQTT") + b"\x04\x02\x00\x3c" + s16(cid))

class Reader:
    def __init__(self, s, rest): self.s, self.raw, self.data = s, rest, b""
    def fill(self):
        if TCP:
            self.data += self.s.recv(1 << 20)
            return
        self.raw += self.s.recv(1 << 20)
        while len(self.raw) >= 2:
            n, at = self.raw[1] & 0x7F, 2
            if n == 126: n, at = struct.unpack(">H", self.raw[2:4])[0], 4
            elif n == 127: n, at = struct.unpack(">Q", self.raw[2:10])[0], 10
            if len(self.raw) < at + n: break
            self.data += self.raw[at:at + n]; self.raw = self.raw[at + n:]
    def packets(self):
        out = []
        while True:
            if len(self.data) < 2: break
            n, m, i = 0, 1, 1
            while True:
                if i >= len(self.data): return out
                b = self.data[i]; n += (b & 0x7F) * m; m *= 128; i += 1
                if not b & 0x80: break
            if len(self.data) < i + n: break
            out.append(self.data[:i + n]); self.data = self.data[i + n:]
        return out

port, qos, count = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
sub, r = ws(port); subr = Reader(sub, r)
sub.sendall(frame(connect(b"bsub") + pkt(0x82, b"\0\1" + s16(b"b/t") + bytes([qos]))))
got = 0
while got < 2: subr.fill(); got += len(subr.packets())
pub, r = ws(port); pubr = Reader(pub, r)
pub.sendall(frame(connect(b"bpub")))
while not pubr.packets(): pubr.fill()
payload = b"x" * 64
batch = 100
received = 0
start = time.monotonic()
sent = 0
import select
while received < count:
    if sent < count and sent - received < 2000:
        msgs = b"".join(pkt(0x30 | (qos << 1), s16(b"b/t") + (struct.pack(">H", (sent + k) % 65535 + 1) if qos else b"") + payload) for k in range(batch))
        pub.sendall(frame(msgs)); sent += batch
    rl, _, _ = select.select([sub, pub], [], [], 1)
    if sub in rl:
        subr.fill()
        ps = subr.packets(); received += len(ps)
        if qos:
            acks = b"".join(pkt(0x40, p[2 + 2 + 3:2 + 2 + 3 + 2]) for p in ps)  # PUBACK with the id (topic b/t)
            if acks: sub.sendall(frame(acks))
    if pub in rl:
        pubr.fill(); pubr.packets()
el = time.monotonic() - start
print(f"{count / el:.0f} msg/s (qos {qos}, {count} messages of 64 bytes, {el:.2f} s)")
