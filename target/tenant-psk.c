/* hnvmf_tgt_tls_psk (target/nvmf.h): a tenant's TLS PSK for the transport's handshake. A file
 * of its own: it needs only the tenant set, so the transport's unit tests link the real one. */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>

#include "proto/keyfmt.h"
#include "target/nvmf.h"

int hnvmf_tgt_tls_psk(struct hnvmf_tgt *tgt, const char *hostnqn, struct hnvmf_key *key)
{
	/* Copied under the lock: a SIGHUP may replace the tenant set right after. */
	char psk[sizeof(((struct hnvmf_conf_tenant *)0)->tls_psk)] = "";
	pthread_mutex_lock(&tgt->lock);
	const struct hnvmf_conf_tenant *t =
		hnvmf_conf_find_tenant(tgt->tenants, tgt->ntenants, hostnqn);
	if (t)
		memcpy(psk, t->tls_psk, sizeof(psk));
	pthread_mutex_unlock(&tgt->lock);
	if (!psk[0])
		return -ENOKEY;
	char err[128];
	int rc = hnvmf_tls_key_parse(psk, key, err, sizeof(err));
	OPENSSL_cleanse(psk, sizeof(psk));
	return rc < 0 ? -EINVAL : 0;
}
