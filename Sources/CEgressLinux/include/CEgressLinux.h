// CEgressLinux: the Linux system calls Egress makes from C.
//
// - original destinations of redirected connections (SO_ORIGINAL_DST, IP6T_SO_ORIGINAL_DST) and
//   local addresses of TPROXY'd ones;
// - socket options for upstream and listening sockets (SO_MARK, IP_TRANSPARENT);
// - sockets made inside another network namespace by a short-lived thread (setns);
// - the splice(2) relay engine for pass-through connections (egress_splice_relay.h).
//
// Every call that can fail returns an `egress_error`: the errno value and the name of the
// system call that failed, so the Swift layer can say exactly what went wrong.
#ifndef C_EGRESS_LINUX_H
#define C_EGRESS_LINUX_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>

// MARK: Errors

/// The outcome of a call: `code` is 0 on success, otherwise the errno value, and `operation`
/// names the system call (or step) that failed. `operation` always points to a string literal.
typedef struct egress_error {
    int code;
    const char *operation;
} egress_error;

/// The success value.
static inline egress_error egress_ok(void) {
    egress_error ok = {0, "ok"};
    return ok;
}

/// An error for `operation` with `code`.
static inline egress_error egress_fail(const char *operation, int code) {
    egress_error error = {code, operation};
    return error;
}

/// The text for an errno value ("Connection reset by peer"); thread-safe, never NULL.
const char *egress_error_text(int code);

// MARK: Addresses and original destinations

/// An IP address and TCP port, independent of `struct sockaddr`'s layouts.
typedef struct egress_endpoint {
    /// AF_INET or AF_INET6.
    int family;
    /// The address in network byte order; AF_INET uses the first 4 bytes.
    uint8_t address[16];
    /// The port in host byte order.
    uint16_t port;
} egress_endpoint;

/// Reads a `sockaddr_in` or `sockaddr_in6` of `length` bytes into `out`. An IPv4-mapped IPv6
/// address (::ffff:a.b.c.d) becomes the IPv4 address. Fails with EAFNOSUPPORT for other families
/// and EINVAL for a short buffer.
egress_error egress_endpoint_from_sockaddr(const struct sockaddr *address, socklen_t length,
                                           egress_endpoint *out);

/// Writes `endpoint` as a `sockaddr_in` or `sockaddr_in6` into `out` and its size into `length`.
egress_error egress_endpoint_to_sockaddr(const egress_endpoint *endpoint, struct sockaddr_storage *out,
                                         socklen_t *length);

/// The destination a connection had before iptables REDIRECT (or DNAT) rewrote it:
/// `getsockopt(SOL_IP, SO_ORIGINAL_DST)` for IPv4 (also on an IPv6 socket that accepted an
/// IPv4 connection) and `getsockopt(SOL_IPV6, IP6T_SO_ORIGINAL_DST)` for IPv6. Fails with
/// ENOENT when the connection was not translated by netfilter.
egress_error egress_original_destination(int fd, egress_endpoint *out);

/// The socket's local address (`getsockname`): the original destination of a connection that a
/// TPROXY rule delivered to a transparent listener.
egress_error egress_local_endpoint(int fd, egress_endpoint *out);

/// The socket's peer address (`getpeername`).
egress_error egress_peer_endpoint(int fd, egress_endpoint *out);

// MARK: Socket options

/// Sets SO_MARK (needs CAP_NET_ADMIN): the mark iptables' `-m mark` matches, so a proxy's own
/// upstream connections can be excluded from redirection.
egress_error egress_set_mark(int fd, uint32_t mark);

/// Reads SO_MARK.
egress_error egress_get_mark(int fd, uint32_t *mark);

/// Sets IP_TRANSPARENT (AF_INET) or IPV6_TRANSPARENT (AF_INET6, which also covers IPv4 on a
/// dual-stack socket); needs CAP_NET_ADMIN. The socket's family is read with SO_DOMAIN.
egress_error egress_set_transparent(int fd, int enabled);

/// Reads IP_TRANSPARENT / IPV6_TRANSPARENT into `enabled` (0 or 1).
egress_error egress_get_transparent(int fd, int *enabled);

/// Whether `address` is an address of this network namespace (a bind to it, port 0, works):
/// 1 if so, 0 if not or if that cannot be told.
int egress_is_local_address(const egress_endpoint *address);

/// The socket's address family (SO_DOMAIN).
egress_error egress_socket_family(int fd, int *family);

// MARK: Sockets in other network namespaces

/// How a listener is made.
typedef struct egress_listener_options {
    /// The backlog for listen(2).
    int backlog;
    /// Nonzero: IP_TRANSPARENT / IPV6_TRANSPARENT, for TPROXY.
    int transparent;
    /// Nonzero: IPV6_V6ONLY on an AF_INET6 listener; zero makes `::` accept IPv4 too.
    int ipv6_only;
} egress_listener_options;

/// Makes a listening TCP socket inside the network namespace at `namespace_path`
/// (`/run/netns/NAME`, `/proc/PID/ns/net`), bound to `address`: non-blocking, close-on-exec,
/// SO_REUSEADDR. The work runs on a new thread that enters the namespace with setns(2) and ends
/// afterwards; the calling thread's namespace never changes. The socket stays in the namespace
/// for its whole life, whichever thread or process uses it.
egress_error egress_listener_in_namespace(const char *namespace_path, const egress_endpoint *address,
                                          const egress_listener_options *options, int *fd_out);

/// Makes an unconnected, non-blocking, close-on-exec TCP socket of `family` (AF_INET or
/// AF_INET6) inside the network namespace at `namespace_path`, the same way.
egress_error egress_socket_in_namespace(const char *namespace_path, int family, int *fd_out);

/// Makes a non-blocking, close-on-exec UDP socket bound to `address` inside the namespace at
/// `namespace_path` (IPV6_V6ONLY for an IPv6 address), the same way.
egress_error egress_datagram_socket_in_namespace(const char *namespace_path, const egress_endpoint *address,
                                                 int *fd_out);

/// Makes a non-blocking, close-on-exec TCP socket inside the namespace at `namespace_path` and
/// connects it to `address` (reached through that namespace), waiting up to `timeout_ms`
/// (ETIMEDOUT after), the same way.
egress_error egress_connected_socket_in_namespace(const char *namespace_path, const egress_endpoint *address,
                                                  int timeout_ms, int *fd_out);

// MARK: Starting processes

/// Starts the program at `path` with `argv` (NULL-terminated; argv[0] included) and `envp`
/// (NULL-terminated, or NULL to inherit this process's environment). Its standard input, output
/// and error are `stdin_fd`, `stdout_fd` and `stderr_fd` (-1: /dev/null); every other descriptor
/// is closed in the child, and its signal mask and dispositions are reset to the defaults (a
/// test runner's blocked signals are not inherited). Uses posix_spawn: nothing runs between fork
/// and exec, so it is safe from any thread.
egress_error egress_spawn(const char *path, char *const argv[], char *const envp[], int stdin_fd, int stdout_fd,
                          int stderr_fd, pid_t *pid_out);

// MARK: Taking sockets over

/// Close-on-exec duplicates of the `count` sockets whose SO_COOKIEs are `cookies`, in that order,
/// found in one scan of /proc/self/fd (cost: one getsockopt per open descriptor; a relayed pair
/// costs one scan, not two). For taking connections out of an event loop that does not hand out
/// its descriptors. All or nothing: on failure (ENOENT if a cookie has no socket, EINVAL for a
/// repeated cookie or a count of 0 or more than 8) no duplicate is left open and `fds_out` is
/// untouched.
egress_error egress_duplicate_sockets_with_cookies(const uint64_t *cookies, size_t count, int *fds_out);

#include "egress_splice_relay.h"
#include "egress_container.h"

#endif
