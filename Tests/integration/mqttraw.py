"""Hand-built MQTT 3.1.1 packets and a minimal raw-socket client.

Fixed header of every packet (MQTT 3.1.1 section 2.2):
  byte 1      packet type in bits 7-4, flags in bits 3-0
  byte 2..5   Remaining Length: 7 bits per byte, least significant group first,
              bit 7 set = "another length byte follows" (at most 4 bytes)
"""

import socket
import struct
import time

from harness import HOST

# Packet type nibbles (already shifted into bits 7-4).
CONNECT, CONNACK = 0x10, 0x20
PUBLISH = 0x30
SUBSCRIBE, SUBACK = 0x80, 0x90
UNSUBSCRIBE, UNSUBACK = 0xA0, 0xB0
PINGREQ_TYPE, PINGRESP_TYPE = 0xC0, 0xD0
DISCONNECT_TYPE = 0xE0

PINGREQ = bytes([0xC0, 0x00])      # type 12, flags 0, remaining length 0
PINGRESP = bytes([0xD0, 0x00])     # type 13, flags 0, remaining length 0
DISCONNECT = bytes([0xE0, 0x00])   # type 14, flags 0, remaining length 0

CONNACK_ACCEPTED = 0
CONNACK_BAD_PROTOCOL_VERSION = 1
CONNACK_IDENTIFIER_REJECTED = 2


def varint(n):
    """Remaining Length encoding (section 2.2.3)."""
    assert 0 <= n <= 268_435_455
    out = bytearray()
    while True:
        n, digit = n >> 7, n & 0x7F
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def mqtt_string(value):
    """UTF-8 string: 2-byte big-endian length, then the bytes (section 1.5.3)."""
    data = value.encode() if isinstance(value, str) else bytes(value)
    return struct.pack("!H", len(data)) + data


def packet(first_byte, body):
    return bytes([first_byte]) + varint(len(body)) + body


def connect(client_id="", keepalive=60, clean_session=True,
            protocol_name="MQTT", level=4, flags=None):
    """CONNECT (section 3.1). Variable header:
      00 04 'M' 'Q' 'T' 'T'   protocol name ("MQIsdp" with level 3 for MQTT 3.1)
      04                      protocol level (4 = 3.1.1, 3 = 3.1)
      02                      connect flags: bit 1 clean session; bit 0 reserved (0);
                              no will, no username, no password
      00 3C                   keepalive in seconds, big-endian
    Payload: client identifier as an MQTT string.
    """
    if flags is None:
        flags = 0x02 if clean_session else 0x00
    body = (mqtt_string(protocol_name) + bytes([level, flags]) +
            struct.pack("!H", keepalive) + mqtt_string(client_id))
    return packet(CONNECT, body)


def connack(return_code, session_present=False):
    """CONNACK (section 3.2): 20 02 <ack flags> <return code>."""
    return bytes([CONNACK, 0x02, 0x01 if session_present else 0x00, return_code])


def subscribe(packet_id, filters, first_byte=SUBSCRIBE | 0x02):
    """SUBSCRIBE (section 3.8): fixed header 82 (flags MUST be 0010).
    Variable header: packet identifier (2 bytes). Payload: for each filter an
    MQTT string followed by one requested-QoS byte.
    filters: iterable of topic filters, or of (filter, qos) pairs.
    """
    body = struct.pack("!H", packet_id)
    for item in filters:
        topic, qos = (item, 0) if isinstance(item, (str, bytes)) else item
        body += mqtt_string(topic) + bytes([qos])
    return packet(first_byte, body)


def suback(packet_id, granted):
    """SUBACK (section 3.9): 90 <len> <packet id> <granted QoS per filter>."""
    return packet(SUBACK, struct.pack("!H", packet_id) + bytes(granted))


def unsubscribe(packet_id, filters):
    """UNSUBSCRIBE (section 3.10): fixed header A2, packet id, MQTT strings."""
    body = struct.pack("!H", packet_id) + b"".join(mqtt_string(f) for f in filters)
    return packet(UNSUBSCRIBE | 0x02, body)


def unsuback(packet_id):
    """UNSUBACK (section 3.11): B0 02 <packet id>."""
    return bytes([UNSUBACK, 0x02]) + struct.pack("!H", packet_id)


def publish(topic, payload=b"", first_byte=PUBLISH):
    """PUBLISH QoS 0 (section 3.3): fixed header 30 (DUP 0, QoS 0, RETAIN 0).
    Variable header: topic name as an MQTT string (no packet id at QoS 0).
    Payload: the application message, to the end of the packet.
    """
    if isinstance(payload, str):
        payload = payload.encode()
    return packet(first_byte, mqtt_string(topic) + payload)


class RawClient:
    """A TCP connection speaking hand-made bytes, with bounded reads."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        """Send bytes; returns False if the broker had already closed the connection."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no data from broker in time")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("no data from broker in time") from None
        if not chunk:
            raise ConnectionError("broker closed the connection")
        self.buffer += chunk

    def recv_exact(self, n, timeout):
        deadline = time.monotonic() + timeout
        while len(self.buffer) < n:
            self._fill(deadline)
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def read_packet(self, timeout):
        """One whole packet as bytes (fixed header included)."""
        deadline = time.monotonic() + timeout
        while True:
            # Try to parse a complete packet from the buffer.
            length, multiplier, pos = 0, 1, 1
            complete_header = False
            while pos < len(self.buffer) and pos <= 4:
                byte = self.buffer[pos]
                length += (byte & 0x7F) * multiplier
                multiplier *= 128
                pos += 1
                if not byte & 0x80:
                    complete_header = True
                    break
            if complete_header and len(self.buffer) >= pos + length:
                data = self.buffer[:pos + length]
                self.buffer = self.buffer[pos + length:]
                return data
            self._fill(deadline)

    def connect(self, timeout, **kwargs):
        """Send CONNECT, return the 4-byte CONNACK."""
        self.send(connect(**kwargs))
        return self.recv_exact(4, timeout)

    def wait_closed(self, timeout):
        """Wait until the broker closes the connection (EOF or reset).

        Returns (seconds waited, any bytes received before the close), or
        raises AssertionError if the connection is still open after timeout.
        """
        start = time.monotonic()
        deadline = start + timeout
        received = self.buffer
        self.buffer = b""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"broker did not close the connection within {timeout:.1f} s "
                    f"(received {received[:64]!r})")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return time.monotonic() - start, received
            received += chunk


def connected_client(port, client_id="", timeout=5.0, **kwargs):
    """A RawClient past a successful CONNECT/CONNACK exchange."""
    client = RawClient(port, timeout)
    ack = client.connect(timeout, client_id=client_id, **kwargs)
    assert ack == connack(CONNACK_ACCEPTED), f"CONNACK {ack.hex(' ')}"
    return client
