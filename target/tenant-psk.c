/* hnvmf_tgt_tls_psk and hnvmf_tgt_tls_psk_previous (target/nvmf.h): a tenant's TLS PSK, and the
 * one a reload replaced while its grace period runs, for the transport's handshake. A file of its
 * own: it needs only the tenant set and the grace table, so the transport's unit tests link the
 * real one. */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>

#include "proto/keyfmt.h"
#include "target/key-grace.h"
#include "target/nvmf.h"

/* Copied under the lock: a SIGHUP may replace the tenant set (and the grace table) right after. */
static int tls_psk(struct hnvmf_tgt *tgt, const char *hostnqn, bool previous, struct hnvmf_key *key)
{
	char psk[sizeof(((struct hnvmf_conf_tenant *)0)->tls_psk)] = "";
	pthread_mutex_lock(&tgt->lock);
	const char *s = NULL;
	if (previous) {
		s = hnvmf_key_grace_tls(tgt, hostnqn);
	} else {
		const struct hnvmf_conf_tenant *t = hnvmf_conf_find_tenant(tgt->tenants, tgt->ntenants, hostnqn);
		s = t ? t->tls_psk : NULL;
	}
	if (s)
		memcpy(psk, s, sizeof(psk));
	pthread_mutex_unlock(&tgt->lock);
	if (!psk[0])
		return -ENOKEY;
	char err[128];
	int rc = hnvmf_tls_key_parse(psk, key, err, sizeof(err));
	OPENSSL_cleanse(psk, sizeof(psk));
	return rc < 0 ? -EINVAL : 0;
}

int hnvmf_tgt_tls_psk(struct hnvmf_tgt *tgt, const char *hostnqn, struct hnvmf_key *key)
{
	return tls_psk(tgt, hostnqn, false, key);
}

int hnvmf_tgt_tls_psk_previous(struct hnvmf_tgt *tgt, const char *hostnqn, struct hnvmf_key *key)
{
	return tls_psk(tgt, hostnqn, true, key);
}

void hnvmf_tgt_tls_psk_previous_used(struct hnvmf_tgt *tgt, const char *hostnqn)
{
	hnvmf_key_grace_used(tgt, hostnqn, true);
}
