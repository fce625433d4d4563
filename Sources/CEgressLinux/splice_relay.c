#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "egress_splice_relay.h"
#include "splice_pair.h"

/// The largest pipe a pair may ask for: relaying is bounded in memory per pair.
enum { MAXIMUM_PIPE_SIZE = 1 << 20, EVENTS_PER_WAIT = 64 };

struct egress_relay_engine {
    int epoll_fd;
    /// An eventfd (registered with a NULL `data.ptr`) that wakes the thread for adds and stop.
    int wake_fd;
    size_t pipe_size;
    pthread_t thread;

    /// Guards `pending`, `stopping` and `free_on_exit`.
    pthread_mutex_t lock;
    relay_pair *pending;
    bool stopping;
    bool free_on_exit;

    /// Guards `joined`, so that the thread is joined exactly once.
    pthread_mutex_t join_lock;
    bool joined;

    /// The engine thread's own: pairs being relayed, pairs to pump again, pairs to report.
    relay_pair *active;
    relay_pair *ready;
    relay_pair *ended;
};

static void wake(egress_relay_engine *engine) {
    uint64_t one = 1;
    // A full counter (EAGAIN) already means "wake up".
    (void)!write(engine->wake_fd, &one, sizeof(one));
}

static void unlink_active(egress_relay_engine *engine, relay_pair *pair) {
    if (pair->prev != NULL) pair->prev->next = pair->next;
    else engine->active = pair->next;
    if (pair->next != NULL) pair->next->prev = pair->prev;
    pair->prev = pair->next = NULL;
}

/// Moves an ended pair to the list whose completions run at the end of this turn: an epoll
/// batch may still hold events that point at it.
static void retire(egress_relay_engine *engine, relay_pair *pair) {
    unlink_active(engine, pair);
    pair->queue_next = engine->ended;
    engine->ended = pair;
}

/// Registers each socket of a live pair for what it should hear now (relay_socket_interest).
/// Returns false if the pair failed (and was retired).
static bool update_interest(egress_relay_engine *engine, relay_pair *pair) {
    relay_socket *sockets[2] = {&pair->client, &pair->upstream};
    for (int i = 0; i < 2; i++) {
        uint32_t interest = relay_socket_interest(sockets[i]);
        if (interest == sockets[i]->registered) continue;
        struct epoll_event event = {.events = interest, .data.ptr = sockets[i]};
        if (epoll_ctl(engine->epoll_fd, EPOLL_CTL_MOD, sockets[i]->fd, &event) != 0) {
            relay_pair_end(pair, EGRESS_RELAY_FAILED, egress_fail("epoll_ctl(EPOLL_CTL_MOD)", errno));
            retire(engine, pair);
            return false;
        }
        relay_socket_registered(sockets[i], interest);
    }
    return true;
}

static void pump(egress_relay_engine *engine, relay_pair *pair) {
    if (pair->ended) return;
    switch (relay_pair_pump(pair)) {
    case PUMP_ENDED:
        retire(engine, pair);
        break;
    case PUMP_MORE:
        if (!update_interest(engine, pair)) break;
        if (!pair->ready) {
            pair->ready = true;
            pair->queue_next = engine->ready;
            engine->ready = pair;
        }
        break;
    case PUMP_IDLE:
        (void)update_interest(engine, pair);
        break;
    }
}

static void handle_event(egress_relay_engine *engine, const struct epoll_event *event) {
    relay_socket *socket = event->data.ptr;
    relay_pair *pair = socket->pair;
    if (pair->ended) return;
    if (event->events & EPOLLERR) {
        // A reset can leave a socket that no step would touch again (its stream already ended).
        int code = 0;
        socklen_t length = sizeof(code);
        if (getsockopt(socket->fd, SOL_SOCKET, SO_ERROR, &code, &length) == 0 && code != 0) {
            relay_pair_end(pair, EGRESS_RELAY_FAILED, egress_fail(socket->name, code));
            retire(engine, pair);
            return;
        }
    }
    relay_socket_ready(socket, event->events);
    pump(engine, pair);
}

static void start(egress_relay_engine *engine, relay_pair *pair, bool stopping) {
    pair->next = engine->active;
    if (engine->active != NULL) engine->active->prev = pair;
    engine->active = pair;
    if (stopping) {
        relay_pair_end(pair, EGRESS_RELAY_CANCELLED, egress_ok());
        retire(engine, pair);
        return;
    }
    relay_socket *sockets[2] = {&pair->client, &pair->upstream};
    for (int i = 0; i < 2; i++) {
        uint32_t interest = relay_socket_interest(sockets[i]);
        struct epoll_event event = {.events = interest, .data.ptr = sockets[i]};
        if (epoll_ctl(engine->epoll_fd, EPOLL_CTL_ADD, sockets[i]->fd, &event) != 0) {
            int code = errno;
            pair->epoll_fd = engine->epoll_fd;
            relay_pair_end(pair, EGRESS_RELAY_FAILED, egress_fail("epoll_ctl(EPOLL_CTL_ADD)", code));
            retire(engine, pair);
            return;
        }
        sockets[i]->registered = interest;
    }
    pair->epoll_fd = engine->epoll_fd;
    pump(engine, pair);
}

/// Takes the pairs added since the last turn, oldest first. Returns whether the engine stops.
static bool take_pending(egress_relay_engine *engine) {
    uint64_t count;
    (void)!read(engine->wake_fd, &count, sizeof(count));
    pthread_mutex_lock(&engine->lock);
    relay_pair *pending = engine->pending;
    engine->pending = NULL;
    bool stopping = engine->stopping;
    pthread_mutex_unlock(&engine->lock);
    relay_pair *oldest_first = NULL;
    while (pending != NULL) {
        relay_pair *next = pending->queue_next;
        pending->queue_next = oldest_first;
        oldest_first = pending;
        pending = next;
    }
    while (oldest_first != NULL) {
        relay_pair *next = oldest_first->queue_next;
        oldest_first->queue_next = NULL;
        start(engine, oldest_first, stopping);
        oldest_first = next;
    }
    return stopping;
}

/// Reports and frees the pairs that ended; no lock is held, so a completion may add pairs.
static void report_ended(egress_relay_engine *engine) {
    while (engine->ended != NULL) {
        relay_pair *pair = engine->ended;
        engine->ended = pair->queue_next;
        pair->completion(pair->context, &pair->result);
        relay_pair_free(pair);
    }
}

static void pump_ready(egress_relay_engine *engine) {
    relay_pair *ready = engine->ready;
    engine->ready = NULL;
    while (ready != NULL) {
        relay_pair *next = ready->queue_next;
        ready->queue_next = NULL;
        ready->ready = false;
        pump(engine, ready);
        ready = next;
    }
}

static void free_resources(egress_relay_engine *engine) {
    close(engine->epoll_fd);
    close(engine->wake_fd);
    pthread_mutex_destroy(&engine->lock);
    pthread_mutex_destroy(&engine->join_lock);
    free(engine);
}

static void *run(void *argument) {
    egress_relay_engine *engine = argument;
    // Writing to a socket whose peer is gone raises SIGPIPE in the writing thread (splice has
    // no MSG_NOSIGNAL); blocked here, the write just fails with EPIPE.
    sigset_t pipe_signal;
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_signal, NULL);

    struct epoll_event events[EVENTS_PER_WAIT];
    bool stopping = false;
    while (!stopping) {
        int count = epoll_wait(engine->epoll_fd, events, EVENTS_PER_WAIT, engine->ready != NULL ? 0 : -1);
        if (count < 0 && errno != EINTR) break;
        bool woken = false;
        for (int i = 0; i < count; i++) {
            if (events[i].data.ptr == NULL) woken = true;
            else handle_event(engine, &events[i]);
        }
        pump_ready(engine);
        if (woken) stopping = take_pending(engine);
        report_ended(engine);
    }
    // Stopped (or epoll failed, which leaves nothing to wait with): cancel whatever is left,
    // including pairs added since the last turn.
    pthread_mutex_lock(&engine->lock);
    engine->stopping = true;
    pthread_mutex_unlock(&engine->lock);
    (void)take_pending(engine);
    while (engine->active != NULL) {
        relay_pair *pair = engine->active;
        relay_pair_end(pair, EGRESS_RELAY_CANCELLED, egress_ok());
        retire(engine, pair);
    }
    engine->ready = NULL;
    report_ended(engine);
    pthread_mutex_lock(&engine->lock);
    bool free_on_exit = engine->free_on_exit;
    pthread_mutex_unlock(&engine->lock);
    if (free_on_exit) free_resources(engine);
    return NULL;
}

egress_error egress_relay_engine_create(size_t pipe_size, egress_relay_engine **out) {
    if (pipe_size > MAXIMUM_PIPE_SIZE) return egress_fail("F_SETPIPE_SZ", EINVAL);
    size_t effective = 0;
    egress_error probe = relay_pipe_size(pipe_size, &effective);
    if (probe.code != 0) return probe;
    egress_relay_engine *engine = calloc(1, sizeof(*engine));
    if (engine == NULL) return egress_fail("calloc", ENOMEM);
    engine->pipe_size = effective;
    engine->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (engine->epoll_fd < 0) {
        int code = errno;
        free(engine);
        return egress_fail("epoll_create1", code);
    }
    engine->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event event = {.events = EPOLLIN, .data.ptr = NULL};
    if (engine->wake_fd < 0 || epoll_ctl(engine->epoll_fd, EPOLL_CTL_ADD, engine->wake_fd, &event) != 0) {
        egress_error error = egress_fail(engine->wake_fd < 0 ? "eventfd" : "epoll_ctl(EPOLL_CTL_ADD)", errno);
        if (engine->wake_fd >= 0) close(engine->wake_fd);
        close(engine->epoll_fd);
        free(engine);
        return error;
    }
    pthread_mutex_init(&engine->lock, NULL);
    pthread_mutex_init(&engine->join_lock, NULL);
    int created = pthread_create(&engine->thread, NULL, run, engine);
    if (created != 0) {
        free_resources(engine);
        return egress_fail("pthread_create", created);
    }
    // Named for top, perf and /proc (it would inherit its creator's name); named here, not by the
    // thread itself, so that the name is there once this returns.
    (void)pthread_setname_np(engine->thread, "egress-splice");
    *out = engine;
    return egress_ok();
}

egress_error egress_relay_engine_add(egress_relay_engine *engine, int client, int upstream,
                                     const uint8_t *initial, size_t initial_length,
                                     egress_relay_completion completion, void *context) {
    if (completion == NULL) return egress_fail("relay completion", EINVAL);
    relay_pair *pair = NULL;
    egress_error error = relay_pair_create(client, upstream, initial, initial_length, engine->pipe_size, &pair);
    if (error.code != 0) return error;
    pair->completion = completion;
    pair->context = context;
    pthread_mutex_lock(&engine->lock);
    bool stopping = engine->stopping;
    if (!stopping) {
        pair->queue_next = engine->pending;
        engine->pending = pair;
    }
    pthread_mutex_unlock(&engine->lock);
    if (stopping) {
        relay_pair_discard(pair);
        return egress_fail("relay", ESHUTDOWN);
    }
    wake(engine);
    return egress_ok();
}

static bool on_engine_thread(const egress_relay_engine *engine) {
    return pthread_equal(pthread_self(), engine->thread);
}

void egress_relay_engine_stop(egress_relay_engine *engine) {
    pthread_mutex_lock(&engine->lock);
    engine->stopping = true;
    pthread_mutex_unlock(&engine->lock);
    wake(engine);
    if (on_engine_thread(engine)) return;
    pthread_mutex_lock(&engine->join_lock);
    if (!engine->joined) {
        pthread_join(engine->thread, NULL);
        engine->joined = true;
    }
    pthread_mutex_unlock(&engine->join_lock);
}

void egress_relay_engine_destroy(egress_relay_engine *engine) {
    if (on_engine_thread(engine)) {
        pthread_mutex_lock(&engine->lock);
        engine->stopping = true;
        engine->free_on_exit = true;
        pthread_mutex_unlock(&engine->lock);
        pthread_detach(engine->thread);
        wake(engine);
        return;
    }
    egress_relay_engine_stop(engine);
    free_resources(engine);
}

size_t egress_relay_engine_pipe_size(const egress_relay_engine *engine) {
    return engine->pipe_size;
}
