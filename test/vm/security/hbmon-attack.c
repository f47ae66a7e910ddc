// SPDX-License-Identifier: GPL-2.0
/*
 * hbmon-attack - what a non-root member of the device group tries against
 * hbmon (issue 9). Each subcommand prints one JSON line; the VM test
 * (test/vm/security.test.ts) runs them as an unprivileged user and checks
 * that the kernel refused.
 *
 *   hbmon-attack helper-loop ROUNDS NAME      open, REGISTER with the helper action, close
 *   hbmon-attack setuid-exec SIG MS PROG ARG.. register (fd kept across exec), exec PROG
 *   hbmon-attack send-flood SECONDS           SEND without registration, as fast as possible
 *   hbmon-attack reg-flood SECONDS            open, REGISTER(l2), UNREGISTER or close, ...
 *   hbmon-attack reg-max HOLD_S               register until refused, hold them HOLD_S seconds
 *   hbmon-attack orphan MS HOLD_S             register, fork a child that keeps the fd, exit
 *   hbmon-attack rdonly                       state changes on an O_RDONLY descriptor
 *   hbmon-attack unreg-race ROUNDS            is a signal ever delivered after UNREGISTER returns?
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hbmon.h"

static const char *dev = HBMON_DEVICE;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int reg(int fd, const char *name, unsigned int ms, unsigned int sig, unsigned int actions)
{
	struct hbmon_register r;

	memset(&r, 0, sizeof(r));
	r.timeout_ms = ms;
	r.signal = sig;
	r.actions = actions;
	snprintf(r.name, sizeof(r.name), "%s", name);
	return ioctl(fd, HBMON_IOC_REGISTER, &r) < 0 ? errno : 0;
}

static int helper_loop(int rounds, const char *name)
{
	int i, ok = 0, eperm = 0, other = 0, last = 0;

	for (i = 0; i < rounds; i++) {
		int fd = open(dev, O_RDWR | O_CLOEXEC), e;

		if (fd < 0) {
			perror(dev);
			return 1;
		}
		e = reg(fd, name, 1000, 0, HBMON_ACT_HELPER);
		if (!e)
			ok++;
		else if (e == EPERM)
			eperm++;
		else
			other++, last = e;
		close(fd);
	}
	printf("{\"rounds\":%d,\"registered\":%d,\"eperm\":%d,\"other\":%d,\"other_errno\":%d}\n",
	       rounds, ok, eperm, other, last);
	return 0;
}

static int setuid_exec(unsigned int sig, unsigned int ms, char **argv)
{
	int fd = open(dev, O_RDWR), e;	/* no O_CLOEXEC: the fd goes along */

	if (fd < 0) {
		perror(dev);
		return 1;
	}
	e = reg(fd, "suid", ms, sig, 0);
	if (e) {
		fprintf(stderr, "register: %s\n", strerror(e));
		return 1;
	}
	execv(argv[0], argv);
	perror(argv[0]);
	return 1;
}

static int send_flood(double seconds)
{
	int fd = open(dev, O_RDWR | O_CLOEXEC);
	long ok = 0, eagain = 0, other = 0;
	struct hbmon_send s;
	double end = now_s() + seconds;

	if (fd < 0) {
		perror(dev);
		return 1;
	}
	memset(&s, 0, sizeof(s));
	while (now_s() < end) {
		s.value++;
		if (!ioctl(fd, HBMON_IOC_SEND, &s))
			ok++;
		else if (errno == EAGAIN)
			eagain++;
		else
			other++;
	}
	printf("{\"sends_ok\":%ld,\"eagain\":%ld,\"other\":%ld}\n", ok, eagain, other);
	return 0;
}

static int reg_flood(double seconds)
{
	long regs = 0, unregs = 0, closes = 0, errs = 0;
	double end = now_s() + seconds;

	while (now_s() < end) {
		int fd = open(dev, O_RDWR | O_CLOEXEC);

		if (fd < 0) {
			errs++;
			continue;
		}
		if (!reg(fd, "flood", 1000, 0, HBMON_ACT_L2)) {
			regs++;
			if (regs & 1) {
				if (!ioctl(fd, HBMON_IOC_UNREGISTER))
					unregs++;
			} else {
				closes++;
			}
		} else {
			errs++;
		}
		close(fd);
	}
	printf("{\"registered\":%ld,\"unregistered\":%ld,\"crashed\":%ld,\"errors\":%ld}\n",
	       regs, unregs, closes, errs);
	return 0;
}

static int reg_max(int hold)
{
	struct rlimit rl;
	int n = 0, e = 0;

	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	for (;;) {
		int fd = open(dev, O_RDWR | O_CLOEXEC);

		if (fd < 0) {
			e = errno;
			break;
		}
		e = reg(fd, "hog", 60000, 0, 0);
		if (e) {
			close(fd);
			break;
		}
		n++;
	}
	printf("{\"registered\":%d,\"errno\":%d,\"error\":\"%s\"}\n", n, e, strerror(e));
	fflush(stdout);
	sleep(hold);
	return 0;
}

static int orphan(unsigned int ms, int hold)
{
	int fd = open(dev, O_RDWR), e;
	pid_t child;

	if (fd < 0) {
		perror(dev);
		return 1;
	}
	e = reg(fd, "orphan", ms, SIGUSR1, HBMON_ACT_L2);
	if (e) {
		fprintf(stderr, "register: %s\n", strerror(e));
		return 1;
	}
	child = fork();
	if (child == 0) {
		/* Keeps the descriptor, never beats; the registrant is gone. */
		signal(SIGUSR1, SIG_IGN);
		sleep(hold);
		_exit(0);
	}
	printf("{\"registrant\":%d,\"holder\":%d}\n", getpid(), child);
	return 0;
}

static int rdonly(void)
{
	int fd = open(dev, O_RDONLY | O_CLOEXEC), r, b, u, s, st;
	struct hbmon_send snd;
	struct hbmon_status status;

	if (fd < 0) {
		perror(dev);
		return 1;
	}
	memset(&snd, 0, sizeof(snd));
	r = reg(fd, "ro", 1000, 0, 0);
	b = ioctl(fd, HBMON_IOC_BEAT) < 0 ? errno : 0;
	u = ioctl(fd, HBMON_IOC_UNREGISTER) < 0 ? errno : 0;
	s = ioctl(fd, HBMON_IOC_SEND, &snd) < 0 ? errno : 0;
	st = ioctl(fd, HBMON_IOC_STATUS, &status) < 0 ? errno : 0;
	printf("{\"register\":\"%s\",\"beat\":\"%s\",\"unregister\":\"%s\",\"send\":\"%s\",\"status\":\"%s\"}\n",
	       strerrorname_np(r) ?: "0", strerrorname_np(b) ?: "0", strerrorname_np(u) ?: "0",
	       strerrorname_np(s) ?: "0", strerrorname_np(st) ?: "0");
	return 0;
}

static volatile sig_atomic_t got;

static void on_usr1(int sig)
{
	(void)sig;
	got++;
}

static int unreg_race(int rounds)
{
	int i, late = 0, before = 0;

	signal(SIGUSR1, on_usr1);
	for (i = 0; i < rounds; i++) {
		int fd = open(dev, O_RDWR | O_CLOEXEC), seen;
		struct timespec d = { 0, 10000000 + (i % 7) * 300000 };

		if (fd < 0 || reg(fd, "race", 10, SIGUSR1, 0)) {
			perror("register");
			return 1;
		}
		/* UNREGISTER right around the deadline. */
		nanosleep(&d, NULL);
		if (ioctl(fd, HBMON_IOC_UNREGISTER)) {
			perror("unregister");
			return 1;
		}
		seen = got;
		before += seen;
		d.tv_nsec = 20000000;
		nanosleep(&d, NULL);
		if (got != seen)
			late++;
		got = 0;
		close(fd);
	}
	printf("{\"rounds\":%d,\"signals_before_return\":%d,\"signals_after_unregister\":%d}\n",
	       rounds, before, late);
	return 0;
}

int main(int argc, char **argv)
{
	if (getenv("HBMON_DEVICE"))
		dev = getenv("HBMON_DEVICE");
	if (argc == 4 && !strcmp(argv[1], "helper-loop"))
		return helper_loop(atoi(argv[2]), argv[3]);
	if (argc >= 5 && !strcmp(argv[1], "setuid-exec"))
		return setuid_exec(atoi(argv[2]), atoi(argv[3]), argv + 4);
	if (argc == 3 && !strcmp(argv[1], "send-flood"))
		return send_flood(atof(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "reg-flood"))
		return reg_flood(atof(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "reg-max"))
		return reg_max(atoi(argv[2]));
	if (argc == 4 && !strcmp(argv[1], "orphan"))
		return orphan(atoi(argv[2]), atoi(argv[3]));
	if (argc == 2 && !strcmp(argv[1], "rdonly"))
		return rdonly();
	if (argc == 3 && !strcmp(argv[1], "unreg-race"))
		return unreg_race(atoi(argv[2]));
	fprintf(stderr, "usage: see the comment at the top of hbmon-attack.c\n");
	return 2;
}
