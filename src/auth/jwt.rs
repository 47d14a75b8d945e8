//! Access tokens: HS256 JWTs, 15 minutes, validated with a pinned algorithm, issuer and audience.

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::Secret;

pub const ISSUER: &str = "rapport";
pub const AUDIENCE: &str = "rapport-api";
pub const ACCESS_TOKEN_SECONDS: i64 = 15 * 60;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    pub jti: Uuid,
    /// Not before: never set by this server, but honoured when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
}

/// How far ahead of this server's clock a token's `iat` may be: clocks of instances drift a
/// little; a token from further in the future was not issued by any of them.
const IAT_LEEWAY_SECONDS: i64 = 60;

/// Signing and verification keys built once from the configured secret.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl JwtKeys {
    pub fn new(secret: &Secret) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);
        validation.leeway = 5;
        validation.validate_nbf = true;
        Self {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
        }
    }

    /// An access token for `user_id` issued at `now`.
    pub fn issue(&self, user_id: Uuid, now: DateTime<Utc>) -> anyhow::Result<String> {
        let claims = Claims {
            sub: user_id,
            iat: now.timestamp(),
            exp: now.timestamp() + ACCESS_TOKEN_SECONDS,
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            jti: Uuid::now_v7(),
            nbf: None,
        };
        Ok(encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// The claims of a valid, unexpired token signed with this secret, already valid (`nbf`)
    /// and not issued in the future (`iat`); `None` otherwise.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let claims = decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()?
            .claims;
        (claims.iat <= Utc::now().timestamp() + IAT_LEEWAY_SECONDS).then_some(claims)
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    fn keys(secret: &str) -> JwtKeys {
        JwtKeys::new(&Secret::new(secret.repeat(40)))
    }

    /// Also proves exactly one crypto backend is enabled: none or both panics here.
    #[test]
    fn issued_tokens_verify_with_the_same_secret_only() {
        let user = Uuid::now_v7();
        let token = keys("a").issue(user, Utc::now()).unwrap();
        let claims = keys("a").verify(&token).unwrap();
        assert_eq!(claims.sub, user);
        assert_eq!(claims.exp - claims.iat, ACCESS_TOKEN_SECONDS);
        assert!(keys("b").verify(&token).is_none());
    }

    #[test]
    fn expired_tokens_are_refused() {
        let issued = Utc::now() - chrono::Duration::minutes(16);
        let token = keys("a").issue(Uuid::now_v7(), issued).unwrap();
        assert!(keys("a").verify(&token).is_none());
    }

    #[test]
    fn unsigned_alg_none_tokens_are_refused() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let now = Utc::now().timestamp();
        let claims = serde_json::json!({
            "sub": Uuid::now_v7(), "iat": now, "exp": now + 600, "iss": ISSUER, "aud": AUDIENCE,
            "jti": Uuid::now_v7()
        });
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        assert!(keys("a").verify(&format!("{header}.{payload}.")).is_none());
    }

    fn signed(claims: &serde_json::Value) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret("a".repeat(40).as_bytes()),
        )
        .unwrap()
    }

    #[test]
    fn tokens_not_yet_valid_or_issued_in_the_future_are_refused() {
        let now = Utc::now().timestamp();
        let claims = |iat: i64, nbf: Option<i64>| {
            let mut claims = serde_json::json!({
                "sub": Uuid::now_v7(), "iat": iat, "exp": now + 600, "iss": ISSUER,
                "aud": AUDIENCE, "jti": Uuid::now_v7()
            });
            if let Some(nbf) = nbf {
                claims["nbf"] = nbf.into();
            }
            signed(&claims)
        };
        assert!(keys("a").verify(&claims(now, None)).is_some());
        assert!(
            keys("a").verify(&claims(now + 30, None)).is_some(),
            "within the leeway"
        );
        assert!(
            keys("a").verify(&claims(now + 300, None)).is_none(),
            "iat ahead"
        );
        assert!(
            keys("a").verify(&claims(now, Some(now + 300))).is_none(),
            "nbf ahead"
        );
        assert!(keys("a").verify(&claims(now, Some(now - 10))).is_some());
    }

    #[test]
    fn wrong_issuer_or_audience_is_refused() {
        let secret = "a".repeat(40);
        let now = Utc::now().timestamp();
        for (iss, aud) in [("someone-else", AUDIENCE), (ISSUER, "another-api")] {
            let claims = serde_json::json!({
                "sub": Uuid::now_v7(), "iat": now, "exp": now + 600, "iss": iss, "aud": aud,
                "jti": Uuid::now_v7()
            });
            let token = encode(
                &Header::new(Algorithm::HS256),
                &claims,
                &EncodingKey::from_secret(secret.as_bytes()),
            )
            .unwrap();
            assert!(keys("a").verify(&token).is_none(), "{iss} {aud}");
        }
    }
}
