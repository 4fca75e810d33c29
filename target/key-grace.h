/* Key rotation with a grace period (docs/auth.md, "Key rotation").
 *
 * When a reload replaces a tenant's DH-HMAC-CHAP secrets or its TLS PSK, the keys it replaced stay
 * accepted for the tenant's key_grace_s, so that an operator can re-key hosts one at a time. Only
 * the keys in force right before the last change are kept (a second rotation within the period
 * drops the first key). A removed tenant, or one whose DH-HMAC-CHAP or TLS was turned off, keeps
 * no grace for what was removed; a reload that sets key_grace_s lower (0) shortens a running
 * period. The controller secret goes with the host secret as one pair: an exchange whose host
 * response verified with the previous host secret answers with the previous controller secret,
 * never a mix.
 *
 * The table lives in tgt (tgt->graces) and, like the tenant set, is read and replaced under
 * tgt->lock. */
#ifndef HNVMF_KEY_GRACE_H
#define HNVMF_KEY_GRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "target/nvmf.h"

struct hnvmf_key_grace {
	char hostnqn[HNVMF_NQN_MAX];
	/* The DH-HMAC-CHAP pair replaced by the last change (ctrl may be empty); until 0: none. */
	char dhchap_secret[sizeof(((struct hnvmf_conf_tenant *)0)->dhchap_secret)];
	char dhchap_ctrl_secret[sizeof(((struct hnvmf_conf_tenant *)0)->dhchap_ctrl_secret)];
	uint64_t dhchap_until_ns;
	char tls_psk[sizeof(((struct hnvmf_conf_tenant *)0)->tls_psk)];
	uint64_t tls_until_ns;
};

/* Under tgt->lock, right after tgt->tenants became the new set and old (nold) is the set it
 * replaced: the periods the change starts, those still running carried over, the rest dropped
 * (and wiped). Out of memory: no grace at all, logged (refusing an old key is the safe side). */
void hnvmf_key_grace_update(struct hnvmf_tgt *tgt, const struct hnvmf_conf_tenant *old, size_t nold);

/* Under tgt->lock: the host's previous DH-HMAC-CHAP pair into host_s / ctrl_s (the sizes of the
 * tenant's fields) and the end of its period into *until_ns, when a period runs now. */
bool hnvmf_key_grace_dhchap(struct hnvmf_tgt *tgt, const char *hostnqn, char *host_s, char *ctrl_s,
			    uint64_t *until_ns);

/* Under tgt->lock: the host's previous TLS PSK (interchange format, in the table: copy it before
 * unlocking) when a period runs now, else NULL. */
const char *hnvmf_key_grace_tls(struct hnvmf_tgt *tgt, const char *hostnqn);

/* A previous key authenticated hostnqn (what is "DH-HMAC-CHAP secret" or "TLS PSK"): logged at
 * notice with the time left, and counted (nvmf_get_stats: auth.key_rotation). Takes
 * tgt->lock itself. */
void hnvmf_key_grace_used(struct hnvmf_tgt *tgt, const char *hostnqn, bool tls);

/* Under tgt->lock: hosts whose replaced key is accepted now. */
size_t hnvmf_key_grace_count(struct hnvmf_tgt *tgt);

/* At hnvmf_tgt_destroy. */
void hnvmf_key_grace_free(struct hnvmf_tgt *tgt);

#endif
