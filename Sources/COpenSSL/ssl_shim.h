#ifndef EGRESS_COPENSSL_SSL_SHIM_H
#define EGRESS_COPENSSL_SSL_SHIM_H

// Inline wrappers for the libssl macros that Swift cannot import (used by EgressTLS).

#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/ssl.h>
#include <openssl/tls1.h>

// MARK: SSL_CTX configuration

/// The lowest protocol version a context accepts (`TLS1_2_VERSION`, ...); returns 1 on success.
static inline int egress_ssl_ctx_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}

/// Adds `mode` bits (`SSL_MODE_*`) to a context; returns the new mode.
static inline long egress_ssl_ctx_set_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_mode(ctx, mode);
}

/// Options that every Egress context sets: no renegotiation, no TLS compression.
/// (`SSL_OP_*` are built with a shift macro that Swift cannot import.)
static inline void egress_ssl_ctx_set_default_options(SSL_CTX *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
}

/// Appends a certificate to the chain sent after the leaf; up-refs it; returns 1 on success.
static inline int egress_ssl_ctx_add1_chain_cert(SSL_CTX *ctx, X509 *certificate) {
    return (int)SSL_CTX_add1_chain_cert(ctx, certificate);
}

/// Sets the session cache mode (`SSL_SESS_CACHE_*`); returns the previous mode.
static inline long egress_ssl_ctx_set_session_cache_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_session_cache_mode(ctx, mode);
}

/// Bounds the number of sessions a server context keeps in its cache.
static inline long egress_ssl_ctx_sess_set_cache_size(SSL_CTX *ctx, long size) {
    return SSL_CTX_sess_set_cache_size(ctx, size);
}

/// A new index for application data on `SSL` objects (no constructors or destructors).
static inline int egress_ssl_get_ex_new_index(void) {
    return SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

// MARK: per-connection settings

/// Sets the SNI host name a client sends; returns 1 on success.
static inline int egress_ssl_set_tlsext_host_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

// MARK: memory BIOs

/// The number of bytes waiting in a BIO (`BIO_pending` is a macro over `BIO_ctrl`).
static inline size_t egress_bio_pending(BIO *bio) {
    return BIO_ctrl_pending(bio);
}

/// The capacity a memory BIO's buffer has grown to, in bytes (0 if it has none).
static inline size_t egress_bio_mem_capacity(BIO *bio) {
    BUF_MEM *memory = NULL;
    if (BIO_get_mem_ptr(bio, &memory) <= 0 || memory == NULL) {
        return 0;
    }
    return memory->max;
}

#endif
