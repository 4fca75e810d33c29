/* The NVMe/TCP transport driven from a host socket, with the reactor and the target replaced by
 * the fakes of test_tcp_fakes.h: framing, reads and writes, every termination, digests,
 * teardown, listeners and the shutdown drain. */
#include "test_tcp_fakes.h"

/* ------------------------------------------------------------------ fixtures */

/* setup / teardown: the TCP transport over the fakes (test_tcp_fakes.h). */

/* ------------------------------------------------------------------ tests */

static void icreq_negotiates_digests(void **state)
{
	(void)state;
	for (int d = 0; d < 4; d++) {
		struct host h = connect_host(d & 1, d & 2);
		assert_int_equal(h.c->hdgst, !!(d & 1));
		assert_int_equal(h.c->ddgst, !!(d & 2));
		close_host(&h);
	}
	assert_int_equal(ft.inits, 4);
}

static void icreq_bad_pfv_terminates(void **state)
{
	(void)state;
	struct host h = open_host(false, false);
	send_icreq(&h, 1);
	struct hnvmf_tcp_icreq ic;
	memset(&ic, 0, sizeof(ic));
	ic.hdr.type = HNVMF_TCP_ICREQ;
	ic.hdr.hlen = 128;
	ic.hdr.plen = htole32(128);
	ic.pfv = htole16(1);
	expect_term(&h, HNVMF_TCP_FES_UNSUPPORTED_PARAM, offsetof(struct hnvmf_tcp_icreq, pfv), &ic,
		    sizeof(ic));
}

static void command_before_icreq_is_sequence_error(void **state)
{
	(void)state;
	struct host h = open_host(false, false);
	send_cmd(&h, OPC_READ, 1, HNVMF_SGL_TRANSPORT_DATA, 4096, NULL, 0, false);
	expect_term(&h, HNVMF_TCP_FES_PDU_SEQ_ERR, 0, NULL, 0);
}

static void icreq_timeout_closes(void **state)
{
	(void)state;
	struct host h = open_host(false, false);
	struct hnvmf_timer *tick = &tcp_g.rts[0].tick;
	assert_true(tick->armed);
	h.c->stage_deadline_ns = 1; /* long past: the next tick ends the connection */
	tick->cb(tick); /* the fake timer fires on demand */
	assert_true(peer_closed(h.fd));
	assert_int_equal(ft.destroyed, 1);
	close(h.fd);
}

static void read_4k(void **state)
{
	(void)state;
	for (int d = 0; d < 4; d++) {
		struct host h = connect_host(d & 1, d & 2);
		send_cmd(&h, OPC_READ, 7, HNVMF_SGL_TRANSPORT_DATA, 4096, NULL, 0, false);
		expect_read(&h, 7, 4096);
		/* A read larger than the slot buffer comes from the reactor's cache. */
		send_cmd(&h, OPC_READ, 8, HNVMF_SGL_TRANSPORT_DATA, 1024 * 1024, NULL, 0, false);
		expect_read(&h, 8, 1024 * 1024);
		close_host(&h);
	}
	assert_true(tcp_g.rts[0].cache.count[1] >= 1); /* the MDTS buffer went back */
}

static void command_without_data(void **state)
{
	(void)state;
	struct host h = connect_host(true, false);
	send_cmd(&h, 0x00, 3, HNVMF_SGL_TRANSPORT_DATA, 0, NULL, 0, false);
	expect_rsp(&h, 3, 0);
	/* The target refuses a command in req_init: the transport just sends its CQE. */
	send_cmd(&h, OPC_FAIL, 4, HNVMF_SGL_TRANSPORT_DATA, 0, NULL, 0, false);
	expect_rsp(&h, 4, HNVMF_SC_GENERIC(NVME_SC_INVALID_OPCODE));
	/* A keyed (RDMA) SGL with data is not a TCP descriptor. */
	send_cmd(&h, OPC_READ, 5, HNVMF_SGL_KEYED_DATA, 512, NULL, 0, false);
	expect_rsp(&h, 5, HNVMF_SC_GENERIC(NVME_SC_SGL_INVALID_TYPE));
	close_host(&h);
}

static void write_in_capsule(void **state)
{
	(void)state;
	for (int d = 0; d < 4; d++) {
		struct host h = connect_host(d & 1, d & 2);
		uint8_t data[4096];
		for (size_t i = 0; i < sizeof(data); i++)
			data[i] = (uint8_t)(i ^ 0x5a ^ d);
		send_cmd(&h, OPC_WRITE, 9, HNVMF_SGL_DATA_BLOCK_OFFSET, 4096, data, 4096, false);
		expect_rsp(&h, 9, 0);
		assert_int_equal(ft.last_write_len, 4096);
		assert_memory_equal(ft.last_write, data, 4096);
		close_host(&h);
	}
}

static void write_r2t(void **state)
{
	(void)state;
	uint32_t len = 256 * 1024;
	uint8_t *data = malloc(len);
	for (uint32_t i = 0; i < len; i++)
		data[i] = (uint8_t)(i * 13 + (i >> 11));
	for (int d = 0; d < 4; d++) {
		struct host h = connect_host(d & 1, d & 2);
		send_cmd(&h, OPC_WRITE, 11, HNVMF_SGL_TRANSPORT_DATA, len, NULL, 0, false);
		uint8_t pdu[64] __attribute__((aligned(8)));
		recv_pdu(&h, pdu, NULL, 0);
		struct hnvmf_tcp_r2t *r = (void *)pdu;
		assert_int_equal(r->hdr.type, HNVMF_TCP_R2T);
		assert_int_equal(le16toh(r->cid), 11);
		assert_int_equal(le32toh(r->offset), 0);
		assert_int_equal(le32toh(r->length), len);
		uint16_t ttag = le16toh(r->ttag);
		/* Two H2CData PDUs of MAXH2CDATA each. */
		send_h2c(&h, 11, ttag, 0, data, len / 2, false);
		send_h2c(&h, 11, ttag, len / 2, data + len / 2, len / 2, true);
		expect_rsp(&h, 11, 0);
		assert_int_equal(ft.last_write_len, len);
		assert_memory_equal(ft.last_write, data, len);
		close_host(&h);
	}
	free(data);
}

/* 128 KiB writes' H2CData PDUs, headers and data sent at once, two back to back (spdk_nvme_perf's
 * 128 KiB writes): their data is received straight into the requests' buffers, not read into the
 * receive buffer with the header (alone, or behind the previous PDU's data read in place) and
 * copied out (before: up to 64 KiB copied per PDU). */
static void h2c_data_received_in_place(void **state)
{
	(void)state;
	uint32_t len = 128 * 1024;
	uint8_t *data = malloc(len);
	for (uint32_t i = 0; i < len; i++)
		data[i] = (uint8_t)(i * 31 + (i >> 9));
	for (int d = 0; d < 4; d += 3) {
		struct host h = connect_host(d & 1, d & 2);
		uint16_t ttag[2];
		for (int i = 0; i < 2; i++) {
			send_cmd(&h, OPC_WRITE, (uint16_t)(12 + i), HNVMF_SGL_TRANSPORT_DATA, len, NULL,
				 0, false);
			uint8_t pdu[64] __attribute__((aligned(8)));
			recv_pdu(&h, pdu, NULL, 0);
			struct hnvmf_tcp_r2t *r = (void *)pdu;
			assert_int_equal(r->hdr.type, HNVMF_TCP_R2T);
			ttag[i] = le16toh(r->ttag);
		}
		uint64_t copied = h.c->stats.rx_copied;
		send_h2c(&h, 12, ttag[0], 0, data, len, true);
		send_h2c(&h, 13, ttag[1], 0, data, len, true);
		expect_rsp(&h, 12, 0);
		expect_rsp(&h, 13, 0);
		assert_int_equal(ft.last_write_len, len);
		assert_memory_equal(ft.last_write, data, len);
		print_message("digests %d: %llu of 2 x %u data bytes copied\n", d,
			      (unsigned long long)(h.c->stats.rx_copied - copied), len);
		assert_true(h.c->stats.rx_copied - copied <= 2 * sizeof(struct hnvmf_tcp_cmd));
		close_host(&h);
	}
	free(data);
}

/* 64 reads arrive in one segment: one recv serves them all and one sendmsg (or very few)
 * carries every response. */
static void batching(void **state)
{
	(void)state;
	struct host h = connect_host(false, false);
	pump();
	uint64_t before = h.c->stats.syscalls;
	int n = 64;
	size_t one = sizeof(struct hnvmf_tcp_cmd);
	uint8_t *burst = calloc((size_t)n, one);
	for (int i = 0; i < n; i++) {
		struct hnvmf_tcp_cmd *p = (void *)(burst + one * (size_t)i);
		p->hdr.type = HNVMF_TCP_CMD;
		p->hdr.hlen = sizeof(*p);
		p->hdr.plen = htole32(sizeof(*p));
		p->sqe.common.opcode = OPC_READ;
		p->sqe.common.cid = htole16((uint16_t)(100 + i));
		p->sqe.common.dptr.type = HNVMF_SGL_TRANSPORT_DATA;
		p->sqe.common.dptr.length = htole32(4096);
	}
	send_all(h.fd, burst, one * (size_t)n);
	free(burst);
	pump();
	uint64_t used = h.c->stats.syscalls - before;
	for (int i = 0; i < n; i++)
		expect_read(&h, (uint16_t)(100 + i), 4096);
	print_message("64 reads of 4 KiB: %llu syscalls\n", (unsigned long long)used);
	assert_true(used <= 4);
	assert_int_equal(h.c->nbusy, 0);
	close_host(&h);
}

static void bad_hlen_terminates(void **state)
{
	(void)state;
	struct host h = connect_host(false, false);
	struct hnvmf_tcp_cmd p;
	memset(&p, 0, sizeof(p));
	p.hdr.type = HNVMF_TCP_CMD;
	p.hdr.hlen = 64;
	p.hdr.plen = htole32(sizeof(p));
	send_all(h.fd, &p, sizeof(p));
	expect_term(&h, HNVMF_TCP_FES_INVALID_PDU_HDR, offsetof(struct hnvmf_tcp_hdr, hlen), &p, 64);
}

static void unknown_pdu_type_terminates(void **state)
{
	(void)state;
	struct host h = connect_host(false, false);
	struct hnvmf_tcp_r2t p; /* a controller-to-host PDU */
	memset(&p, 0, sizeof(p));
	p.hdr.type = HNVMF_TCP_R2T;
	p.hdr.hlen = sizeof(p);
	p.hdr.plen = htole32(sizeof(p));
	send_all(h.fd, &p, sizeof(p));
	expect_term(&h, HNVMF_TCP_FES_INVALID_PDU_HDR, 0, &p, sizeof(p));
}

static void header_digest_error_terminates(void **state)
{
	(void)state;
	struct host h = connect_host(true, false);
	uint8_t buf[76] __attribute__((aligned(8)));
	struct hnvmf_tcp_cmd *p = (void *)buf;
	memset(buf, 0, sizeof(buf));
	p->hdr.type = HNVMF_TCP_CMD;
	p->hdr.flags = HNVMF_TCP_F_HDGST;
	p->hdr.hlen = sizeof(*p);
	p->hdr.plen = htole32(sizeof(buf));
	tcp_digest_append(p, sizeof(*p));
	buf[72] ^= 0xff;
	send_all(h.fd, buf, sizeof(buf));
	expect_term(&h, HNVMF_TCP_FES_HDR_DIGEST_ERR, 0, buf, 72);
}

static void in_capsule_limit(void **state)
{
	(void)state;
	uint8_t data[8192];
	memset(data, 0xab, sizeof(data));
	/* Admin queue: 8 KiB in-capsule is fine. */
	struct host h = connect_host(false, false);
	send_cmd(&h, OPC_WRITE, 1, HNVMF_SGL_DATA_BLOCK_OFFSET, 8192, data, 8192, false);
	expect_rsp(&h, 1, 0);
	/* I/O queue with inline_data_size 4096: 8 KiB exceeds it. */
	h.c->sq.qid = 1;
	send_cmd(&h, OPC_WRITE, 2, HNVMF_SGL_DATA_BLOCK_OFFSET, 8192, data, 8192, false);
	expect_term(&h, HNVMF_TCP_FES_DATA_LIMIT_EXCEEDED, 0, NULL, 0);
}

static void data_digest_error_fails_command_only(void **state)
{
	(void)state;
	struct host h = connect_host(false, true);
	uint8_t data[512];
	memset(data, 0x11, sizeof(data));
	send_cmd(&h, OPC_WRITE, 21, HNVMF_SGL_DATA_BLOCK_OFFSET, 512, data, 512, true);
	expect_rsp(&h, 21, hnvmf_status(NVME_SCT_GENERIC, NVME_SC_TRAN_TPORT_ERROR, 0));
	assert_int_equal(ft.executed, 0);
	/* The connection goes on. */
	send_cmd(&h, OPC_READ, 22, HNVMF_SGL_TRANSPORT_DATA, 512, NULL, 0, false);
	expect_read(&h, 22, 512);
	close_host(&h);
}

/* A bad digest on one H2CData PDU: the rest of the transfer is accepted, the command is
 * completed with a transient transport error and not executed; the connection goes on. */
static void h2c_data_digest_error(void **state)
{
	(void)state;
	static uint8_t data[64 * 1024];
	struct host h = connect_host(true, true);
	send_cmd(&h, OPC_WRITE, 31, HNVMF_SGL_TRANSPORT_DATA, sizeof(data), NULL, 0, false);
	uint8_t pdu[64] __attribute__((aligned(8)));
	recv_pdu(&h, pdu, NULL, 0);
	uint16_t ttag = le16toh(((struct hnvmf_tcp_r2t *)pdu)->ttag);
	corrupt_next_h2c_digest = true;
	send_h2c(&h, 31, ttag, 0, data, sizeof(data) / 2, false);
	send_h2c(&h, 31, ttag, sizeof(data) / 2, data + sizeof(data) / 2, sizeof(data) / 2, true);
	expect_rsp(&h, 31, hnvmf_status(NVME_SCT_GENERIC, NVME_SC_TRAN_TPORT_ERROR, 0));
	assert_int_equal(ft.executed, 0);
	send_cmd(&h, OPC_READ, 32, HNVMF_SGL_TRANSPORT_DATA, 4096, NULL, 0, false);
	expect_read(&h, 32, 4096);
	close_host(&h);
}

/* With SQ flow control disabled a successful read ends with C2HData SUCCESS and no CQE. */
static void success_flag_without_sq_flow_control(void **state)
{
	(void)state;
	struct host h = connect_host(false, false);
	h.c->sq.sqfc_disabled = true;
	send_cmd(&h, OPC_READ, 41, HNVMF_SGL_TRANSPORT_DATA, 4096, NULL, 0, false);
	send_cmd(&h, 0x00, 42, HNVMF_SGL_TRANSPORT_DATA, 0, NULL, 0, false);
	uint8_t pdu[64] __attribute__((aligned(8)));
	static uint8_t data[4096];
	assert_int_equal(recv_pdu(&h, pdu, data, sizeof(data)), 4096);
	struct hnvmf_tcp_data *d = (void *)pdu;
	assert_int_equal(d->hdr.type, HNVMF_TCP_C2H_DATA);
	assert_int_equal(d->hdr.flags & (HNVMF_TCP_F_DATA_LAST | HNVMF_TCP_F_DATA_SUCCESS),
			 HNVMF_TCP_F_DATA_LAST | HNVMF_TCP_F_DATA_SUCCESS);
	assert_int_equal(data[100], pattern(100, 41));
	expect_rsp(&h, 42, 0); /* the next PDU is the other command's CQE, not cid 41's */
	close_host(&h);
}

static struct host r2t_host(uint16_t cid, uint32_t len, uint16_t *ttag)
{
	struct host h = connect_host(false, false);
	send_cmd(&h, OPC_WRITE, cid, HNVMF_SGL_TRANSPORT_DATA, len, NULL, 0, false);
	uint8_t pdu[64] __attribute__((aligned(8)));
	recv_pdu(&h, pdu, NULL, 0);
	*ttag = le16toh(((struct hnvmf_tcp_r2t *)pdu)->ttag);
	return h;
}

static void h2c_errors_terminate(void **state)
{
	(void)state;
	static uint8_t data[TCP_MAXH2CDATA + 4096];
	uint16_t ttag;
	struct hnvmf_tcp_data hdr;

	/* Offset not where the previous PDU ended. */
	struct host h = r2t_host(5, 16384, &ttag);
	send_h2c(&h, 5, ttag, 4096, data, 4096, false);
	expect_term(&h, HNVMF_TCP_FES_PDU_SEQ_ERR, 0, NULL, 0);

	/* Beyond the R2T. */
	h = r2t_host(5, 16384, &ttag);
	send_h2c(&h, 5, ttag, 0, data, 16384 + 4096, true);
	expect_term(&h, HNVMF_TCP_FES_DATA_OUT_OF_RANGE, 0, NULL, 0);

	/* Larger than MAXH2CDATA. */
	h = r2t_host(5, 1024 * 1024, &ttag);
	send_h2c(&h, 5, ttag, 0, data, TCP_MAXH2CDATA + 4096, false);
	expect_term(&h, HNVMF_TCP_FES_DATA_LIMIT_EXCEEDED, 0, NULL, 0);

	/* Unknown transfer tag: invalid field, FEI = offset of TTAG; header copied back. */
	h = r2t_host(5, 16384, &ttag);
	memset(&hdr, 0, sizeof(hdr));
	hdr.hdr.type = HNVMF_TCP_H2C_DATA;
	hdr.hdr.hlen = sizeof(hdr);
	hdr.hdr.pdo = sizeof(hdr);
	hdr.hdr.plen = htole32(sizeof(hdr) + 4096);
	hdr.cid = htole16(5);
	hdr.ttag = htole16((uint16_t)(ttag + 1));
	hdr.length = htole32(4096);
	send_all(h.fd, &hdr, sizeof(hdr));
	expect_term(&h, HNVMF_TCP_FES_INVALID_PDU_HDR, offsetof(struct hnvmf_tcp_data, ttag), &hdr,
		    sizeof(hdr));
}

static void h2c_term_from_host_closes(void **state)
{
	(void)state;
	struct host h = connect_host(false, false);
	struct hnvmf_tcp_term t;
	memset(&t, 0, sizeof(t));
	t.hdr.type = HNVMF_TCP_H2C_TERM;
	t.hdr.hlen = sizeof(t);
	t.hdr.plen = htole32(sizeof(t));
	t.fes = htole16(HNVMF_TCP_FES_PDU_SEQ_ERR);
	send_all(h.fd, &t, sizeof(t));
	assert_true(peer_closed(h.fd));
	assert_int_equal(ft.destroyed, 1);
	close(h.fd);
}

/* The target disconnects the queue while a request executes: the connection goes at once,
 * the queue only after the request completed (its response is dropped). */
static void disconnect_waits_for_inflight(void **state)
{
	(void)state;
	struct host h = connect_host(false, false);
	ft.hold = true;
	send_cmd(&h, OPC_READ, 1, HNVMF_SGL_TRANSPORT_DATA, 128 * 1024, NULL, 0, false);
	uint16_t ttag;
	(void)ttag;
	pump();
	assert_int_equal(ft.nheld, 1);
	h.c->sq.ops->disconnect(&h.c->sq);
	assert_true(peer_closed(h.fd));
	assert_int_equal(ft.quiesced, 1);
	assert_int_equal(ft.destroyed, 0);
	fake_finish(ft.held[0]);
	pump();
	assert_int_equal(ft.destroyed, 1);
	close(h.fd);
}

/* A move to another reactor (DAM) asked for while a command executes and more commands are on
 * their way: reading stops before the next PDU, the move waits for the held command, and on the
 * new reactor the commands already received are parsed and answered, all of them, in order. */
static void move_between_pdus_loses_nothing(void **state)
{
	(void)state;
	struct host h = connect_host(false, false);
	struct tcp_reactor *from = h.c->rt, *to_rt = from == &tcp_g.rts[0] ? &tcp_g.rts[1] : &tcp_g.rts[0];
	ft.hold = true;
	send_cmd(&h, OPC_READ, 1, HNVMF_SGL_TRANSPORT_DATA, 4096, NULL, 0, false);
	pump();
	assert_int_equal(ft.nheld, 1);
	ft.hold = false;
	h.c->sq.ops->move(&h.c->sq, to_rt->r);
	for (uint16_t cid = 2; cid <= 9; cid++)
		send_cmd(&h, OPC_READ, cid, HNVMF_SGL_TRANSPORT_DATA, 4096, NULL, 0, false);
	pump();
	/* still here: the held read executes; the next commands wait unparsed */
	assert_ptr_equal(h.c->rt, from);
	assert_int_equal(ft.executed, 1);
	fake_finish(ft.held[0]);
	pump();
	assert_ptr_equal(h.c->rt, to_rt);
	assert_ptr_equal(h.c->sq.reactor, to_rt->r);
	assert_null(h.c->mv.to);
	assert_int_equal(h.c->mv.moves, 1);
	for (uint16_t cid = 1; cid <= 9; cid++)
		expect_read(&h, cid, 4096);
	assert_int_equal(h.c->nbusy, 0);
	assert_int_equal(to_rt->nconns, 1);
	assert_int_equal(from->nconns, 0);
	for (int s = TCP_REQ_NEW; s < TCP_REQ_NSTATES; s++) /* nothing left counted on either */
		assert_int_equal(atomic_load(&from->nreqs[s]) + atomic_load(&to_rt->nreqs[s]), 0);
	close_host(&h);
}

/* A write waiting for H2CData when the peer goes away is completed by the transport. */
static void peer_close_ends_waiting_write(void **state)
{
	(void)state;
	uint16_t ttag;
	struct host h = r2t_host(3, 65536, &ttag);
	assert_int_equal(h.c->reqs[ttag].state, TCP_REQ_WAIT_H2C);
	close_host(&h);
	assert_int_equal(ft.executed, 0);
}

/* The reactor's count of requests in state s (what hnvmfctl stats adds up). */
static unsigned in_state(enum tcp_req_state s) { return atomic_load(&tcp_g.rts[0].nreqs[s]); }

/* Every request is counted in its state (tcp_req_set_state) and nothing is left counted once
 * it is free again: a Write waiting for its data, a Read the target holds. */
static void request_states_counted(void **state)
{
	(void)state;
	uint16_t ttag;
	struct host h = r2t_host(3, 16384, &ttag);
	assert_int_equal(in_state(TCP_REQ_WAIT_H2C), 1);
	ft.hold = true;
	send_cmd(&h, OPC_READ, 4, HNVMF_SGL_TRANSPORT_DATA, 4096, NULL, 0, false);
	pump();
	assert_int_equal(ft.nheld, 1);
	assert_int_equal(in_state(TCP_REQ_EXECUTING), 1);
	ft.hold = false;
	fake_finish(ft.held[0]);
	expect_read(&h, 4, 4096);
	uint8_t data[16384];
	memset(data, 0x77, sizeof(data));
	send_h2c(&h, 3, ttag, 0, data, sizeof(data), true);
	expect_rsp(&h, 3, 0);
	pump();
	for (enum tcp_req_state s = TCP_REQ_NEW; s < TCP_REQ_NSTATES; s++)
		assert_int_equal(in_state(s), 0);
	assert_int_equal(atomic_load(&tcp_g.rts[0].bad_transitions), 0);
	close_host(&h);
}

/* The table of tcp-internal.h: a request executes only once its data is in, and is free
 * only after it was answered or abandoned. */
static void request_state_table(void **state)
{
	(void)state;
	assert_true(tcp_req_state_allowed(TCP_REQ_FREE, TCP_REQ_NEW));
	assert_false(tcp_req_state_allowed(TCP_REQ_FREE, TCP_REQ_EXECUTING));
	assert_false(tcp_req_state_allowed(TCP_REQ_FREE, TCP_REQ_FREE));
	assert_true(tcp_req_state_allowed(TCP_REQ_WAIT_H2C, TCP_REQ_EXECUTING));
	assert_false(tcp_req_state_allowed(TCP_REQ_EXECUTING, TCP_REQ_WAIT_H2C));
	assert_false(tcp_req_state_allowed(TCP_REQ_SENDING, TCP_REQ_EXECUTING));
	assert_false(tcp_req_state_allowed(TCP_REQ_WAIT_H2C, TCP_REQ_WAIT_BUF));
	assert_true(tcp_req_state_allowed(TCP_REQ_WAIT_BUF, TCP_REQ_WAIT_H2C));
	for (enum tcp_req_state s = TCP_REQ_NEW; s < TCP_REQ_NSTATES; s++)
		assert_true(tcp_req_state_allowed(s, TCP_REQ_FREE));
}

/* The host does not read: sendmsg fills the socket, EPOLLOUT is armed, and the response
 * resumes where it stopped once the host reads. */
static void partial_writes_resume(void **state)
{
	(void)state;
	struct host h = connect_host(false, true);
	int small = 16384;
	setsockopt(h.c->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(h.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	send_cmd(&h, OPC_READ, 2, HNVMF_SGL_TRANSPORT_DATA, 1024 * 1024, NULL, 0, false);
	send_cmd(&h, OPC_READ, 3, HNVMF_SGL_TRANSPORT_DATA, 4096, NULL, 0, false);
	pump();
	assert_true(h.c->want_out);
	assert_true(ev_mask_of(&h.c->ev) & EPOLLOUT);
	expect_read(&h, 2, 1024 * 1024);
	expect_read(&h, 3, 4096);
	pump();
	assert_false(h.c->want_out);
	assert_false(ev_mask_of(&h.c->ev) & EPOLLOUT);
	close_host(&h);
}

static void terminate_finishes_started_pdu(void **state)
{
	(void)state;
	struct host h = connect_host(false, true);
	term_after_partial_send(&h);
}

static void terminate_after_many_responses(void **state)
{
	(void)state;
	struct host h = connect_host(false, false);
	term_after_many_responses(&h);
}

static void listen_and_accept_family(int family, const char *addr)
{
	int probe = socket(family, SOCK_STREAM, 0);
	if (probe < 0) {
		print_message("no %s sockets here: skipped\n", addr);
		return;
	}
	close(probe);
	struct hnvmf_port p;
	memset(&p, 0, sizeof(p));
	snprintf(p.conf.name, sizeof(p.conf.name), "l");
	snprintf(p.conf.addr, sizeof(p.conf.addr), "%s", addr);
	p.conf.port = 0; /* any free port */
	int rc = hnvmf_tcp_transport.listen(&p);
	if (rc == -EADDRNOTAVAIL) {
		print_message("%s not configured here: skipped\n", addr);
		return;
	}
	assert_int_equal(rc, 0);
	pump(); /* listener registered on reactors[0] by message */
	struct tcp_listener *l = p.transport_priv;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	assert_int_equal(getsockname(l->fd, (struct sockaddr *)&ss, &sl), 0);
	int fd = socket(family, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&ss, sl), 0);
	pump();
	assert_int_equal(atomic_load(&tcp_g.nconns), 1);
	struct tcp_conn *c = container_of(tcp_g.rts[0].conns.next, struct tcp_conn, link);
	if (hnvmf_list_empty(&tcp_g.rts[0].conns))
		c = container_of(tcp_g.rts[1].conns.next, struct tcp_conn, link);
	struct host h = { .fd = fd, .c = c };
	send_icreq(&h, 0);
	struct hnvmf_tcp_icresp r;
	recv_all(fd, &r, sizeof(r));
	assert_int_equal(r.hdr.type, HNVMF_TCP_ICRESP);
	send_cmd(&h, OPC_READ, 77, HNVMF_SGL_TRANSPORT_DATA, 8192, NULL, 0, false);
	expect_read(&h, 77, 8192);
	close_host(&h);
	hnvmf_tcp_transport.stop_listen(&p);
	assert_null(p.transport_priv);
}

/* A connected loopback host through a real listener (port 0: any free one). */
static struct host connect_tcp_host(struct hnvmf_port *p)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->conf.name, sizeof(p->conf.name), "l");
	snprintf(p->conf.addr, sizeof(p->conf.addr), "127.0.0.1");
	assert_int_equal(hnvmf_tcp_transport.listen(p), 0);
	pump();
	struct tcp_listener *l = p->transport_priv;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	assert_int_equal(getsockname(l->fd, (struct sockaddr *)&ss, &sl), 0);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&ss, sl), 0);
	pump();
	struct tcp_reactor *rt = hnvmf_list_empty(&tcp_g.rts[0].conns) ? &tcp_g.rts[1] : &tcp_g.rts[0];
	struct host h = { .fd = fd, .c = container_of(rt->conns.next, struct tcp_conn, link) };
	send_icreq(&h, 0);
	struct hnvmf_tcp_icresp r;
	recv_all(fd, &r, sizeof(r));
	assert_int_equal(r.hdr.type, HNVMF_TCP_ICRESP);
	return h;
}

static long proc_long(const char *path)
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

/* The socket buffers the reference target uses, on an accepted connection (before: the receive
 * buffer was autotuning's 128 KiB start), and with them 16 reads of 128 KiB answered while the
 * host reads nothing are handed to the kernel whole, without a partial write and the EPOLLOUT
 * round trip that follows one. (32, spdk_nvme_perf's QD32, is 4 MiB of payload against a 4 MiB
 * send buffer whose accounting includes the skbs' overhead: whether it fits depends on the
 * loopback receiver's autotuning, and it did not on 2026-12-07.) */
static void socket_buffers_take_qd16_of_128k(void **state)
{
	(void)state;
	if (proc_long("/proc/sys/net/core/wmem_max") < TCP_SOCK_BUF_SIZE ||
	    proc_long("/proc/sys/net/core/rmem_max") < TCP_SOCK_BUF_SIZE) {
		print_message("net.core.[rw]mem_max below %u: buffers left to autotuning, skipped\n",
			      TCP_SOCK_BUF_SIZE);
		return;
	}
	struct hnvmf_port p;
	struct host h = connect_tcp_host(&p);
	int snd = 0, rcv = 0;
	socklen_t len = sizeof(snd);
	assert_int_equal(getsockopt(h.c->fd, SOL_SOCKET, SO_SNDBUF, &snd, &len), 0);
	assert_int_equal(getsockopt(h.c->fd, SOL_SOCKET, SO_RCVBUF, &rcv, &len), 0);
	assert_true(snd >= (int)TCP_SOCK_BUF_SIZE); /* the kernel doubles what it is given */
	assert_true(rcv >= (int)TCP_SOCK_BUF_SIZE);
	for (uint16_t cid = 0; cid < 16; cid++)
		send_cmd(&h, OPC_READ, cid, HNVMF_SGL_TRANSPORT_DATA, 128 * 1024, NULL, 0, false);
	for (int i = 0; i < 50; i++)
		pump();
	assert_int_equal(ft.executed, 16);
	assert_false(h.c->want_out);
	assert_true(hnvmf_list_empty(&h.c->sendq));
	for (uint16_t cid = 0; cid < 16; cid++)
		expect_read(&h, cid, 128 * 1024);
	close_host(&h);
	hnvmf_tcp_transport.stop_listen(&p);
}

static void listen_ipv4_ipv6(void **state)
{
	(void)state;
	listen_and_accept_family(AF_INET, "127.0.0.1");
	listen_and_accept_family(AF_INET6, "::1");
	struct hnvmf_port p;
	memset(&p, 0, sizeof(p));
	snprintf(p.conf.addr, sizeof(p.conf.addr), "localhost");
	assert_int_equal(hnvmf_tcp_transport.listen(&p), -EINVAL); /* numeric only */
}

static void *run_shutdown(void *arg)
{
	atomic_bool *done = arg;
	const struct hnvmf_queue_teardown_ops *q = &hnvmf_tcp_transport.queues;
	/* What hnvmfd's stop does, over the reactors the transport was given at init. */
	hnvmf_queues_teardown(&q, 1, reactor_ptrs, 2, HNVMF_SHUTDOWN_TIMEOUT_MS);
	hnvmf_tcp_transport.shutdown();
	atomic_store(done, true);
	return NULL;
}

/* Shutdown: new commands are not started, the in-flight one completes and its response
 * reaches the host before the connection closes. */
static void shutdown_drains(void **state)
{
	(void)state;
	struct host h = connect_host(false, false);
	struct host idle = open_host(false, false);
	struct host admin = connect_host(false, false);
	static int fake_ctrl;
	admin.c->sq.ctrl = (struct hnvmf_ctrl *)&fake_ctrl; /* a controller's admin queue */
	h.c->sq.qid = 1;
	ft.hold = true;
	send_cmd(&h, OPC_READ, 1, HNVMF_SGL_TRANSPORT_DATA, 4096, NULL, 0, false);
	pump();
	assert_int_equal(ft.nheld, 1);
	atomic_bool done;
	atomic_init(&done, false);
	pthread_t th;
	pthread_create(&th, NULL, run_shutdown, &done);
	for (int i = 0; i < 200 && h.c->state != TCP_CONN_DRAINING; i++) {
		pump();
		usleep(1000);
	}
	assert_int_equal(h.c->state, TCP_CONN_DRAINING);
	assert_true(peer_closed(idle.fd)); /* no ICReq yet: closed at once */
	/* The admin queue waits until the I/O queues are gone. */
	assert_int_equal(admin.c->state, TCP_CONN_LIVE);
	send_cmd(&h, OPC_READ, 2, HNVMF_SGL_TRANSPORT_DATA, 4096, NULL, 0, false);
	pump();
	assert_int_equal(ft.executed, 1); /* the second command is not started */
	assert_false(atomic_load(&done));
	fake_finish(ft.held[0]);
	expect_read(&h, 1, 4096);
	assert_true(peer_closed(h.fd));
	assert_true(peer_closed(admin.fd));
	for (int i = 0; i < 2000 && !atomic_load(&done); i++) {
		pump();
		usleep(1000);
	}
	assert_true(atomic_load(&done));
	pthread_join(th, NULL);
	assert_int_equal(ft.destroyed, 3);
	close(h.fd);
	close(idle.fd);
	close(admin.fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(icreq_negotiates_digests, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(icreq_bad_pfv_terminates, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(command_before_icreq_is_sequence_error, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(icreq_timeout_closes, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(read_4k, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(command_without_data, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(write_in_capsule, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(write_r2t, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(h2c_data_received_in_place, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(batching, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(bad_hlen_terminates, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(unknown_pdu_type_terminates, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(header_digest_error_terminates, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(in_capsule_limit, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(data_digest_error_fails_command_only, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(h2c_errors_terminate, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(h2c_data_digest_error, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(success_flag_without_sq_flow_control, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(h2c_term_from_host_closes, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(disconnect_waits_for_inflight, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(peer_close_ends_waiting_write, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(move_between_pdus_loses_nothing, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(request_states_counted, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test(request_state_table),
		cmocka_unit_test_setup_teardown(partial_writes_resume, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(terminate_finishes_started_pdu, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(terminate_after_many_responses, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(listen_ipv4_ipv6, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(socket_buffers_take_qd16_of_128k, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(shutdown_drains, tcp_fake_setup, tcp_fake_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
