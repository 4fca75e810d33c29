/* The model's life cycle: the embedded default, freeing, look-ups, derived identifiers. */
#include "conf/conf-internal.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

const char *const conf_mode_names[] = {
	[HNVMF_CONF_MODE_DIRECT] = "direct",
	[HNVMF_CONF_MODE_PQM] = "pqm",
	[HNVMF_CONF_MODE_DAM] = "dam",
	[HNVMF_CONF_MODE_BASELINE] = "baseline",
};

void conf_set_global_defaults(struct hnvmf_conf *c)
{
	c->log_level = HNVMF_LOG_INFO;
	c->reactors = 1;
	/* PQM is the design's default path (docs/pqm.md). */
	c->default_mode = HNVMF_CONF_MODE_PQM;
	c->kato_default_ms = 120000;
	c->max_io_queues = 8;
	c->queue_depth = 128;
	c->idle_spin_us = 10;
	c->inline_data_size = 8192;
	c->mdts_kib = 1024;
	c->cntlid_min = 1;
	c->cntlid_max = HNVMF_CONF_CNTLID_MAX;
	c->anatt = 10;
	snprintf(c->control_socket, sizeof(c->control_socket), "%s", HNVMF_DEFAULT_CONTROL_SOCKET);
	c->pqm.cmax = 4;
	c->pqm.epoch_ms = 100;
	c->pqm.subqueue_depth = 1024;
	c->pqm.fair = true;
	c->pqm.dam_queues_per_cpu = 1;
	c->pqm.dam_idle_spin_us = 200;
	c->pqm.dam_poll = HNVMF_CONF_POLL_AUTO;
	c->metrics.sla_epoch_ms = 1000;
	snprintf(c->gateway.client, sizeof(c->gateway.client), "admin");
	c->gateway.lease_ms = 5000;
	c->gateway.standby_state = HNVMF_CONF_ANA_INACCESSIBLE;
	c->limits = (struct hnvmf_conf_limits){
		.max_connections = 4096,
		.max_connections_per_address = 256,
		.icreq_timeout_ms = 10000,
		.connect_timeout_ms = 10000,
		.auth_timeout_ms = 30000,
		.pdu_timeout_ms = 30000,
		.conn_buffer_mib = 64,
		.buffer_mib = 1024,
		.max_controllers_per_host = 128,
		.max_queues_per_host = 1024,
		.auth_workers = 2,
		.auth_max_failures = 5,
		.auth_backoff_ms = 1000,
		.control_timeout_ms = 5000,
	};
}

static void sha256_of(const char *a, const char *b, uint8_t out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned len = 0;
	if (md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(md, a, strlen(a) + 1) == 1 && EVP_DigestUpdate(md, b, strlen(b)) == 1 &&
	    EVP_DigestFinal_ex(md, out, &len) == 1 && len == 32) {
		EVP_MD_CTX_free(md);
		return;
	}
	EVP_MD_CTX_free(md);
	/* SHA-256 is always there in OpenSSL 3's default provider; not having it is a broken
	 * installation, and identifiers must never silently collide. */
	log_err("conf: SHA-256 unavailable in OpenSSL");
	abort();
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* SHA-256 over "NQN\0nsid": the first half is the NGUID, the second the UUID with the RFC 9562
 * version 8 ("custom", its example being exactly a SHA-256 name-based UUID) and variant bits
 * set. Stable across restarts, different for every (subsystem, nsid). */
void conf_derive_ns_ids(const char *subnqn, struct hnvmf_conf_ns *ns)
{
	char nsid[16];
	uint8_t d[32];
	snprintf(nsid, sizeof(nsid), "%u", ns->nsid);
	sha256_of(subnqn, nsid, d);
	if (all_zero(ns->nguid, 16))
		memcpy(ns->nguid, d, 16);
	if (all_zero(ns->uuid, 16)) {
		memcpy(ns->uuid, d + 16, 16);
		ns->uuid[6] = (uint8_t)((ns->uuid[6] & 0x0f) | 0x80);
		ns->uuid[8] = (uint8_t)((ns->uuid[8] & 0x3f) | 0x80);
	}
}

void conf_derive_serial(const char *subnqn, char serial[21])
{
	uint8_t d[32];
	sha256_of(subnqn, "serial", d);
	snprintf(serial, 21, "HNVMF%02X%02X%02X%02X%02X%02X%02X%X", d[0], d[1], d[2], d[3], d[4], d[5],
		 d[6], d[7] >> 4);
}

int hnvmf_conf_default(struct hnvmf_conf **out)
{
	struct hnvmf_conf *c = calloc(1, sizeof(*c));
	if (!c)
		return -1;
	conf_set_global_defaults(c);

	struct hnvmf_conf_listener *l = conf_grow(&c->listeners, &c->nlisteners, sizeof(*l));
	if (!l)
		goto oom;
	snprintf(l->name, sizeof(l->name), "tcp");
	l->trtype = HNVMF_TRTYPE_TCP;
	snprintf(l->addr, sizeof(l->addr), "127.0.0.1");
	l->port = 4420;
	l = conf_grow(&c->listeners, &c->nlisteners, sizeof(*l));
	if (!l)
		goto oom;
	snprintf(l->name, sizeof(l->name), "discovery");
	l->trtype = HNVMF_TRTYPE_TCP;
	snprintf(l->addr, sizeof(l->addr), "127.0.0.1");
	l->port = 8009;
	l->discovery = true;

	struct hnvmf_conf_backend *b = conf_grow(&c->backends, &c->nbackends, sizeof(*b));
	if (!b)
		goto oom;
	snprintf(b->name, sizeof(b->name), "ram0");
	b->type = HNVMF_CONF_BACKEND_RAM;
	b->size = 1ull << 30;
	b->block_size = 512;

	struct hnvmf_conf_subsys *s = conf_grow(&c->subsystems, &c->nsubsystems, sizeof(*s));
	if (!s)
		goto oom;
	snprintf(s->nqn, sizeof(s->nqn), "%s", HNVMF_DEFAULT_SUBNQN);
	snprintf(s->serial, sizeof(s->serial), "HNVMF0000000001");
	snprintf(s->model, sizeof(s->model), "hnvmf");
	s->allow_any_host = true;
	struct hnvmf_conf_ns *ns = conf_grow(&s->ns, &s->nns, sizeof(*ns));
	if (!ns)
		goto oom;
	ns->nsid = 1;
	ns->anagrpid = 1;
	snprintf(ns->backend, sizeof(ns->backend), "ram0");
	conf_derive_ns_ids(s->nqn, ns);

	*out = c;
	return 0;
oom:
	hnvmf_conf_free(c);
	return -1;
}

void hnvmf_conf_free_tenants(struct hnvmf_conf_tenant *t, size_t n)
{
	if (!t)
		return;
	for (size_t i = 0; i < n; i++) {
		free(t[i].subsystems);
		/* Credentials do not linger in freed memory. */
		OPENSSL_cleanse(t[i].dhchap_secret, sizeof(t[i].dhchap_secret));
		OPENSSL_cleanse(t[i].dhchap_ctrl_secret, sizeof(t[i].dhchap_ctrl_secret));
		OPENSSL_cleanse(t[i].tls_psk, sizeof(t[i].tls_psk));
	}
	free(t);
}

void hnvmf_conf_free(struct hnvmf_conf *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nsubsystems; i++) {
		free(c->subsystems[i].hosts);
		free(c->subsystems[i].ns);
		free(c->subsystems[i].listeners);
	}
	free(c->subsystems);
	free(c->listeners);
	free(c->referrals);
	free(c->backends);
	free(c->dam_whitelist);
	hnvmf_conf_free_tenants(c->tenants, c->ntenants);
	free(c);
}

const struct hnvmf_conf_subsys *hnvmf_conf_find_subsys(const struct hnvmf_conf *c, const char *nqn)
{
	for (size_t i = 0; i < c->nsubsystems; i++)
		if (strcmp(c->subsystems[i].nqn, nqn) == 0)
			return &c->subsystems[i];
	return NULL;
}

const struct hnvmf_conf_backend *hnvmf_conf_find_backend(const struct hnvmf_conf *c, const char *name)
{
	for (size_t i = 0; i < c->nbackends; i++)
		if (strcmp(c->backends[i].name, name) == 0)
			return &c->backends[i];
	return NULL;
}

const struct hnvmf_conf_tenant *hnvmf_conf_find_tenant(const struct hnvmf_conf_tenant *t, size_t n,
						       const char *hostnqn)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].hostnqn, hostnqn) == 0)
			return &t[i];
	return NULL;
}

const struct hnvmf_conf_listener *hnvmf_conf_find_listener(const struct hnvmf_conf *c, const char *name)
{
	for (size_t i = 0; i < c->nlisteners; i++)
		if (strcmp(c->listeners[i].name, name) == 0)
			return &c->listeners[i];
	return NULL;
}

bool hnvmf_conf_subsys_on_listener(const struct hnvmf_conf_subsys *s, const struct hnvmf_conf_listener *l)
{
	if (l->discovery)
		return false;
	if (s->nlisteners == 0)
		return true;
	for (size_t i = 0; i < s->nlisteners; i++)
		if (strcmp(s->listeners[i], l->name) == 0)
			return true;
	return false;
}

bool hnvmf_conf_host_allowed(const struct hnvmf_conf_subsys *s, const struct hnvmf_conf_tenant *t,
			     size_t n, const char *hostnqn)
{
	if (s->allow_any_host)
		return true;
	for (size_t i = 0; i < s->nhosts; i++)
		if (strcmp(s->hosts[i], hostnqn) == 0)
			return true;
	const struct hnvmf_conf_tenant *tn = hnvmf_conf_find_tenant(t, n, hostnqn);
	for (size_t i = 0; tn && i < tn->nsubsystems; i++)
		if (strcmp(tn->subsystems[i], s->nqn) == 0)
			return true;
	return false;
}

const char *hnvmf_conf_mode_name(enum hnvmf_conf_mode m)
{
	if ((unsigned)m < sizeof(conf_mode_names) / sizeof(conf_mode_names[0]) && conf_mode_names[m])
		return conf_mode_names[m];
	return "?";
}

/* The configuration's names of the ANA states, indexed by the NVMe encoding. */
static const char *const ana_state_names[] = {
	[HNVMF_CONF_ANA_OPTIMIZED] = "optimized",
	[HNVMF_CONF_ANA_NON_OPTIMIZED] = "non-optimized",
	[HNVMF_CONF_ANA_INACCESSIBLE] = "inaccessible",
	[HNVMF_CONF_ANA_PERSISTENT_LOSS] = "persistent-loss",
	[HNVMF_CONF_ANA_CHANGE] = "change",
};

int hnvmf_conf_ana_state_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(ana_state_names) / sizeof(ana_state_names[0]); i++)
		if (ana_state_names[i] && strcmp(ana_state_names[i], name) == 0)
			return (int)i;
	return -1;
}

const char *hnvmf_conf_ana_state_name(unsigned state)
{
	if (state < sizeof(ana_state_names) / sizeof(ana_state_names[0]) && ana_state_names[state])
		return ana_state_names[state];
	return "?";
}
