/* DH-HMAC-CHAP messages of NVMe in-band authentication (NVMe Base 2.0 section 8.13.5, TP 8006),
 * carried by Authentication Send / Receive; shared by the target (target/auth.h) and the
 * initiator. The specification's layouts; all multi-byte fields little endian. */
#ifndef HNVMF_PROTO_AUTH_MSG_H
#define HNVMF_PROTO_AUTH_MSG_H

#include <stdint.h>

#define HNVMF_AUTH_SECP_DHCHAP 0xe9 /* SECP of AuthSend/AuthRecv: NVMe in-band authentication */
#define HNVMF_AUTH_SPSP_DHCHAP 0x01 /* SPSP0 and SPSP1 */

/* AUTH_Type of a message */
enum hnvmf_auth_type {
	HNVMF_AUTH_TYPE_COMMON = 0x00, /* Negotiate, Failure1, Failure2 */
	HNVMF_AUTH_TYPE_DHCHAP = 0x01, /* Challenge, Reply, Success1, Success2 */
};

/* AUTH_Id of a message */
enum hnvmf_auth_msg {
	HNVMF_AUTH_NEGOTIATE = 0x00,
	HNVMF_AUTH_CHALLENGE = 0x01,
	HNVMF_AUTH_REPLY = 0x02,
	HNVMF_AUTH_SUCCESS1 = 0x03,
	HNVMF_AUTH_SUCCESS2 = 0x04,
	HNVMF_AUTH_FAILURE2 = 0xf0,
	HNVMF_AUTH_FAILURE1 = 0xf1,
};

#define HNVMF_AUTH_ID_DHCHAP 0x01   /* AUTHID of the DH-HMAC-CHAP protocol descriptor */
#define HNVMF_AUTH_REASON_FAILED 0x01 /* the only Reason Code: authentication failure */

/* Reason Code Explanation of Failure1/Failure2 */
enum hnvmf_auth_fail_exp {
	HNVMF_AUTH_FAIL_FAILED = 0x01,            /* wrong response (R1 or R2) */
	HNVMF_AUTH_FAIL_NOT_USABLE = 0x02,        /* no usable authentication protocol */
	HNVMF_AUTH_FAIL_CONCAT_MISMATCH = 0x03,   /* secure channel concatenation refused */
	HNVMF_AUTH_FAIL_HASH_UNUSABLE = 0x04,     /* no hash function in common */
	HNVMF_AUTH_FAIL_DHGROUP_UNUSABLE = 0x05,  /* no DH group in common, or a bad DH value */
	HNVMF_AUTH_FAIL_INCORRECT_PAYLOAD = 0x06, /* malformed message, wrong T_ID */
	HNVMF_AUTH_FAIL_INCORRECT_MESSAGE = 0x07, /* message out of order */
};

/* DH-HMAC-CHAP protocol descriptor of a Negotiate: HashIDs in idlist[0..halen), DH group ids in
 * idlist[30..30 + dhlen). */
#define HNVMF_AUTH_IDLIST_DH_OFFSET 30
#define HNVMF_AUTH_IDLIST_MAX 30
struct hnvmf_auth_protocol_desc {
	uint8_t authid;
	uint8_t rsvd;
	uint8_t halen;
	uint8_t dhlen;
	uint8_t idlist[60];
};

struct hnvmf_auth_negotiate {
	uint8_t auth_type; /* COMMON */
	uint8_t auth_id;   /* NEGOTIATE */
	uint16_t rsvd;
	uint16_t t_id;
	uint8_t sc_c;      /* secure channel concatenation: 0 = none */
	uint8_t napd;      /* number of protocol descriptors that follow */
	/* struct hnvmf_auth_protocol_desc [napd] */
};

struct hnvmf_auth_challenge {
	uint8_t auth_type; /* DHCHAP */
	uint8_t auth_id;   /* CHALLENGE */
	uint16_t rsvd1;
	uint16_t t_id;
	uint8_t hl;        /* hash length */
	uint8_t rsvd2;
	uint8_t hashid;
	uint8_t dhgid;
	uint16_t dhvlen;
	uint32_t seqnum;   /* S1 */
	/* C1 (hl bytes), then the controller's DH value g^y (dhvlen bytes) */
};

struct hnvmf_auth_reply {
	uint8_t auth_type; /* DHCHAP */
	uint8_t auth_id;   /* REPLY */
	uint16_t rsvd1;
	uint16_t t_id;
	uint8_t hl;
	uint8_t rsvd2;
	uint8_t cvalid;    /* C2 present: the host challenges the controller */
	uint8_t rsvd3;
	uint16_t dhvlen;
	uint32_t seqnum;   /* S2; 0 = no bidirectional authentication */
	/* R1 (hl bytes), C2 (hl bytes), then the host's DH value g^x (dhvlen bytes) */
};

struct hnvmf_auth_success1 {
	uint8_t auth_type; /* DHCHAP */
	uint8_t auth_id;   /* SUCCESS1 */
	uint16_t rsvd1;
	uint16_t t_id;
	uint8_t hl;
	uint8_t rsvd2;
	uint8_t rvalid;    /* R2 is valid */
	uint8_t rsvd3[7];
	/* R2 (hl bytes) */
};

struct hnvmf_auth_success2 {
	uint8_t auth_type; /* DHCHAP */
	uint8_t auth_id;   /* SUCCESS2 */
	uint16_t rsvd1;
	uint16_t t_id;
	uint8_t rsvd2[10];
};

struct hnvmf_auth_failure { /* Failure1 (controller) and Failure2 (host) */
	uint8_t auth_type; /* COMMON */
	uint8_t auth_id;   /* FAILURE1 / FAILURE2 */
	uint16_t rsvd1;
	uint16_t t_id;
	uint8_t rescode;     /* HNVMF_AUTH_REASON_FAILED */
	uint8_t rescode_exp; /* enum hnvmf_auth_fail_exp */
};

_Static_assert(sizeof(struct hnvmf_auth_protocol_desc) == 64, "protocol descriptor is 64 bytes");
_Static_assert(sizeof(struct hnvmf_auth_negotiate) == 8, "Negotiate header is 8 bytes");
_Static_assert(sizeof(struct hnvmf_auth_challenge) == 16, "Challenge header is 16 bytes");
_Static_assert(sizeof(struct hnvmf_auth_reply) == 16, "Reply header is 16 bytes");
_Static_assert(sizeof(struct hnvmf_auth_success1) == 16, "Success1 header is 16 bytes");
_Static_assert(sizeof(struct hnvmf_auth_success2) == 16, "Success2 is 16 bytes");
_Static_assert(sizeof(struct hnvmf_auth_failure) == 8, "Failure1/2 is 8 bytes");

/* Largest AuthSend payload accepted (TL): a Reply with two SHA-512 values and an ffdhe8192 DH
 * value is 1168 bytes; fabrics commands travel in-capsule, at most 8 KiB. */
#define HNVMF_AUTH_MAX_TL 8192u

#endif
