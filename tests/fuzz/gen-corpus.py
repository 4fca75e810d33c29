#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpus into tests/fuzz/corpus/<target>/ (run from anywhere;
the files are committed, this script is how they were made and how to remake them).

Seeds are valid inputs (PDU streams, commands, DH-HMAC-CHAP messages, configuration files,
keys) so the fuzzer starts past the first checks; their layouts are described in each
tests/fuzz/fuzz_<target>.c."""
import base64
import os
import shutil
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "corpus")

SUBNQN = b"nqn.2026-01.io.hnvmf:fuzz"
HOSTNQN = b"nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000001"
DISC_NQN = b"nqn.2014-08.org.nvmexpress.discovery"

SGL_ICD = 0x01        # data block, offset: in-capsule data
SGL_TRANSPORT = 0x5A  # transport data block: R2T/H2CData or C2HData


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


# ---------------------------------------------------------------- SQEs

def sqe(opc, cid=1, nsid=0, sgl_type=SGL_TRANSPORT, sgl_len=0, cdw=(0, 0, 0, 0, 0, 0), flags=0x40):
    s = struct.pack("<BBHIIIQ", opc, flags, cid, nsid, 0, 0, 0)
    s += struct.pack("<QI3sB", 0, sgl_len, b"\0\0\0", sgl_type)
    s += struct.pack("<6I", *cdw)
    assert len(s) == 64
    return s


def fabrics_sqe(fctype, cid, specific, sgl_type=SGL_TRANSPORT, sgl_len=0):
    s = struct.pack("<BBHB19s", 0x7F, 0x40, cid, fctype, b"\0" * 19)
    s += struct.pack("<QI3sB", 0, sgl_len, b"\0\0\0", sgl_type)
    s += specific.ljust(24, b"\0")
    assert len(s) == 64
    return s


def connect_sqe(qid, sqsize, kato=0, sgl_type=SGL_ICD):
    return fabrics_sqe(0x01, 0xC0, struct.pack("<HHHBBI", 0, qid, sqsize, 0, 0, kato), sgl_type, 1024)


def connect_data(subnqn=SUBNQN, hostnqn=HOSTNQN, cntlid=0xFFFF):
    d = bytes([1] + [0] * 15) + struct.pack("<H", cntlid) + b"\0" * 238
    d += subnqn.ljust(256, b"\0") + hostnqn.ljust(256, b"\0")
    return d.ljust(1024, b"\0")


def prop_get(cid, off, size8):
    return fabrics_sqe(0x04, cid, struct.pack("<B3sI", 1 if size8 else 0, b"", off))


def prop_set(cid, off, val):
    return fabrics_sqe(0x00, cid, struct.pack("<B3sIQ", 0, b"", off, val))


def identify(cid, cns, nsid=0):
    return sqe(0x06, cid, nsid, SGL_TRANSPORT, 4096, (cns, 0, 0, 0, 0, 0))


def get_log(cid, lid, nbytes, nsid=0xFFFFFFFF, offset=0):
    numd = nbytes // 4 - 1
    return sqe(0x02, cid, nsid, SGL_TRANSPORT, nbytes,
               (lid | (numd & 0xFFFF) << 16, numd >> 16, offset & 0xFFFFFFFF, offset >> 32, 0, 0))


def set_features(cid, fid, val):
    return sqe(0x09, cid, 0, SGL_TRANSPORT, 0, (fid, val, 0, 0, 0, 0))


def get_features(cid, fid):
    return sqe(0x0A, cid, 0, SGL_TRANSPORT, 0, (fid, 0, 0, 0, 0, 0))


def rw(opc, cid, slba, nlb, sgl_type=SGL_TRANSPORT):
    return sqe(opc, cid, 1, sgl_type, nlb * 512, (slba & 0xFFFFFFFF, slba >> 32, nlb - 1, 0, 0, 0))


# ---------------------------------------------------------------- NVMe/TCP PDUs

def icreq(hdgst=False, ddgst=False, hpda=0, pfv=0):
    dig = (1 if hdgst else 0) | (2 if ddgst else 0)
    return struct.pack("<BBBBIHBBI112s", 0, 0, 128, 0, 128, pfv, hpda, dig, 0, b"")


def capsule(s, icd=b"", hdgst=False, ddgst=False):
    hl = 72 + (4 if hdgst else 0)
    dd = 4 if (ddgst and icd) else 0
    flags = (1 if hdgst else 0) | (2 if dd else 0)
    plen = hl + len(icd) + dd
    hdr = struct.pack("<BBBBI", 0x04, flags, 72, hl if icd else 0, plen) + s
    out = hdr + (struct.pack("<I", crc32c(hdr)) if hdgst else b"")
    out += icd
    if dd:
        out += struct.pack("<I", crc32c(icd))
    return out


def h2c_data(cid, ttag, offset, data, last=True):
    plen = 24 + len(data)
    return struct.pack("<BBBBIHHII4s", 0x06, 4 if last else 0, 24, 24, plen, cid, ttag, offset,
                       len(data), b"") + data


def h2c_term(fes=2):
    return struct.pack("<BBBBIHI10s", 0x02, 0, 24, 0, 24, fes, 0, b"")


def admin_session(extra=b"", hdgst=False, ddgst=False, subnqn=SUBNQN):
    s = icreq(hdgst, ddgst)
    s += capsule(connect_sqe(0, 31), connect_data(subnqn), hdgst, ddgst)
    return s + extra


def tcp_seeds():
    cc_en = prop_set(3, 0x14, 0x460001)
    seeds = {
        "icreq": icreq(),
        "icreq-digests": icreq(True, True),
        "icreq-hpda": icreq(hpda=3),
        "icreq-bad-pfv": icreq(pfv=1),
        "connect": admin_session(),
        "connect-digests": admin_session(hdgst=True, ddgst=True),
        "connect-hdgst-identify": admin_session(capsule(identify(2, 1), hdgst=True), hdgst=True),
        # Connect's data through R2T and H2CData instead of in-capsule.
        "connect-r2t": icreq() + capsule(connect_sqe(0, 31, sgl_type=SGL_TRANSPORT)) +
        h2c_data(0xC0, 0, 0, connect_data()),
        "connect-r2t-split": icreq() + capsule(connect_sqe(0, 31, sgl_type=SGL_TRANSPORT)) +
        h2c_data(0xC0, 0, 0, connect_data()[:512], last=False) +
        h2c_data(0xC0, 0, 512, connect_data()[512:]),
        "enable-identify": admin_session(capsule(prop_get(2, 0x0, True)) + capsule(cc_en) +
                                         capsule(prop_get(4, 0x1C, False)) +
                                         capsule(identify(5, 1)) + capsule(identify(6, 0, 1)) +
                                         capsule(identify(7, 2)) + capsule(identify(8, 3, 1))),
        "features-logs": admin_session(capsule(set_features(2, 0x07, 0x00010001)) +
                                       capsule(get_features(3, 0x0F)) +
                                       capsule(set_features(4, 0x0B, 0x100)) +
                                       capsule(get_log(5, 0x02, 512)) +
                                       capsule(get_log(6, 0x04, 4096)) +
                                       capsule(sqe(0x18, 7)) + capsule(sqe(0x0C, 8))),
        "discovery": admin_session(capsule(get_log(2, 0x70, 4096, 0)), subnqn=DISC_NQN),
        "disconnect": admin_session(capsule(fabrics_sqe(0x08, 2, b""))),
        "term": admin_session(h2c_term()),
        "io-on-admin": admin_session(capsule(rw(0x02, 2, 0, 8))),
        "bad-hlen": icreq() + struct.pack("<BBBBI", 0x04, 0, 64, 0, 72) + b"\0" * 64,
    }
    out = {}
    for name, stream in seeds.items():
        out[name] = b"\0" + stream          # one write
        out[name + "-chunked"] = b"\x03" + stream  # writes of 21 bytes
    return out


# ---------------------------------------------------------------- command records

def cmd_record(s, data=b"", io=False):
    return bytes([1 if io else 0]) + s + struct.pack("<H", len(data)) + data


def cmd_seeds():
    w4k = bytes(range(256)) * 16
    dsm_range = struct.pack("<IIQ", 0, 8, 0)
    return {
        "identify": b"".join(cmd_record(identify(i + 1, cns, 1 if cns in (0, 3) else 0))
                             for i, cns in enumerate((0, 1, 2, 3, 5, 6))),
        "logs": b"".join(cmd_record(get_log(i + 1, lid, n)) for i, (lid, n) in
                         enumerate(((1, 64), (2, 512), (3, 512), (4, 4096), (0x70, 1024)))),
        "features": cmd_record(set_features(1, 0x07, 0x00030003)) +
        cmd_record(get_features(2, 0x07)) + cmd_record(set_features(3, 0x0F, 60000)) +
        cmd_record(get_features(4, 0x0B)) + cmd_record(set_features(5, 0x06, 1)) +
        cmd_record(get_features(6, 0x0E)),
        "properties": cmd_record(prop_get(1, 0x0, True)) + cmd_record(prop_get(2, 0x8, False)) +
        cmd_record(prop_set(3, 0x14, 0x460001)) + cmd_record(prop_get(4, 0x1C, False)) +
        cmd_record(prop_set(5, 0x14, 0x464001)),
        "aer-keepalive": cmd_record(sqe(0x0C, 1)) + cmd_record(sqe(0x18, 2)) +
        cmd_record(sqe(0x08, 3, 0, SGL_TRANSPORT, 0, (0x10001, 0, 0, 0, 0, 0))),
        "read": cmd_record(rw(0x02, 1, 0, 8), io=True) + cmd_record(rw(0x02, 2, 2040, 8), io=True),
        "write-icd": cmd_record(rw(0x01, 1, 8, 8, SGL_ICD), w4k, io=True) +
        cmd_record(rw(0x02, 2, 8, 8), io=True),
        "write-r2t": cmd_record(rw(0x01, 1, 16, 64), io=True),
        "compare": cmd_record(rw(0x05, 1, 8, 8, SGL_ICD), w4k, io=True),
        "flush-zeroes-dsm": cmd_record(sqe(0x00, 1, 1), io=True) +
        cmd_record(sqe(0x08, 2, 1, SGL_TRANSPORT, 0, (0, 0, 7, 0, 0, 0)), io=True) +
        cmd_record(sqe(0x09, 3, 1, SGL_ICD, 16, (0, 4, 0, 0, 0, 0)), dsm_range, io=True),
        "out-of-range": cmd_record(rw(0x02, 1, 0xFFFFFFFFFFF0, 64), io=True) +
        cmd_record(rw(0x02, 2, 0, 8), io=True),
        "keyed-sgl": cmd_record(sqe(0x02, 1, 1, 0x40, 4096, (0, 0, 7, 0, 0, 0)), io=True),
        "second-connect": cmd_record(connect_sqe(0, 31), connect_data()),
        "disconnect": cmd_record(fabrics_sqe(0x08, 1, b""), io=True),
    }


# ---------------------------------------------------------------- DH-HMAC-CHAP

def auth_send(payload):
    return b"\0" + struct.pack("<H", len(payload)) + payload


def auth_recv(al):
    return b"\1" + struct.pack("<H", al)


def negotiate(hashes=(1, 2, 3), groups=(0, 1, 2, 3, 4, 5), t_id=1, sc_c=0):
    idlist = bytes(hashes).ljust(30, b"\0") + bytes(groups).ljust(30, b"\0")
    desc = struct.pack("<BBBB", 1, 0, len(hashes), len(groups)) + idlist
    return struct.pack("<BBHHBB", 0, 0, 0, t_id, sc_c, 1) + desc


def reply(hl=32, dhv=b"", cvalid=0, seq=0, t_id=1):
    head = struct.pack("<BBHHBBBBHI", 1, 2, 0, t_id, hl, 0, cvalid, 0, len(dhv), seq)
    return head + b"\x11" * hl + (b"\x22" * hl if cvalid else b"\0" * hl) + dhv


def dhchap_seeds():
    return {
        "negotiate": auth_send(negotiate()) + auth_recv(4096),
        "negotiate-null-dh": auth_send(negotiate((1,), (0,))) + auth_recv(4096),
        "reply-null-dh": auth_send(negotiate((1,), (0,))) + auth_recv(4096) +
        auth_send(reply()) + auth_recv(4096),
        "reply-bidi": auth_send(negotiate((1,), (0,))) + auth_recv(4096) +
        auth_send(reply(cvalid=1, seq=5)) + auth_recv(4096) +
        auth_send(struct.pack("<BBHH10s", 1, 4, 0, 1, b"")),
        "reply-ffdhe2048": auth_send(negotiate((1,), (1,))) + auth_recv(4096) +
        auth_send(reply(dhv=b"\x02" + b"\0" * 255)) + auth_recv(4096),
        "sha512": auth_send(negotiate((3,), (0,))) + auth_recv(4096) + auth_send(reply(hl=64)),
        "failure2": auth_send(negotiate()) + auth_recv(4096) +
        auth_send(struct.pack("<BBHHBB", 0, 0xF0, 0, 1, 1, 1)),
        "recv-first": auth_recv(16),
        "secure-channel": auth_send(negotiate(sc_c=1)) + auth_recv(4096),
    }


# ---------------------------------------------------------------- configuration and keys

def key_string(prefix, hh, secret):
    b = base64.b64encode(secret + struct.pack("<I", zlib.crc32(secret))).decode()
    return "%s:%02x:%s:" % (prefix, hh, b)


def conf_seeds():
    seeds = {}
    ex = os.path.join(ROOT, "conf", "examples")
    tenants = []
    tdir = os.path.join(ex, "tenants.d")
    for t in sorted(os.listdir(tdir)):
        with open(os.path.join(tdir, t), "rb") as f:
            tenants.append(f.read())
    for name in ("hnvmf.conf", "minimal.conf"):
        with open(os.path.join(ex, name), "rb") as f:
            main = f.read()  # hnvmf.conf names tenants_dir = tenants.d, where fuzz_conf writes
        seeds["example-" + name] = main
        for i, t in enumerate(tenants):
            seeds["example-%s-tenant%d" % (name, i)] = main + b"\0" + t
    bad = os.path.join(ROOT, "tests", "fixtures", "conf-bad")
    for name in sorted(os.listdir(bad)):
        p = os.path.join(bad, name)
        if os.path.isfile(p):
            with open(p, "rb") as f:
                seeds["bad-" + name] = f.read()
        elif os.path.isfile(os.path.join(p, "main.conf")):
            with open(os.path.join(p, "main.conf"), "rb") as f:
                main = f.read()
            td = os.path.join(p, "tenants.d")
            for t in sorted(os.listdir(td)) if os.path.isdir(td) else []:
                if not os.path.isfile(os.path.join(td, t)):
                    continue
                with open(os.path.join(td, t), "rb") as f:
                    seeds["bad-%s-%s" % (name, t)] = main + b"\0" + f.read()
    limits = (b"[listener tcp]\naddress = 127.0.0.1\n[backend r]\ntype = ram\nsize = 1M\n"
              b"[subsystem nqn.2026-01.io.hnvmf:x]\nallow_any_host = yes\nnamespace = 1:r\n"
              b"[limits]\nmax_connections = 100\nmax_connections_per_address = 10\n"
              b"icreq_timeout_ms = 1000\nconnect_timeout_ms = 1000\nauth_timeout_ms = 1000\n"
              b"pdu_timeout_ms = 1000\nconn_buffer_mib = 4\nbuffer_mib = 64\n"
              b"max_controllers_per_host = 4\nmax_queues_per_host = 16\nauth_workers = 2\n"
              b"auth_max_failures = 3\nauth_backoff_ms = 500\ncontrol_timeout_ms = 1000\n")
    seeds["limits"] = limits
    tenant = ("[tenant]\nhostnqn = %s\nsubsystems = nqn.2026-01.io.hnvmf:x\nmode = pqm\n"
              "dhchap_secret = %s\ndhchap_ctrl_secret = %s\ntls_psk = %s\n"
              "dhchap_hashes = sha256, sha512\ndhchap_dhgroups = null, ffdhe2048\n" %
              (HOSTNQN.decode(), key_string("DHHC-1", 1, bytes(range(32))),
               key_string("DHHC-1", 3, bytes(range(64))),
               key_string("NVMeTLSkey-1", 1, bytes(range(32))))).encode()
    seeds["limits-tenant"] = b"[global]\ntenants_dir = tenants.d\n" + limits + b"\0" + tenant
    return seeds


def keyfmt_seeds():
    seeds = {}
    for hh, n in ((0, 32), (0, 48), (0, 64), (1, 32), (2, 48), (3, 64)):
        seeds["dhchap-%02x-%d" % (hh, n)] = key_string("DHHC-1", hh, bytes((i * 7 + hh) & 0xFF for i in range(n))).encode()
    for hh, n in ((1, 32), (2, 48)):
        seeds["tls-%02x-%d" % (hh, n)] = key_string("NVMeTLSkey-1", hh, bytes((i * 5 + 1) & 0xFF for i in range(n))).encode()
    seeds["dhchap-example"] = b"DHHC-1:01:tQ5S/t8at4EAm27z0xwsFre/rilyWIWsEeBNTfe1zWVZiVgh:"
    seeds["tls-example"] = b"NVMeTLSkey-1:01:eai/RRl1wZN5il0v9QK3FR0HJGcRSL5YE5LAHGkUC4qV2Dwx:"
    seeds["dhchap-bad-crc"] = b"DHHC-1:01:tQ5S/t8at4EAm27z0xwsFre/rilyWIWsEeBNTfe1zWVZiVgx:"
    return seeds


def tls_hello_seeds():
    """The ClientHellos of test_tls_binder.c: a version 0 identity, binders for each HkdfLabel
    encoding (made with the openssl command line)."""
    sys.path.insert(0, os.path.join(HERE, "..", "vectors"))
    import gen_tls_binder_vectors as v
    rets = v.retained(v.secret(32, "hnvmf tls configured 32"))
    return {"hello-" + enc: v.client_hello(v.tls_psk(rets[enc], enc))[0] for enc in rets}


def control_seeds():
    return {
        "state": b"state\n",
        "version": b"version\n",
        "pqm": b"pqm\n",
        "pqm-c": b"pqm-c 0\n",
        "reload": b"reload\n",
        "crlf": b"state\r\n",
        "no-newline": b"version",
    }


def write(target, seeds, top=OUT):
    d = os.path.join(top, target)
    if os.path.isdir(d):
        # Keep regression inputs (named crash-*/regress-*); rewrite the generated seeds.
        for f in os.listdir(d):
            if f.startswith("seed-"):
                os.unlink(os.path.join(d, f))
    os.makedirs(d, exist_ok=True)
    for name, data in sorted(seeds.items()):
        with open(os.path.join(d, "seed-" + name), "wb") as f:
            f.write(data)


def main():
    tcp = tcp_seeds()
    # connect-r2t*: H2CData in the same segment as its command, which once made the transport
    # queue the response while the R2T was still on its send queue (docs/security.md).
    write("fuzz_tcp_pdu", tcp)
    write("fuzz_nvme_cmd", cmd_seeds())
    write("fuzz_dhchap", dhchap_seeds())
    write("fuzz_control", control_seeds())
    write("fuzz_conf", conf_seeds())
    write("fuzz_keyfmt", keyfmt_seeds())
    write("fuzz_tls_hello", tls_hello_seeds())
    return 0


if __name__ == "__main__":
    sys.exit(main())
