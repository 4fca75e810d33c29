/* rdma-cm-probe: a userspace RDMA CM client that checks hnvmfd's NVMe/RDMA connection
 * handling where the kernel host never goes: bad private data must be rejected with the
 * NVMe/RDMA status (recfmt, qid, hsqsize, length), a good request accepted with crqsize, a
 * command with an SGL descriptor type RDMA does not use answered with SGL Descriptor Type
 * Invalid, one whose in-capsule SGL overruns the capsule with an SGL error, and a keyed
 * SGL with a key the host never registered must end the connection (the RDMA READ fails)
 * while the daemon keeps serving. Runs in the test guest; exits 0 when every check passed.
 * build: gcc -O2 -Wall -o rdma-cm-probe rdma-cm-probe.c -lrdmacm -libverbs
 * usage: rdma-cm-probe ADDR PORT */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

struct cm_req { uint16_t recfmt, qid, hrqsize, hsqsize; uint8_t rsvd[24]; };

static int failures;
#define CHECK(cond, ...) do { if (cond) { printf("  ok: "); printf(__VA_ARGS__); printf("\n"); } \
	else { failures++; printf("  FAILED: "); printf(__VA_ARGS__); printf("\n"); } } while (0)

static struct rdma_event_channel *ch;
static struct sockaddr_storage dst;

static struct rdma_cm_event *wait_event(int ms)
{
	struct pollfd p = { .fd = ch->fd, .events = POLLIN };
	if (poll(&p, 1, ms) <= 0)
		return NULL;
	struct rdma_cm_event *e;
	return rdma_get_cm_event(ch, &e) == 0 ? e : NULL;
}

/* Resolves address and route; returns an id ready for rdma_connect (with a QP if pd_out). */
static struct rdma_cm_id *prepare(struct ibv_pd **pd_out, struct ibv_cq **cq_out)
{
	struct rdma_cm_id *id;
	if (rdma_create_id(ch, &id, NULL, RDMA_PS_TCP))
		return NULL;
	struct rdma_cm_event *e;
	if (rdma_resolve_addr(id, NULL, (struct sockaddr *)&dst, 2000) || !(e = wait_event(3000)) ||
	    e->event != RDMA_CM_EVENT_ADDR_RESOLVED)
		return NULL;
	rdma_ack_cm_event(e);
	if (rdma_resolve_route(id, 2000) || !(e = wait_event(3000)) ||
	    e->event != RDMA_CM_EVENT_ROUTE_RESOLVED)
		return NULL;
	rdma_ack_cm_event(e);
	*pd_out = ibv_alloc_pd(id->verbs);
	*cq_out = ibv_create_cq(id->verbs, 64, NULL, NULL, 0);
	struct ibv_qp_init_attr qa = { .send_cq = *cq_out, .recv_cq = *cq_out, .qp_type = IBV_QPT_RC,
		.cap = { .max_send_wr = 8, .max_recv_wr = 8, .max_send_sge = 1, .max_recv_sge = 1 } };
	if (!*pd_out || !*cq_out || rdma_create_qp(id, *pd_out, &qa))
		return NULL;
	return id;
}

static void release(struct rdma_cm_id *id, struct ibv_pd *pd, struct ibv_cq *cq)
{
	rdma_destroy_qp(id);
	rdma_destroy_id(id);
	ibv_destroy_cq(cq);
	ibv_dealloc_pd(pd);
}

/* Connects with the given private data; returns the reject status (0 when accepted; -1 on
 * anything else). On accept *crqsize is set and the id stays connected in *out. */
static int try_connect(const void *pd_data, uint8_t pd_len, uint16_t *crqsize,
		       struct rdma_cm_id **out, struct ibv_pd **pdp, struct ibv_cq **cqp)
{
	struct ibv_pd *pd; struct ibv_cq *cq;
	struct rdma_cm_id *id = prepare(&pd, &cq);
	if (!id)
		return -1;
	struct rdma_conn_param cp = { .private_data = pd_data, .private_data_len = pd_len,
		.responder_resources = 16, .initiator_depth = 0, .retry_count = 7, .rnr_retry_count = 7 };
	struct rdma_cm_event *e;
	if (rdma_connect(id, &cp) || !(e = wait_event(5000))) {
		release(id, pd, cq);
		return -1;
	}
	int rc = -1;
	if (e->event == RDMA_CM_EVENT_REJECTED && e->param.conn.private_data_len >= 4) {
		const uint8_t *p = e->param.conn.private_data;
		rc = p[2] | p[3] << 8;
	} else if (e->event == RDMA_CM_EVENT_ESTABLISHED) {
		const uint8_t *p = e->param.conn.private_data;
		*crqsize = e->param.conn.private_data_len >= 4 ? (uint16_t)(p[2] | p[3] << 8) : 0;
		rc = 0;
	} else {
		printf("  (event %s, status %d)\n", rdma_event_str(e->event), e->status);
	}
	rdma_ack_cm_event(e);
	if (rc == 0 && out) {
		*out = id; *pdp = pd; *cqp = cq;
		return 0;
	}
	if (rc == 0)
		rdma_disconnect(id);
	release(id, pd, cq);
	return rc;
}

static struct cm_req req(uint16_t recfmt, uint16_t qid, uint16_t hrq, uint16_t hsq)
{
	struct cm_req r = { htole16(recfmt), htole16(qid), htole16(hrq), htole16(hsq), {0} };
	return r;
}

/* Sends one Fabrics Connect SQE with the given SGL bytes; waits for a CQE (returns its status
 * field) or for the connection to end (returns -2). */
static int send_connect(struct rdma_cm_id *id, struct ibv_pd *pd, struct ibv_cq *cq,
			const uint8_t sgl[16])
{
	static uint8_t sqe[64], cqe[16];
	struct ibv_mr *smr = ibv_reg_mr(pd, sqe, sizeof(sqe), IBV_ACCESS_LOCAL_WRITE);
	struct ibv_mr *cmr = ibv_reg_mr(pd, cqe, sizeof(cqe), IBV_ACCESS_LOCAL_WRITE);
	memset(sqe, 0, sizeof(sqe));
	sqe[0] = 0x7f; sqe[2] = 7; sqe[4] = 0x01;     /* Fabrics Connect, cid 7 */
	memcpy(sqe + 24, sgl, 16);
	sqe[44] = 31;                                   /* sqsize 31, qid 0 */
	struct ibv_sge rs = { (uintptr_t)cqe, sizeof(cqe), cmr->lkey };
	struct ibv_recv_wr rw = { .wr_id = 1, .sg_list = &rs, .num_sge = 1 }, *rbad;
	struct ibv_sge ss = { (uintptr_t)sqe, sizeof(sqe), smr->lkey };
	struct ibv_send_wr sw = { .wr_id = 2, .sg_list = &ss, .num_sge = 1, .opcode = IBV_WR_SEND,
				  .send_flags = IBV_SEND_SIGNALED }, *sbad;
	int result = -1;
	if (ibv_post_recv(id->qp, &rw, &rbad) || ibv_post_send(id->qp, &sw, &sbad))
		goto out;
	for (int spins = 0; spins < 5000; spins++) {
		struct ibv_wc wc;
		int n = ibv_poll_cq(cq, 1, &wc);
		if (n == 1 && wc.wr_id == 1) {
			result = wc.status == IBV_WC_SUCCESS ? (cqe[14] | cqe[15] << 8) >> 1 : -2;
			break;
		}
		struct rdma_cm_event *e = wait_event(1);
		if (e) {
			int ev = e->event;
			rdma_ack_cm_event(e);
			if (ev == RDMA_CM_EVENT_DISCONNECTED) {
				result = -2;
				break;
			}
		}
	}
out:
	ibv_dereg_mr(smr);
	ibv_dereg_mr(cmr);
	return result;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s ADDR PORT\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&dst, 0, sizeof(dst));
	struct sockaddr_in *s4 = (void *)&dst;
	struct sockaddr_in6 *s6 = (void *)&dst;
	if (inet_pton(AF_INET, argv[1], &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET; s4->sin_port = htons(atoi(argv[2]));
	} else if (inet_pton(AF_INET6, argv[1], &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6; s6->sin6_port = htons(atoi(argv[2]));
	} else {
		return 2;
	}
	ch = rdma_create_event_channel();
	if (!ch)
		return 2;
	uint16_t crq = 0;
	struct cm_req r;
	printf("rdma-cm-probe: private data checks\n");
	r = req(1, 0, 32, 31);
	CHECK(try_connect(&r, sizeof(r), &crq, NULL, NULL, NULL) == 0x02, "recfmt 1 rejected: invalid record format");
	r = req(0, 0, 64, 63);
	CHECK(try_connect(&r, sizeof(r), &crq, NULL, NULL, NULL) == 0x04, "admin hsqsize 63 rejected: invalid HSQSIZE");
	r = req(0, 1, 1024, 1023);
	CHECK(try_connect(&r, sizeof(r), &crq, NULL, NULL, NULL) == 0x04, "I/O hsqsize 1023 > queue_depth rejected: invalid HSQSIZE");
	r = req(0, 200, 32, 31);
	CHECK(try_connect(&r, sizeof(r), &crq, NULL, NULL, NULL) == 0x03, "qid 200 > max_io_queues rejected: invalid QID");
	r = req(0, 1, 0, 31);
	CHECK(try_connect(&r, sizeof(r), &crq, NULL, NULL, NULL) == 0x05, "hrqsize 0 rejected: invalid HRQSIZE");
	/* IB/RoCE CM pads REQ private data to 56 bytes, so a short one arrives zero-filled: its
	 * hsqsize 0 (a one-entry queue) is what gets refused. */
	r = req(0, 0, 32, 31);
	CHECK(try_connect(&r, 4, &crq, NULL, NULL, NULL) == 0x04, "4 bytes of private data (zero-padded by the CM) rejected: invalid HSQSIZE");
	r = req(0, 0, 32, 15);
	crq = 0;
	CHECK(try_connect(&r, sizeof(r), &crq, NULL, NULL, NULL) == 0 && crq == 16,
	      "admin hsqsize 15 accepted with crqsize %u (expect 16)", crq);

	printf("rdma-cm-probe: SGL checks on a live queue\n");
	struct rdma_cm_id *id; struct ibv_pd *pd; struct ibv_cq *cq;
	r = req(0, 0, 32, 31);
	if (try_connect(&r, sizeof(r), &crq, &id, &pd, &cq) == 0) {
		/* A Transport SGL Data Block descriptor (type 5h, NVMe/TCP's) has no meaning on
		 * RDMA: SGL Descriptor Type Invalid, decided by the target's one helper for both
		 * transports (it once became 0x0f Data SGL Length Invalid). */
		uint8_t tsgl[16] = {0};
		tsgl[8] = 0x00; tsgl[9] = 0x04; tsgl[15] = 0x5a;
		int st0 = send_connect(id, pd, cq, tsgl);
		CHECK(st0 >= 0 && (st0 & 0xff) == 0x11, "transport SGL data block on RDMA: status 0x%x "
		      "(expect SC 0x11 SGL Descriptor Type Invalid)", st0);
		/* In-capsule data descriptor claiming 1024 bytes after a bare 64-byte SQE. */
		uint8_t sgl[16] = {0};
		sgl[8] = 0x00; sgl[9] = 0x04; sgl[15] = 0x01;
		int st = send_connect(id, pd, cq, sgl);
		CHECK(st >= 0 && (st & 0xff) == 0x0f, "in-capsule SGL beyond the capsule: status 0x%x "
		      "(expect SC 0x0f Data SGL Length Invalid)", st);
		/* Keyed SGL with a key nobody registered: the READ fails, the queue goes. */
		uint8_t ksgl[16] = {0};
		ksgl[0] = 0x00; ksgl[1] = 0x10;                  /* address 0x1000 */
		ksgl[8] = 0x00; ksgl[9] = 0x04;                  /* length 1024 */
		ksgl[11] = 0xef; ksgl[12] = 0xbe; ksgl[13] = 0xad; ksgl[14] = 0xde; /* key */
		ksgl[15] = 0x40;
		st = send_connect(id, pd, cq, ksgl);
		CHECK(st == -2, "keyed SGL with an unknown key: the target ended the connection (%d)", st);
		rdma_disconnect(id);
		release(id, pd, cq);
	} else {
		CHECK(0, "a good connection request was not accepted");
	}
	r = req(0, 0, 32, 31);
	CHECK(try_connect(&r, sizeof(r), &crq, NULL, NULL, NULL) == 0, "the listener still accepts afterwards");
	rdma_destroy_event_channel(ch);
	printf("rdma-cm-probe: %s\n", failures ? "FAILED" : "all checks passed");
	return failures ? 1 : 0;
}
