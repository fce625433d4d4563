// Socket calls: error texts, addresses, original destinations, socket options.
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "CEgressLinux.h"

const char *egress_error_text(int code) {
    // strerrordesc_np returns static text and, unlike strerror, never touches shared buffers.
    const char *text = strerrordesc_np(code);
    return text != NULL ? text : "Unknown error";
}

// Not every libc header set declares these: the values are fixed by the kernel ABI
// (<linux/netfilter_ipv4.h>, <linux/netfilter_ipv6/ip6_tables.h>, <linux/in.h>, <linux/in6.h>).
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif
#ifndef IP_TRANSPARENT
#define IP_TRANSPARENT 19
#endif
#ifndef IPV6_TRANSPARENT
#define IPV6_TRANSPARENT 75
#endif

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

egress_error egress_endpoint_from_sockaddr(const struct sockaddr *address, socklen_t length,
                                           egress_endpoint *out) {
    if (length < (socklen_t)sizeof(sa_family_t)) return egress_fail("sockaddr", EINVAL);
    memset(out, 0, sizeof(*out));
    if (address->sa_family == AF_INET) {
        if (length < (socklen_t)sizeof(struct sockaddr_in)) return egress_fail("sockaddr_in", EINVAL);
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)address;
        out->family = AF_INET;
        memcpy(out->address, &v4->sin_addr, 4);
        out->port = ntohs(v4->sin_port);
        return egress_ok();
    }
    if (address->sa_family == AF_INET6) {
        if (length < (socklen_t)sizeof(struct sockaddr_in6)) return egress_fail("sockaddr_in6", EINVAL);
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)address;
        out->port = ntohs(v6->sin6_port);
        if (memcmp(v6->sin6_addr.s6_addr, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0) {
            out->family = AF_INET;
            memcpy(out->address, v6->sin6_addr.s6_addr + 12, 4);
        } else {
            out->family = AF_INET6;
            memcpy(out->address, v6->sin6_addr.s6_addr, 16);
        }
        return egress_ok();
    }
    return egress_fail("sockaddr", EAFNOSUPPORT);
}

egress_error egress_endpoint_to_sockaddr(const egress_endpoint *endpoint, struct sockaddr_storage *out,
                                         socklen_t *length) {
    memset(out, 0, sizeof(*out));
    if (endpoint->family == AF_INET) {
        struct sockaddr_in *v4 = (struct sockaddr_in *)out;
        v4->sin_family = AF_INET;
        v4->sin_port = htons(endpoint->port);
        memcpy(&v4->sin_addr, endpoint->address, 4);
        *length = sizeof(*v4);
        return egress_ok();
    }
    if (endpoint->family == AF_INET6) {
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(endpoint->port);
        memcpy(v6->sin6_addr.s6_addr, endpoint->address, 16);
        *length = sizeof(*v6);
        return egress_ok();
    }
    return egress_fail("sockaddr", EAFNOSUPPORT);
}

egress_error egress_local_endpoint(int fd, egress_endpoint *out) {
    struct sockaddr_storage address;
    socklen_t length = sizeof(address);
    if (getsockname(fd, (struct sockaddr *)&address, &length) != 0) return egress_fail("getsockname", errno);
    return egress_endpoint_from_sockaddr((const struct sockaddr *)&address, length, out);
}

egress_error egress_peer_endpoint(int fd, egress_endpoint *out) {
    struct sockaddr_storage address;
    socklen_t length = sizeof(address);
    if (getpeername(fd, (struct sockaddr *)&address, &length) != 0) return egress_fail("getpeername", errno);
    return egress_endpoint_from_sockaddr((const struct sockaddr *)&address, length, out);
}

egress_error egress_original_destination(int fd, egress_endpoint *out) {
    // The local address tells which table translated the connection: an IPv6 socket that
    // accepted an IPv4 connection has an IPv4-mapped local address and an IPv4 conntrack entry.
    egress_endpoint local;
    egress_error error = egress_local_endpoint(fd, &local);
    if (error.code != 0) return error;

    struct sockaddr_storage address;
    socklen_t length = sizeof(address);
    memset(&address, 0, sizeof(address));
    if (local.family == AF_INET) {
        if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &address, &length) != 0) {
            return egress_fail("getsockopt(SO_ORIGINAL_DST)", errno);
        }
    } else if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &address, &length) != 0) {
        return egress_fail("getsockopt(IP6T_SO_ORIGINAL_DST)", errno);
    }
    return egress_endpoint_from_sockaddr((const struct sockaddr *)&address, length, out);
}

egress_error egress_set_mark(int fd, uint32_t mark) {
    if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) != 0) return egress_fail("setsockopt(SO_MARK)", errno);
    return egress_ok();
}

egress_error egress_get_mark(int fd, uint32_t *mark) {
    socklen_t length = sizeof(*mark);
    if (getsockopt(fd, SOL_SOCKET, SO_MARK, mark, &length) != 0) return egress_fail("getsockopt(SO_MARK)", errno);
    return egress_ok();
}

egress_error egress_socket_family(int fd, int *family) {
    socklen_t length = sizeof(*family);
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, family, &length) != 0) return egress_fail("getsockopt(SO_DOMAIN)", errno);
    return egress_ok();
}

egress_error egress_set_transparent(int fd, int enabled) {
    int family = 0;
    egress_error error = egress_socket_family(fd, &family);
    if (error.code != 0) return error;
    int value = enabled ? 1 : 0;
    if (family == AF_INET6) {
        if (setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &value, sizeof(value)) != 0) {
            return egress_fail("setsockopt(IPV6_TRANSPARENT)", errno);
        }
    } else if (family == AF_INET) {
        if (setsockopt(fd, SOL_IP, IP_TRANSPARENT, &value, sizeof(value)) != 0) {
            return egress_fail("setsockopt(IP_TRANSPARENT)", errno);
        }
    } else {
        return egress_fail("setsockopt(IP_TRANSPARENT)", EAFNOSUPPORT);
    }
    return egress_ok();
}

egress_error egress_get_transparent(int fd, int *enabled) {
    int family = 0;
    egress_error error = egress_socket_family(fd, &family);
    if (error.code != 0) return error;
    int value = 0;
    socklen_t length = sizeof(value);
    if (family == AF_INET6) {
        if (getsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &value, &length) != 0) {
            return egress_fail("getsockopt(IPV6_TRANSPARENT)", errno);
        }
    } else if (family == AF_INET) {
        if (getsockopt(fd, SOL_IP, IP_TRANSPARENT, &value, &length) != 0) {
            return egress_fail("getsockopt(IP_TRANSPARENT)", errno);
        }
    } else {
        return egress_fail("getsockopt(IP_TRANSPARENT)", EAFNOSUPPORT);
    }
    *enabled = value != 0;
    return egress_ok();
}

int egress_is_local_address(const egress_endpoint *address) {
    egress_endpoint probe = *address;
    probe.port = 0;
    struct sockaddr_storage storage;
    socklen_t length = 0;
    if (egress_endpoint_to_sockaddr(&probe, &storage, &length).code != 0) return 0;
    int fd = socket(probe.family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    int bound = bind(fd, (const struct sockaddr *)&storage, length);
    close(fd);
    return bound == 0;
}
