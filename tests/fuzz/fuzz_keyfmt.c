/* The secret interchange formats (conf/keyfmt.c): DHHC-1 (DH-HMAC-CHAP) and NVMeTLSkey-1 (TLS
 * PSK) strings, as they come from tenant files. A key that parses must format back to a string
 * that parses to the same key (what the initiator and hnvmfctl rely on). */
#include <stdlib.h>
#include <string.h>

#include "proto/keyfmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(int (*parse)(const char *, struct hnvmf_key *, char *, size_t),
		       int (*format)(const struct hnvmf_key *, char *, size_t), const char *s)
{
	struct hnvmf_key k, k2;
	char err[128], out[HNVMF_KEY_STR_MAX];
	if (parse(s, &k, err, sizeof(err)) != 0)
		return;
	if (format(&k, out, sizeof(out)) != 0 || parse(out, &k2, err, sizeof(err)) != 0 ||
	    k.len != k2.len || k.hmac != k2.hmac || memcmp(k.data, k2.data, k.len) != 0)
		abort();
	hnvmf_key_wipe(&k);
	hnvmf_key_wipe(&k2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1); /* exactly the input: ASan sees any read past its NUL */
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	round_trip(hnvmf_dhchap_key_parse, hnvmf_dhchap_key_format, s);
	round_trip(hnvmf_tls_key_parse, hnvmf_tls_key_format, s);
	free(s);
	return 0;
}
