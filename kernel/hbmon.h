/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * hbmon.h - user space API of the hbmon heartbeat monitor (/dev/hbmon)
 *
 * Shared by the kernel module (hbmon.c) and user space (hbctl, hbmon-listen,
 * hbmon-client.h). Only fixed-width types, explicit padding, identical layout
 * on 32-bit and 64-bit user space (so compat_ioctl is a plain compat_ptr()).
 *
 * Life cycle of one open file (one "client"):
 *
 *   fd = open("/dev/hbmon", O_RDWR | O_CLOEXEC);
 *   ioctl(fd, HBMON_IOC_REGISTER, &reg);     deadline = now + timeout_ms
 *   loop: ioctl(fd, HBMON_IOC_BEAT);         deadline = now + timeout_ms
 *   ioctl(fd, HBMON_IOC_UNREGISTER);         clean stop, no CRASH event
 *   close(fd);                               without UNREGISTER: CRASH event
 *
 * Errors (negative return from ioctl(), errno set):
 *
 *   ENOTTY     unknown command (includes a known number with a wrong size or
 *              direction)
 *   EFAULT     the argument pointer cannot be read / written
 *   EINVAL     bad value: timeout_ms outside [HBMON_TIMEOUT_MIN_MS,
 *              HBMON_TIMEOUT_MAX_MS], signal not in 0..64, unknown action
 *              bits, non-zero reserved fields, name not NUL-terminated
 *              within 32 bytes or with a character outside 0x21..0x7e
 *   EBADF      REGISTER, BEAT, UNREGISTER or SEND on a file not open for
 *              writing
 *   EBUSY      REGISTER on a file that already holds a registration
 *   ENOTCONN   BEAT, UNREGISTER or STATUS on a file without a registration
 *   EPERM      BEAT or UNREGISTER from a process other than the registrant
 *              (e.g. a forked child that inherited the descriptor);
 *              REGISTER with HBMON_ACT_HELPER for a (name, euid) that root
 *              did not put in the module's helper_map
 *   ENOSPC     the module's max_clients registrations are in use
 *   EDQUOT     the caller's user holds max_user_clients registrations
 *   EAGAIN     SEND over the file's or the user's event rate (client_rate,
 *              user_rate): nothing was logged or sent
 *   ENOMEM     out of memory
 */
#ifndef _UAPI_LINUX_HBMON_H
#define _UAPI_LINUX_HBMON_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define HBMON_DEVICE		"/dev/hbmon"
#define HBMON_PROC		"/proc/hbmon"

/* Bumped on any incompatible change of the ioctl ABI. */
#define HBMON_API_VERSION	1

#define HBMON_NAME_LEN		32	/* including the terminating NUL */
#define HBMON_COMM_LEN		16	/* TASK_COMM_LEN */
#define HBMON_HOST_LEN		64	/* __NEW_UTS_LEN, NUL padded */

#define HBMON_TIMEOUT_MIN_MS	10U
#define HBMON_TIMEOUT_MAX_MS	86400000U	/* 24 h */

/* hbmon_register.actions */
#define HBMON_ACT_HELPER	(1U << 0)	/* run the restart helper on HANG / CRASH (helper_map) */
#define HBMON_ACT_L2		(1U << 1)	/* send layer-2 frames for this client */
#define HBMON_ACT_MASK		(HBMON_ACT_HELPER | HBMON_ACT_L2)

/*
 * HBMON_IOC_REGISTER argument (48 bytes).
 * @timeout_ms: heartbeat deadline, HBMON_TIMEOUT_MIN_MS..HBMON_TIMEOUT_MAX_MS
 * @signal:     signal sent to the registrant's thread group on a hang, or 0
 *              for none (1..64, any valid signal number)
 * @actions:    HBMON_ACT_* bits
 * @reserved:   must be 0
 * @name:       NUL-terminated label, printable ASCII without spaces; empty
 *              means "use the caller's comm"
 */
struct hbmon_register {
	__u32	timeout_ms;
	__u32	signal;
	__u32	actions;
	__u32	reserved;
	char	name[HBMON_NAME_LEN];
};

/* hbmon_status.state */
#define HBMON_STATE_OK		1	/* beating within its deadline */
#define HBMON_STATE_HUNG	2	/* a hang was reported, no beat since */

/*
 * HBMON_IOC_STATUS result (56 bytes).
 * @time_left_ms: last beat + timeout - now; negative when overdue
 * @since_beat_ms: time since the last beat (or the registration)
 * @beats:  heartbeats received for this registration
 * @misses: hangs reported for this registration (incl. repeats while hung)
 */
struct hbmon_status {
	__u32	state;
	__u32	timeout_ms;
	__u32	signal;
	__u32	actions;
	__s64	time_left_ms;
	__u64	since_beat_ms;
	__u64	beats;
	__u64	misses;
	__u64	id;		/* registration id, as in /proc/hbmon and frames */
};

/* HBMON_IOC_SEND argument (16 bytes): the seed's KE_DATA_VAR. */
struct hbmon_send {
	__s64	value;
	__u64	reserved;	/* must be 0 */
};

#define HBMON_IOC_MAGIC		0xB5	/* shared with rpmsg, which uses nr 0x01..0x0f */

#define HBMON_IOC_VERSION	_IOR(HBMON_IOC_MAGIC, 0x40, __u32)
#define HBMON_IOC_REGISTER	_IOW(HBMON_IOC_MAGIC, 0x41, struct hbmon_register)
#define HBMON_IOC_BEAT		_IO(HBMON_IOC_MAGIC, 0x42)
#define HBMON_IOC_UNREGISTER	_IO(HBMON_IOC_MAGIC, 0x43)
#define HBMON_IOC_STATUS	_IOR(HBMON_IOC_MAGIC, 0x44, struct hbmon_status)
#define HBMON_IOC_SEND		_IOW(HBMON_IOC_MAGIC, 0x45, struct hbmon_send)

/*
 * Layer-2 event frames (see PROTOCOL.md). Ethernet header (dst, src,
 * ethertype, default 0x88B5) followed by struct hbmon_frame; every multi-byte
 * field in network byte order, strings NUL padded.
 */
#define HBMON_ETHERTYPE		0x88B5
#define HBMON_FRAME_MAGIC	0x48424D4EU	/* "HBMN" */
#define HBMON_FRAME_VERSION	1

enum hbmon_event_type {
	HBMON_EV_REGISTER	= 1,
	HBMON_EV_UNREGISTER	= 2,
	HBMON_EV_HANG		= 3,
	HBMON_EV_RECOVERED	= 4,
	HBMON_EV_CRASH		= 5,
	HBMON_EV_DATA		= 6,
};

struct hbmon_frame {
	__be32	magic;				/*   0 HBMON_FRAME_MAGIC */
	__u8	version;			/*   4 HBMON_FRAME_VERSION */
	__u8	type;				/*   5 enum hbmon_event_type */
	__be16	length;				/*   6 sizeof(struct hbmon_frame) */
	__be64	seq;				/*   8 per module instance, from 1 */
	__u8	boot_id[16];			/*  16 random per boot and module load */
	char	hostname[HBMON_HOST_LEN];	/*  32 */
	__be64	reg_id;				/*  96 registration id, 0 for none */
	__be32	pid;				/* 104 registrant tgid (init pid ns) */
	__be32	timeout_ms;			/* 108 */
	char	comm[HBMON_COMM_LEN];		/* 112 */
	char	name[HBMON_NAME_LEN];		/* 128 */
	__be64	time_real_ns;			/* 160 CLOCK_REALTIME of the event */
	__be64	time_boot_ns;			/* 168 CLOCK_BOOTTIME of the event */
	__be64	since_beat_ms;			/* 176 */
	__be64	value;				/* 184 DATA value (two's complement) */
	__be64	beats;				/* 192 */
	__be64	misses;				/* 200 */
	__be32	actions;			/* 208 */
	__be32	signal;				/* 212 */
} __attribute__((packed));			/* 216 */

#define HBMON_FRAME_LEN		216

#endif /* _UAPI_LINUX_HBMON_H */
