"""Reference implementations of the NVMe authentication computations, written from the
specifications (RFC 5869 HKDF, RFC 8446 section 7.1 HkdfLabel, RFC 7919 FFDHE groups,
NVMe TP 8006 DH-HMAC-CHAP, NVMe/TCP TP 8011 TLS PSK) using only python's standard library.

These exist so that the C code in target/ is checked against values computed by a second,
independent implementation. Nothing here imports or calls the C code.
"""
import base64
import hashlib
import hmac
import math
import struct

HASHES = {1: hashlib.sha256, 2: hashlib.sha384, 3: hashlib.sha512}
HASH_LEN = {1: 32, 2: 48, 3: 64}

# ---------------------------------------------------------------- RFC 7919 FFDHE groups
# p = 2^b - 2^(b-64) + (floor(2^(b-130) * e) + X) * 2^64 - 1, generator 2 (RFC 7919 appendix A).
FFDHE_X = {2048: 560316, 3072: 2625351, 4096: 5736041, 6144: 15705020, 8192: 10965728}
DHGROUP_BITS = {1: 2048, 2: 3072, 3: 4096, 4: 6144, 5: 8192}


def _floor_2pow_times_e(k):
    """floor(2^k * e), computed with integers: e = sum 1/n!, enough terms for k bits."""
    extra = 64                      # guard bits so truncation never reaches the result
    scale = 1 << (k + extra)
    total, term, n = 0, scale, 0
    while term:
        total += term
        n += 1
        term //= n
    return total >> extra


def ffdhe_prime(bits):
    return (1 << bits) - (1 << (bits - 64)) + \
        ((_floor_2pow_times_e(bits - 130) + FFDHE_X[bits]) << 64) - 1


def dh_public(gid, priv):
    bits = DHGROUP_BITS[gid]
    return pow(2, priv, ffdhe_prime(bits)).to_bytes(bits // 8, "big")


def dh_shared(gid, priv, peer_pub_bytes):
    bits = DHGROUP_BITS[gid]
    peer = int.from_bytes(peer_pub_bytes, "big")
    return pow(peer, priv, ffdhe_prime(bits)).to_bytes(bits // 8, "big")

# ---------------------------------------------------------------- DH-HMAC-CHAP (TP 8006)


def hm(hash_id, key, data):
    return hmac.new(key, data, HASHES[hash_id]).digest()


def transform_key(key_hash, key, nqn):
    """hh 0: the secret is used as is; else HMAC with the secret's own hash over NQN || 'NVMe-over-Fabrics'."""
    if key_hash == 0:
        return key
    return hm(key_hash, key, nqn.encode() + b"NVMe-over-Fabrics")


def augmented_challenge(hash_id, session_key, challenge):
    """C' = HMAC(H(g^xy), C) with the negotiated hash."""
    return hm(hash_id, HASHES[hash_id](session_key).digest(), challenge)


def host_response(hash_id, tkey, c1, s1, tid, sc, hostnqn, subnqn, session_key=None):
    if session_key is not None:
        c1 = augmented_challenge(hash_id, session_key, c1)
    data = c1 + struct.pack("<IHB", s1, tid, sc) + b"HostHost" + hostnqn.encode() + b"\0" + subnqn.encode()
    return hm(hash_id, tkey, data)


def ctrl_response(hash_id, tkey, c2, s2, tid, sc, hostnqn, subnqn, session_key=None):
    if session_key is not None:
        c2 = augmented_challenge(hash_id, session_key, c2)
    data = c2 + struct.pack("<IHB", s2, tid, sc) + b"Controller" + subnqn.encode() + b"\0" + hostnqn.encode()
    return hm(hash_id, tkey, data)


def generated_psk(hash_id, session_key, c1, c2):
    return hm(hash_id, session_key, c1 + c2)

# ---------------------------------------------------------------- HKDF (RFC 5869)


def hkdf_extract(hash_id, salt, ikm):
    if not salt:
        salt = bytes(HASH_LEN[hash_id])
    return hm(hash_id, salt, ikm)


def hkdf_expand(hash_id, prk, info, length):
    out, t, i = b"", b"", 1
    while len(out) < length:
        t = hm(hash_id, prk, t + info + bytes([i]))
        out += t
        i += 1
    return out[:length]


def label_rfc8446(length, label, context):
    full = b"tls13 " + label
    return struct.pack(">H", length) + bytes([len(full)]) + full + bytes([len(context)]) + context


def label_libnvme_compat(length, label, context):
    """libnvme 1.7 .. 1.15: host-endian (little) length, no length bytes before label and context."""
    return struct.pack("<H", length) + b"tls13 " + label + context


LABELS = {"rfc8446": label_rfc8446, "compat": label_libnvme_compat}


def hkdf_expand_label(hash_id, secret, label, context, length, enc):
    return hkdf_expand(hash_id, secret, LABELS[enc](length, label, context), length)

# ---------------------------------------------------------------- TLS PSK (TP 8011 / TP 8018)


def tls_cipher(hh, key_len):
    return hh if hh else {32: 1, 48: 2}[key_len]


def retained_psk(hh, configured, hostnqn, enc):
    if hh == 0:
        return configured
    prk = hkdf_extract(hh, None, configured)
    return hkdf_expand_label(hh, prk, b"HostNQN", hostnqn.encode(), len(configured), enc)


def psk_digest(cipher, psk, hostnqn, subnqn):
    mac = hm(cipher, psk, f"{hostnqn} {subnqn} NVMe-over-Fabrics".encode())
    return base64.b64encode(mac).decode()


def identity(version, cipher, hostnqn, subnqn, digest=None, generated=False):
    kind = "G" if generated else "R"
    if version == 0:
        return f"NVMe0{kind}{cipher:02d} {hostnqn} {subnqn}"
    return f"NVMe1{kind}{cipher:02d} {hostnqn} {subnqn} {digest}"


def tls_psk(version, cipher, psk, ident, digest, enc):
    ctx = ident if version == 0 else f"{cipher:02d} {digest}"
    prk = hkdf_extract(cipher, None, psk)
    return hkdf_expand_label(cipher, prk, b"nvme-tls-psk", ctx.encode(), HASH_LEN[cipher], enc)


def derive_all(hh, configured, hostnqn, subnqn, version, enc):
    """What the Linux host side (nvme-cli/libnvme) inserts into the keyring for a configured PSK."""
    cipher = tls_cipher(hh, len(configured))
    ret = retained_psk(hh, configured, hostnqn, enc)
    dig = psk_digest(cipher, ret, hostnqn, subnqn) if version == 1 else None
    ident = identity(version, cipher, hostnqn, subnqn, dig)
    return ret, dig, ident, tls_psk(version, cipher, ret, ident, dig, enc)


def hexs(b):
    return b.hex()
