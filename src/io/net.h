/*
 * Non-blocking TCP: listen, accept, connect; IPv4 and IPv6.  All fds
 * returned are O_NONBLOCK and FD_CLOEXEC.  Address strings are "host:port",
 * "[v6]:port" or ":port" (all interfaces, dual-stack when IPv6 exists).
 */
#ifndef CPLANE_IO_NET_H
#define CPLANE_IO_NET_H

#include <stddef.h>
#include <sys/socket.h>

/* Splits "host:port" / "[v6]:port" / ":port"; returns 0 or -1. */
int io_split_hostport(const char *s, char *host, size_t hostsz, char *port, size_t portsz);
/* Listening socket with SO_REUSEADDR; returns fd or -1 with a reason in err. */
int io_listen(const char *addr, int backlog, char *err, size_t errsz);
/* Accepts one connection (non-blocking, TCP_NODELAY); -1 with errno (EAGAIN when none). */
int io_accept(int listen_fd);
/* Blocking name resolution (start-up only): first address for host:port. 0 or -1 with err. */
int io_resolve(const char *host, const char *port, struct sockaddr_storage *out,
    socklen_t *outlen, char *err, size_t errsz);
/* Starts a non-blocking connect; returns fd (connection completes when writable) or -1. */
int io_connect(const struct sockaddr *sa, socklen_t salen);
/* After the fd turns writable: 0 if connected, else the errno of the failure. */
int io_connect_result(int fd);
/*
 * TCP keepalive: probes after idle_s without traffic, every intvl_s, the
 * connection fails after cnt unanswered ones (a peer gone without FIN/RST,
 * e.g. the API server's node).  Best effort: errors are ignored.
 */
void io_set_keepalive(int fd, int idle_s, int intvl_s, int cnt);
/* Port a socket is bound to, or -1. */
int io_local_port(int fd);
/* "ip:port" / "[ip]:port" of a sockaddr into out. */
void io_format_addr(const struct sockaddr *sa, char *out, size_t outsz);

#endif
