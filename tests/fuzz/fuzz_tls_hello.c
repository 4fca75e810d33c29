/* The TLS 1.3 ClientHello as hnvmfd reads it for the PSK binder (proto/tls-binder.c), before
 * OpenSSL has judged it: any bytes from the network. A binder that is found must lie inside
 * the message, after the part the binders cover; the target's match must not fail on them. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "proto/tls-binder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The identity of the corpus's ClientHellos (tests/vectors/gen_tls_binder_vectors.py). */
static const char identity[] = "NVMe0R01 nqn.2016-06.io.spdk:host1 nqn.2016-06.io.spdk:cnode1";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *m = malloc(size ? size : 1); /* exactly the input: ASan sees any read past it */
	if (!m)
		return 0;
	memcpy(m, data, size);
	size_t truncated, blen;
	const uint8_t *b;
	if (hnvmf_tls_hello_binder(m, size, (const uint8_t *)identity, strlen(identity), &truncated,
				   &b, &blen) == 0 &&
	    (truncated >= size || b < m + truncated || b + blen > m + size))
		abort();

	struct hnvmf_tls_identity id;
	struct hnvmf_tls_derived d;
	enum hnvmf_tls_hkdf_label used;
	bool proven;
	const uint8_t key[32] = { 1 };
	if (hnvmf_tls_identity_parse(identity, strlen(identity), &id) != 0 ||
	    hnvmf_tls_match_hello(&id, m, size, 1, key, sizeof(key), HNVMF_TLS_LABEL_RFC8446, &d,
				  &used, &proven) != 0)
		abort();
	free(m);
	return 0;
}
