/* Admission of new connections, shared by every transport: [limits] max_connections (all
 * listeners, TCP and RDMA together) and max_connections_per_address (per source IP address).
 * Called once per accepted connection and once when it is destroyed, never per I/O. */
#ifndef HNVMF_CONN_LIMITS_H
#define HNVMF_CONN_LIMITS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* [limits] of the configuration, which reaches transports through the target (target/nvmf.h). */
struct hnvmf_conf_limits;

/* What a connection holds: released exactly once by hnvmf_conn_release. */
struct hnvmf_conn_ticket {
	uint8_t addr[16]; /* IPv4 as ::ffff:a.b.c.d */
	bool per_address; /* addr is counted (the peer has an IP address) */
	bool held;
};

/* Takes the limits (every transport's init calls it; the same values each time). */
void hnvmf_conn_limits_init(const struct hnvmf_conf_limits *l);
/* True when the connection from peer may stay; false after logging (at most once a second per
 * limit) which limit refused it: the caller closes it at once. */
bool hnvmf_conn_admit(const struct sockaddr *peer, struct hnvmf_conn_ticket *t);
void hnvmf_conn_release(struct hnvmf_conn_ticket *t);

#endif
