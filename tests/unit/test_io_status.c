/* The NVMe status a backend's -errno becomes (hnvmf_errno_to_status, target/io-cmd.c): every
 * entry of the table, checked against the status codes the NVM command set defines for it, so
 * that e.g. a full file system reads as Generic / Capacity Exceeded and not as a
 * command-specific code that means something else. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "target/nvmf.h"

struct expect {
	int err;
	bool write;
	unsigned sct, sc;
	bool dnr;
};

static void check(const struct expect *e)
{
	uint16_t st = hnvmf_errno_to_status(e->err, e->write);
	print_message("errno %d (%s): SCT %u SC 0x%x%s\n", -e->err, e->write ? "write" : "read",
		      hnvmf_status_sct(st), hnvmf_status_sc(st), (st & NVME_SC_DNR) ? " DNR" : "");
	assert_int_equal(hnvmf_status_sct(st), e->sct);
	assert_int_equal(hnvmf_status_sc(st), e->sc);
	assert_int_equal((st & NVME_SC_DNR) != 0, e->dnr);
}

static void test_success(void **state)
{
	(void)state;
	assert_int_equal(hnvmf_errno_to_status(0, false), 0);
	assert_int_equal(hnvmf_errno_to_status(0, true), 0);
}

static void test_capacity_exceeded(void **state)
{
	(void)state;
	/* 0x81 is Capacity Exceeded only in the generic set (SCT 0); SCT 1 0x81 is Invalid
	 * Protection Information, which would send the host after a problem that is not there. */
	const struct expect t[] = {
		{-ENOSPC, true, NVME_SCT_GENERIC, 0x81, true},
		{-EDQUOT, true, NVME_SCT_GENERIC, 0x81, true},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		check(&t[i]);
}

static void test_protection_and_access(void **state)
{
	(void)state;
	const struct expect t[] = {
		{-EROFS, true, NVME_SCT_GENERIC, 0x20, true},  /* Namespace is Write Protected */
		{-EPERM, true, NVME_SCT_MEDIA, 0x86, true},    /* Access Denied */
		{-EACCES, false, NVME_SCT_MEDIA, 0x86, true},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		check(&t[i]);
}

static void test_media_errors(void **state)
{
	(void)state;
	const struct expect t[] = {
		{-EIO, false, NVME_SCT_MEDIA, 0x81, true},      /* Unrecovered Read Error */
		{-EIO, true, NVME_SCT_MEDIA, 0x80, true},       /* Write Fault */
		{-ENODATA, false, NVME_SCT_MEDIA, 0x81, true},
		{-ENODATA, true, NVME_SCT_MEDIA, 0x80, true},
		{-EBADMSG, false, NVME_SCT_MEDIA, 0x81, true},
		{-EBADMSG, true, NVME_SCT_MEDIA, 0x80, true},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		check(&t[i]);
}

static void test_command_errors(void **state)
{
	(void)state;
	const struct expect t[] = {
		{-EINVAL, true, NVME_SCT_GENERIC, 0x02, true},     /* Invalid Field in Command */
		{-EFBIG, true, NVME_SCT_GENERIC, 0x80, true},      /* LBA Out of Range */
		{-EOPNOTSUPP, true, NVME_SCT_GENERIC, 0x01, true}, /* Invalid Command Opcode */
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		check(&t[i]);
}

static void test_transient(void **state)
{
	(void)state;
	/* Command Interrupted without DNR: the host retries. */
	const struct expect t[] = {
		{-ENOMEM, true, NVME_SCT_GENERIC, 0x21, false},
		{-EAGAIN, false, NVME_SCT_GENERIC, 0x21, false},
		{-EBUSY, true, NVME_SCT_GENERIC, 0x21, false},
		{-EINTR, false, NVME_SCT_GENERIC, 0x21, false},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		check(&t[i]);
}

/* The storage behind this gateway cannot be reached (an RBD backend's cluster timed out, or this
 * gateway was blocklisted): Internal Path Error without DNR, so that a host retries, and with
 * native multipath retries on another path, instead of failing the I/O for good. */
static void test_path_error(void **state)
{
	(void)state;
	const struct expect t[] = {
		{-ETIMEDOUT, false, NVME_SCT_PATH, 0x00, false},
		{-ETIMEDOUT, true, NVME_SCT_PATH, 0x00, false},
		{-ESHUTDOWN, true, NVME_SCT_PATH, 0x00, false},
		{-ENOTCONN, false, NVME_SCT_PATH, 0x00, false},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		check(&t[i]);
}

static void test_unknown_is_internal(void **state)
{
	(void)state;
	const struct expect t[] = {
		{-ENXIO, true, NVME_SCT_GENERIC, 0x06, true}, /* Internal Error */
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		check(&t[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_success),
		cmocka_unit_test(test_capacity_exceeded),
		cmocka_unit_test(test_protection_and_access),
		cmocka_unit_test(test_media_errors),
		cmocka_unit_test(test_command_errors),
		cmocka_unit_test(test_transient),
		cmocka_unit_test(test_path_error),
		cmocka_unit_test(test_unknown_is_internal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
