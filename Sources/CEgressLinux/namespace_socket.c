#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "CEgressLinux.h"

// One request to the helper thread: what to make, and what came of it.
typedef struct namespace_job {
    const char *namespace_path;
    int family;
    const egress_endpoint *address;               // NULL: a plain socket, no bind/listen
    const egress_listener_options *options;
    int fd;
    egress_error error;
} namespace_job;

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
    int fd = socket(job->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0) {
        job->error = egress_fail("socket", errno);
        return NULL;
    }
    if (job->address != NULL) {
        egress_error error = make_listener(job, fd);
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
        .namespace_path = namespace_path, .family = address->family, .address = address, .options = options,
    };
    return run_in_namespace(&job, fd_out);
}

egress_error egress_socket_in_namespace(const char *namespace_path, int family, int *fd_out) {
    namespace_job job = {.namespace_path = namespace_path, .family = family};
    return run_in_namespace(&job, fd_out);
}
