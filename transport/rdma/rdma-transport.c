/* The NVMe/RDMA transport's ops table: one RDMA CM event channel per reactor (listeners on
 * reactors[0]'s), connection requests handed round-robin to the reactors, graceful shutdown.
 * Everything RDMA-specific that a connection needs is made on its reactor (rdma-conn.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include "core/log.h"
#include "transport/rdma/rdma-internal.h"

struct rdma_transport rdma_g;

static int listener_open(struct rdma_listener *l);

/* An address change or device removal under a listener leaves its CM id unusable (new
 * connection requests no longer arrive): destroy it and bind a fresh one, retrying until the
 * address is back. Runs on reactors[0]; the event is already acknowledged. */
static void listener_repair(struct hnvmf_timer *t)
{
	struct rdma_listener *l = container_of(t, struct rdma_listener, repair);
	if (l->id)
		rdma_destroy_id(l->id);
	l->id = NULL;
	if (listener_open(l) == 0) {
		log_notice("rdma: listener %s on %s port %u re-bound", l->port->conf.name,
			   l->port->conf.addr, l->port->conf.port);
		return;
	}
	hnvmf_timer_arm(rdma_g.rts[0].r, &l->repair, RDMA_LISTENER_REPAIR_MS);
}

static void listener_event(struct rdma_listener *l, enum rdma_cm_event_type type)
{
	if (type != RDMA_CM_EVENT_ADDR_CHANGE && type != RDMA_CM_EVENT_DEVICE_REMOVAL) {
		log_debug("rdma: listener %s: %s ignored", l->port->conf.name, rdma_event_str(type));
		return;
	}
	log_warn("rdma: listener %s: %s: re-binding", l->port->conf.name, rdma_event_str(type));
	listener_repair(&l->repair);
}

static void channel_event(struct hnvmf_event *ev, uint32_t revents)
{
	struct rdma_reactor *rt = container_of(ev, struct rdma_reactor, ev);
	(void)revents;
	struct rdma_cm_event *e;
	while (rdma_get_cm_event(rt->ch, &e) == 0) {
		if (e->event == RDMA_CM_EVENT_CONNECT_REQUEST) {
			/* Acknowledges the event itself (before migrating the new id). */
			rdma_conn_request(e->listen_id->context, e);
			continue;
		}
		uint8_t *kind = e->id->context;
		if (kind && *kind == RDMA_CTX_CONN) {
			rdma_conn_cm_event((struct rdma_conn *)kind, e);
			rdma_ack_cm_event(e);
		} else if (kind && *kind == RDMA_CTX_LISTENER) {
			enum rdma_cm_event_type type = e->event;
			rdma_ack_cm_event(e);
			listener_event((struct rdma_listener *)kind, type);
		} else {
			rdma_ack_cm_event(e);
		}
	}
}

static void register_channel(void *arg)
{
	struct rdma_reactor *rt = arg;
	if (hnvmf_reactor_add_fd(rt->r, &rt->ev, EPOLLIN) < 0)
		log_err("rdma: cannot watch the CM event channel on %s", hnvmf_reactor_name(rt->r));
	else
		rt->ev_on = true;
}

static void rdma_fini(void);

static int rdma_init(const struct hnvmf_transport_env *env)
{
	const struct hnvmf_conf *conf = env->tgt->conf;
	memset(&rdma_g, 0, sizeof(rdma_g));
	rdma_g.env = *env;
	hnvmf_list_init(&rdma_g.listeners);
	hnvmf_conn_limits_init(&conf->limits);
	pthread_mutex_init(&rdma_g.dev_lock, NULL);
	rdma_g.io_depth = conf->queue_depth;
	rdma_g.max_qid = conf->max_io_queues;
	rdma_g.io_icd_limit = conf->inline_data_size;
	uint32_t icd = conf->inline_data_size > RDMA_ADMIN_ICD_SIZE ? conf->inline_data_size
								     : RDMA_ADMIN_ICD_SIZE;
	rdma_g.capsule_size = (uint32_t)sizeof(union hnvmf_sqe) + icd;
	rdma_g.mdts = conf->mdts_kib * 1024u;
	/* Without MDTS, the Linux host caps transfers at 1 MiB over RDMA (its fast-registration
	 * page list); larger ones take the slow path (a buffer registered per request). */
	rdma_g.buf_large = rdma_g.mdts ? rdma_g.mdts : 1024u * 1024u;
	if (rdma_g.buf_large < RDMA_BUF_MEDIUM)
		rdma_g.buf_large = RDMA_BUF_MEDIUM;
	rdma_g.rts = calloc(env->nreactors, sizeof(*rdma_g.rts));
	if (!rdma_g.rts)
		return -ENOMEM;
	for (unsigned i = 0; i < env->nreactors; i++) {
		struct rdma_reactor *rt = &rdma_g.rts[i];
		rt->r = env->reactors[i];
		hnvmf_list_init(&rt->conns);
		hnvmf_list_init(&rt->active);
		hnvmf_list_init(&rt->poller.link);
		rt->ev.fd = -1;
	}
	for (unsigned i = 0; i < env->nreactors; i++) {
		struct rdma_reactor *rt = &rdma_g.rts[i];
		rt->ch = rdma_create_event_channel();
		if (!rt->ch) {
			int err = errno ? -errno : -ENODEV;
			log_err("rdma: cannot create an RDMA CM event channel: %m (is the rdma_ucm "
				"module loaded?)");
			rdma_fini();
			return err;
		}
		int fl = fcntl(rt->ch->fd, F_GETFL);
		if (fl < 0 || fcntl(rt->ch->fd, F_SETFL, fl | O_NONBLOCK) < 0) {
			int err = -errno;
			rdma_fini();
			return err;
		}
		rt->ev.fd = rt->ch->fd;
		rt->ev.cb = channel_event;
	}
	/* Asynchronous: works whether or not the reactors run yet; their messages keep order. */
	for (unsigned i = 0; i < env->nreactors; i++)
		if (hnvmf_reactor_call(rdma_g.rts[i].r, register_channel, &rdma_g.rts[i]) < 0)
			log_err("rdma: cannot reach %s", hnvmf_reactor_name(rdma_g.rts[i].r));
	log_info("rdma: %u reactors, I/O queue depth up to %u, in-capsule data %u bytes (I/O), "
		 "receive buffers of %u bytes, largest pooled transfer %u bytes", env->nreactors,
		 rdma_g.io_depth, rdma_g.io_icd_limit, rdma_g.capsule_size, rdma_g.buf_large);
	return 0;
}

static void rdma_fini(void)
{
	if (!rdma_g.rts)
		return;
	if (atomic_load(&rdma_g.nconns))
		log_warn("rdma: %u connections never finished; their resources are leaked",
			 atomic_load(&rdma_g.nconns));
	for (unsigned i = 0; i < rdma_g.env.nreactors; i++) {
		struct rdma_reactor *rt = &rdma_g.rts[i];
		while (rt->groups) {
			struct rdma_group *g = rt->groups;
			rt->groups = g->next;
			rdma_group_free(g);
		}
		if (rt->ch)
			rdma_destroy_event_channel(rt->ch);
		rt->ch = NULL;
	}
	rdma_devices_fini();
	pthread_mutex_destroy(&rdma_g.dev_lock);
	free(rdma_g.rts);
	rdma_g.rts = NULL;
}

static int parse_addr(const struct hnvmf_conf_listener *conf, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *s4 = (void *)ss;
	struct sockaddr_in6 *s6 = (void *)ss;
	if (inet_pton(AF_INET, conf->addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(conf->port);
		return 0;
	}
	if (inet_pton(AF_INET6, conf->addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(conf->port);
		return 0;
	}
	return -EINVAL;
}

static int listener_open(struct rdma_listener *l)
{
	const struct hnvmf_conf_listener *conf = &l->port->conf;
	struct sockaddr_storage ss;
	if (parse_addr(conf, &ss) < 0) {
		log_err("rdma: listener %s: '%s' is not a numeric IPv4 or IPv6 address", conf->name,
			conf->addr);
		return -EINVAL;
	}
	struct rdma_cm_id *id;
	if (rdma_create_id(rdma_g.rts[0].ch, &id, l, RDMA_PS_TCP) != 0) {
		int err = -errno;
		log_err("rdma: listener %s: rdma_create_id: %m", conf->name);
		return err;
	}
	if (ss.ss_family == AF_INET6) { /* "::" serves IPv6 only; list 0.0.0.0 for IPv4 */
		int one = 1;
		rdma_set_option(id, RDMA_OPTION_ID, RDMA_OPTION_ID_AFONLY, &one, sizeof(one));
	}
	if (rdma_bind_addr(id, (struct sockaddr *)&ss) != 0 ||
	    rdma_listen(id, RDMA_LISTEN_BACKLOG) != 0) {
		int err = -errno;
		log_err("rdma: listener %s: cannot listen on %s port %u: %m (no RDMA device with "
			"that address?)", conf->name, conf->addr, conf->port);
		rdma_destroy_id(id);
		return err;
	}
	l->id = id;
	log_notice("rdma: listening on %s port %u (device %s)", conf->addr, conf->port,
		   id->verbs ? ibv_get_device_name(id->verbs->device) : "any");
	return 0;
}

static int rdma_port_listen(struct hnvmf_port *port)
{
	struct rdma_listener *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->ctx_kind = RDMA_CTX_LISTENER;
	l->port = port;
	l->repair.cb = listener_repair;
	hnvmf_list_init(&l->repair.link);
	int rc = listener_open(l);
	if (rc < 0) {
		free(l);
		return rc;
	}
	hnvmf_list_add_tail(&rdma_g.listeners, &l->link);
	port->transport_priv = l;
	return 0;
}

static void listener_destroy(void *arg)
{
	struct rdma_listener *l = arg;
	/* On reactors[0], between two event batches: no event of this id is being handled. */
	hnvmf_timer_cancel(rdma_g.rts[0].r, &l->repair);
	if (l->id)
		rdma_destroy_id(l->id);
	l->id = NULL;
}

static void rdma_port_stop_listen(struct hnvmf_port *port)
{
	struct rdma_listener *l = port->transport_priv;
	if (!l)
		return;
	if (hnvmf_reactor_call_sync(rdma_g.rts[0].r, listener_destroy, l) < 0)
		listener_destroy(l); /* the reactor is not running */
	hnvmf_list_del(&l->link);
	port->transport_priv = NULL;
	free(l);
}

/* On reactors[reactor_index]: the connections it lists (target/teardown.c drains, counts and
 * closes them through their queue's ops, any of which may end the connection). */
static void rdma_each_queue(unsigned reactor_index, void (*fn)(struct hnvmf_sq *sq, void *arg),
			    void *arg)
{
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &rdma_g.rts[reactor_index].conns)
		fn(&container_of(pos, struct rdma_conn, link)->sq, arg);
}

static void reactor_unregister(void *arg)
{
	struct rdma_reactor *rt = arg;
	if (rt->poller_on)
		hnvmf_reactor_del_poller(rt->r, &rt->poller);
	rt->poller_on = false;
	if (rt->ev_on)
		hnvmf_reactor_del_fd(rt->r, &rt->ev);
	rt->ev_on = false;
	struct hnvmf_list *pos, *tmp; /* none left after the teardown, unless it timed out */
	hnvmf_list_for_each_safe(pos, tmp, &rt->conns)
		rdma_cq_detach(container_of(pos, struct rdma_conn, link));
}

/* No new connection request is accepted (rdma_conn_request reads shutting_down); one accepted
 * already drains on its reactor once set up there (rdma-conn.c). */
static void rdma_stop_accepting(void)
{
	atomic_store(&rdma_g.shutting_down, true);
	while (!hnvmf_list_empty(&rdma_g.listeners)) {
		struct rdma_listener *l = container_of(rdma_g.listeners.next, struct rdma_listener,
						       link);
		rdma_port_stop_listen(l->port);
	}
}

static unsigned rdma_nconns(void)
{
	return atomic_load(&rdma_g.nconns);
}

/* After the queues' teardown. */
static void rdma_shutdown(void)
{
	for (unsigned i = 0; i < rdma_g.env.nreactors; i++)
		hnvmf_reactor_call_sync(rdma_g.rts[i].r, reactor_unregister, &rdma_g.rts[i]);
}

/* The requests in each state (enum rdma_req_state) over all reactors: a snapshot, each
 * reactor's counts read without stopping it. */
static void rdma_describe_requests(struct hnvmf_strbuf *sb)
{
	static const char *const names[RDMA_REQ_NSTATES] = {
		[RDMA_REQ_NEW] = "new",		  [RDMA_REQ_WAIT_BUF] = "wait_buf",
		[RDMA_REQ_WAIT_READ_WR] = "wait_read_wr", [RDMA_REQ_READING] = "reading",
		[RDMA_REQ_EXECUTING] = "executing", [RDMA_REQ_WAIT_RSP_WR] = "wait_rsp_wr",
		[RDMA_REQ_SENDING] = "sending",
	};
	uint64_t n[RDMA_REQ_NSTATES] = {0}, bad = 0;
	for (unsigned i = 0; i < rdma_g.env.nreactors; i++) {
		for (int s = RDMA_REQ_NEW; s < RDMA_REQ_NSTATES; s++)
			n[s] += atomic_load_explicit(&rdma_g.rts[i].nreqs[s], memory_order_relaxed);
		bad += atomic_load_explicit(&rdma_g.rts[i].bad_transitions, memory_order_relaxed);
	}
	hnvmf_strbuf_printf(sb, "rdma requests:");
	for (int s = RDMA_REQ_NEW; s < RDMA_REQ_NSTATES; s++)
		hnvmf_strbuf_printf(sb, " %s %llu", names[s], (unsigned long long)n[s]);
	hnvmf_strbuf_printf(sb, " bad_transitions %llu\n", (unsigned long long)bad);
}

const struct hnvmf_transport_ops hnvmf_rdma_transport = {
	.name = "rdma",
	.trtype = HNVMF_TRTYPE_RDMA,
	.init = rdma_init,
	.listen = rdma_port_listen,
	.stop_listen = rdma_port_stop_listen,
	.queues = {.name = "rdma",
		   .stop_accepting = rdma_stop_accepting,
		   .each_queue = rdma_each_queue,
		   .nconns = rdma_nconns},
	.shutdown = rdma_shutdown,
	.fini = rdma_fini,
	.describe_requests = rdma_describe_requests,
};
