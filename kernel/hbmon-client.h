/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * hbmon-client.h - header-only client API for /dev/hbmon
 *
 *	#include "hbmon-client.h"
 *
 *	int fd = hbmon_open();
 *	if (fd < 0) ...                        -errno
 *	hbmon_register(fd, "myapp", 2000, SIGTERM, HBMON_ACT_HELPER | HBMON_ACT_L2);
 *	for (;;) { work(); hbmon_beat(fd); }   beat more often than the timeout
 *	hbmon_unregister(fd);                  clean stop: no CRASH event
 *	hbmon_close(fd);
 *
 * Every function returns 0 (or a non-negative value) on success and -errno on
 * failure; errno is left as the failing call set it. See hbmon.h for the
 * errno of each case. Thread-safe: the calls are single ioctl()s.
 */
#ifndef HBMON_CLIENT_H
#define HBMON_CLIENT_H

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/*
 * Beside hbmon.h in the source tree; after `make install` hbmon.h is the
 * uapi header <linux/hbmon.h> and this file sits one directory up.
 */
#if defined(__has_include)
#if __has_include("hbmon.h")
#include "hbmon.h"
#else
#include <linux/hbmon.h>
#endif
#else
#include "hbmon.h"
#endif

/*
 * O_CLOEXEC: the registration belongs to this process. Without it a program
 * started with execve() (a shell, a helper, the next version of ourselves)
 * would inherit the descriptor: the file would stay open after we die, so
 * the kernel would not see the crash until that program exits, and the
 * registration would outlive the process it watches. The seed article set
 * FD_CLOEXEC with fcntl() after open(); O_CLOEXEC does it atomically, with no
 * window in which another thread's fork()+exec() can leak the descriptor.
 */
static inline int hbmon_open_path(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static inline int hbmon_open(void)
{
	return hbmon_open_path(HBMON_DEVICE);
}

static inline int hbmon_ioctl_(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

/* Returns the API version (> 0) or -errno. */
static inline int hbmon_api_version(int fd)
{
	__u32 v = 0;
	int err = hbmon_ioctl_(fd, HBMON_IOC_VERSION, &v);

	return err ? err : (int)v;
}

/*
 * @name: up to 31 printable characters without blanks, NULL or "" for the
 * process name; @sig: signal sent on a hang, 0 for none; @actions:
 * HBMON_ACT_HELPER and/or HBMON_ACT_L2.
 */
static inline int hbmon_register(int fd, const char *name, unsigned int timeout_ms,
				 int sig, unsigned int actions)
{
	struct hbmon_register reg;

	memset(&reg, 0, sizeof(reg));
	reg.timeout_ms = timeout_ms;
	reg.signal = (__u32)sig;
	reg.actions = actions;
	if (name) {
		if (strlen(name) >= sizeof(reg.name))
			return -EINVAL;
		strcpy(reg.name, name);
	}
	return hbmon_ioctl_(fd, HBMON_IOC_REGISTER, &reg);
}

static inline int hbmon_beat(int fd)
{
	return hbmon_ioctl_(fd, HBMON_IOC_BEAT, NULL);
}

static inline int hbmon_unregister(int fd)
{
	return hbmon_ioctl_(fd, HBMON_IOC_UNREGISTER, NULL);
}

static inline int hbmon_status(int fd, struct hbmon_status *st)
{
	return hbmon_ioctl_(fd, HBMON_IOC_STATUS, st);
}

/* Logs VALUE with a timestamp and emits a DATA event (the seed's KE_DATA_VAR). */
static inline int hbmon_send(int fd, long long value)
{
	struct hbmon_send snd;

	memset(&snd, 0, sizeof(snd));
	snd.value = value;
	return hbmon_ioctl_(fd, HBMON_IOC_SEND, &snd);
}

static inline int hbmon_close(int fd)
{
	return close(fd) < 0 ? -errno : 0;
}

#endif /* HBMON_CLIENT_H */
