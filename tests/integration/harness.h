/* Integration-test harness: runs hnvmfd from the build tree on free loopback ports with a
 * configuration written into a fresh temporary directory, waits until it accepts connections,
 * stops it with SIGTERM and reports how it exited. Its stderr (the log) goes to a file that
 * tests can search. */
#ifndef HNVMF_TEST_HARNESS_H
#define HNVMF_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tools/initiator/initiator.h"

#define HNVMF_HARNESS_SUBNQN "nqn.2026-01.io.hnvmf:default"
/* Pass as the template to run hnvmfd without -c: the embedded default on 127.0.0.1:4420. */
#define HNVMF_HARNESS_EMBEDDED ((const char *)1)

/* The harness's default configuration: two RAM namespaces on subsystem HNVMF_HARNESS_SUBNQN
 * (nsid 1: 64 MiB of 512-byte blocks, nsid 2: 16 MiB of 4096-byte blocks), any host, an I/O
 * listener on @PORT@ and a discovery listener on @DISC_PORT@, no control socket. */
extern const char hnvmf_harness_default_conf[];

/* Sections many test configurations share, as string literals to concatenate into a template. */
/* The I/O listener "io": NVMe/TCP on 127.0.0.1:@PORT@. */
#define HNVMF_CONF_LISTENER_IO \
	"[listener io]\n" \
	"transport = tcp\n" \
	"address = 127.0.0.1\n" \
	"port = @PORT@\n"
/* A RAM backend called name of size (text, e.g. "16M"). */
#define HNVMF_CONF_RAM(name, size) \
	"[backend " name "]\n" \
	"type = ram\n" \
	"size = " size "\n"
/* Subsystem nqn with backend ram0 as namespace 1 (append "allow_any_host = yes\n" to open it). */
#define HNVMF_CONF_SUBSYSTEM_RAM0(nqn) \
	"[subsystem " nqn "]\n" \
	"namespace = 1:ram0\n"
/* The three together: listener io, backend ram0 of size, subsystem nqn on it. */
#define HNVMF_CONF_IO_RAM0(size, nqn) HNVMF_CONF_LISTENER_IO HNVMF_CONF_RAM("ram0", size) HNVMF_CONF_SUBSYSTEM_RAM0(nqn)

/* Tenants in PQM by default, DAM allowed on CPU 1, tenant files in @DIR@/tenants, the control
 * socket, a PQM pool of at most 2 servers; ends in [pqm] so that more of its keys may follow. */
#define HNVMF_CONF_PQM_TENANTS \
	"[global]\n" \
	"default_mode = pqm\n" \
	"dam_whitelist = 1\n" \
	"tenants_dir = tenants\n" \
	"control_socket = @DIR@/ctl.sock\n" \
	"[pqm]\n" \
	"cmax = 2\n"

/* Zero-initialise before the first call. */
struct hnvmf_harness {
	pid_t pid;
	uint16_t port;      /* the I/O listener (@PORT@) */
	uint16_t disc_port; /* the discovery listener (@DISC_PORT@) */
	char dir[256];      /* temporary directory (@DIR@), removed by stop */
	char conf_path[320];
	char log_path[320]; /* hnvmfd's stderr and stdout */
	int exit_status;    /* after stop: exit code, or 128 + signal */
};

/* Writes the template into DIR/hnvmf.conf with @PORT@, @DISC_PORT@ and @DIR@ replaced (NULL =
 * hnvmf_harness_default_conf), starts HNVMF_BINARY_DIR/target/hnvmfd -c on it (the HNVMFD
 * environment variable overrides the binary) and waits, at most 10 s, until the I/O port
 * accepts a TCP connection. Returns 0, or -1 after printing why and hnvmfd's log. */
int hnvmf_harness_start(struct hnvmf_harness *h, const char *conf_template);
/* Writes a file (mode 0600) under the temporary directory (e.g. "tenants/a.conf"), creating one level of
 * directory; before or after start. Returns 0 or -1. */
int hnvmf_harness_write_file(struct hnvmf_harness *h, const char *relpath, const char *text);
/* Creates the temporary directory and picks the ports without starting anything, so files
 * can be written before start (start reuses them). */
int hnvmf_harness_prepare(struct hnvmf_harness *h);
/* SIGTERM, then waits up to 10 s (SIGKILL after that). Returns the exit status (0 = clean
 * exit); removes the temporary directory unless HNVMF_KEEP_TMP is set. */
int hnvmf_harness_stop(struct hnvmf_harness *h);
int hnvmf_harness_signal(struct hnvmf_harness *h, int sig);
/* True while the daemon runs. */
bool hnvmf_harness_alive(struct hnvmf_harness *h);
/* hnvmfd's log so far (malloc'ed, NUL terminated) or NULL. */
char *hnvmf_harness_log(const struct hnvmf_harness *h);
/* Waits up to timeout_ms for needle to appear in the log. */
bool hnvmf_harness_log_wait(const struct hnvmf_harness *h, const char *needle, int timeout_ms);
/* Runs hnvmfd --check -c on a configuration text (templated likewise); returns its exit code
 * and, when out is not NULL, its stderr (malloc'ed). */
int hnvmf_harness_check(const char *conf_template, char **out);
/* Calls a JSON-RPC method on the daemon's control socket @DIR@/ctl.sock (configure
 * "control_socket = @DIR@/ctl.sock"), params the text of a JSON object or NULL. Returns 0 with
 * the result's JSON text in out, 1 with the error object's ({"code": ..., "message": ...}), -1
 * when there was no answer (out is then ""). out must hold the whole answer: a test fails when it
 * does not. */
int hnvmf_harness_rpc(const struct hnvmf_harness *h, const char *method, const char *params, char *out,
		      size_t len);
/* Host's controller as one line, from nvmf_subsystem_get_controllers:
 *   "ctrl CNTLID subsys NQN host NQN kato MS ioqueues N q1:MODE[+auth][ (WHY)] q2:..."
 * false when the daemon has no controller for that host (line is then ""). */
bool hnvmf_harness_ctrl_line(const struct hnvmf_harness *h, const char *hostnqn, char *line, size_t len);
/* Where I/O queue qid of hostnqn's controller runs and the thread hand-offs its ios took, from
 * nvmf_subsystem_get_qpairs (reactor, ios, hops). false: no such queue. */
struct hnvmf_harness_queue {
	char reactor[32];
	unsigned long long ios, hops;
};
bool hnvmf_harness_queue_info(const struct hnvmf_harness *h, const char *hostnqn, unsigned qid,
			      struct hnvmf_harness_queue *q);
/* Runs build/tools/hnvmf-perf with args (printf-style, shell-quoted by the caller), its stdout
 * and stderr into out (NUL terminated). Returns its exit code, -1 when it did not exit normally,
 * -2 when the binary was not built (out is then ""). */
int hnvmf_harness_perf(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Runs a shell command line (printf-style, shell-quoted by the caller), its stdout and stderr into
 * out (NUL terminated). Returns its exit code, or -1 when it did not exit normally. */
int hnvmf_harness_sh(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A random key of len bytes with transformation hash hh into out (HNVMF_KEY_STR_MAX bytes), in
 * the DH-HMAC-CHAP secret representation (tls false, as `nvme gen-dhchap-key` makes) or the TLS
 * PSK interchange format (tls true, as `nvme gen-tls-key` makes); fails the cmocka test when it
 * cannot. */
void hnvmf_harness_gen_key(bool tls, int hh, size_t len, char *out);
struct hnvmf_ini_ctrl;
/* Write-then-verify of namespace 1's blocks [slba, slba + nblocks) over every I/O queue of c,
 * io_size bytes per command at QD 8, with the pattern of seed; fails the cmocka test unless every
 * block verified and both writes and reads were done. */
void hnvmf_harness_verify(struct hnvmf_ini_ctrl *c, uint64_t slba, uint64_t nblocks, uint32_t io_size,
			  uint64_t seed);
/* Under AddressSanitizer freed memory waits in a quarantine (256 MiB by default) before reuse, so
 * the daemon's RSS grows with every free, leak or not: call this before the daemon starts in a
 * test that measures RSS, so that RSS stays a measure of what is still allocated (LeakSanitizer
 * at the daemon's exit checks the rest). Nothing without ASan. */
void hnvmf_harness_small_asan_quarantine(void);
/* A process's resident set (VmRSS, KiB) and its open descriptors (entries of /proc/PID/fd); fail
 * the cmocka test when they cannot be read (the process is gone). */
long hnvmf_harness_rss_kib(pid_t pid);
long hnvmf_harness_fds(pid_t pid);
long hnvmf_harness_fds_settled(pid_t pid, long want);
/* A TCP port nobody listens on at the moment of the call. */
uint16_t hnvmf_harness_free_port(void);

/* The group fixtures most tests use, named setup and teardown: start h on the template before
 * the group (hnvmf_harness_start), stop it after and fail the group unless it exited cleanly. */
#define HNVMF_HARNESS_GROUP_FIXTURES(h, conf_template)                                             \
	static int setup(void **state)                                                             \
	{                                                                                          \
		(void)state;                                                                       \
		return hnvmf_harness_start(&(h), (conf_template));                                 \
	}                                                                                          \
	static int teardown(void **state)                                                          \
	{                                                                                          \
		(void)state;                                                                       \
		return hnvmf_harness_stop(&(h)) == 0 ? 0 : -1;                                     \
	}

/* The call must fail (hnvmf_harness_rpc answers 1): its JSON-RPC error code, and its message
 * into msg when msg is not NULL; fails the cmocka test otherwise. */
int hnvmf_harness_rpc_error(const struct hnvmf_harness *h, const char *method, const char *params, char *msg,
			    size_t len);

/* Connects to subnqn on 127.0.0.1:port as host with nq I/O queues of depth 32 (nq 0: a persistent
 * discovery controller, KATO 30 s); fails the cmocka test when it cannot. */
struct hnvmf_ini_ctrl *hnvmf_harness_connect(uint16_t port, const char *subnqn, const char *host, unsigned nq);
/* The same, authenticated with DH-HMAC-CHAP secret key (NULL: not). */
struct hnvmf_ini_ctrl *hnvmf_harness_connect_key(uint16_t port, const char *subnqn, const char *host, unsigned nq,
						 const char *key);
/* An Asynchronous Event Request outstanding on c's admin queue. */
struct hnvmf_harness_aer {
	struct hnvmf_ini_io io;
	bool done;
};
/* Enables the events of enable (Set Features Asynchronous Event Configuration; 0: leaves it as
 * it is) and posts one request. */
void hnvmf_harness_aer_post(struct hnvmf_ini_ctrl *c, struct hnvmf_harness_aer *a, uint32_t enable);
/* Polls the admin queue up to ms for the request's completion; whether it came. */
bool hnvmf_harness_aer_wait(struct hnvmf_ini_ctrl *c, struct hnvmf_harness_aer *a, int ms);
/* Whether nsid is in c's Active Namespace ID list. */
bool hnvmf_harness_ns_active(struct hnvmf_ini_ctrl *c, uint32_t nsid);
/* How many entries of a discovery log name subnqn at port. */
unsigned hnvmf_harness_disc_entries(const struct nvmf_discovery_log *log, const char *subnqn, uint16_t port);

#endif
