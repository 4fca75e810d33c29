/* gw-probe: one gateway of a gateway group (target/gw-group.c) without the rest of the daemon,
 * for tests/ceph/test-gw-group.sh. Prints its role changes and answers commands on stdin:
 *   write   write 4 KiB to object "probe.<gateway>" with the group's own RADOS client: a fenced
 *           gateway's write must fail
 *   state   the group's describe lines
 *   quit    stop (releasing what it owns) and exit
 * usage: gw-probe CEPH_CONF POOL GROUP GATEWAY LEASE_MS GRPIDS PREFERRED FAILBACK
 *        (GRPIDS, PREFERRED: comma lists, PREFERRED may be "-") */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rados/librados.h>

#include "target/gw-group.h"

static const char *gateway;

static int on_role(void *arg, uint32_t grpid, bool owner)
{
	(void)arg;
	printf("role %s %u %s\n", gateway, grpid, owner ? "owner" : "standby");
	fflush(stdout);
	return 0;
}

static void on_fenced(void *arg)
{
	(void)arg;
	printf("fenced %s\n", gateway);
	fflush(stdout);
}

static unsigned parse_list(const char *s, uint32_t *v)
{
	unsigned n = 0;
	for (char *end; *s && *s != '-' && n < HNVMF_GW_MAX_ANA_GROUPS; s = *end ? end + 1 : end)
		v[n++] = (uint32_t)strtoul(s, &end, 10);
	return n;
}

/* The probe's write goes through a client of its own on the same cluster, as an RBD backend's
 * would; its address is in the owner mark (fence_addrs), so a takeover fences it too. */
int main(int argc, char **argv)
{
	if (argc != 9) {
		fprintf(stderr, "usage: gw-probe CEPH_CONF POOL GROUP GATEWAY LEASE_MS GRPIDS PREFERRED FAILBACK\n");
		return 2;
	}
	gateway = argv[4];
	rados_t data;
	rados_ioctx_t io;
	char *addrs = NULL;
	if (rados_create2(&data, "ceph", "client.admin", 0) < 0 || rados_conf_read_file(data, argv[1]) < 0 ||
	    rados_conf_set(data, "rados_osd_op_timeout", "5") < 0 || rados_connect(data) < 0 ||
	    rados_ioctx_create(data, argv[2], &io) < 0 || rados_getaddrs(data, &addrs) < 0) {
		fprintf(stderr, "gw-probe: cannot connect the data client\n");
		return 1;
	}
	struct hnvmf_gw_group_params p = {
		.ceph_conf = argv[1], .client = "admin", .pool = argv[2], .group = argv[3],
		.gateway = gateway, .lease_ms = (unsigned)atoi(argv[5]), .failback = atoi(argv[8]) != 0,
		.on_role = on_role, .on_fenced = on_fenced, .fence_addrs = addrs,
	};
	p.ngrpids = parse_list(argv[6], p.grpids);
	p.npreferred = parse_list(argv[7], p.preferred);
	struct hnvmf_gw_group *g;
	char err[256];
	if (hnvmf_gw_group_start(&p, &g, err, sizeof(err)) != 0) {
		fprintf(stderr, "gw-probe: %s\n", err);
		return 1;
	}
	rados_buffer_free(addrs);
	printf("started %s\n", gateway);
	fflush(stdout);
	char line[64];
	while (fgets(line, sizeof(line), stdin)) {
		if (strncmp(line, "write", 5) == 0) {
			char obj[96], buf[4096];
			memset(buf, 'w', sizeof(buf));
			snprintf(obj, sizeof(obj), "probe.%s", gateway);
			int rc = rados_write_full(io, obj, buf, sizeof(buf));
			printf(rc == 0 ? "write %s ok\n" : "write %s error %d\n", gateway, -rc);
		} else if (strncmp(line, "state", 5) == 0) {
			char out[2048];
			hnvmf_gw_group_describe(g, out, sizeof(out));
			fputs(out, stdout);
		} else if (strncmp(line, "quit", 4) == 0) {
			break;
		}
		fflush(stdout);
	}
	hnvmf_gw_group_stop(g);
	rados_ioctx_destroy(io);
	rados_shutdown(data);
	printf("stopped %s\n", gateway);
	return 0;
}
