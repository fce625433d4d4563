#ifndef EGRESS_COPENSSL_SHIM_H
#define EGRESS_COPENSSL_SHIM_H

// The OpenSSL headers Egress uses, plus inline wrappers for the macros (and variadic functions)
// that Swift cannot import. Certificate helpers live here; TLS helpers live in ssl_shim.h.

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/// A new ECDSA key on the P-256 curve (`EVP_EC_gen` is a variadic macro).
static inline EVP_PKEY *egress_generate_p256_key(void) {
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

/// `OPENSSL_free` is a macro that passes the caller's file and line.
static inline void egress_openssl_free(void *pointer) {
    OPENSSL_free(pointer);
}

/// The bytes held by a memory BIO (`BIO_get_mem_data` is a macro over `BIO_ctrl`).
static inline long egress_bio_mem_data(BIO *bio, char **data) {
    return BIO_get_mem_data(bio, data);
}

/// An empty list of general names (the `sk_GENERAL_NAME_*` family are macros).
static inline GENERAL_NAMES *egress_general_names_new(void) {
    return sk_GENERAL_NAME_new_null();
}

/// Appends `name` to `names`, which takes ownership of it on success (returns > 0).
static inline int egress_general_names_push(GENERAL_NAMES *names, GENERAL_NAME *name) {
    return sk_GENERAL_NAME_push(names, name);
}

/// Frees `names` and every name it holds.
static inline void egress_general_names_free(GENERAL_NAMES *names) {
    sk_GENERAL_NAME_pop_free(names, GENERAL_NAME_free);
}

/// Sets the subject public key of `certificate` to an EC point that is already encoded (X9.62
/// uncompressed, as `EVP_PKEY_get1_encoded_public_key` gives it) on the named curve `curve_nid`.
/// Unlike `X509_set_pubkey`, this does not run OpenSSL 3's encoder look-up, which costs hundreds
/// of microseconds per certificate. Returns 1 on success.
static inline int egress_x509_set_encoded_ec_public_key(X509 *certificate, int curve_nid,
                                                        const unsigned char *point, int length) {
    unsigned char *copy = OPENSSL_memdup(point, length);
    if (copy == NULL) return 0;
    if (!X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(certificate), OBJ_nid2obj(NID_X9_62_id_ecPublicKey),
                                V_ASN1_OBJECT, OBJ_nid2obj(curve_nid), copy, length)) {
        OPENSSL_free(copy);
        return 0;
    }
    return 1;
}

/// The flags for printing a name in RFC 2253 form (`XN_FLAG_RFC2253` is a composite macro).
static inline unsigned long egress_name_flags_rfc2253(void) {
    return XN_FLAG_RFC2253;
}

#include "ssl_shim.h"

#endif
