/*
 * io/listener at EMFILE with the loop's clock injected: the listener stops
 * polling instead of spinning (the connection waits in the kernel's queue),
 * tries again after 100 ms, 200 ms, ... up to 1 s, asks the owner to free a
 * descriptor first, and accepts as soon as one is free.
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "loop_test_util.h"
#include "base/log.h"
#include "io/listener.h"
#include "io/net.h"

static int accepted, asked;
static int spare_fd = -1;	/* what on_exhausted may give back */

static void on_accept(int fd, const struct sockaddr *peer, void *arg)
{
	(void)peer;
	(void)arg;
	accepted++;
	close(fd);
}

static int on_exhausted(void *arg)
{
	(void)arg;
	asked++;
	if (spare_fd < 0)
		return 0;
	close(spare_fd);
	spare_fd = -1;
	return 1;
}

static void test_emfile_pauses_and_backs_off(void)
{
	struct rlimit saved, low;
	struct sockaddr_in a;
	char err[256];
	io_listener l;
	io_loop *loop = io_loop_new();
	int lfd = io_listen("127.0.0.1:0", 16, err, sizeof(err)), cfd, hold[8], nhold = 0;

	fake_us = 1000000;
	io_loop_set_clock(loop, fake_clock, NULL);
	CHECK(lfd >= 0);
	CHECK_EQ_INT(io_listener_start(&l, loop, lfd, "test", on_accept, on_exhausted, NULL), 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)io_local_port(lfd));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cfd = socket(AF_INET, SOCK_STREAM, 0);

	/* no descriptor left: the limit is the lowest free fd */
	getrlimit(RLIMIT_NOFILE, &saved);
	low = saved;
	{
		int probe = dup(0);
		low.rlim_cur = (rlim_t)probe;
		close(probe);
	}
	CHECK_EQ_INT(setrlimit(RLIMIT_NOFILE, &low), 0);
	CHECK_EQ_INT(connect(cfd, (struct sockaddr *)&a, sizeof(a)), 0);	/* cfd existed already */
	turns(loop, 20);
	CHECK_EQ_INT(accepted, 0);
	CHECK_EQ_INT((int)l.shortages, 1);	/* 20 turns, one attempt: not spinning */
	CHECK_EQ_INT(asked, 1);
	CHECK_EQ_INT((int)io_loop_interest(loop, lfd), 0);
	fake_us += 99 * 1000;
	turns(loop, 5);
	CHECK_EQ_INT((int)l.shortages, 1);
	fake_us += 1000;			/* 100 ms: one more attempt, then 200 ms */
	turns(loop, 5);
	CHECK_EQ_INT((int)l.shortages, 2);
	fake_us += 199 * 1000;
	turns(loop, 5);
	CHECK_EQ_INT((int)l.shortages, 2);
	fake_us += 1000;
	turns(loop, 5);
	CHECK_EQ_INT((int)l.shortages, 3);
	for (int i = 0; i < 6; i++) {		/* 400, 800, then 1 s at most */
		fake_us += 1000 * 1000;
		turns(loop, 5);
	}
	CHECK_EQ_INT(l.delay_ms, IO_LISTENER_BACKOFF_MAX_MS);
	CHECK_EQ_INT(accepted, 0);

	/* the owner can give a descriptor back: the next attempt takes it at once */
	CHECK_EQ_INT(setrlimit(RLIMIT_NOFILE, &saved), 0);
	spare_fd = dup(0);
	while (nhold < 8 && (hold[nhold] = dup(0)) >= 0 && hold[nhold] < spare_fd + 8)
		nhold++;
	low.rlim_cur = (rlim_t)(spare_fd + 1);	/* spare_fd is the last one allowed */
	for (int i = 0; i < nhold; i++)
		close(hold[i]);
	CHECK_EQ_INT(setrlimit(RLIMIT_NOFILE, &low), 0);
	fake_us += 1000 * 1000;
	turns(loop, 5);
	CHECK_EQ_INT(accepted, 1);
	CHECK(spare_fd < 0);
	CHECK_EQ_INT(l.delay_ms, 0);		/* the shortage is over */
	CHECK_EQ_INT((int)io_loop_interest(loop, lfd), IO_READ);

	CHECK_EQ_INT(setrlimit(RLIMIT_NOFILE, &saved), 0);
	close(cfd);
	io_listener_stop(&l);
	io_loop_free(loop);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	RUN(test_emfile_pauses_and_backs_off);
	return harness_finish();
}
