package jwtauth

import "github.com/lestrrat-go/jwx/v2/jwk"

// ActiveSigner exposes the private signing key so tests can mint tokens the issuer
// would refuse to make (wrong aud, missing claims, odd headers).
func ActiveSigner(k *Keys) jwk.Key { return k.set.Load().signer }
