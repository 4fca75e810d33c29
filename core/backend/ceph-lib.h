/* ceph-lib.h - librados and librbd, loaded at their first use (dlopen), not linked: a daemon that
 * uses neither an RBD backend nor a gateway group pays none of their start-up (hundreds of C++
 * static initialisers, threads, several seconds and ~180 MB at exit under ASan) and does not
 * link what they link (libibverbs, librdmacm). Built with HNVMF_RBD only. */
#ifndef HNVMF_CEPH_LIB_H
#define HNVMF_CEPH_LIB_H

#include <stddef.h>

#include <rados/librados.h>
#include <rbd/librbd.h>

#define HNVMF_RADOS_FNS(X)                                                                         \
	X(rados_create2) X(rados_conf_read_file) X(rados_conf_set) X(rados_connect) X(rados_shutdown) \
	X(rados_ioctx_create) X(rados_ioctx_destroy) X(rados_ioctx_set_namespace)                   \
	X(rados_getaddrs) X(rados_buffer_free) X(rados_get_instance_id) X(rados_lock_exclusive)     \
	X(rados_unlock) X(rados_getxattr) X(rados_setxattr) X(rados_rmxattr) X(rados_blocklist_add) \
	X(rados_wait_for_latest_osdmap)
#define HNVMF_RBD_FNS(X)                                                                           \
	X(rbd_open) X(rbd_open_read_only) X(rbd_close) X(rbd_get_size) X(rbd_set_image_notification) \
	X(rbd_aio_create_completion) X(rbd_aio_readv) X(rbd_aio_writev) X(rbd_aio_flush)            \
	X(rbd_aio_write_zeroes) X(rbd_aio_discard) X(rbd_aio_release) X(rbd_aio_get_return_value)    \
	X(rbd_aio_get_arg) X(rbd_poll_io_events)
#define HNVMF_CEPH_DECLARE_FN(f) __typeof__(&f) f;

struct hnvmf_ceph_lib {
	HNVMF_RADOS_FNS(HNVMF_CEPH_DECLARE_FN)
	HNVMF_RBD_FNS(HNVMF_CEPH_DECLARE_FN)
};

/* The functions, valid once hnvmf_ceph_load returned 0. */
extern struct hnvmf_ceph_lib hnvmf_ceph;

/* Loads both libraries once (any thread; later calls return the first outcome). 0, or -1 with
 * why in err. They are never unloaded. */
int hnvmf_ceph_load(char *err, size_t errlen);

struct hnvmf_backend;
/* An RBD backend's RADOS client address (rados_getaddrs' form) into out: 0, -EOPNOTSUPP for
 * another backend type, or -errno (core/backend/rbd.c). */
int hnvmf_rbd_client_addr(const struct hnvmf_backend *be, char *out, size_t len);

#endif
