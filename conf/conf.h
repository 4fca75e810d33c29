/* The configuration model: what hnvmfd serves. Loaded from an INI main file (listeners,
 * backends, subsystems, PQM pool, global options) plus a tenants directory with one file per
 * tenant (host NQN). conf-main.c parses the main file, conf-tenants.c the tenant files; every
 * mistake is reported as "file:line: what is wrong".
 *
 * The model is plain data: a loaded struct hnvmf_conf owns all its memory and is freed with
 * hnvmf_conf_free. A reload builds a new one and swaps it in only when it is valid. */
#ifndef HNVMF_CONF_H
#define HNVMF_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>


#define HNVMF_NQN_MAX 224 /* NVMe: an NQN is at most 223 bytes */
#define HNVMF_NAME_MAX 64
#define HNVMF_DEFAULT_SUBNQN "nqn.2026-01.io.hnvmf:default"
#define HNVMF_DISCOVERY_NQN "nqn.2014-08.org.nvmexpress.discovery"
#define HNVMF_DEFAULT_CONF_FILE "/etc/hnvmf/hnvmf.conf"
#define HNVMF_DEFAULT_CONTROL_SOCKET "/run/hnvmf/hnvmf.sock"
/* Upper bounds the loader enforces. conf/ is plain data and includes neither core/ nor target/:
 * target/conf-map.h asserts at compile time that these equal HNVMF_MAX_NSID,
 * HNVMF_MAX_IO_QUEUES (target/nvmf.h) and HNVMF_MAX_SERVER_CPUS (core/io.h). */
#define HNVMF_CONF_MAX_NSID 1024
#define HNVMF_CONF_MAX_IO_QUEUES 128
#define HNVMF_CONF_MAX_SERVER_CPUS 64
#define HNVMF_CONF_MAX_KEY_GRACE_S 604800 /* a week: re-keying hosts one by one, not keeping a key alive */
#define HNVMF_CONF_PQM_CMAX_MAX 64 /* most PQM I/O servers the engine runs */
/* ANA group IDs 1..this (Identify ANAGRPMAX and NANAGRPID; target/conf-map.h asserts it equals
 * HNVMF_MAX_ANA_GROUPS), and peer discovery services a gateway refers hosts to. */
#define HNVMF_CONF_MAX_ANA_GROUPS 32
#define HNVMF_CONF_MAX_REFERRALS 64
#define HNVMF_CONF_CNTLID_MAX 0xffef /* controller IDs 1..FFEFh (FFF0h.. are reserved) */

/* A gateway's ANA state of a group, in the NVMe encoding (the log page's and Identify's values,
 * docs/ana.md): target/conf-map.h asserts that they equal libnvme's. 0 = not configured (optimized). */
enum hnvmf_conf_ana_state {
	HNVMF_CONF_ANA_OPTIMIZED = 0x1,
	HNVMF_CONF_ANA_NON_OPTIMIZED = 0x2,
	HNVMF_CONF_ANA_INACCESSIBLE = 0x3,
	HNVMF_CONF_ANA_PERSISTENT_LOSS = 0x4,
	HNVMF_CONF_ANA_CHANGE = 0xf,
};

/* The engine path of a queue's I/O, as the configuration names it (default_mode, a tenant's
 * mode); target/conf-map.c maps it to core's enum hnvmf_path_mode. */
enum hnvmf_conf_mode {
	HNVMF_CONF_MODE_DIRECT,
	HNVMF_CONF_MODE_PQM,
	HNVMF_CONF_MODE_DAM,
	HNVMF_CONF_MODE_BASELINE,
};

/* [pqm] dam_poll: whether a DAM queue's io_uring rings poll the device (IORING_SETUP_IOPOLL). */
enum hnvmf_conf_poll {
	HNVMF_CONF_POLL_NO,
	HNVMF_CONF_POLL_AUTO, /* where the backend is a block device whose queue polls */
	HNVMF_CONF_POLL_YES,  /* required: a DAM queue's I/O to a namespace that cannot poll fails */
};

/* [backend] type; target/conf-map.c maps it to core's enum hnvmf_backend_type. */
enum hnvmf_conf_backend_type {
	HNVMF_CONF_BACKEND_RAM,
	HNVMF_CONF_BACKEND_NULL,
	HNVMF_CONF_BACKEND_FILE,
	HNVMF_CONF_BACKEND_RBD,
};

enum hnvmf_trtype {
	HNVMF_TRTYPE_TCP,
	HNVMF_TRTYPE_RDMA,
};

struct hnvmf_conf_listener {
	char name[HNVMF_NAME_MAX];
	enum hnvmf_trtype trtype;
	char addr[64];   /* numeric IPv4 or IPv6 address */
	uint16_t port;
	bool tls;        /* NVMe/TCP secure channel required (TCP only) */
	bool discovery;  /* a discovery-only listener (e.g. 8009): no I/O subsystems on it */
};

struct hnvmf_conf_backend {
	char name[HNVMF_NAME_MAX];
	enum hnvmf_conf_backend_type type;
	uint64_t size;       /* bytes; for a file 0 = its own size; a file or block device smaller is
			      * refused; a block device's own size wins */
	uint32_t block_size; /* logical block size: 512 or 4096 */
	bool readonly;
	bool direct;         /* try O_DIRECT (falls back to buffered where the file system refuses it) */
	char path[4096];     /* type file: the file or block device; empty otherwise */
	/* type rbd: the image; rbd_timeout_s bounds connect and each Ceph operation (0 = 10 s) */
	char ceph_conf[4096];
	char client[64];            /* cephx user without "client."; default "admin" */
	char pool[128], image[128];
	char rados_namespace[128];  /* empty: the pool's default namespace */
	unsigned rbd_timeout_s;
	unsigned line;       /* of its [backend] header: refusals at open name it */
};

struct hnvmf_conf_ns {
	uint32_t nsid;                    /* 1-based, unique within the subsystem */
	char backend[HNVMF_NAME_MAX];    /* name of a [backend] */
	uint8_t nguid[16];                /* derived from the subsystem NQN and nsid unless given */
	uint8_t uuid[16];
	uint32_t anagrpid;                /* its ANA group, 1..HNVMF_CONF_MAX_ANA_GROUPS (default 1) */
};

struct hnvmf_conf_subsys {
	char nqn[HNVMF_NQN_MAX];
	char serial[21];  /* Identify SN, ASCII, at most 20 */
	char model[41];   /* Identify MN, at most 40 */
	bool allow_any_host;
	char (*hosts)[HNVMF_NQN_MAX]; /* allowed host NQNs (besides tenants that name this subsystem) */
	size_t nhosts;
	struct hnvmf_conf_ns *ns;
	size_t nns;
	char (*listeners)[HNVMF_NAME_MAX]; /* listeners it is exported on; none = every I/O listener */
	size_t nlisteners;
	/* This gateway's state of each ANA group (enum hnvmf_conf_ana_state; 0 = optimized). */
	uint8_t ana_state[HNVMF_CONF_MAX_ANA_GROUPS + 1];
};

enum hnvmf_dam_fallback {
	HNVMF_DAM_FALLBACK_PQM,    /* admission failed: serve through PQM and log why */
	HNVMF_DAM_FALLBACK_REFUSE, /* admission failed: refuse the connection */
};

struct hnvmf_conf_tenant {
	char file[4096]; /* the tenant file it came from, for messages */
	char hostnqn[HNVMF_NQN_MAX];
	char (*subsystems)[HNVMF_NQN_MAX]; /* subsystems it may use */
	size_t nsubsystems;
	enum hnvmf_conf_mode mode;  /* PQM (default), DAM or BASELINE */
	int permission_level;       /* compared against the global DAM whitelist */
	uint64_t reserved_iops;     /* SLA: IOPS reserved for this tenant (0 = none) */
	/* PQM scheduling and limits (docs/pqm.md); limits 0 = none */
	unsigned weight;            /* its share in the servers' round robin, 1..1000 */
	uint64_t max_iops;
	uint64_t max_read_mbps, max_write_mbps, max_mbps; /* MiB/s */
	uint64_t latency_target_us; /* SLA: p99 latency goal, target side, in µs (0 = none) */
	unsigned max_queues;        /* SLA: most I/O queues (and DAM queue pairs) it gets */
	enum hnvmf_dam_fallback dam_fallback;
	/* Credentials, as loaded (inline value or the content of an owner-only file), in the
	 * standard interchange formats; empty when not configured. Validated at load. */
	char dhchap_secret[256];      /* DHHC-1:hh:...:   host's secret */
	char dhchap_ctrl_secret[256]; /* DHHC-1:hh:...:   controller's, for bidirectional auth */
	char tls_psk[256];            /* NVMeTLSkey-1:hh:...: */
	/* DH-HMAC-CHAP choices the controller may make for this host (nvmet: dhchap_hash and
	 * dhchap_dhgroup per host). Bit n = hash id n (1 sha256, 2 sha384, 3 sha512) / DH group id n
	 * (0 null, 1..5 ffdhe2048..8192); 0 = any. Among those the host offers, the strongest wins. */
	uint8_t dhchap_hashes;
	uint8_t dhchap_dhgroups;
	/* After a reload replaced this tenant's DH-HMAC-CHAP secrets or TLS PSK, the replaced one is
	 * still accepted this many seconds (docs/auth.md, "Key rotation"); [global] key_grace_s when
	 * the file does not say. */
	unsigned key_grace_s;
};

struct hnvmf_conf_pqm {
	unsigned cmax;           /* most I/O servers */
	unsigned epoch_ms;       /* re-sizing epoch */
	unsigned subqueue_depth; /* entries per subqueue (power of two) */
	int server_cpus[HNVMF_CONF_MAX_SERVER_CPUS]; /* CPUs for every I/O server thread (PQM pool,
						      * DAM, baseline), round robin; none: unpinned */
	unsigned nserver_cpus;
	/* CPUs reserved for DAM: no other thread of the daemon runs there; none: DAM shares the
	 * machine (not isolated). DAM capacity (queues granted at once) is ndam_cpus x
	 * dam_queues_per_cpu, or with no dam_cpus dam_max_queues (0 = unlimited). */
	int dam_cpus[HNVMF_CONF_MAX_SERVER_CPUS];
	unsigned ndam_cpus;
	unsigned dam_queues_per_cpu;
	unsigned dam_max_queues;
	unsigned dam_idle_spin_us; /* a DAM reactor polls this long after its last work, then sleeps */
	enum hnvmf_conf_poll dam_poll; /* polled completions (IOPOLL) for DAM's queue pairs */
	unsigned baseline_servers; /* threads of the baseline adapter queue; 0 = cmax */
	unsigned baseline_depth;   /* the baseline's shared backend queue pair; 0 = queue_depth */
	bool fair;                 /* per-tenant scheduling, limits, reservations; no: FIFO */
};

/* [limits]: what one peer may hold or take, and how long each stage may last. Every byte from the
 * network is hostile: these bound descriptors, memory, threads and CPU per connection, per host
 * and globally (docs/security.md). */
struct hnvmf_conf_limits {
	unsigned max_connections;         /* TCP/RDMA connections at once, all listeners */
	unsigned max_connections_per_address; /* per source IP address */
	unsigned icreq_timeout_ms;        /* accept -> ICReq received */
	unsigned connect_timeout_ms;      /* ICResp sent -> Fabrics Connect received */
	unsigned auth_timeout_ms;         /* Connect answered -> authentication finished */
	unsigned pdu_timeout_ms;          /* a PDU or an R2T'd transfer started -> finished */
	unsigned conn_buffer_mib;         /* data buffered per connection (reads and writes) */
	unsigned buffer_mib;              /* data buffered by all connections together */
	unsigned max_controllers_per_host; /* live controllers one host NQN may hold */
	unsigned max_queues_per_host;     /* admin + I/O queues one host NQN may hold */
	unsigned auth_workers;            /* threads that compute DH-HMAC-CHAP's DH off the reactors */
	unsigned auth_max_failures;       /* failed authentications per host NQN or address before back-off */
	unsigned auth_backoff_ms;         /* first back-off; doubles per further failure, at most 64x */
	unsigned control_timeout_ms;      /* one control-socket request: connection or previous answer -> answer sent */
};

/* [metrics]: the Prometheus endpoint (off without listen) and the SLA epoch. */
struct hnvmf_conf_metrics {
	char addr[64];         /* numeric IPv4 or IPv6 address; "" = no endpoint */
	uint16_t port;
	unsigned sla_epoch_ms; /* per-tenant SLA figures are measured over this period */
};

/* [gateway]: this gateway's place in a gateway group whose members decide through RADOS which
 * of them owns each ANA group (target/gw-group.h, docs/scale-out.md). No group: none. */
struct hnvmf_conf_gateway {
	char group[64];       /* the gateway group's name; "" = no gateway group */
	char name[64];        /* this gateway's name, unique in the group */
	char ceph_conf[4096]; /* the cluster's ceph.conf */
	char client[64];      /* cephx name without "client." (default admin) */
	char pool[128];       /* RADOS pool for the group's lease objects */
	unsigned lease_ms;    /* lease of an ANA group's owner; failover takes about 1.4x this */
	unsigned blocklist_s; /* how long a fenced gateway stays blocklisted (0: Ceph's default) */
	uint32_t preferred[HNVMF_CONF_MAX_ANA_GROUPS]; /* ANA groups this gateway prefers */
	unsigned npreferred;
	bool failback;        /* take preferred groups back from another owner */
	uint8_t standby_state; /* enum hnvmf_conf_ana_state of groups it does not own */
	unsigned line;        /* of [gateway], for refusals at start */
};

struct hnvmf_conf {
	char file[4096]; /* main file, "" for the embedded default */
	/* [global] */
	int log_level;              /* enum hnvmf_log_level */
	unsigned reactors;          /* network reactor threads */
	enum hnvmf_conf_mode default_mode; /* for hosts with no tenant file: PQM, BASELINE or DIRECT */
	unsigned kato_default_ms;   /* keep-alive timeout a discovery controller uses when the host's
				     * Connect gives KATO 0 (I/O controllers: 0 = no keep-alive) */
	unsigned max_io_queues;     /* per controller */
	unsigned queue_depth;       /* CAP.MQES + 1 */
	unsigned idle_spin_us;      /* reactors and PQM servers poll this long after their last work,
				     * then sleep until woken (0: at once) */
	unsigned inline_data_size;  /* in-capsule data bytes for I/O queues */
	unsigned mdts_kib;          /* largest transfer; 0 = no limit advertised */
	int *dam_whitelist;         /* permission levels allowed DAM */
	size_t ndam_whitelist;
	char tenants_dir[4096];     /* "" = none */
	char control_socket[108];   /* unix socket for hnvmfctl; "" = none */
	unsigned key_grace_s;       /* default of the tenants' key_grace_s (0: a replaced key is refused at once) */
	/* Several gateways exporting one subsystem (docs/ana.md): this gateway's controller IDs,
	 * disjoint from every other gateway's; the ANA Transition Time (s) Identify reports; the
	 * peers' discovery services, listed as referrals in the discovery log (name "",
	 * discovery set, NVMe/TCP). */
	unsigned cntlid_min, cntlid_max;
	unsigned anatt;
	struct hnvmf_conf_listener *referrals;
	size_t nreferrals;
	char control_socket_group[64]; /* the socket's group (mode 0660); "" = none (mode 0600) */
	struct hnvmf_conf_pqm pqm;
	struct hnvmf_conf_limits limits;
	struct hnvmf_conf_metrics metrics;
	struct hnvmf_conf_gateway gateway;

	struct hnvmf_conf_listener *listeners;
	size_t nlisteners;
	struct hnvmf_conf_backend *backends;
	size_t nbackends;
	struct hnvmf_conf_subsys *subsystems;
	size_t nsubsystems;
	struct hnvmf_conf_tenant *tenants;
	size_t ntenants;
};

/* The embedded default: one subsystem HNVMF_DEFAULT_SUBNQN with one 1 GiB RAM namespace,
 * NVMe/TCP on 127.0.0.1:4420 (plus discovery on 127.0.0.1:8009), any host allowed. */
int hnvmf_conf_default(struct hnvmf_conf **out);

/* Loads the main file and its tenants directory. On error returns -1 and writes
 * "file:line: what is wrong" into err. Opens nothing but the files it reads (and checks that
 * file backends exist). */
int hnvmf_conf_load(const char *path, struct hnvmf_conf **out, char *err, size_t errlen);
/* Re-reads only the tenants directory named in base into a fresh tenant array (for SIGHUP);
 * base is not modified. On error returns -1 with err set. */
int hnvmf_conf_load_tenants(const struct hnvmf_conf *base, struct hnvmf_conf_tenant **tenants,
			    size_t *ntenants, char *err, size_t errlen);
void hnvmf_conf_free_tenants(struct hnvmf_conf_tenant *t, size_t n);
void hnvmf_conf_free(struct hnvmf_conf *c);
/* Every key the loader accepts, "SECTION KEY" a line ("tenant KEY" for tenant files): hnvmfd
 * --list-keys, which the man page test checks against hnvmf.conf(5). */
void hnvmf_conf_list_keys(FILE *f);

const struct hnvmf_conf_subsys *hnvmf_conf_find_subsys(const struct hnvmf_conf *c, const char *nqn);
const struct hnvmf_conf_backend *hnvmf_conf_find_backend(const struct hnvmf_conf *c, const char *name);
const struct hnvmf_conf_tenant *hnvmf_conf_find_tenant(const struct hnvmf_conf_tenant *t, size_t n,
						       const char *hostnqn);
const struct hnvmf_conf_listener *hnvmf_conf_find_listener(const struct hnvmf_conf *c, const char *name);
/* Whether subsystem s is exported on listener l: a discovery listener exports none; a subsystem
 * without "listeners =" is on every other listener. */
bool hnvmf_conf_subsys_on_listener(const struct hnvmf_conf_subsys *s, const struct hnvmf_conf_listener *l);
/* Whether hostnqn may connect to s: allow_any_host, a "host =" entry, or a tenant (from t[0..n))
 * for hostnqn that lists s in its subsystems. */
bool hnvmf_conf_host_allowed(const struct hnvmf_conf_subsys *s, const struct hnvmf_conf_tenant *t,
			     size_t n, const char *hostnqn);
/* "direct", "pqm", "dam", "baseline": the names the configuration uses. */
const char *hnvmf_conf_mode_name(enum hnvmf_conf_mode m);
/* "optimized", "non-optimized", "inaccessible", "persistent-loss", "change": the state's value
 * (enum hnvmf_conf_ana_state), or -1; and back ("?" for none). */
int hnvmf_conf_ana_state_parse(const char *name);
const char *hnvmf_conf_ana_state_name(unsigned state);

#endif
