"""Passive loopback capture (AF_PACKET, kernel timestamps) of TCP segments on a set of ports.

Timestamps come from the kernel as each segment passes the loopback device, so
a slow Python reader does not skew them.  Root (CAP_NET_RAW) is needed.
"""

import socket
import struct
import threading

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SO_TIMESTAMPNS = getattr(socket, 'SO_TIMESTAMPNS', 35)
SO_RCVBUFFORCE = 33


class Segment:
    __slots__ = ('ts_ns', 'sport', 'dport', 'plen', 'payload')

    def __init__(self, ts_ns, sport, dport, plen, payload):
        self.ts_ns, self.sport, self.dport, self.plen, self.payload = ts_ns, sport, dport, plen, payload


class Sniffer:
    """Collects TCP segments with a payload to or from any of ports on lo (IPv4)."""

    def __init__(self, ports, keep_payload=True):
        self.ports = set(ports)
        self.keep_payload = keep_payload
        self.segments = []
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 64 << 20)
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.bind(('lo', 0))
        self.sock.settimeout(0.1)
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping = True
        self.thread.join()
        self.sock.close()
        return self.segments

    def _run(self):
        ports = self.ports
        while True:
            try:
                data, anc, _, addr = self.sock.recvmsg(262144, 64)
            except socket.timeout:
                if self.stopping:
                    return
                continue
            # lo shows every segment twice (out, then in): keep the outgoing copy, stamped as it was sent.
            if addr[2] != PACKET_OUTGOING or len(data) < 14 + 20:
                continue
            ip = 14
            if data[12:14] != b'\x08\x00' or data[ip] >> 4 != 4 or data[ip + 9] != 6:
                continue
            ihl = (data[ip] & 15) * 4
            tot = struct.unpack_from('!H', data, ip + 2)[0]
            tcp = ip + ihl
            sport, dport = struct.unpack_from('!HH', data, tcp)
            if sport not in ports and dport not in ports:
                continue
            thl = (data[tcp + 12] >> 4) * 4
            plen = tot - ihl - thl
            if plen <= 0:
                continue
            ts = 0
            for level, typ, cdata in anc:
                if level == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack('qq', cdata[:16])
                    ts = sec * 1000000000 + nsec
            payload = data[tcp + thl:tcp + thl + plen] if self.keep_payload else b''
            self.segments.append(Segment(ts, sport, dport, plen, payload))
