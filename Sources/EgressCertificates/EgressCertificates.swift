// The certificate authority and leaf minting.
