// Internal to the relay engine: one relayed pair of sockets and how bytes move through it.
#ifndef EGRESS_SPLICE_PAIR_H
#define EGRESS_SPLICE_PAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "egress_splice_relay.h"

typedef struct relay_pair relay_pair;

/// One socket of a pair as registered with epoll (`epoll_event.data.ptr`).
typedef struct relay_socket {
    relay_pair *pair;
    int fd;
    /// "client socket" or "upstream socket", for errors that epoll reports.
    const char *name;
    /// What epoll (edge-triggered) last said and no splice has contradicted since: reading may
    /// find bytes or the end of stream, writing may find room. Cleared only by EAGAIN from the
    /// socket itself, so a new edge is due before it could be set again.
    bool readable;
    bool writable;
    /// The events the socket is registered with epoll for (see `relay_socket_interest`).
    uint32_t registered;
} relay_socket;

/// One direction: `from` -> pipe -> `to`.
typedef struct relay_direction {
    relay_socket *from;
    relay_socket *to;
    int pipe_read;
    int pipe_write;
    /// The pipe's capacity and the bytes in it now.
    size_t capacity;
    size_t buffered;
    /// Bytes written to `to`.
    uint64_t delivered;
    /// `from` reached end of stream.
    bool end_of_stream;
    /// The end of stream was passed on with shutdown(to, SHUT_WR).
    bool finished;
    /// Names of the steps, for errors ("splice from client", ...).
    const char *read_operation;
    const char *write_operation;
    const char *shutdown_operation;
} relay_direction;

enum { RELAY_UP = 0, RELAY_DOWN = 1 };

struct relay_pair {
    relay_socket client;
    relay_socket upstream;
    /// RELAY_UP: client to upstream; RELAY_DOWN: upstream to client.
    relay_direction directions[2];
    /// Sent to upstream before anything from the client.
    uint8_t *initial;
    size_t initial_length;
    size_t initial_sent;
    uint64_t started_ns;
    /// The sockets' file status flags before the pair made them non-blocking.
    int client_flags;
    int upstream_flags;
    egress_relay_completion completion;
    void *context;
    /// The epoll instance both sockets are registered with, -1 before registration.
    int epoll_fd;
    /// Set once the pair ended; its sockets are closed and its result is final.
    bool ended;
    egress_relay_result result;
    /// Waiting to be pumped again after using up its turn.
    bool ready;
    /// Links: the engine's active list (prev/next), and one of its singly linked queues
    /// (pending, ready or ended) through `queue_next`.
    relay_pair *prev;
    relay_pair *next;
    relay_pair *queue_next;
};

/// What one turn of pumping did.
typedef enum pump_status {
    /// Nothing more can move until epoll reports an event.
    PUMP_IDLE,
    /// The turn's budget ran out while bytes could still move: pump again soon.
    PUMP_MORE,
    /// The pair ended (completed or failed): report and free it.
    PUMP_ENDED,
} pump_status;

/// Makes a pair with its pipes (each of `pipe_size` bytes) and makes both sockets non-blocking.
/// On failure nothing is left behind and the sockets are as they were.
egress_error relay_pair_create(int client, int upstream, const uint8_t *initial, size_t initial_length,
                               size_t pipe_size, relay_pair **out);

/// Undoes `relay_pair_create` for a pair that never started: restores the sockets' flags (they
/// stay open, the caller's again) and frees the pair.
void relay_pair_discard(relay_pair *pair);

/// Makes a pipe of `pipe_size` bytes to learn the size pairs get, or why it cannot be had.
egress_error relay_pipe_size(size_t pipe_size, size_t *effective);

/// Records an epoll event of `socket` (EPOLLIN, EPOLLOUT, ...) as readiness to read or write.
void relay_socket_ready(relay_socket *socket, uint32_t events);

/// The epoll events (edge-triggered) `socket` should be registered for now. Writes always; reads
/// unless the pipe they would go to holds bytes that wait for the other socket to take them:
/// then every arriving segment would wake the engine for nothing, and the other socket's
/// EPOLLOUT brings reading back. Errors and hang-ups are reported whatever the registration.
uint32_t relay_socket_interest(const relay_socket *socket);

/// Notes that `socket` is now registered for `events`. Reading that comes back is assumed ready:
/// edges may have passed while it was not registered.
void relay_socket_registered(relay_socket *socket, uint32_t events);

/// Moves whatever can move now, both ways, within a budget. Only sockets marked ready are
/// touched, so most splice calls that would fail with EAGAIN are not made (a socket that came
/// back EAGAIN while its pipe still holds bytes stays marked readable, and is tried again).
pump_status relay_pair_pump(relay_pair *pair);

/// Ends the pair with `outcome`: removes both sockets from epoll, closes them (with a reset unless
/// it completed) and its pipes, and fills in the result. Idempotent.
void relay_pair_end(relay_pair *pair, egress_relay_outcome outcome, egress_error error);

/// Frees an ended pair.
void relay_pair_free(relay_pair *pair);

/// CLOCK_MONOTONIC in nanoseconds.
uint64_t relay_now_ns(void);

#endif
