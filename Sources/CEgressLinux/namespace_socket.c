#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "CEgressLinux.h"

// What the helper thread makes.
typedef enum namespace_socket_kind {
    KIND_PLAIN,        // an unconnected TCP socket
    KIND_LISTENER,     // a bound, listening TCP socket
    KIND_DATAGRAM,     // a bound UDP socket
    KIND_CONNECTED,    // a TCP socket connected to `address`
} namespace_socket_kind;

// One request to the helper thread: what to make, and what came of it.
typedef struct namespace_job {
    const char *namespace_path;
    namespace_socket_kind kind;
    int family;
    const egress_endpoint *address;
    const egress_listener_options *options;
    int timeout_ms;
    int fd;
    egress_error error;
} namespace_job;

static egress_error bind_datagram(const namespace_job *job, int fd) {
    int one = 1;
    if (job->family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) {
        return egress_fail("setsockopt(IPV6_V6ONLY)", errno);
    }
    struct sockaddr_storage address;
    socklen_t length = 0;
    egress_error error = egress_endpoint_to_sockaddr(job->address, &address, &length);
    if (error.code != 0) return error;
    if (bind(fd, (const struct sockaddr *)&address, length) != 0) return egress_fail("bind", errno);
    return egress_ok();
}

static egress_error connect_within(const namespace_job *job, int fd) {
    struct sockaddr_storage address;
    socklen_t length = 0;
    egress_error error = egress_endpoint_to_sockaddr(job->address, &address, &length);
    if (error.code != 0) return error;
    if (connect(fd, (const struct sockaddr *)&address, length) == 0) return egress_ok();
    if (errno != EINPROGRESS) return egress_fail("connect", errno);
    struct pollfd waiting = {.fd = fd, .events = POLLOUT};
    int ready;
    do {
        ready = poll(&waiting, 1, job->timeout_ms);
    } while (ready < 0 && errno == EINTR);
    if (ready < 0) return egress_fail("poll", errno);
    if (ready == 0) return egress_fail("connect", ETIMEDOUT);
    int failure = 0;
    socklen_t size = sizeof(failure);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &size) != 0) return egress_fail("getsockopt(SO_ERROR)", errno);
    return failure == 0 ? egress_ok() : egress_fail("connect", failure);
}

static egress_error make_listener(const namespace_job *job, int fd) {
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
        return egress_fail("setsockopt(SO_REUSEADDR)", errno);
    }
    if (job->family == AF_INET6) {
        int v6only = job->options->ipv6_only ? 1 : 0;
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) != 0) {
            return egress_fail("setsockopt(IPV6_V6ONLY)", errno);
        }
    }
    if (job->options->transparent) {
        egress_error error = egress_set_transparent(fd, 1);
        if (error.code != 0) return error;
    }
    struct sockaddr_storage address;
    socklen_t length = 0;
    egress_error error = egress_endpoint_to_sockaddr(job->address, &address, &length);
    if (error.code != 0) return error;
    if (bind(fd, (const struct sockaddr *)&address, length) != 0) return egress_fail("bind", errno);
    if (listen(fd, job->options->backlog) != 0) return egress_fail("listen", errno);
    return egress_ok();
}

// Runs on a thread of its own, which enters the namespace and then ends: a thread's network
// namespace is the one sockets are created in, and this one never serves anything else.
static void *run_job(void *argument) {
    namespace_job *job = argument;
    int namespace_fd = open(job->namespace_path, O_RDONLY | O_CLOEXEC);
    if (namespace_fd < 0) {
        job->error = egress_fail("open(network namespace)", errno);
        return NULL;
    }
    int entered = setns(namespace_fd, CLONE_NEWNET);
    int setns_errno = errno;
    close(namespace_fd);
    if (entered != 0) {
        job->error = egress_fail("setns(CLONE_NEWNET)", setns_errno);
        return NULL;
    }
    int datagram = job->kind == KIND_DATAGRAM;
    int fd = socket(job->family, (datagram ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    datagram ? IPPROTO_UDP : IPPROTO_TCP);
    if (fd < 0) {
        job->error = egress_fail("socket", errno);
        return NULL;
    }
    if (job->kind != KIND_PLAIN) {
        egress_error error = job->kind == KIND_LISTENER ? make_listener(job, fd)
            : job->kind == KIND_DATAGRAM               ? bind_datagram(job, fd)
                                                       : connect_within(job, fd);
        if (error.code != 0) {
            close(fd);
            job->error = error;
            return NULL;
        }
    }
    job->fd = fd;
    job->error = egress_ok();
    return NULL;
}

static egress_error run_in_namespace(namespace_job *job, int *fd_out) {
    if (job->namespace_path == NULL) return egress_fail("open(network namespace)", EINVAL);
    if (job->family != AF_INET && job->family != AF_INET6) return egress_fail("socket", EAFNOSUPPORT);
    job->fd = -1;
    job->error = egress_fail("pthread_create", EAGAIN);
    pthread_t thread;
    int created = pthread_create(&thread, NULL, run_job, job);
    if (created != 0) return egress_fail("pthread_create", created);
    int joined = pthread_join(thread, NULL);
    if (joined != 0) return egress_fail("pthread_join", joined);
    if (job->error.code == 0) *fd_out = job->fd;
    return job->error;
}

egress_error egress_listener_in_namespace(const char *namespace_path, const egress_endpoint *address,
                                          const egress_listener_options *options, int *fd_out) {
    if (address == NULL || options == NULL) return egress_fail("bind", EINVAL);
    namespace_job job = {
        .namespace_path = namespace_path, .kind = KIND_LISTENER, .family = address->family, .address = address,
        .options = options,
    };
    return run_in_namespace(&job, fd_out);
}

egress_error egress_socket_in_namespace(const char *namespace_path, int family, int *fd_out) {
    namespace_job job = {.namespace_path = namespace_path, .kind = KIND_PLAIN, .family = family};
    return run_in_namespace(&job, fd_out);
}

egress_error egress_datagram_socket_in_namespace(const char *namespace_path, const egress_endpoint *address,
                                                 int *fd_out) {
    if (address == NULL) return egress_fail("bind", EINVAL);
    namespace_job job = {
        .namespace_path = namespace_path, .kind = KIND_DATAGRAM, .family = address->family, .address = address,
    };
    return run_in_namespace(&job, fd_out);
}

egress_error egress_connected_socket_in_namespace(const char *namespace_path, const egress_endpoint *address,
                                                  int timeout_ms, int *fd_out) {
    if (address == NULL) return egress_fail("connect", EINVAL);
    namespace_job job = {
        .namespace_path = namespace_path, .kind = KIND_CONNECTED, .family = address->family, .address = address,
        .timeout_ms = timeout_ms,
    };
    return run_in_namespace(&job, fd_out);
}
