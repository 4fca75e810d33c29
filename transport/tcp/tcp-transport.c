/* The NVMe/TCP transport's ops table: listening sockets on reactors[0], accepted connections
 * handed round-robin to the reactors (each is registered on its own reactor's thread by a
 * message), and the graceful shutdown. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "transport/tcp/tcp-internal.h"

#define TCP_LISTEN_BACKLOG 512
#define TCP_ACCEPTS_PER_EVENT 64
#define TCP_ACCEPT_RETRY_MS 100

struct tcp_transport tcp_g;

static int tcp_init(const struct hnvmf_transport_env *env)
{
	const struct hnvmf_conf *conf = env->tgt->conf;
	memset(&tcp_g, 0, sizeof(tcp_g));
	tcp_g.env = *env;
	hnvmf_list_init(&tcp_g.listeners);
	tcp_limits_init(&conf->limits);
	unsigned depth = conf->queue_depth;
	tcp_g.queue_slots = depth > HNVMF_ADMIN_QUEUE_DEPTH ? depth : HNVMF_ADMIN_QUEUE_DEPTH;
	tcp_g.io_icd_limit = conf->inline_data_size;
	uint32_t icd = conf->inline_data_size > TCP_ADMIN_ICD_SIZE ? conf->inline_data_size
								  : TCP_ADMIN_ICD_SIZE;
	tcp_g.icd_size = (icd + 4095) / 4096 * 4096;
	tcp_g.mdts = conf->mdts_kib * 1024u;
	tcp_g.rts = calloc(env->nreactors, sizeof(*tcp_g.rts));
	if (!tcp_g.rts)
		return -ENOMEM;
	for (unsigned i = 0; i < env->nreactors; i++) {
		struct tcp_reactor *rt = &tcp_g.rts[i];
		rt->r = env->reactors[i];
		hnvmf_list_init(&rt->conns);
		hnvmf_list_init(&rt->flushq);
		hnvmf_list_init(&rt->rx_more);
		hnvmf_list_init(&rt->poller.link);
		hnvmf_list_init(&rt->turn_poller.link);
		tcp_bufcache_init(&rt->cache, tcp_g.mdts);
	}
	log_info("tcp: %u reactors, %u request slots per queue, in-capsule data %u bytes (I/O), "
		 "MAXH2CDATA %u", env->nreactors, tcp_g.queue_slots, tcp_g.io_icd_limit,
		 TCP_MAXH2CDATA);
	return 0;
}

static void tcp_fini(void)
{
	for (unsigned i = 0; i < tcp_g.env.nreactors; i++)
		tcp_bufcache_fini(&tcp_g.rts[i].cache);
	free(tcp_g.rts);
	tcp_g.rts = NULL;
	tcp_tls_fini();
}

static void format_peer(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)ss;
		inet_ntop(AF_INET, &s->sin_addr, addr, sizeof(addr));
		port = ntohs(s->sin_port);
		snprintf(buf, len, "%s:%u", addr, port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)ss;
		inet_ntop(AF_INET6, &s->sin6_addr, addr, sizeof(addr));
		port = ntohs(s->sin6_port);
		snprintf(buf, len, "[%s]:%u", addr, port);
	} else {
		snprintf(buf, len, "unknown");
	}
}

static void listener_set(struct tcp_listener *l, uint32_t events)
{
	hnvmf_reactor_mod_fd(tcp_g.rts[0].r, &l->ev, events);
}

static void listener_retry(struct hnvmf_timer *t)
{
	struct tcp_listener *l = container_of(t, struct tcp_listener, retry);
	listener_set(l, EPOLLIN);
}

static void accept_one(struct tcp_listener *l, int fd, const struct sockaddr_storage *ss)
{
	int one = 1;
	char peer[64];
	struct hnvmf_conn_ticket ticket;
	if (!hnvmf_conn_admit((const struct sockaddr *)ss, &ticket)) {
		close(fd); /* before anything is spent on it */
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	format_peer(ss, peer, sizeof(peer));
	struct tcp_reactor *rt = &tcp_g.rts[tcp_g.next_rt++ % hnvmf_transport_naccept(&tcp_g.env)];
	struct tcp_conn *c = tcp_conn_create(rt, l->port, fd, peer);
	if (!c) {
		log_err("tcp: out of memory accepting %s", peer);
		hnvmf_conn_release(&ticket);
		close(fd);
		return;
	}
	c->ticket = ticket; /* released when the connection is destroyed */
	hnvmf_reactor_send(rt->r, &c->start_msg);
}

static void listener_event(struct hnvmf_event *ev, uint32_t revents)
{
	struct tcp_listener *l = container_of(ev, struct tcp_listener, ev);
	(void)revents;
	for (int i = 0; i < TCP_ACCEPTS_PER_EVENT; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			accept_one(l, fd, &ss);
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
			continue;
		/* Out of descriptors or memory: pause instead of spinning on the ready socket. */
		log_warn("tcp: accept on %s port %u failed: %s; retrying in %d ms",
			 l->port->conf.addr, l->port->conf.port, strerror(errno),
			 TCP_ACCEPT_RETRY_MS);
		listener_set(l, 0);
		hnvmf_timer_arm(tcp_g.rts[0].r, &l->retry, TCP_ACCEPT_RETRY_MS);
		return;
	}
}

static void listener_register(void *arg)
{
	struct tcp_listener *l = arg;
	if (hnvmf_reactor_add_fd(tcp_g.rts[0].r, &l->ev, EPOLLIN) < 0)
		log_err("tcp: cannot watch the listening socket of %s port %u", l->port->conf.addr,
			l->port->conf.port);
}

static void listener_unregister(void *arg)
{
	struct tcp_listener *l = arg;
	hnvmf_timer_cancel(tcp_g.rts[0].r, &l->retry);
	hnvmf_reactor_del_fd(tcp_g.rts[0].r, &l->ev);
}

/* The largest SO_SNDBUF/SO_RCVBUF the kernel grants (net.core.wmem_max, rmem_max); -1: unknown. */
static long sysctl_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* TCP_SOCK_BUF_SIZE both ways, set before listen() so that accepted connections inherit them and
 * the window scale of their SYN-ACK allows the receive buffer. A size set by hand turns the
 * kernel's autotuning off, so where net.core caps it lower the buffers are left to autotuning:
 * a capped fixed size would be smaller than what autotuning reaches. */
static void set_buffer_sizes(int fd)
{
	int sz = (int)TCP_SOCK_BUF_SIZE;
	if (sysctl_long("/proc/sys/net/core/wmem_max") >= sz)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (sysctl_long("/proc/sys/net/core/rmem_max") >= sz)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

static int open_listen_socket(const struct hnvmf_conf_listener *conf)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *s4 = (void *)&ss;
	struct sockaddr_in6 *s6 = (void *)&ss;
	if (inet_pton(AF_INET, conf->addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(conf->port);
		sl = sizeof(*s4);
	} else if (inet_pton(AF_INET6, conf->addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(conf->port);
		sl = sizeof(*s6);
	} else {
		log_err("tcp: listener %s: '%s' is not a numeric IPv4 or IPv6 address", conf->name,
			conf->addr);
		return -EINVAL;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	set_buffer_sizes(fd);
	if (ss.ss_family == AF_INET6) /* "::" serves IPv6 only; list 0.0.0.0 for IPv4 */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, TCP_LISTEN_BACKLOG) < 0) {
		int err = -errno;
		log_err("tcp: listener %s: cannot listen on %s port %u: %s", conf->name, conf->addr,
			conf->port, strerror(-err));
		close(fd);
		return err;
	}
	return fd;
}

static int tcp_listen(struct hnvmf_port *port)
{
	if (port->conf.tls) {
		int rc = tcp_tls_setup();
		if (rc < 0) {
			log_err("tcp: listener %s: cannot set up TLS", port->conf.name);
			return rc;
		}
	}
	int fd = open_listen_socket(&port->conf);
	if (fd < 0)
		return fd;
	struct tcp_listener *l = calloc(1, sizeof(*l));
	if (!l) {
		close(fd);
		return -ENOMEM;
	}
	l->port = port;
	l->fd = fd;
	l->ev.fd = fd;
	l->ev.cb = listener_event;
	l->retry.cb = listener_retry;
	hnvmf_list_init(&l->retry.link);
	hnvmf_list_add_tail(&tcp_g.listeners, &l->link);
	port->transport_priv = l;
	/* Asynchronous: works whether or not reactors[0] runs yet; its messages keep order. */
	int rc = hnvmf_reactor_call(tcp_g.rts[0].r, listener_register, l);
	if (rc < 0) {
		hnvmf_list_del(&l->link);
		port->transport_priv = NULL;
		close(fd);
		free(l);
		return rc;
	}
	log_notice("tcp: listening on %s port %u%s", port->conf.addr, port->conf.port,
		   port->conf.tls ? " (TLS)" : "");
	return 0;
}

static void tcp_stop_listen(struct hnvmf_port *port)
{
	struct tcp_listener *l = port->transport_priv;
	if (!l)
		return;
	hnvmf_reactor_call_sync(tcp_g.rts[0].r, listener_unregister, l);
	close(l->fd);
	hnvmf_list_del(&l->link);
	port->transport_priv = NULL;
	free(l);
}

/* On reactors[reactor_index]: the connections it lists (target/teardown.c drains, counts and
 * closes them through their queue's ops, any of which may end the connection). */
static void tcp_each_queue(unsigned reactor_index, void (*fn)(struct hnvmf_sq *sq, void *arg),
			   void *arg)
{
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &tcp_g.rts[reactor_index].conns)
		fn(&container_of(pos, struct tcp_conn, link)->sq, arg);
}

static void reactor_stop_poller(void *arg)
{
	struct tcp_reactor *rt = arg;
	if (rt->poller_on) {
		hnvmf_reactor_del_poller(rt->r, &rt->poller);
		hnvmf_reactor_del_poller(rt->r, &rt->turn_poller);
	}
	rt->poller_on = false;
	tcp_tick_stop(rt);
}

/* No new connection; one accepted already drains on its reactor once started there
 * (tcp_conn_start reads shutting_down). */
static void tcp_stop_accepting(void)
{
	atomic_store(&tcp_g.shutting_down, true);
	while (!hnvmf_list_empty(&tcp_g.listeners)) {
		struct tcp_listener *l = container_of(tcp_g.listeners.next, struct tcp_listener, link);
		tcp_stop_listen(l->port);
	}
}

static unsigned tcp_nconns(void)
{
	return atomic_load(&tcp_g.nconns);
}

/* After the queues' teardown. */
static void tcp_shutdown(void)
{
	for (unsigned i = 0; i < tcp_g.env.nreactors; i++)
		hnvmf_reactor_call_sync(tcp_g.rts[i].r, reactor_stop_poller, &tcp_g.rts[i]);
}

/* The requests in each state (enum tcp_req_state) over all reactors: a snapshot, each
 * reactor's counts read without stopping it. */
static void tcp_describe_requests(struct hnvmf_strbuf *sb)
{
	static const char *const names[TCP_REQ_NSTATES] = {
		[TCP_REQ_NEW] = "new",		 [TCP_REQ_CAPSULE_DATA] = "capsule_data",
		[TCP_REQ_WAIT_BUF] = "wait_buf", [TCP_REQ_WAIT_H2C] = "wait_h2c",
		[TCP_REQ_EXECUTING] = "executing", [TCP_REQ_SENDING] = "sending",
	};
	uint64_t n[TCP_REQ_NSTATES] = {0}, bad = 0;
	for (unsigned i = 0; i < tcp_g.env.nreactors; i++) {
		for (int s = TCP_REQ_NEW; s < TCP_REQ_NSTATES; s++)
			n[s] += atomic_load_explicit(&tcp_g.rts[i].nreqs[s], memory_order_relaxed);
		bad += atomic_load_explicit(&tcp_g.rts[i].bad_transitions, memory_order_relaxed);
	}
	hnvmf_strbuf_printf(sb, "tcp requests:");
	for (int s = TCP_REQ_NEW; s < TCP_REQ_NSTATES; s++)
		hnvmf_strbuf_printf(sb, " %s %llu", names[s], (unsigned long long)n[s]);
	hnvmf_strbuf_printf(sb, " bad_transitions %llu\n", (unsigned long long)bad);
}

const struct hnvmf_transport_ops hnvmf_tcp_transport = {
	.name = "tcp",
	.trtype = HNVMF_TRTYPE_TCP,
	.init = tcp_init,
	.listen = tcp_listen,
	.stop_listen = tcp_stop_listen,
	.queues = {.name = "tcp",
		   .stop_accepting = tcp_stop_accepting,
		   .each_queue = tcp_each_queue,
		   .nconns = tcp_nconns},
	.shutdown = tcp_shutdown,
	.fini = tcp_fini,
	.describe_requests = tcp_describe_requests,
};
