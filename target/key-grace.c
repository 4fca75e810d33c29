/* Key rotation with a grace period: the keys a reload replaced, and until when (key-grace.h). */
#include "target/key-grace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/reactor.h"
#include "proto/auth-crypto.h"

static struct hnvmf_key_grace *find(struct hnvmf_key_grace *v, size_t n, const char *hostnqn)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].hostnqn, hostnqn) == 0)
			return &v[i];
	return NULL;
}

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* One kind of key (the DH-HMAC-CHAP pair, or the TLS PSK) of tenant t, whose previous file was
 * o (NULL: new tenant) and whose running period was was_until (0: none): *until gets the end of
 * the period that applies now, 0 for none; true when it is a new one (the caller copies o's
 * keys), false when it carries over (the caller copies the running period's keys). */
static bool period(bool has_now, bool had, bool changed, uint64_t was_until, uint64_t now, uint64_t grace_ns,
		   uint64_t *until)
{
	*until = 0;
	if (!has_now || !grace_ns) /* turned off on purpose, or no grace asked: nothing kept */
		return false;
	if (had && changed) {
		*until = now + grace_ns;
		return true;
	}
	if (was_until > now) /* unchanged: the running period goes on, never longer than asked now */
		*until = min_u64(was_until, now + grace_ns);
	return false;
}

void hnvmf_key_grace_update(struct hnvmf_tgt *tgt, const struct hnvmf_conf_tenant *old, size_t nold)
{
	uint64_t now = hnvmf_now_ns();
	struct hnvmf_key_grace *v = NULL;
	size_t n = 0;
	if (tgt->ntenants && !(v = calloc(tgt->ntenants, sizeof(*v))))
		log_err("key rotation: out of memory, keys replaced by this reload are refused at once");
	for (size_t i = 0; v && i < tgt->ntenants; i++) {
		const struct hnvmf_conf_tenant *t = &tgt->tenants[i];
		const struct hnvmf_conf_tenant *o = hnvmf_conf_find_tenant(old, nold, t->hostnqn);
		const struct hnvmf_key_grace *was = find(tgt->graces, tgt->ngraces, t->hostnqn);
		uint64_t grace_ns = (uint64_t)t->key_grace_s * 1000000000ull;
		struct hnvmf_key_grace *g = &v[n];

		bool dh_changed = o && (strcmp(o->dhchap_secret, t->dhchap_secret) != 0 ||
					strcmp(o->dhchap_ctrl_secret, t->dhchap_ctrl_secret) != 0);
		if (period(t->dhchap_secret[0], o && o->dhchap_secret[0], dh_changed, was ? was->dhchap_until_ns : 0,
			   now, grace_ns, &g->dhchap_until_ns)) {
			memcpy(g->dhchap_secret, o->dhchap_secret, sizeof(g->dhchap_secret));
			memcpy(g->dhchap_ctrl_secret, o->dhchap_ctrl_secret, sizeof(g->dhchap_ctrl_secret));
		} else if (g->dhchap_until_ns) {
			memcpy(g->dhchap_secret, was->dhchap_secret, sizeof(g->dhchap_secret));
			memcpy(g->dhchap_ctrl_secret, was->dhchap_ctrl_secret, sizeof(g->dhchap_ctrl_secret));
		}

		bool tls_changed = o && strcmp(o->tls_psk, t->tls_psk) != 0;
		if (period(t->tls_psk[0], o && o->tls_psk[0], tls_changed, was ? was->tls_until_ns : 0, now, grace_ns,
			   &g->tls_until_ns))
			memcpy(g->tls_psk, o->tls_psk, sizeof(g->tls_psk));
		else if (g->tls_until_ns)
			memcpy(g->tls_psk, was->tls_psk, sizeof(g->tls_psk));

		if (g->dhchap_until_ns || g->tls_until_ns)
			snprintf(g->hostnqn, sizeof(g->hostnqn), "%s", t->hostnqn), n++;
	}
	hnvmf_key_grace_free(tgt);
	tgt->graces = v;
	tgt->ngraces = n;
}

bool hnvmf_key_grace_dhchap(struct hnvmf_tgt *tgt, const char *hostnqn, char *host_s, char *ctrl_s,
			    uint64_t *until_ns)
{
	const struct hnvmf_key_grace *g = find(tgt->graces, tgt->ngraces, hostnqn);
	if (!g || g->dhchap_until_ns <= hnvmf_now_ns())
		return false;
	memcpy(host_s, g->dhchap_secret, sizeof(g->dhchap_secret));
	memcpy(ctrl_s, g->dhchap_ctrl_secret, sizeof(g->dhchap_ctrl_secret));
	*until_ns = g->dhchap_until_ns;
	return true;
}

const char *hnvmf_key_grace_tls(struct hnvmf_tgt *tgt, const char *hostnqn)
{
	const struct hnvmf_key_grace *g = find(tgt->graces, tgt->ngraces, hostnqn);
	return g && g->tls_until_ns > hnvmf_now_ns() ? g->tls_psk : NULL;
}

void hnvmf_key_grace_used(struct hnvmf_tgt *tgt, const char *hostnqn, bool tls)
{
	uint64_t now = hnvmf_now_ns(), left = 0;
	pthread_mutex_lock(&tgt->lock);
	const struct hnvmf_key_grace *g = find(tgt->graces, tgt->ngraces, hostnqn);
	uint64_t until = !g ? 0 : tls ? g->tls_until_ns : g->dhchap_until_ns;
	if (until > now)
		left = (until - now + 999999999) / 1000000000;
	if (tls)
		tgt->tls_prev_used++;
	else
		tgt->dhchap_prev_used++;
	pthread_mutex_unlock(&tgt->lock);
	log_notice("host %s: authenticated with its previous %s (key rotation grace period, %llu s left): "
		   "give the host its new key",
		   hostnqn, tls ? "TLS PSK" : "DH-HMAC-CHAP secret", (unsigned long long)left);
}

size_t hnvmf_key_grace_count(struct hnvmf_tgt *tgt)
{
	uint64_t now = hnvmf_now_ns();
	size_t n = 0;
	for (size_t i = 0; i < tgt->ngraces; i++)
		n += tgt->graces[i].dhchap_until_ns > now || tgt->graces[i].tls_until_ns > now;
	return n;
}

void hnvmf_key_grace_free(struct hnvmf_tgt *tgt)
{
	if (tgt->graces)
		hnvmf_auth_wipe(tgt->graces, tgt->ngraces * sizeof(*tgt->graces));
	free(tgt->graces);
	tgt->graces = NULL;
	tgt->ngraces = 0;
}
