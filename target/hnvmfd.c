/* hnvmfd: the NVMe-oF target gateway daemon. Composition root: it loads the configuration, builds
 * the target, starts reactors and transports, and handles signals:
 *   SIGTERM, SIGINT  graceful stop: listeners close, in-flight I/O completes and is answered
 *   SIGHUP           re-read the main file and its tenants directory and apply the difference
 *                    (target/reconfig.c); a bad file leaves the running configuration as it was
 * Under systemd (hnvmfd.service, Type=notify) it reports readiness, status, reloads and stops,
 * and pings the watchdog while its reactors run (target/notify.c).
 * A listener that cannot listen at start is retried from the main loop while the others serve. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf-edit.h"
#include "conf/conf.h"
#include "core/log.h"
#include "core/reactor.h"
#include "hnvmf-version.h"
#include "target/conf-map.h"
#include "target/control.h"
#include "target/crash-report.h"
#include "target/gateway.h"
#include "target/metrics.h"
#include "target/notify.h"
#include "target/nvmf.h"
#include "target/reconfig.h"
#include "target/tenant.h"
#include "transport/transport.h"

#define MAX_REACTORS 64
#define STATUS_TICK_US 5000000ull /* how often the systemd status line is refreshed */
/* A listener that cannot listen yet is retried after 1 s, then 2, 4, ... at most 30 s apart. */
#define LISTEN_RETRY_FIRST_MS 1000u
#define LISTEN_RETRY_MAX_MS 30000u

/* A listener not listening yet (its address not configured yet, its port in use, no RDMA
 * device with its address): the main loop retries it while the others serve. */
struct listen_retry {
	struct hnvmf_port *port;
	unsigned delay_ms; /* until the next attempt after this one fails */
	uint64_t due_ns;   /* hnvmf_now_ns() of the next attempt */
};

static struct {
	/* The running model: what the daemon serves now, replaced by every applied reload. The
	 * target keeps the one it started with (d.tgt->conf) for the settings read only at start. */
	struct hnvmf_conf *conf;
	bool verbose; /* -v: debug logging whatever log_level the file says */
	/* Ports and their retries: the main thread retries, a reload on the control thread adds
	 * and removes. */
	pthread_mutex_t ports_lock;
	struct hnvmf_tgt *tgt;
	struct hnvmf_engine *engine;
	struct hnvmf_reactor *reactors[MAX_REACTORS]; /* the shared ones, then the DAM reactors */
	unsigned nreactors;
	unsigned nshared; /* reactors[0..nshared): where connections are accepted */
	bool transport_up[2];
	struct hnvmf_control *control;
	struct hnvmf_metrics *metrics; /* [metrics] listen: the Prometheus endpoint */
	struct hnvmf_gateway *gateway; /* [gateway]: ANA group ownership through RADOS */
	atomic_bool fenced;            /* another gateway fenced this one: stop, exit 1 */
	struct listen_retry *retry; /* one per listener at most; nretry of them are waiting */
	size_t nretry, retry_cap;
} d = {.ports_lock = PTHREAD_MUTEX_INITIALIZER};

/* On the gateway group's thread, once it has released every ANA group: stop as on SIGTERM, and
 * exit 1 so that the supervisor restarts the daemon (a new RADOS instance, a non-owner). */
static void gateway_fenced(void)
{
	atomic_store(&d.fenced, true);
	kill(getpid(), SIGTERM);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hnvmfd [-c FILE] [--check] [--cpu N] [-v] [--list-keys] [--version] [--help]\n"
		"  -c, --config FILE  configuration (default %s if it exists, else the embedded\n"
		"                     default: %s, 1 GiB RAM namespace, NVMe/TCP 127.0.0.1:4420)\n"
		"      --check        validate the configuration and exit (0 valid, 1 not): opens\n"
		"                     the backends as the start does, binds no listener\n"
		"      --cpu N        pin reactor i to CPU N+i\n"
		"  -v, --verbose      debug logging\n"
		"  -f, --foreground   accepted for compatibility: hnvmfd always stays in the foreground\n"
		"      --list-keys    print every configuration key, \"SECTION KEY\" a line, and exit\n",
		HNVMF_DEFAULT_CONF_FILE, HNVMF_DEFAULT_SUBNQN);
}

static const struct hnvmf_reconfig_ops reconfig_ops; /* below, with the listeners */

static pthread_mutex_t reloading = PTHREAD_MUTEX_INITIALIZER; /* one change of d.conf at a time */
static unsigned long applied;                                  /* under reloading */

/* nw (validated whole by the loader) becomes the running model: the difference applied, the
 * tenant set handed over. reloading held; nw is taken in every case. what names the change in
 * the log: "reload", or the API's; done is the applied one's log line. */
static int apply_model(struct hnvmf_conf *nw, const char *what, const char *done, char *msg, size_t len)
{
	if (hnvmf_reconfig_apply(d.tgt, d.conf, nw, &reconfig_ops, msg, len) != 0) {
		hnvmf_conf_free(nw);
		log_err("%s refused, running configuration unchanged: %s", what, msg);
		return -1;
	}
	if (!d.verbose && nw->log_level != d.conf->log_level)
		hnvmf_log_set_level((enum hnvmf_log_level)nw->log_level);
	struct hnvmf_conf_tenant *old;
	size_t nold;
	/* Controllers the new set no longer admits are torn down there; nothing points into the old
	 * set afterwards (hnvmf_tgt_set_tenants): it goes with the old model. */
	hnvmf_tgt_set_tenants(d.tgt, nw->tenants, nw->ntenants, &old, &nold);
	hnvmf_tenant_reload(d.tgt); /* DAM grants the new files no longer give are revoked */
	hnvmf_tenant_apply_qos(d.tgt, old, nold); /* new limits, without reconnecting */
	struct hnvmf_conf *prev = d.conf;
	d.conf = nw;
	if (prev != d.tgt->conf) {
		hnvmf_conf_free(prev);
	} else { /* the start's model: the target keeps its settings, its tenants go */
		hnvmf_conf_free_tenants(prev->tenants, prev->ntenants);
		prev->tenants = NULL;
		prev->ntenants = 0;
	}
	hnvmf_gateway_reconfigured(d.gateway, nw); /* new groups contended for, new RBD clients fenceable */
	log_notice("%s: %zu tenant(s) (reload %lu)", done, nw->ntenants, ++applied);
	return 0;
}

/* SIGHUP (main thread) or the control socket's "reload" (its own thread): one at a time. The
 * main file and its tenants directory are loaded and checked whole, then the difference to the
 * running model is applied (target/reconfig.c) and the tenant set handed over; the new model
 * becomes d.conf. Every outcome is logged; a refused reload names the file and line at fault,
 * an applied one its number, so that whoever sent the signal can tell when it was applied. A
 * SIGHUP that arrives while a reload runs stays pending (blocked, taken by sigwaitinfo) and so
 * brings one more reload: however many arrive meanwhile, the files are read again after the
 * last of them. */
static int reload_conf(char *msg, size_t len)
{
	if (!d.conf->file[0]) {
		snprintf(msg, len, "the embedded default configuration has no file to read again");
		log_err("reload refused: %s", msg);
		return -1;
	}
	pthread_mutex_lock(&reloading);
	struct hnvmf_conf *nw = NULL;
	int rc;
	if (hnvmf_conf_load(d.conf->file, &nw, msg, len) != 0) {
		log_err("reload refused, running configuration unchanged: %s", msg);
		rc = -1;
	} else {
		rc = apply_model(nw, "reload", "tenants reloaded", msg, len);
	}
	pthread_mutex_unlock(&reloading);
	return rc;
}

/* A change through the control API (target/rpc-config.c): edit derives the new model from the
 * running one, which no reload replaces meanwhile. */
static int change_conf(int (*edit)(const struct hnvmf_conf *cur, void *arg, struct hnvmf_conf **nw, char *msg,
				   size_t len),
		       void *arg, char *msg, size_t len)
{
	pthread_mutex_lock(&reloading);
	struct hnvmf_conf *nw = NULL;
	int rc = edit(d.conf, arg, &nw, msg, len);
	if (rc == 0)
		rc = apply_model(nw, "control API change", "control API change applied", msg, len);
	pthread_mutex_unlock(&reloading);
	return rc;
}

/* A reload as systemd sees it: RELOADING=1, then READY=1 with the new status whatever the
 * outcome (a refused reload leaves the daemon serving as before). */
static int reload(char *msg, size_t len)
{
	hnvmf_notify_reloading();
	int rc = reload_conf(msg, len);
	hnvmf_notify_ready(d.tgt);
	return rc;
}

/* After a change through the control API (its own thread): the running model back into the main
 * file, section by section (conf/conf-edit.h). */
static int persist(char *msg, size_t len)
{
	return hnvmf_conf_write_back(d.conf, msg, len);
}

/* --check: a tenant with a tls_psk is admitted only over TLS (target/fabrics-cmd.c), so a plain
 * listener exporting one of its subsystems serves it nothing; most likely the operator meant
 * "listeners =" on the subsystem. A warning, not an error: other hosts may use that listener. */
static void warn_tls_tenants_on_plain_listeners(const struct hnvmf_conf *c)
{
	for (size_t i = 0; i < c->ntenants; i++) {
		const struct hnvmf_conf_tenant *t = &c->tenants[i];
		for (size_t j = 0; t->tls_psk[0] && j < t->nsubsystems; j++) {
			const struct hnvmf_conf_subsys *s = hnvmf_conf_find_subsys(c, t->subsystems[j]);
			for (size_t k = 0; s && k < c->nlisteners; k++) {
				const struct hnvmf_conf_listener *l = &c->listeners[k];
				if (!l->tls && hnvmf_conf_subsys_on_listener(s, l))
					fprintf(stderr,
						"%s: warning: tenant %s has a tls_psk, but subsystem %s is exported on "
						"listener %s without TLS: the host is refused there (TLS only)\n",
						t->file, t->hostnqn, s->nqn, l->name);
			}
		}
	}
}

/* nvmf_get_stats on the control socket: every transport started, its requests per state. */
static void describe_requests(struct hnvmf_strbuf *sb)
{
	for (int t = 0; t < 2; t++)
		if (d.transport_up[t])
			hnvmf_transport_get((enum hnvmf_trtype)t)->describe_requests(sb);
}

/* One attempt at p's listen: 0 when it listens, else the failure is logged with when the next
 * attempt comes (the transport's own message says why the bind failed). */
static int try_listen(struct hnvmf_port *p, unsigned next_ms)
{
	const struct hnvmf_conf_listener *l = &p->conf;
	const struct hnvmf_transport_ops *ops = hnvmf_transport_get(l->trtype);
	int rc = ops->listen(p);
	if (rc == 0)
		log_info("listening: %s %s %s:%u%s", l->name, ops->name, l->addr, l->port,
			 l->discovery ? " (discovery)" : "");
	else
		log_warn("listener %s (%s %s:%u) cannot listen yet: %s; retrying in %u ms", l->name, ops->name,
			 l->addr, l->port, strerror(-rc), next_ms);
	return rc;
}

/* Retries the listeners that are due; returns the milliseconds until the next one is, or -1
 * when none waits. On the main thread, as start_listeners and stop_all: ports are its own. */
static int retry_listeners(void)
{
	pthread_mutex_lock(&d.ports_lock);
	uint64_t now = hnvmf_now_ns(), next = UINT64_MAX;
	for (size_t i = 0; i < d.nretry;) {
		struct listen_retry *r = &d.retry[i];
		if (r->due_ns <= now) {
			unsigned after = r->delay_ms * 2 < LISTEN_RETRY_MAX_MS ? r->delay_ms * 2 : LISTEN_RETRY_MAX_MS;
			if (try_listen(r->port, r->delay_ms) == 0) {
				d.retry[i] = d.retry[--d.nretry];
				continue;
			}
			r->due_ns = now + r->delay_ms * 1000000ull;
			r->delay_ms = after;
		}
		if (r->due_ns < next)
			next = r->due_ns;
		i++;
	}
	pthread_mutex_unlock(&d.ports_lock);
	return next == UINT64_MAX ? -1 : (int)((next - now + 999999) / 1000000);
}

/* Starts serving p: its transport is started with the first listener that needs it (a missing
 * or failing transport is -1: this build or machine cannot do it at all); a port that cannot
 * listen yet is retried (retry_listeners) while the others serve. ports_lock held. */
static int serve_port(struct hnvmf_port *p)
{
	const struct hnvmf_conf_listener *l = &p->conf;
	const struct hnvmf_transport_ops *ops = hnvmf_transport_get(l->trtype);
	if (!ops) {
		log_err("listener %s: transport not available in this build", l->name);
		return -1;
	}
	if (!d.transport_up[l->trtype]) {
		struct hnvmf_transport_env env = {.tgt = d.tgt, .reactors = d.reactors, .nreactors = d.nreactors,
						  .ndam_reactors = d.nreactors - d.nshared};
		int rc = ops->init(&env);
		if (rc) {
			log_err("transport %s: %s", ops->name, strerror(-rc));
			return -1;
		}
		d.transport_up[l->trtype] = true;
	}
	if (try_listen(p, LISTEN_RETRY_FIRST_MS) == 0)
		return 0;
	if (d.nretry == d.retry_cap) {
		size_t cap = d.retry_cap ? d.retry_cap * 2 : 4;
		struct listen_retry *r = realloc(d.retry, cap * sizeof(*r));
		if (!r) {
			log_err("listener %s: out of memory: not retried", l->name);
			return 0;
		}
		d.retry = r;
		d.retry_cap = cap;
	}
	d.retry[d.nretry++] = (struct listen_retry){
		.port = p,
		.delay_ms = LISTEN_RETRY_FIRST_MS * 2,
		.due_ns = hnvmf_now_ns() + LISTEN_RETRY_FIRST_MS * 1000000ull,
	};
	return 0;
}

/* A listener that cannot listen is no reason to stop: it is retried while the others serve. A
 * transport missing or failing to start is: the configuration asks for something this build
 * or machine cannot do at all. */
static int start_listeners(void)
{
	for (size_t i = 0; i < d.conf->nlisteners; i++) {
		const struct hnvmf_conf_listener *l = &d.conf->listeners[i];
		struct hnvmf_port *p = hnvmf_tgt_add_port(d.tgt, l);
		if (!p) {
			log_err("listener %s: out of memory", l->name);
			return -1;
		}
		pthread_mutex_lock(&d.ports_lock);
		int rc = serve_port(p);
		pthread_mutex_unlock(&d.ports_lock);
		if (rc)
			return -1;
	}
	return 0;
}

/* ---- what a reload needs from the daemon (target/reconfig.h) ---- */

static int reconfig_listen(void *arg, struct hnvmf_port *p)
{
	(void)arg;
	pthread_mutex_lock(&d.ports_lock);
	int rc = serve_port(p);
	pthread_mutex_unlock(&d.ports_lock);
	return rc;
}

static void reconfig_unlisten(void *arg, struct hnvmf_port *p)
{
	(void)arg;
	pthread_mutex_lock(&d.ports_lock);
	for (size_t i = 0; i < d.nretry; i++)
		if (d.retry[i].port == p) {
			d.retry[i] = d.retry[--d.nretry];
			break;
		}
	if (p->transport_priv)
		hnvmf_transport_get(p->conf.trtype)->stop_listen(p);
	pthread_mutex_unlock(&d.ports_lock);
}

static void reconfig_each_reactor(void *arg, void (*fn)(void *fnarg), void *fnarg)
{
	(void)arg;
	for (unsigned i = 0; i < d.nreactors; i++)
		hnvmf_reactor_call_sync(d.reactors[i], fn, fnarg);
}

static const struct hnvmf_reconfig_ops reconfig_ops = {
	.listen = reconfig_listen,
	.unlisten = reconfig_unlisten,
	.each_reactor = reconfig_each_reactor,
};

static void stop_all(void)
{
	/* Listeners first, then every queue drains (answers what it started; I/O queues before
	 * admin queues, over all transports at once: target/teardown.h), then the auth workers,
	 * which send their results to the reactors, are joined, then the reactors stop, then
	 * backends close (file backends reach stable storage there). */
	/* The gateway group first: its ANA groups go to standby (hosts move their I/O to the other
	 * gateways' paths) and its leases are released, so another gateway owns them at its next
	 * tick, without waiting for a lease to lapse or fencing this one. */
	pthread_mutex_lock(&reloading); /* a change through the API may still tell it of new groups */
	hnvmf_gateway_stop(d.gateway);
	d.gateway = NULL;
	pthread_mutex_unlock(&reloading);
	const struct hnvmf_queue_teardown_ops *queues[2];
	unsigned nq = 0;
	for (int t = 0; t < 2; t++) {
		if (!d.transport_up[t])
			continue;
		const struct hnvmf_transport_ops *ops = hnvmf_transport_get((enum hnvmf_trtype)t);
		struct hnvmf_list *pos, *tmp;
		pthread_mutex_lock(&d.ports_lock); /* a reload on the control thread may add one */
		hnvmf_list_for_each_safe(pos, tmp, &d.tgt->ports)
		{
			struct hnvmf_port *p = container_of(pos, struct hnvmf_port, link);
			if (p->conf.trtype == (enum hnvmf_trtype)t && p->transport_priv)
				ops->stop_listen(p);
		}
		pthread_mutex_unlock(&d.ports_lock);
		queues[nq++] = &ops->queues;
	}
	/* The reactors every transport was given (start_listeners' env): the teardown walks
	 * each transport's connections on them. */
	hnvmf_queues_teardown(queues, nq, d.reactors, d.nreactors, HNVMF_SHUTDOWN_TIMEOUT_MS);
	for (int t = 0; t < 2; t++)
		if (d.transport_up[t])
			hnvmf_transport_get((enum hnvmf_trtype)t)->shutdown();
	hnvmf_control_stop(d.control);
	d.control = NULL;
	hnvmf_metrics_stop(d.metrics);
	d.metrics = NULL;
	hnvmf_tgt_stop_auth(d.tgt);
	for (unsigned i = 0; i < d.nreactors; i++)
		hnvmf_reactor_stop(d.reactors[i]);
	for (int t = 0; t < 2; t++)
		if (d.transport_up[t])
			hnvmf_transport_get((enum hnvmf_trtype)t)->fini();
	for (unsigned i = 0; i < d.nreactors; i++)
		hnvmf_reactor_destroy(d.reactors[i]);
	struct hnvmf_conf *boot = d.tgt->conf; /* the start's model, if a reload replaced d.conf */
	hnvmf_tgt_destroy(d.tgt);
	hnvmf_engine_destroy(d.engine);
	if (boot != d.conf)
		hnvmf_conf_free(boot);
	hnvmf_conf_free(d.conf);
	free(d.retry);
}

static int load_conf(const char *path, bool explicit_path)
{
	char err[1024] = "";
	if (!explicit_path && access(HNVMF_DEFAULT_CONF_FILE, F_OK) != 0)
		return hnvmf_conf_default(&d.conf) == 0 ? 0 : -1;
	if (hnvmf_conf_load(path, &d.conf, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

/* Every connection is a descriptor: run with the hard limit, not the soft one (often 1024),
 * and say when even that is below what [limits] max_connections lets in. */
#define OWN_FDS 64ull /* reactors' epoll and eventfds, listeners, backends, control socket */
static void raise_open_files(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		log_warn("open files limit unknown: %s", strerror(errno));
		return;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t was = rl.rlim_cur;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
			log_warn("cannot raise the open files limit from %llu to %llu: %s",
				 (unsigned long long)was, (unsigned long long)rl.rlim_max, strerror(errno));
			getrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	log_notice("open files limit %llu (max_connections %u)", (unsigned long long)rl.rlim_cur,
		   d.conf->limits.max_connections);
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < d.conf->limits.max_connections + OWN_FDS)
		log_warn("the open files limit is below max_connections plus the daemon's own "
			 "descriptors: accepts will fail (and pause) before max_connections is reached");
}

/* The shared reactors (--cpu N pins reactor i to N + i), then the DAM reactors (docs/dam.md):
 * one pinned on each [pqm] dam_cpus CPU, or without dam_cpus one beside each shared reactor,
 * placed as it is (not isolated). Queues granted DAM move onto them and run to completion. */
static int start_reactors(int cpu)
{
	unsigned ndam = d.conf->pqm.ndam_cpus ? d.conf->pqm.ndam_cpus : d.nshared;
	if (ndam > MAX_REACTORS / 2)
		ndam = MAX_REACTORS / 2;
	d.nreactors = d.nshared + ndam;
	for (unsigned i = 0; i < d.nreactors; i++) {
		bool dam = i >= d.nshared;
		unsigned k = dam ? i - d.nshared : i;
		int pin = cpu >= 0 ? cpu + (int)k : -1;
		if (dam && d.conf->pqm.ndam_cpus)
			pin = d.conf->pqm.dam_cpus[k];
		char name[32];
		snprintf(name, sizeof(name), dam ? "hnvmf-dam-r%u" : "hnvmf-r%u", k);
		if (hnvmf_reactor_create(name, &d.reactors[i]) != 0) {
			log_err("cannot create reactor %s", name);
			return -1;
		}
		hnvmf_reactor_set_idle_spin(d.reactors[i], dam ? d.conf->pqm.dam_idle_spin_us : d.conf->idle_spin_us);
		hnvmf_reactor_set_spin_yield(d.reactors[i], dam);
		if (hnvmf_reactor_start(d.reactors[i], pin) != 0) {
			log_err("cannot start reactor %s", name);
			return -1;
		}
	}
	hnvmf_engine_set_dam_reactors(d.engine, d.reactors + d.nshared, ndam);
	return 0;
}

/* --cpu N pins reactor i to N + i: none of them may sit on a CPU reserved for DAM. */
static bool reactor_cpus_overlap_dam(int cpu)
{
	for (unsigned i = 0; cpu >= 0 && i < d.nshared; i++)
		for (unsigned k = 0; k < d.conf->pqm.ndam_cpus; k++)
			if (cpu + (int)i == d.conf->pqm.dam_cpus[k]) {
				log_err("cannot start: --cpu %d pins reactor %u to CPU %d, which [pqm] dam_cpus "
					"reserves for DAM",
					cpu, i, cpu + (int)i);
				return true;
			}
	return false;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'}, {"check", no_argument, NULL, 'C'},
		{"cpu", required_argument, NULL, 'p'},    {"verbose", no_argument, NULL, 'v'},
		{"foreground", no_argument, NULL, 'f'},   {"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},         {"list-keys", no_argument, NULL, 'K'},
		{NULL, 0, NULL, 0},
	};
	const char *path = HNVMF_DEFAULT_CONF_FILE;
	bool explicit_path = false, check = false, verbose = false;
	int cpu = -1, o;
	while ((o = getopt_long(argc, argv, "c:vfh", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			path = optarg;
			explicit_path = true;
			break;
		case 'C':
			check = true;
			break;
		case 'p':
			cpu = atoi(optarg);
			break;
		case 'v':
			verbose = true;
			break;
		case 'f':
			break;
		case 'V':
			printf("hnvmfd %s\n", HNVMF_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		case 'K':
			hnvmf_conf_list_keys(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (load_conf(path, explicit_path) != 0)
		return 1;
	if (check) {
		char err[1024] = "";
		if (hnvmf_tgt_check(d.conf, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s\n", err);
			hnvmf_conf_free(d.conf);
			return 1;
		}
		warn_tls_tenants_on_plain_listeners(d.conf);
		printf("%s: configuration is valid\n", explicit_path ? path : "embedded default");
		hnvmf_conf_free(d.conf);
		return 0;
	}
	d.verbose = verbose;
	hnvmf_log_set_level(verbose ? HNVMF_LOG_DEBUG : (enum hnvmf_log_level)d.conf->log_level);

	raise_open_files();
	hnvmf_crash_report_install();
	/* Signals are taken synchronously by the main thread; every other thread inherits the mask. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	struct hnvmf_engine_opts eo = {.pqm_cmax = d.conf->pqm.cmax, .pqm_epoch_ms = d.conf->pqm.epoch_ms,
				       .subqueue_depth = d.conf->pqm.subqueue_depth,
				       .backend_depth = d.conf->queue_depth * 2,
				       .nserver_cpus = d.conf->pqm.nserver_cpus,
				       .baseline_servers = d.conf->pqm.baseline_servers,
				       .baseline_depth = d.conf->pqm.baseline_depth ? d.conf->pqm.baseline_depth
										    : d.conf->queue_depth,
				       .idle_spin_us = d.conf->idle_spin_us,
				       .pqm_fifo = !d.conf->pqm.fair};
	memcpy(eo.server_cpus, d.conf->pqm.server_cpus, sizeof(int) * d.conf->pqm.nserver_cpus);
	eo.ndam_cpus = d.conf->pqm.ndam_cpus;
	eo.dam_queues_per_cpu = d.conf->pqm.dam_queues_per_cpu;
	eo.dam_max_queues = d.conf->pqm.dam_max_queues;
	eo.dam_poll = hnvmf_conf_map_poll(d.conf->pqm.dam_poll);
	memcpy(eo.dam_cpus, d.conf->pqm.dam_cpus, sizeof(int) * d.conf->pqm.ndam_cpus);
	d.nshared = d.conf->reactors ? d.conf->reactors : 1;
	if (d.nshared > MAX_REACTORS / 2)
		d.nshared = MAX_REACTORS / 2;
	char err[1024] = "";
	if (reactor_cpus_overlap_dam(cpu)) {
		hnvmf_conf_free(d.conf);
		return 1;
	}
	/* Before any thread starts (the auth workers start in hnvmf_tgt_create): they all inherit a
	 * mask without the CPUs reserved for DAM. */
	if (hnvmf_engine_create(&eo, &d.engine) != 0 ||
	    hnvmf_engine_reserve_dam_cpus(d.engine, err, sizeof(err)) != 0 ||
	    hnvmf_tgt_create(d.conf, d.engine, &d.tgt, err, sizeof(err)) != 0) {
		log_err("cannot start: %s", err[0] ? err : "out of memory");
		if (d.engine)
			hnvmf_engine_destroy(d.engine);
		hnvmf_conf_free(d.conf);
		return 1;
	}
	hnvmf_tenant_apply_qos(d.tgt, NULL, 0);
	/* before any listener: no host may see an ANA group optimized that this gateway does not own */
	if (hnvmf_gateway_start(d.tgt, d.conf, gateway_fenced, &d.gateway, err, sizeof(err)) != 0) {
		log_err("cannot start: %s", err);
		return 1;
	}
	if (start_reactors(cpu) != 0)
		return 1;
	int rc = start_listeners();
	if (rc == 0 && d.conf->control_socket[0]) {
		static const struct hnvmf_rpc_daemon api = {
			.reload = reload, .transport_requests = describe_requests, .persist = persist,
			.change = change_conf};
		struct group *g = d.conf->control_socket_group[0] ? getgrnam(d.conf->control_socket_group) : NULL;
		int c = d.conf->control_socket_group[0] && !g
				? -ENOENT
				: hnvmf_control_start(d.tgt, d.conf->control_socket, g ? g->gr_gid : (gid_t)-1,
						      &api, &d.control);
		if (c)
			log_warn("control socket %s: %s (continuing without it)", d.conf->control_socket,
				 strerror(-c));
	}
	if (rc == 0 && d.conf->metrics.addr[0]) {
		int m = hnvmf_metrics_start(d.tgt, &d.conf->metrics, &d.metrics);
		if (m)
			log_warn("metrics endpoint %s port %u: %s (continuing without it)", d.conf->metrics.addr,
				 d.conf->metrics.port, strerror(-m));
		else
			log_info("metrics: http://%s%s%s:%u/metrics", strchr(d.conf->metrics.addr, ':') ? "[" : "",
				 d.conf->metrics.addr, strchr(d.conf->metrics.addr, ':') ? "]" : "", d.conf->metrics.port);
	}
	if (rc == 0) {
		log_notice("hnvmfd %s ready (%s)", HNVMF_VERSION, d.conf->file[0] ? d.conf->file : "embedded default");
		hnvmf_notify_ready(d.tgt);
	}

	/* Housekeeping between signals, once per tick however many signals come: the watchdog round
	 * (a quarter of its interval, so a late reactor answer costs one ping, not the service) and
	 * the status line. */
	uint64_t watchdog_us = hnvmf_notify_watchdog_usec();
	uint64_t tick_ns = (watchdog_us ? watchdog_us / 4 : STATUS_TICK_US) * 1000, next = 0;
	while (rc == 0) {
		uint64_t now = hnvmf_now_ns();
		if (now >= next) {
			if (watchdog_us)
				hnvmf_notify_watchdog(d.reactors, d.nreactors);
			hnvmf_notify_status(d.tgt);
			hnvmf_retired_collect(d.tgt); /* a safe point: retired backends whose last I/O completed */
			next = now + tick_ns;
		}
		siginfo_t si;
		int retry_ms = retry_listeners(); /* -1: none waiting */
		uint64_t wait_ns = next - now;
		if (retry_ms >= 0 && (uint64_t)retry_ms * 1000000 < wait_ns)
			wait_ns = (uint64_t)retry_ms * 1000000;
		const struct timespec left = {.tv_sec = (time_t)(wait_ns / 1000000000),
					      .tv_nsec = (long)(wait_ns % 1000000000)};
		int s = sigtimedwait(&sigs, &si, &left);
		if (s < 0) {
			if (errno == EINTR || errno == EAGAIN) /* EAGAIN: a tick or a listener's retry is due */
				continue;
			break;
		}
		if (s == SIGHUP) {
			char msg[1024] = "";
			reload(msg, sizeof(msg));
			continue;
		}
		if (s == SIGPIPE)
			continue;
		log_notice("signal %d: stopping", s);
		hnvmf_notify_stopping();
		break;
	}
	stop_all();
	log_notice("hnvmfd stopped");
	return rc == 0 && !atomic_load(&d.fenced) ? 0 : 1;
}
