#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "splice_pair.h"

/// Rounds of moving bytes one pair gets per turn before the others get theirs.
enum { PUMP_ROUNDS = 8 };

uint64_t relay_now_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static void close_pipe(relay_direction *direction) {
    if (direction->pipe_read >= 0) close(direction->pipe_read);
    if (direction->pipe_write >= 0) close(direction->pipe_write);
    direction->pipe_read = direction->pipe_write = -1;
}

static egress_error open_pipe(relay_direction *direction, size_t pipe_size) {
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return egress_fail("pipe2", errno);
    direction->pipe_read = fds[0];
    direction->pipe_write = fds[1];
    // A failed resize (pipe-user-pages-soft reached, say) leaves the default size, which works.
    if (pipe_size > 0) (void)fcntl(fds[1], F_SETPIPE_SZ, (int)pipe_size);
    int capacity = fcntl(fds[1], F_GETPIPE_SZ);
    if (capacity <= 0) {
        int code = errno;
        close_pipe(direction);
        return egress_fail("fcntl(F_GETPIPE_SZ)", code);
    }
    direction->capacity = (size_t)capacity;
    return egress_ok();
}

/// Makes `fd` non-blocking; its old flags go to `old_flags`.
static egress_error make_nonblocking(int fd, int *old_flags) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return egress_fail("fcntl(F_GETFL)", errno);
    if (fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) return egress_fail("fcntl(F_SETFL)", errno);
    *old_flags = flags;
    return egress_ok();
}

static void set_direction(relay_direction *direction, relay_socket *from, relay_socket *to, const char *read_operation,
                          const char *write_operation, const char *shutdown_operation) {
    memset(direction, 0, sizeof(*direction));
    direction->from = from;
    direction->to = to;
    direction->pipe_read = direction->pipe_write = -1;
    direction->read_operation = read_operation;
    direction->write_operation = write_operation;
    direction->shutdown_operation = shutdown_operation;
}

egress_error relay_pair_create(int client, int upstream, const uint8_t *initial, size_t initial_length,
                               size_t pipe_size, relay_pair **out) {
    if (client < 0 || upstream < 0 || client == upstream) return egress_fail("relay sockets", EBADF);
    if (initial == NULL && initial_length > 0) return egress_fail("relay initial bytes", EINVAL);
    relay_pair *pair = calloc(1, sizeof(*pair));
    if (pair == NULL) return egress_fail("calloc", ENOMEM);
    // Both ready until a splice says otherwise: the first turn tries every step once.
    pair->client = (relay_socket){.pair = pair, .fd = client, .name = "client socket", .readable = true, .writable = true};
    pair->upstream = (relay_socket){.pair = pair, .fd = upstream, .name = "upstream socket", .readable = true, .writable = true};
    set_direction(&pair->directions[RELAY_UP], &pair->client, &pair->upstream, "splice from client",
                  "splice to upstream", "shutdown(upstream, SHUT_WR)");
    set_direction(&pair->directions[RELAY_DOWN], &pair->upstream, &pair->client, "splice from upstream",
                  "splice to client", "shutdown(client, SHUT_WR)");
    egress_error error = egress_ok();
    if (initial_length > 0) {
        pair->initial = malloc(initial_length);
        if (pair->initial == NULL) error = egress_fail("malloc", ENOMEM);
        else memcpy(pair->initial, initial, initial_length);
        pair->initial_length = initial_length;
    }
    for (int i = 0; i < 2 && error.code == 0; i++) error = open_pipe(&pair->directions[i], pipe_size);
    int client_flags = 0, upstream_flags = 0;
    if (error.code == 0) error = make_nonblocking(client, &client_flags);
    if (error.code == 0) {
        error = make_nonblocking(upstream, &upstream_flags);
        if (error.code != 0) (void)fcntl(client, F_SETFL, client_flags);
    }
    if (error.code != 0) {
        for (int i = 0; i < 2; i++) close_pipe(&pair->directions[i]);
        free(pair->initial);
        free(pair);
        return error;
    }
    pair->epoll_fd = -1;
    pair->client_flags = client_flags;
    pair->upstream_flags = upstream_flags;
    pair->started_ns = relay_now_ns();
    *out = pair;
    return egress_ok();
}

void relay_socket_ready(relay_socket *socket, uint32_t events) {
    // A hang-up or an error is reported by the next splice either way.
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) socket->readable = true;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) socket->writable = true;
}

uint32_t relay_socket_interest(const relay_socket *socket) {
    const relay_pair *pair = socket->pair;
    const relay_direction *reading = &pair->directions[socket == &pair->client ? RELAY_UP : RELAY_DOWN];
    uint32_t events = EPOLLOUT | EPOLLET;
    if (!(reading->buffered > 0 && !reading->to->writable)) events |= EPOLLIN | EPOLLRDHUP;
    return events;
}

void relay_socket_registered(relay_socket *socket, uint32_t events) {
    if ((events & EPOLLIN) && !(socket->registered & EPOLLIN)) socket->readable = true;
    socket->registered = events;
}

/// Sends what is left of the initial bytes. Returns 1 if some were sent, 0 if none could be,
/// -1 if the pair failed.
static int send_initial(relay_pair *pair) {
    if (!pair->upstream.writable) return 0;
    size_t left = pair->initial_length - pair->initial_sent;
    ssize_t sent = send(pair->upstream.fd, pair->initial + pair->initial_sent, left, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0) {
        if (errno == EAGAIN) pair->upstream.writable = false;
        if (errno == EAGAIN || errno == EINTR) return errno == EINTR;
        relay_pair_end(pair, EGRESS_RELAY_FAILED, egress_fail("send initial bytes to upstream", errno));
        return -1;
    }
    pair->initial_sent += (size_t)sent;
    pair->directions[RELAY_UP].delivered += (uint64_t)sent;
    return sent > 0;
}

/// Splices what the pipe holds into `to`. Returns 1 if bytes moved (or an interrupted call is to be
/// retried), 0 if none could, -1 if the pair failed.
static int drain(relay_pair *pair, relay_direction *direction) {
    if (direction->buffered == 0 || !direction->to->writable) return 0;
    ssize_t n = splice(direction->pipe_read, NULL, direction->to->fd, NULL, direction->buffered,
                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
        direction->buffered -= (size_t)n;
        direction->delivered += (uint64_t)n;
        return 1;
    }
    if (n == 0) return 0;
    // The pipe holds bytes, so EAGAIN means the socket's send buffer is full: EPOLLOUT follows.
    if (errno == EAGAIN) direction->to->writable = false;
    if (errno == EAGAIN || errno == EINTR) return errno == EINTR;
    relay_pair_end(pair, EGRESS_RELAY_FAILED, egress_fail(direction->write_operation, errno));
    return -1;
}

/// Splices what `from` has into the pipe, up to its capacity. Same returns as `drain`.
static int fill(relay_pair *pair, relay_direction *direction) {
    if (direction->end_of_stream || !direction->from->readable || direction->buffered >= direction->capacity) return 0;
    ssize_t n = splice(direction->from->fd, NULL, direction->pipe_write, NULL, direction->capacity - direction->buffered,
                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
        direction->buffered += (size_t)n;
        return 1;
    }
    if (n == 0) {
        direction->end_of_stream = true;
        return 1;
    }
    // EAGAIN comes from an empty socket or from a pipe out of slots (small segments can use them
    // up before `capacity` bytes): only with an empty pipe is it surely the socket's.
    if (errno == EAGAIN && direction->buffered == 0) direction->from->readable = false;
    if (errno == EAGAIN || errno == EINTR) return errno == EINTR;
    relay_pair_end(pair, EGRESS_RELAY_FAILED, egress_fail(direction->read_operation, errno));
    return -1;
}

/// One step of one direction: drain the pipe into `to`, refill it from `from`, drain what came,
/// pass on an end of stream. Returns 1 if anything moved, 0 if nothing could, -1 if the pair failed.
static int step(relay_pair *pair, relay_direction *direction) {
    if (direction->finished) return 0;
    int moved = drain(pair, direction);
    if (moved < 0) return -1;
    int filled = fill(pair, direction);
    if (filled < 0) return -1;
    if (filled > 0) {
        moved = 1;
        if (drain(pair, direction) < 0) return -1;
    }
    if (direction->end_of_stream && direction->buffered == 0) {
        // The peer of `to` may already be gone entirely (ENOTCONN): the other direction says so.
        if (shutdown(direction->to->fd, SHUT_WR) != 0 && errno != ENOTCONN) {
            relay_pair_end(pair, EGRESS_RELAY_FAILED, egress_fail(direction->shutdown_operation, errno));
            return -1;
        }
        direction->finished = true;
        moved = 1;
    }
    return moved;
}

pump_status relay_pair_pump(relay_pair *pair) {
    if (pair->ended) return PUMP_ENDED;
    for (int round = 0; round < PUMP_ROUNDS; round++) {
        int progress = 0;
        bool initial_pending = pair->initial_sent < pair->initial_length;
        if (initial_pending) {
            int sent = send_initial(pair);
            if (sent < 0) return PUMP_ENDED;
            progress |= sent;
            initial_pending = pair->initial_sent < pair->initial_length;
        }
        for (int i = 0; i < 2; i++) {
            // Nothing from the client goes upstream before all of the initial bytes.
            if (i == RELAY_UP && initial_pending) continue;
            int moved = step(pair, &pair->directions[i]);
            if (moved < 0) return PUMP_ENDED;
            progress |= moved;
        }
        if (pair->directions[RELAY_UP].finished && pair->directions[RELAY_DOWN].finished) {
            relay_pair_end(pair, EGRESS_RELAY_COMPLETED, egress_ok());
            return PUMP_ENDED;
        }
        if (!progress) return PUMP_IDLE;
    }
    return PUMP_MORE;
}

/// Closes `fd` so that its peer sees a reset rather than an orderly end of stream.
static void close_with_reset(int fd) {
    struct linger linger = {.l_onoff = 1, .l_linger = 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, sizeof(linger));
    close(fd);
}

void relay_pair_end(relay_pair *pair, egress_relay_outcome outcome, egress_error error) {
    if (pair->ended) return;
    pair->ended = true;
    // Explicitly: a descriptor the caller also holds a duplicate of stays in the epoll set
    // after close(2), and its events would point at a freed pair.
    if (pair->epoll_fd >= 0) {
        (void)epoll_ctl(pair->epoll_fd, EPOLL_CTL_DEL, pair->client.fd, NULL);
        (void)epoll_ctl(pair->epoll_fd, EPOLL_CTL_DEL, pair->upstream.fd, NULL);
    }
    if (outcome == EGRESS_RELAY_COMPLETED) {
        close(pair->client.fd);
        close(pair->upstream.fd);
    } else {
        close_with_reset(pair->client.fd);
        close_with_reset(pair->upstream.fd);
    }
    for (int i = 0; i < 2; i++) close_pipe(&pair->directions[i]);
    pair->result = (egress_relay_result){
        .outcome = outcome,
        .error = outcome == EGRESS_RELAY_FAILED ? error : egress_ok(),
        .bytes_to_upstream = pair->directions[RELAY_UP].delivered,
        .bytes_to_client = pair->directions[RELAY_DOWN].delivered,
        .duration_ns = relay_now_ns() - pair->started_ns,
    };
}

void relay_pair_discard(relay_pair *pair) {
    (void)fcntl(pair->client.fd, F_SETFL, pair->client_flags);
    (void)fcntl(pair->upstream.fd, F_SETFL, pair->upstream_flags);
    for (int i = 0; i < 2; i++) close_pipe(&pair->directions[i]);
    relay_pair_free(pair);
}

egress_error relay_pipe_size(size_t pipe_size, size_t *effective) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return egress_fail("pipe2", errno);
    egress_error error = egress_ok();
    if (pipe_size > 0 && fcntl(fds[1], F_SETPIPE_SZ, (int)pipe_size) < 0) error = egress_fail("fcntl(F_SETPIPE_SZ)", errno);
    int capacity = fcntl(fds[1], F_GETPIPE_SZ);
    if (error.code == 0 && capacity <= 0) error = egress_fail("fcntl(F_GETPIPE_SZ)", errno);
    close(fds[0]);
    close(fds[1]);
    if (error.code == 0) *effective = (size_t)capacity;
    return error;
}

void relay_pair_free(relay_pair *pair) {
    free(pair->initial);
    free(pair);
}
