// SPDX-License-Identifier: GPL-2.0
/*
 * hbmon-fuzz SECONDS [THREADS] - unprivileged, multi-threaded ioctl fuzzer
 * for /dev/hbmon. Threads share a table of descriptors and, at random: open
 * (read-write or read-only, with or without O_CLOEXEC), close, dup, fork a
 * child that uses (and leaks) the inherited descriptors, and issue ioctls -
 * the real commands and random ones (any magic, number, size, direction) -
 * with valid, random, NULL, misaligned, unmapped, read-only and kernel
 * pointers. Registrations use short timeouts so hangs, signals, recoveries
 * and crashes happen all the time. Prints one JSON line of counts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hbmon.h"

#define SLOTS 64

static const char *dev = HBMON_DEVICE;
static int slots[SLOTS];
static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile int stop;
static void *ro_page, *none_page;
static unsigned long n_ioctl, n_ok, n_open, n_close, n_fork, n_fault;

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int take_fd(uint64_t *s)
{
	int fd;

	pthread_mutex_lock(&slot_lock);
	fd = slots[rnd(s) % SLOTS];
	pthread_mutex_unlock(&slot_lock);
	return fd;
}

static void put_fd(uint64_t *s, int fd)
{
	int i = rnd(s) % SLOTS, old;

	pthread_mutex_lock(&slot_lock);
	old = slots[i];
	slots[i] = fd;
	pthread_mutex_unlock(&slot_lock);
	if (old >= 0) {
		close(old);
		__atomic_add_fetch(&n_close, 1, __ATOMIC_RELAXED);
	}
}

static unsigned long random_cmd(uint64_t *s)
{
	static const unsigned long real[] = {
		HBMON_IOC_VERSION, HBMON_IOC_REGISTER, HBMON_IOC_BEAT,
		HBMON_IOC_UNREGISTER, HBMON_IOC_STATUS, HBMON_IOC_SEND,
	};
	unsigned int dir = rnd(s) % 4, size = rnd(s) % 80, nr = 0x3e + rnd(s) % 10;

	switch (rnd(s) % 8) {
	case 0:
		return (unsigned long)rnd(s);				/* anything */
	case 1:
		return _IOC(dir, HBMON_IOC_MAGIC, nr, size);		/* our magic, any shape */
	case 2:
		return _IOC(dir, rnd(s) & 0xff, nr, size);
	default:
		return real[rnd(s) % 6];
	}
}

static void *random_arg(uint64_t *s, char *buf, size_t len)
{
	static const uintptr_t bad[] = {
		0, 1, 4095, 0xffff888000000000UL, 0xffffffffff600000UL,
		0x7fffffffffffUL, (uintptr_t)-1,
	};
	struct hbmon_register *r = (struct hbmon_register *)buf;
	size_t i;

	switch (rnd(s) % 10) {
	case 0:
		return (void *)bad[rnd(s) % 7];
	case 1:
		return ro_page;
	case 2:
		return none_page;
	case 3:
		return (char *)ro_page + 4096 - 8;		/* straddles into nothing mapped */
	case 4:
		for (i = 0; i < len; i++)
			buf[i] = rnd(s);
		return buf + (rnd(s) % 2);			/* random, maybe misaligned */
	default:
		memset(buf, 0, len);
		r->timeout_ms = 10 + rnd(s) % 60;
		switch (rnd(s) % 4) {
		case 0: r->signal = 0; break;
		case 1: r->signal = SIGUSR1; break;
		case 2: r->signal = SIGUSR2; break;
		default: r->signal = rnd(s) % 3 ? SIGCHLD : 65 + rnd(s) % 4;
		}
		r->actions = rnd(s) % 4 | (rnd(s) % 16 == 0 ? 4 : 0);
		r->reserved = rnd(s) % 32 == 0;
		if (rnd(s) % 16)
			snprintf(r->name, sizeof(r->name), "fz%u", (unsigned int)(rnd(s) % 50));
		else
			memset(r->name, rnd(s) % 2 ? 'x' : ' ', sizeof(r->name));
		return buf;
	}
}

static void do_ioctls(uint64_t *s, int fd, int n)
{
	char buf[128] __attribute__((aligned(8)));

	while (n-- > 0) {
		unsigned long cmd = random_cmd(s);
		void *arg = random_arg(s, buf, sizeof(buf));

		__atomic_add_fetch(&n_ioctl, 1, __ATOMIC_RELAXED);
		if (!ioctl(fd, cmd, arg))
			__atomic_add_fetch(&n_ok, 1, __ATOMIC_RELAXED);
		else if (errno == EFAULT)
			__atomic_add_fetch(&n_fault, 1, __ATOMIC_RELAXED);
	}
}

static void *worker(void *p)
{
	uint64_t s = (uintptr_t)p * 0x9e3779b97f4a7c15ULL + time(NULL);

	while (!stop) {
		unsigned int what = rnd(&s) % 100;
		int fd;

		if (what < 10) {
			int flags = (rnd(&s) % 4 ? O_RDWR : O_RDONLY) | (rnd(&s) % 2 ? O_CLOEXEC : 0);

			fd = open(dev, flags);
			if (fd >= 0) {
				__atomic_add_fetch(&n_open, 1, __ATOMIC_RELAXED);
				put_fd(&s, fd);
			}
		} else if (what < 14) {
			put_fd(&s, -1);				/* close one */
		} else if (what < 16) {
			fd = take_fd(&s);
			if (fd >= 0) {
				fd = dup(fd);
				if (fd >= 0)
					put_fd(&s, fd);
			}
		} else if (what < 17) {
			pid_t pid = fork();

			if (pid == 0) {
				uint64_t cs = s ^ getpid();
				int i;

				/* Beat / unregister what the parent registered (EPERM), leak the rest. */
				for (i = 0; i < 8; i++) {
					fd = slots[rnd(&cs) % SLOTS];
					if (fd >= 0)
						do_ioctls(&cs, fd, 4);
				}
				if (rnd(&cs) % 2)
					usleep(rnd(&cs) % 100000);	/* outlive the registrant a bit */
				_exit(0);
			}
			if (pid > 0)
				__atomic_add_fetch(&n_fork, 1, __ATOMIC_RELAXED);
		} else {
			fd = take_fd(&s);
			if (fd >= 0)
				do_ioctls(&s, fd, 1 + rnd(&s) % 8);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : 60;
	int threads = argc > 2 ? atoi(argv[2]) : 8;
	pthread_t tid[64];
	struct rlimit rl = { 4096, 4096 };
	int i;

	if (getenv("HBMON_DEVICE"))
		dev = getenv("HBMON_DEVICE");
	if (threads > 64)
		threads = 64;
	setrlimit(RLIMIT_NOFILE, &rl);
	signal(SIGUSR1, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);
	signal(SIGCHLD, SIG_IGN);			/* children reap themselves */
	ro_page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	none_page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (i = 0; i < SLOTS; i++)
		slots[i] = -1;
	for (i = 0; i < threads; i++)
		pthread_create(&tid[i], NULL, worker, (void *)(uintptr_t)(i + 1));
	sleep(seconds);
	stop = 1;
	for (i = 0; i < threads; i++)
		pthread_join(tid[i], NULL);
	for (i = 0; i < SLOTS; i++)
		if (slots[i] >= 0)
			close(slots[i]);
	printf("{\"seconds\":%d,\"threads\":%d,\"ioctls\":%lu,\"ok\":%lu,\"efault\":%lu,\"opens\":%lu,\"closes\":%lu,\"forks\":%lu}\n",
	       seconds, threads, n_ioctl, n_ok, n_fault, n_open, n_close, n_fork);
	return 0;
}
