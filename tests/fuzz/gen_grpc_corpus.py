#!/usr/bin/python3
"""Writes the seed corpus of fuzz_grpc_server (run from the repo root).

Each seed is the fuzzer's control byte (split point; bit 7 = client does not
read) followed by the client's frames after the preface, built with
python3-hyperframe and python3-hpack (an independent implementation).
"""
import os
import struct

from hpack import Encoder
from hyperframe.frame import DataFrame, HeadersFrame, RstStreamFrame, SettingsFrame, WindowUpdateFrame


def hdrs(enc, sid, fields, flags=()):
    f = HeadersFrame(sid)
    f.data = enc.encode(fields)
    f.flags = set(flags) | {"END_HEADERS"}
    return f.serialize()


def data(sid, payload, flags=()):
    f = DataFrame(sid, payload)
    f.flags = set(flags)
    return f.serialize()


def msg(b, flag=0):
    return struct.pack(">BI", flag, len(b)) + b


def req(path, *extra, ct="application/grpc", te="trailers", method="POST"):
    h = [(":method", method), (":scheme", "http"), (":path", path), (":authority", "x")]
    if ct:
        h.append(("content-type", ct))
    if te:
        h.append(("te", te))
    return h + list(extra)


START = SettingsFrame(0, settings={4: 65535}).serialize() + SettingsFrame(0, flags=["ACK"]).serialize()


def seeds():
    s = {}
    e = Encoder()
    s["unary_get_cluster"] = START + hdrs(e, 1, req("/cplane.v1.ClusterService/GetCluster", ("grpc-timeout", "5S"))) + \
        data(1, msg(b"\x0a\x04demo"), ["END_STREAM"])
    e = Encoder()
    s["echo_metadata_split"] = START + hdrs(e, 1, req("/test.Test/Echo", ("x-a", "1"), ("x-b-bin", "AAE="))) + \
        data(1, msg(b"hello world")[:4]) + data(1, msg(b"hello world")[4:], ["END_STREAM"])
    e = Encoder()
    s["hold_then_rst"] = START + b"".join(hdrs(e, i, req("/test.Test/Hold")) + data(i, msg(b"h"), ["END_STREAM"])
                                          for i in (1, 3, 5, 7)) + RstStreamFrame(3, 8).serialize()
    e = Encoder()
    s["hold_deadline"] = START + hdrs(e, 1, req("/test.Test/Hold", ("grpc-timeout", "1n"))) + \
        data(1, msg(b"h"), ["END_STREAM"]) + hdrs(e, 3, req("/test.Test/Hold", ("grpc-timeout", "0m"))) + \
        data(3, msg(b"h"), ["END_STREAM"])
    e = Encoder()
    s["stream_no_read"] = START + hdrs(e, 1, req("/test.Test/Stream")) + data(1, msg(b"s"), ["END_STREAM"]) + \
        WindowUpdateFrame(0, 100).serialize()
    e = Encoder()
    s["bad_requests"] = START + \
        hdrs(e, 1, req("/", ct=None, te=None, method="GET"), ["END_STREAM"]) + \
        hdrs(e, 3, req("/test.Test/Echo", ct="text/plain"), ["END_STREAM"]) + \
        hdrs(e, 5, req("/test.Test/Echo", te=None), ["END_STREAM"]) + \
        hdrs(e, 7, req("/test.Test/Echo", ("grpc-encoding", "gzip"))) + data(7, msg(b"x", 1), ["END_STREAM"]) + \
        hdrs(e, 9, req("/test.Test/Echo")) + data(9, msg(b"x", 1), ["END_STREAM"]) + \
        hdrs(e, 11, req("/no.Such/Method")) + data(11, msg(b"x"), ["END_STREAM"]) + \
        hdrs(e, 13, req("/test.Test/Echo", ("grpc-timeout", "123456789S"))) + \
        hdrs(e, 15, req("/test.Test/Echo")) + data(15, msg(b"a") + msg(b"b"), ["END_STREAM"]) + \
        hdrs(e, 17, req("/test.Test/Echo")) + data(17, b"\0\0\0\0\5ab", ["END_STREAM"]) + \
        hdrs(e, 19, req("/test.Test/Echo")) + data(19, b"\0\0\x01\x86\xa1", ["END_STREAM"]) + \
        hdrs(e, 21, req("/cplane.v1.ClusterService/GetCluster")) + data(21, msg(b"\xff\xff"), ["END_STREAM"]) + \
        hdrs(e, 23, req("/test.Test/Echo"), ["END_STREAM"])
    e = Encoder()
    s["health"] = START + hdrs(e, 1, req("/grpc.health.v1.Health/Check")) + data(1, msg(b""), ["END_STREAM"]) + \
        hdrs(e, 3, req("/grpc.health.v1.Health/Watch")) + data(3, msg(b"\x0a\x03svc"), ["END_STREAM"]) + \
        hdrs(e, 5, req("/grpc.health.v1.Health/Check")) + data(5, msg(b"\x0a\x01x"), ["END_STREAM"])
    e = Encoder()
    s["trailers_request"] = START + hdrs(e, 1, req("/test.Test/Echo")) + data(1, msg(b"t")) + \
        hdrs(e, 1, [("x-trailer", "1")], ["END_STREAM"])
    e = Encoder()
    refl = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
    s["reflection_bidi"] = START + hdrs(e, 1, req(refl)) + data(1, msg(b"\x3a\x00")) + \
        data(1, msg(b"\xff\xff") + msg(b"\x22\x18cplane.v1.ClusterService")) + \
        hdrs(e, 3, req(refl.replace("v1.", "v1alpha."))) + data(3, msg(b"\x1a\x07nope.pb")[:3]) + \
        data(3, msg(b"\x1a\x07nope.pb")[3:]) + RstStreamFrame(3, 8).serialize() + \
        data(1, b"", ["END_STREAM"]) + hdrs(e, 5, req(refl), ["END_STREAM"])
    return s


def main():
    out = "tests/fuzz/corpus/grpc_server"
    os.makedirs(out, exist_ok=True)
    for name, body in seeds().items():
        for ctl, suffix in ((0x40, ""), (0xc0, "_noread"), (0x00, "_nosplit")):
            if suffix and name not in ("hold_then_rst", "stream_no_read", "unary_get_cluster", "reflection_bidi"):
                continue
            with open(os.path.join(out, name + suffix), "wb") as f:
                f.write(bytes([ctl]) + body)


if __name__ == "__main__":
    main()
