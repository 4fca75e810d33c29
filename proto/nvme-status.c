/* The status name table (see nvme-status.h). Codes as in the NVMe Base Specification 2.0
 * (Generic, Command Specific, Media and Data Integrity, Path Related) and the NVMe over Fabrics
 * Specification 1.1 (Connect, Authentication); a name is looked up by status code type and
 * status code, so an unknown pair is reported by its numbers rather than guessed. */
#include <stdio.h>

#include "proto/nvme-cmd.h"
#include "proto/nvme-status.h"

struct status_name {
	uint8_t sc;
	const char *name;
};

static const struct status_name generic[] = {
	{ NVME_SC_SUCCESS, "Successful Completion" },
	{ NVME_SC_INVALID_OPCODE, "Invalid Command Opcode" },
	{ NVME_SC_INVALID_FIELD, "Invalid Field in Command" },
	{ NVME_SC_CMDID_CONFLICT, "Command ID Conflict" },
	{ NVME_SC_DATA_XFER_ERROR, "Data Transfer Error" },
	{ NVME_SC_POWER_LOSS, "Commands Aborted due to Power Loss Notification" },
	{ NVME_SC_INTERNAL, "Internal Error" },
	{ NVME_SC_ABORT_REQ, "Command Abort Requested" },
	{ NVME_SC_ABORT_QUEUE, "Command Aborted due to SQ Deletion" },
	{ NVME_SC_FUSED_FAIL, "Command Aborted due to Failed Fused Command" },
	{ NVME_SC_FUSED_MISSING, "Command Aborted due to Missing Fused Command" },
	{ NVME_SC_INVALID_NS, "Invalid Namespace or Format" },
	{ NVME_SC_CMD_SEQ_ERROR, "Command Sequence Error" },
	{ NVME_SC_SGL_INVALID_LAST, "Invalid SGL Segment Descriptor" },
	{ NVME_SC_SGL_INVALID_COUNT, "Invalid Number of SGL Descriptors" },
	{ NVME_SC_SGL_INVALID_DATA, "Data SGL Length Invalid" },
	{ NVME_SC_SGL_INVALID_METADATA, "Metadata SGL Length Invalid" },
	{ NVME_SC_SGL_INVALID_TYPE, "SGL Descriptor Type Invalid" },
	{ NVME_SC_CMB_INVALID_USE, "Invalid Use of Controller Memory Buffer" },
	{ NVME_SC_PRP_INVALID_OFFSET, "PRP Offset Invalid" },
	{ NVME_SC_AWU_EXCEEDED, "Atomic Write Unit Exceeded" },
	{ NVME_SC_OP_DENIED, "Operation Denied" },
	{ NVME_SC_SGL_INVALID_OFFSET, "SGL Offset Invalid" },
	{ NVME_SC_HOSTID_FORMAT, "Host Identifier Inconsistent Format" },
	{ NVME_SC_KAT_EXPIRED, "Keep Alive Timer Expired" },
	{ NVME_SC_KAT_INVALID, "Keep Alive Timeout Invalid" },
	{ NVME_SC_CMD_ABORTED_PREMEPT, "Command Aborted due to Preempt and Abort" },
	{ NVME_SC_SANITIZE_FAILED, "Sanitize Failed" },
	{ NVME_SC_SANITIZE_IN_PROGRESS, "Sanitize In Progress" },
	{ NVME_SC_SGL_INVALID_GRANULARITY, "SGL Data Block Granularity Invalid" },
	{ NVME_SC_CMD_IN_CMBQ_NOT_SUPP, "Command Not Supported for Queue in CMB" },
	{ NVME_SC_NS_WRITE_PROTECTED, "Namespace is Write Protected" },
	{ NVME_SC_CMD_INTERRUPTED, "Command Interrupted" },
	{ NVME_SC_TRAN_TPORT_ERROR, "Transient Transport Error" },
	{ NVME_SC_LBA_RANGE, "LBA Out of Range" },
	{ NVME_SC_CAP_EXCEEDED, "Capacity Exceeded" },
	{ NVME_SC_NS_NOT_READY, "Namespace Not Ready" },
	{ NVME_SC_RESERVATION_CONFLICT, "Reservation Conflict" },
	{ NVME_SC_FORMAT_IN_PROGRESS, "Format In Progress" },
};

/* Command specific, 00h-7Fh: the admin commands' codes. */
static const struct status_name cmd_specific[] = {
	{ NVME_SC_CQ_INVALID, "Completion Queue Invalid" },
	{ NVME_SC_QID_INVALID, "Invalid Queue Identifier" },
	{ NVME_SC_QUEUE_SIZE, "Invalid Queue Size" },
	{ NVME_SC_ABORT_LIMIT, "Abort Command Limit Exceeded" },
	{ NVME_SC_ASYNC_LIMIT, "Asynchronous Event Request Limit Exceeded" },
	{ NVME_SC_FIRMWARE_SLOT, "Invalid Firmware Slot" },
	{ NVME_SC_FIRMWARE_IMAGE, "Invalid Firmware Image" },
	{ NVME_SC_INVALID_VECTOR, "Invalid Interrupt Vector" },
	{ NVME_SC_INVALID_LOG_PAGE, "Invalid Log Page" },
	{ NVME_SC_INVALID_FORMAT, "Invalid Format" },
	{ NVME_SC_INVALID_QUEUE, "Invalid Queue Deletion" },
	{ NVME_SC_FEATURE_NOT_SAVEABLE, "Feature Identifier Not Saveable" },
	{ NVME_SC_FEATURE_NOT_CHANGEABLE, "Feature Not Changeable" },
	{ NVME_SC_FEATURE_NOT_PER_NS, "Feature Not Namespace Specific" },
	{ NVME_SC_OVERLAPPING_RANGE, "Overlapping Range" },
	{ NVME_SC_NS_INSUFFICIENT_CAP, "Namespace Insufficient Capacity" },
	{ NVME_SC_NS_ID_UNAVAILABLE, "Namespace Identifier Unavailable" },
	{ NVME_SC_NS_ALREADY_ATTACHED, "Namespace Already Attached" },
	{ NVME_SC_NS_IS_PRIVATE, "Namespace Is Private" },
	{ NVME_SC_NS_NOT_ATTACHED, "Namespace Not Attached" },
	{ NVME_SC_INVALID_CTRL_ID, "Invalid Controller Identifier" },
};

/* Command specific, 80h-9Fh, of the NVM command set's I/O commands. */
static const struct status_name io_specific[] = {
	{ NVME_SC_BAD_ATTRIBUTES, "Conflicting Attributes" },
	{ NVME_SC_INVALID_PI, "Invalid Protection Information" },
	{ NVME_SC_READ_ONLY, "Attempted Write to Read Only Range" },
	{ NVME_SC_CMD_SIZE_LIMIT_EXCEEDED, "Command Size Limit Exceeded" },
};

/* Command specific, 80h-9Fh, of the Fabrics commands. */
static const struct status_name fabrics_specific[] = {
	{ NVME_SC_CONNECT_FORMAT, "Connect Incompatible Format" },
	{ NVME_SC_CONNECT_CTRL_BUSY, "Connect Controller Busy" },
	{ NVME_SC_CONNECT_INVALID_PARAM, "Connect Invalid Parameters" },
	{ NVME_SC_CONNECT_RESTART_DISC, "Connect Restart Discovery" },
	{ NVME_SC_CONNECT_INVALID_HOST, "Connect Invalid Host" },
	{ NVME_SC_DISCONNECT_INVALID_QTYPE, "Invalid Queue Type" },
	{ NVME_SC_DISCOVERY_RESTART, "Discover Restart" },
	{ NVME_SC_AUTH_REQUIRED, "Authentication Required" },
};

static const struct status_name media[] = {
	{ NVME_SC_WRITE_FAULT, "Write Fault" },
	{ NVME_SC_READ_ERROR, "Unrecovered Read Error" },
	{ NVME_SC_GUARD_CHECK, "End-to-end Guard Check Error" },
	{ NVME_SC_APPTAG_CHECK, "End-to-end Application Tag Check Error" },
	{ NVME_SC_REFTAG_CHECK, "End-to-end Reference Tag Check Error" },
	{ NVME_SC_COMPARE_FAILED, "Compare Failure" },
	{ NVME_SC_ACCESS_DENIED, "Access Denied" },
	{ NVME_SC_UNWRITTEN_BLOCK, "Deallocated or Unwritten Logical Block" },
};

static const struct status_name path[] = {
	{ NVME_SC_ANA_INTERNAL_PATH_ERROR, "Internal Path Error" },
	{ NVME_SC_ANA_PERSISTENT_LOSS, "Asymmetric Access Persistent Loss" },
	{ NVME_SC_ANA_INACCESSIBLE, "Asymmetric Access Inaccessible" },
	{ NVME_SC_ANA_TRANSITION, "Asymmetric Access Transition" },
	{ NVME_SC_CTRL_PATH_ERROR, "Controller Pathing Error" },
	{ NVME_SC_HOST_PATH_ERROR, "Host Pathing Error" },
	{ NVME_SC_CMD_ABORTED_BY_HOST, "Command Aborted By Host" },
};

static const char *lookup(const struct status_name *t, size_t n, unsigned sc)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].sc == sc)
			return t[i].name;
	return NULL;
}
#define LOOKUP(t, sc) lookup(t, sizeof(t) / sizeof(t[0]), sc)

const char *hnvmf_status_name(uint16_t status, bool fabrics)
{
	unsigned sc = hnvmf_status_sc(status);
	switch (hnvmf_status_sct(status)) {
	case NVME_SCT_GENERIC:
		return LOOKUP(generic, sc);
	case NVME_SCT_CMD_SPECIFIC:
		if (sc < 0x80)
			return LOOKUP(cmd_specific, sc);
		return fabrics ? LOOKUP(fabrics_specific, sc) : LOOKUP(io_specific, sc);
	case NVME_SCT_MEDIA:
		return LOOKUP(media, sc);
	case NVME_SCT_PATH:
		return LOOKUP(path, sc);
	default:
		return NULL;
	}
}

const char *hnvmf_status_str(uint16_t status, bool fabrics, char *buf, size_t len)
{
	const char *name = hnvmf_status_name(status, fabrics);
	snprintf(buf, len, "%s%sSCT 0x%x SC 0x%02x%s%s", name ? name : "", name ? " (" : "",
		 hnvmf_status_sct(status), hnvmf_status_sc(status),
		 (status & NVME_SC_DNR) ? ", DNR" : "", name ? ")" : "");
	return buf;
}
