#ifndef EGRESS_SPLICE_RELAY_H
#define EGRESS_SPLICE_RELAY_H

#include <stddef.h>
#include <stdint.h>
#include "CEgressLinux.h"

/// A relay engine: one epoll thread that moves bytes between pairs of connected TCP sockets with
/// splice(2) through one pipe per direction, so relayed bytes never enter user space.
typedef struct egress_relay_engine egress_relay_engine;

/// How a pair ended.
typedef enum egress_relay_outcome {
    /// Both directions reached end of stream and every byte was delivered.
    EGRESS_RELAY_COMPLETED = 0,
    /// A socket failed (reset, broken pipe, ...); both were closed, the other one with a reset.
    EGRESS_RELAY_FAILED = 1,
    /// The engine stopped while the pair was relaying; both sockets were closed.
    EGRESS_RELAY_CANCELLED = 2,
} egress_relay_outcome;

/// What happened to one pair.
typedef struct egress_relay_result {
    egress_relay_outcome outcome;
    /// The failure for EGRESS_RELAY_FAILED, otherwise code 0.
    egress_error error;
    /// Bytes written to the upstream socket, the initial bytes included.
    uint64_t bytes_to_upstream;
    /// Bytes written to the client socket.
    uint64_t bytes_to_client;
    /// From when the pair was added to when it ended, in nanoseconds (CLOCK_MONOTONIC).
    uint64_t duration_ns;
} egress_relay_result;

/// Called once per pair on the engine thread, after both sockets were closed. It must not block
/// for long: every pair of the engine waits meanwhile. It may add pairs.
typedef void (*egress_relay_completion)(void *context, const egress_relay_result *result);

/// Starts an engine whose pipes hold `pipe_size` bytes (F_SETPIPE_SZ; the kernel rounds up to a
/// power of two pages; 0 keeps the default of 64 KiB; more than 1 MiB is refused with EINVAL).
/// Each pair uses two pipes; a pair whose pipe cannot be resized (the user's pipe pages are
/// exhausted) relays through default-sized pipes.
egress_error egress_relay_engine_create(size_t pipe_size, egress_relay_engine **out);

/// Hands `client` and `upstream` (connected TCP sockets) to the engine: `initial` (copied) is sent
/// to upstream first, then bytes flow both ways until both directions end. An end of stream one
/// way shuts down writing the other way (half-close). On success the engine owns both sockets and
/// calls `completion(context, result)` exactly once. On failure nothing happened: the caller
/// still owns both sockets and `completion` is never called. Thread-safe.
egress_error egress_relay_engine_add(egress_relay_engine *engine, int client, int upstream,
                                     const uint8_t *initial, size_t initial_length,
                                     egress_relay_completion completion, void *context);

/// Stops the engine: pairs still relaying are closed and reported EGRESS_RELAY_CANCELLED, later
/// adds fail with ESHUTDOWN. Waits for the engine thread, except when called on it (from a
/// completion), where the thread ends after that completion returns. Idempotent, thread-safe.
void egress_relay_engine_stop(egress_relay_engine *engine);

/// Stops the engine and frees it. From a completion on the engine thread, the thread frees the
/// engine when it ends. The engine must not be used afterwards.
void egress_relay_engine_destroy(egress_relay_engine *engine);

/// The pipe capacity the engine's pairs get, in bytes.
size_t egress_relay_engine_pipe_size(const egress_relay_engine *engine);

#endif
