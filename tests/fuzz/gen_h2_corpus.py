#!/usr/bin/python3
"""Writes the seed corpora of fuzz_h2_server and fuzz_h2_client (run from the repo root).

Frames are built with python3-hyperframe and python3-hpack (python3-h2's own
codecs), so the seeds come from an independent implementation.  Each server
seed starts with the fuzzer's control byte (split point, "peer reads").
"""
import os

from hpack import Encoder
from hyperframe.frame import (ContinuationFrame, DataFrame, GoAwayFrame, HeadersFrame, PingFrame,
                              PriorityFrame, RstStreamFrame, SettingsFrame, WindowUpdateFrame)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def hdrs(enc, sid, fields, flags=(), **kw):
    f = HeadersFrame(sid, **kw)
    f.data = enc.encode(fields)
    f.flags = set(flags) | {"END_HEADERS"}
    return f.serialize()


def raw_headers(sid, block, flags=("END_STREAM",)):
    f = HeadersFrame(sid, data=block)
    f.flags = set(flags) | {"END_HEADERS"}
    return f.serialize()


def data(sid, payload, flags=(), pad=0):
    f = DataFrame(sid, payload)
    f.flags = set(flags)
    if pad:
        f.flags.add("PADDED")
        f.pad_length = pad
    return f.serialize()


REQ = [(":method", "POST"), (":scheme", "http"), (":path", "/cplane.v1.ClusterService/GetCluster"),
       (":authority", "localhost:50051"), ("content-type", "application/grpc"), ("te", "trailers"),
       ("grpc-timeout", "5S"), ("user-agent", "grpc-python/1.51.1")]
GET = [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "x")]


def server_seeds():
    seeds = {}
    e = Encoder()
    start = PREFACE + SettingsFrame(0, settings={4: 65535, 3: 100}).serialize() + SettingsFrame(0, flags=["ACK"]).serialize()
    seeds["unary"] = start + hdrs(e, 1, REQ) + data(1, b"\0\0\0\0\6\x0a\x04demo", ["END_STREAM"])
    e = Encoder()
    seeds["many"] = start + b"".join(hdrs(e, i, REQ) + data(i, b"\0\0\0\0\1x", ["END_STREAM"]) for i in range(1, 40, 2))
    e = Encoder()
    seeds["get_ping_prio"] = (start + PingFrame(0, b"12345678").serialize() + PriorityFrame(3, depends_on=1).serialize()
                              + hdrs(e, 1, GET, ["END_STREAM", "PRIORITY"], depends_on=0, stream_weight=200)
                              + WindowUpdateFrame(0, 1000).serialize())
    e = Encoder()
    block = e.encode(REQ + [("x-long", "v" * 300)])
    h = HeadersFrame(1, data=block[:50])
    c1 = ContinuationFrame(1, data=block[50:200])
    c2 = ContinuationFrame(1, data=block[200:])
    c2.flags.add("END_HEADERS")
    seeds["continuation"] = start + h.serialize() + c1.serialize() + c2.serialize() + data(1, b"abc", pad=10) + data(1, b"", ["END_STREAM"])
    e = Encoder()
    seeds["trailers_rst"] = (start + hdrs(e, 1, REQ) + data(1, b"\0\0\0\0\2hi") + hdrs(e, 1, [("x-t", "1")], ["END_STREAM"])
                             + hdrs(e, 3, REQ) + RstStreamFrame(3, 8).serialize() + hdrs(e, 5, [(":method", "GET"), (":path", "/r")]))
    e = Encoder()
    seeds["goaway"] = start + hdrs(e, 1, GET, ["END_STREAM"]) + GoAwayFrame(0, 0, 0, b"bye").serialize()
    e = Encoder()
    seeds["bad_upper"] = start + hdrs(e, 1, GET + [("X-Upper", "1")], ["END_STREAM"]) + hdrs(e, 3, GET, ["END_STREAM"])
    # the same block bytes again after an insert moved index 62, then after a size update emptied the table
    e = Encoder()
    first, kept = e.encode(GET + [("x-k", "one")]), e.encode(GET + [("x-k", "one")])
    moved = e.encode(GET + [("x-k", "two")])
    seeds["kept_block_moved"] = start + b"".join(
        raw_headers(sid, blk) for sid, blk in ((1, first), (3, kept), (5, kept), (7, moved), (9, kept), (11, kept),
                                               (13, b"\x20\x82\x86\x84"), (15, kept)))
    return {k: bytes([0x15]) + v for k, v in seeds.items()} | {"unary_bytewise": bytes([0x01]) + seeds["unary"],
                                                             "noread_pings": bytes([0x80]) + start + PingFrame(0, b"x" * 8).serialize() * 50}


def client_seeds():
    # Our client opens streams 1 (GET), 3 (POST, big body), 5 (POST, open).
    seeds = {}
    e = Encoder()
    start = SettingsFrame(0, settings={3: 100, 4: 65535, 5: 16384}).serialize() + SettingsFrame(0, flags=["ACK"]).serialize()
    resp = [(":status", "200"), ("content-type", "application/grpc")]
    seeds["responses"] = (start + hdrs(e, 1, resp) + data(1, b"hello", ["END_STREAM"])
                          + WindowUpdateFrame(0, 200000).serialize() + WindowUpdateFrame(3, 100000).serialize()
                          + hdrs(e, 3, resp) + data(3, b"\0\0\0\0\1x") + hdrs(e, 3, [("grpc-status", "0")], ["END_STREAM"])
                          + hdrs(e, 5, [(":status", "100")]) + hdrs(e, 5, resp) + RstStreamFrame(5, 8).serialize()
                          + PingFrame(0, b"abcdefgh").serialize() + GoAwayFrame(0, 5, 0).serialize())
    e = Encoder()
    seeds["trailers_only"] = start + hdrs(e, 1, resp + [("grpc-status", "12"), ("grpc-message", "nope")], ["END_STREAM"])
    e = Encoder()
    seeds["goaway_early"] = start + GoAwayFrame(0, 1, 0).serialize() + hdrs(e, 1, [(":status", "204")], ["END_STREAM"])
    e = Encoder()
    seeds["settings_change"] = (SettingsFrame(0, settings={4: 10, 1: 0, 5: 20000}).serialize()
                                + WindowUpdateFrame(3, 5).serialize() + SettingsFrame(0, settings={4: 100000}).serialize())
    return seeds


def main():
    for name, seeds in (("h2_server", server_seeds()), ("h2_client", client_seeds())):
        d = os.path.join("tests", "fuzz", "corpus", name)
        os.makedirs(d, exist_ok=True)
        for k, v in seeds.items():
            with open(os.path.join(d, k), "wb") as f:
                f.write(v)


if __name__ == "__main__":
    main()
