/*
 * Driving an io_loop on real loopback sockets with its clock injected:
 * io_loop_set_clock(loop, fake_clock, NULL), then move fake_us and call
 * turns(); dial() connects a non-blocking client socket to a port.
 */
#ifndef CPLANE_TEST_LOOP_TEST_UTIL_H
#define CPLANE_TEST_LOOP_TEST_UTIL_H

#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "harness.h"
#include "io/loop.h"

static int64_t fake_us;

static inline int64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_us;
}

/* n turns of the loop, each waiting at most 1 ms. */
static inline void turns(io_loop *loop, int n)
{
	for (int i = 0; i < n; i++)
		io_loop_run_once(loop, 1);
}

static inline int dial(int port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		CHECK(!"connect");
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

#endif
