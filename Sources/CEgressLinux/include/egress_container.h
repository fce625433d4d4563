#ifndef EGRESS_CONTAINER_H
#define EGRESS_CONTAINER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "CEgressLinux.h"

/// A file the container finds in its `/etc` (an overlay whose upper layer is a tmpfs private to
/// the container): `path` is relative to `/etc`, parent directories are created.
typedef struct egress_container_file {
    const char *path;
    const uint8_t *data;
    size_t length;
    mode_t mode;
} egress_container_file;

/// Everything a container's init needs; every string and buffer must stay valid until
/// `egress_container_create` returns (the child gets a copy of memory as it was at clone time).
typedef struct egress_container_spec {
    /// argv[0] is the command: a path if it holds '/', else looked up in `search_path`.
    char *const *argv;
    /// NULL-terminated `NAME=value` strings.
    char *const *envp;
    /// `PATH` for the command lookup (colon separated).
    const char *search_path;
    /// Standard input, output and error of the entrypoint (valid descriptors).
    int stdin_fd, stdout_fd, stderr_fd;
    /// The root file system, or NULL to run on the host's (still with private /etc and /proc).
    const char *root;
    /// The working directory inside the container ("/" when NULL).
    const char *working_directory;
    /// The UTS host name.
    const char *hostname;
    /// A directory on the host that the container's mount namespace covers with a private tmpfs
    /// to hold its /etc overlay layers (nothing is written to the host's copy).
    const char *scratch_directory;
    /// Files added to /etc.
    const egress_container_file *files;
    size_t file_count;
    /// Host paths hidden from the container (an empty read-only tmpfs over a directory,
    /// /dev/null over a file); only without `root`.
    const char *const *masked_paths;
    size_t masked_count;
} egress_container_spec;

/// A container created by `egress_container_create`, waiting to be released.
typedef struct egress_container {
    /// The host pid of the container's init (pid 1 inside), for logs; signals go through `pidfd`.
    pid_t pid;
    /// A pidfd of init: signals through it never reach another process that reused the pid.
    int pidfd;
    /// init's network namespace, opened right after the clone (`/proc/self/fd/N` reopens it).
    int netns_fd;
    /// Read end: init writes the entrypoint's 4-byte wait status when it ends, then the pipe
    /// closes; end of file without a status means init was killed.
    int status_fd;
    /// This process's end of a socket pair (sent with MSG_NOSIGNAL, so a dead init is EPIPE, not
    /// SIGPIPE): one byte releases init to set up mounts and start the entrypoint.
    int release_fd;
    /// Read end: a failure of set-up or exec arrives here as two ints (step, errno); end of file
    /// without them means the entrypoint was executed.
    int error_fd;
} egress_container;

/// Clones init into new pid, mount, network, UTS and IPC namespaces; it waits for
/// `egress_container_start`. The new network namespace has only a loopback interface, down.
/// Every descriptor of `out` is -1 or open; `egress_container_close` closes them.
/// The clone runs on one long-lived thread of the process, so the container's parent-death
/// signal (SIGKILL) fires only when this process ends.
egress_error egress_container_create(const egress_container_spec *spec, egress_container *out);

/// Releases init and waits until the entrypoint was executed (or set-up failed, reported as the
/// step that failed and its errno; init then exits). Closes `release_fd` and `error_fd`.
egress_error egress_container_start(egress_container *container);

/// Reads the entrypoint's wait status from `status_fd` (blocking); returns 0 and sets `status`,
/// or -1 when init ended without reporting one (killed). Reaps init either way and closes
/// `status_fd`.
int egress_container_wait(egress_container *container, int *status);

/// Sends `sig` to init through its `pidfd` (ESRCH once init has ended, even if reaped).
egress_error egress_container_signal(int pidfd, int sig);

/// Closes every descriptor of `container` that is still open.
void egress_container_close(egress_container *container);

#endif
