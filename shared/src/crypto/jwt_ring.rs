//! jsonwebtoken's crypto on *ring*: the one crypto library every binary already links (rustls
//! uses it for TLS).
//!
//! jsonwebtoken 10 parses and validates JWTs itself and asks a process-wide
//! [`CryptoProvider`] for signatures. Its built-in providers are aws-lc-rs (a second, C crypto
//! stack, which `infra/lambda-e2e/tests/one_crypto_stack.rs` keeps out) and RustCrypto (the
//! `rsa` crate with RUSTSEC-2023-0071 open, plus three elliptic-curve crates calbridge never
//! uses: about half a megabyte of every function binary). This module is the provider over
//! ring instead, installed by the Google OAuth adapter before it verifies an id_token.
//!
//! Contract:
//! - RS256, RS384 and RS512 (Google signs id_tokens with RS256), and HS256, HS384 and HS512
//!   (the local stack's stand-in for API Gateway's authorizer mints HS256 tokens in the same
//!   process). Any other algorithm is refused as `InvalidAlgorithm`, and a key of the wrong
//!   family as `InvalidKeyFormat`, so they fail closed instead of reaching a panic. HMAC tags
//!   are compared in constant time (`ring::hmac::verify`).
//! - Verification accepts a key given as modulus and exponent (a JWK, as Google publishes
//!   them) or as an RSA public key in DER; ring requires 2048 to 8192-bit moduli, so a short
//!   key is refused.
//! - Signing (RS*) exists for the emulator when it shares a test process with calbridge: the
//!   provider is process-wide, so the emulator's id_tokens are signed through it then.
//! - Installing is idempotent; if a provider is already installed (a test process in which
//!   the emulator signed first with jsonwebtoken's RustCrypto feature), that one stays.

use jsonwebtoken::crypto::{CryptoProvider, JwkUtils, JwtSigner, JwtVerifier};
use jsonwebtoken::errors::{ErrorKind, Result};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::signature::{Error as SignatureError, Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::hmac;
use ring::signature::{self as ring_signature, RsaEncoding, RsaParameters};

/// The provider; see the module documentation.
pub static RING_PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: signer,
    verifier_factory: verifier,
    jwk_utils: JwkUtils {
        extract_rsa_public_key_components: refuse_der_parsing,
        extract_ec_public_key_coordinates: refuse_ec,
        compute_digest: digest,
    },
};

/// Makes [`RING_PROVIDER`] the process's JWT crypto, unless one was installed before.
pub fn install() {
    // An `Err` names the provider installed before: it stays (see the module contract).
    let _ = RING_PROVIDER.install_default();
}

/// What ring needs for one algorithm.
enum Scheme {
    Rsa(&'static RsaParameters, &'static dyn RsaEncoding),
    Hmac(hmac::Algorithm),
}

fn scheme(algorithm: Algorithm) -> Result<Scheme> {
    use ring_signature::*;
    match algorithm {
        Algorithm::RS256 => Ok(Scheme::Rsa(&RSA_PKCS1_2048_8192_SHA256, &RSA_PKCS1_SHA256)),
        Algorithm::RS384 => Ok(Scheme::Rsa(&RSA_PKCS1_2048_8192_SHA384, &RSA_PKCS1_SHA384)),
        Algorithm::RS512 => Ok(Scheme::Rsa(&RSA_PKCS1_2048_8192_SHA512, &RSA_PKCS1_SHA512)),
        Algorithm::HS256 => Ok(Scheme::Hmac(hmac::HMAC_SHA256)),
        Algorithm::HS384 => Ok(Scheme::Hmac(hmac::HMAC_SHA384)),
        Algorithm::HS512 => Ok(Scheme::Hmac(hmac::HMAC_SHA512)),
        _ => Err(ErrorKind::InvalidAlgorithm.into()),
    }
}

fn verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    let algorithm = *algorithm;
    match scheme(algorithm)? {
        Scheme::Rsa(parameters, _) if key.family() == AlgorithmFamily::Rsa => {
            Ok(Box::new(RsaVerifier { algorithm, parameters, key: key.kind().clone() }))
        }
        Scheme::Hmac(hmac_algorithm) if key.family() == AlgorithmFamily::Hmac => {
            Ok(Box::new(Hmac::new(algorithm, hmac_algorithm, key.try_get_hmac_secret()?)))
        }
        _ => Err(ErrorKind::InvalidKeyFormat.into()),
    }
}

fn signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    let algorithm = *algorithm;
    match scheme(algorithm)? {
        Scheme::Rsa(_, encoding) if key.family() == AlgorithmFamily::Rsa => {
            let pair = ring_signature::RsaKeyPair::from_der(key.inner())
                .or_else(|_| ring_signature::RsaKeyPair::from_pkcs8(key.inner()))
                .map_err(|_| ErrorKind::InvalidRsaKey("not an RSA private key ring accepts".to_owned()))?;
            Ok(Box::new(RsaSigner { algorithm, encoding, pair }))
        }
        Scheme::Hmac(hmac_algorithm) if key.family() == AlgorithmFamily::Hmac => {
            Ok(Box::new(Hmac::new(algorithm, hmac_algorithm, key.try_get_hmac_secret()?)))
        }
        _ => Err(ErrorKind::InvalidKeyFormat.into()),
    }
}

fn refuse_der_parsing(_: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    Err(ErrorKind::InvalidKeyFormat.into())
}

fn refuse_ec(_: &[u8], _: Algorithm) -> Result<(EllipticCurve, Vec<u8>, Vec<u8>)> {
    Err(ErrorKind::InvalidAlgorithm.into())
}

fn digest(bytes: &[u8], hash: ThumbprintHash) -> Vec<u8> {
    let algorithm = match hash {
        ThumbprintHash::SHA256 => &ring::digest::SHA256,
        ThumbprintHash::SHA384 => &ring::digest::SHA384,
        ThumbprintHash::SHA512 => &ring::digest::SHA512,
    };
    ring::digest::digest(algorithm, bytes).as_ref().to_vec()
}

struct RsaVerifier {
    algorithm: Algorithm,
    parameters: &'static RsaParameters,
    key: DecodingKeyKind,
}

impl Verifier<Vec<u8>> for RsaVerifier {
    fn verify(&self, message: &[u8], signature: &Vec<u8>) -> std::result::Result<(), SignatureError> {
        let verified = match &self.key {
            DecodingKeyKind::RsaModulusExponent { n, e } => {
                ring_signature::RsaPublicKeyComponents { n, e }.verify(self.parameters, message, signature)
            }
            DecodingKeyKind::SecretOrDer(der) => {
                ring_signature::UnparsedPublicKey::new(self.parameters, der).verify(message, signature)
            }
        };
        verified.map_err(|_| SignatureError::new())
    }
}

impl JwtVerifier for RsaVerifier {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

struct RsaSigner {
    algorithm: Algorithm,
    encoding: &'static dyn RsaEncoding,
    pair: ring_signature::RsaKeyPair,
}

impl Signer<Vec<u8>> for RsaSigner {
    fn try_sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, SignatureError> {
        let mut signature = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(self.encoding, &ring::rand::SystemRandom::new(), message, &mut signature)
            .map_err(|_| SignatureError::new())?;
        Ok(signature)
    }
}

impl JwtSigner for RsaSigner {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

/// An HS* key: signs, and verifies in constant time.
struct Hmac {
    algorithm: Algorithm,
    key: hmac::Key,
}

impl Hmac {
    fn new(algorithm: Algorithm, hmac_algorithm: hmac::Algorithm, secret: &[u8]) -> Self {
        Self { algorithm, key: hmac::Key::new(hmac_algorithm, secret) }
    }
}

impl Signer<Vec<u8>> for Hmac {
    fn try_sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, SignatureError> {
        Ok(hmac::sign(&self.key, message).as_ref().to_vec())
    }
}

impl Verifier<Vec<u8>> for Hmac {
    fn verify(&self, message: &[u8], signature: &Vec<u8>) -> std::result::Result<(), SignatureError> {
        hmac::verify(&self.key, message, signature).map_err(|_| SignatureError::new())
    }
}

impl JwtSigner for Hmac {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

impl JwtVerifier for Hmac {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use ring::signature::KeyPair as _;

    use super::*;

    /// ring cannot generate RSA keys, so the tests use the emulator's committed test-only key
    /// (`infra/google-emulator/src/keys`, PKCS#1), as DER.
    fn test_key_der() -> Vec<u8> {
        let pem = include_str!("../../../infra/google-emulator/src/keys/emulator_signing_key.pem");
        let body: String = pem.lines().filter(|line| !line.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD.decode(body).expect("PEM body is base64")
    }

    fn components(der: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let pair = ring_signature::RsaKeyPair::from_der(der).unwrap();
        let public = pair.public_key();
        let parsed: ring_signature::RsaPublicKeyComponents<Vec<u8>> = public.into();
        (parsed.n, parsed.e)
    }

    fn sign(algorithm: Algorithm, message: &[u8]) -> Vec<u8> {
        signer(&algorithm, &EncodingKey::from_rsa_der(&test_key_der())).unwrap().try_sign(message).unwrap()
    }

    #[test]
    fn verifies_what_the_key_signed_and_nothing_else() {
        let (n, e) = components(&test_key_der());
        let key = DecodingKey::from_rsa_raw_components(&n, &e);
        let verifier = verifier(&Algorithm::RS256, &key).unwrap();
        let signature = sign(Algorithm::RS256, b"header.payload");

        assert!(verifier.verify(b"header.payload", &signature).is_ok());
        assert!(verifier.verify(b"header.payloaD", &signature).is_err(), "another message");
        let mut flipped = signature.clone();
        flipped[10] ^= 1;
        assert!(verifier.verify(b"header.payload", &flipped).is_err(), "a changed signature");
        let rs512 = sign(Algorithm::RS512, b"header.payload");
        assert!(verifier.verify(b"header.payload", &rs512).is_err(), "another hash");
    }

    #[test]
    fn other_algorithms_and_key_families_are_refused_not_panicked_on() {
        let (n, e) = components(&test_key_der());
        let rsa_key = DecodingKey::from_rsa_raw_components(&n, &e);
        for algorithm in [Algorithm::HS256, Algorithm::ES256, Algorithm::PS256, Algorithm::EdDSA] {
            assert!(verifier(&algorithm, &rsa_key).is_err(), "{algorithm:?}");
        }
        assert!(verifier(&Algorithm::RS256, &DecodingKey::from_secret(b"shared secret")).is_err());
        assert!(signer(&Algorithm::HS256, &EncodingKey::from_rsa_der(&test_key_der())).is_err());
        assert!(signer(&Algorithm::RS256, &EncodingKey::from_rsa_der(b"not a key")).is_err());
        assert!(refuse_der_parsing(b"anything").is_err());
    }

    #[test]
    fn hmac_tags_verify_with_the_same_secret_only() {
        let tag = signer(&Algorithm::HS256, &EncodingKey::from_secret(b"k1")).unwrap().try_sign(b"m").unwrap();
        assert_eq!(tag.len(), 32);
        assert!(verifier(&Algorithm::HS256, &DecodingKey::from_secret(b"k1")).unwrap().verify(b"m", &tag).is_ok());
        assert!(verifier(&Algorithm::HS256, &DecodingKey::from_secret(b"k2")).unwrap().verify(b"m", &tag).is_err());
        assert!(verifier(&Algorithm::HS384, &DecodingKey::from_secret(b"k1")).unwrap().verify(b"m", &tag).is_err());
    }

    #[test]
    fn a_whole_id_token_round_trips_through_jsonwebtoken_on_ring() {
        install();
        let claims = serde_json::json!({"sub": "1", "aud": "client", "iss": "https://accounts.google.com", "exp": 4_000_000_000u64});
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::RS256),
            &claims,
            &EncodingKey::from_rsa_der(&test_key_der()),
        )
        .unwrap();
        let (n, e) = components(&test_key_der());
        let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
        validation.set_audience(&["client"]);
        let key = DecodingKey::from_rsa_raw_components(&n, &e);
        let decoded = jsonwebtoken::decode::<serde_json::Value>(&token, &key, &validation).unwrap();
        assert_eq!(decoded.claims["sub"], "1");
        let mut tampered = token.clone();
        tampered.insert(tampered.find('.').unwrap() + 2, 'x');
        assert!(jsonwebtoken::decode::<serde_json::Value>(&tampered, &key, &validation).is_err());
    }

    #[test]
    fn a_short_modulus_is_refused() {
        // 1024 bits: below ring's 2048-bit floor.
        let key = DecodingKey::from_rsa_raw_components(&[0xC1; 128], &[1, 0, 1]);
        let verifier = verifier(&Algorithm::RS256, &key).unwrap();
        assert!(verifier.verify(b"m", &vec![0; 128]).is_err());
    }

    #[test]
    fn thumbprint_digests_are_the_named_hashes() {
        assert_eq!(digest(b"abc", ThumbprintHash::SHA256).len(), 32);
        assert_eq!(digest(b"abc", ThumbprintHash::SHA384).len(), 48);
        assert_eq!(digest(b"abc", ThumbprintHash::SHA512).len(), 64);
        assert_eq!(
            digest(b"abc", ThumbprintHash::SHA256)[..4],
            [0xba, 0x78, 0x16, 0xbf],
            "SHA-256 of \"abc\" (FIPS 180-2)"
        );
    }
}
