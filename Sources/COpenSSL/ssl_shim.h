#ifndef EGRESS_COPENSSL_SSL_SHIM_H
#define EGRESS_COPENSSL_SSL_SHIM_H

// Inline wrappers for the libssl macros that Swift cannot import (used by EgressTLS).

#include <openssl/ssl.h>

#endif
