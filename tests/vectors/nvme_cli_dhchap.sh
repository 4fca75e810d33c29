#!/bin/sh
# Third, external check of the DH-HMAC-CHAP secret transformation: nvme-cli's
# `gen-dhchap-key --secret K --hmac h --nqn N` prints DHHC-1:0h:Base64(HMAC-h(K, N ||
# "NVMe-over-Fabrics") || CRC-32):, i.e. the transformed secret that hnvmf_dhchap_transform_key
# computes. Run once with nvme-cli 2.3 / libnvme 1.3 (Debian 12); the output strings are pasted
# into tests/unit/test_dhchap_crypto.c (test_transform_matches_nvme_cli). The secrets K are the
# ones gen_dhchap_vectors.py uses: sha512("hnvmf dhchap secret <len>")[:len].
set -e
NQN="nqn.2014-08.org.nvmexpress:uuid:0c468c4d-a385-47e0-8299-6e95051277db"
for spec in "1 32" "2 48" "3 64"; do
	set -- $spec
	key=$(python3 -c "import hashlib; print(hashlib.sha512(b'hnvmf dhchap secret $2').digest()[:$2].hex())")
	printf '%s %s ' "$1" "$2"
	nvme gen-dhchap-key --secret="$key" --key-length="$2" --hmac="$1" --nqn="$NQN"
done
