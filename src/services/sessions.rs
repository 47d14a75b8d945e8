use chrono::{DateTime, Duration, Utc};
use entity::refresh_token;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use crate::auth::opaque;
use crate::db::Db;
use crate::error::ApiError;

pub const REFRESH_TOKEN_DAYS: i64 = 30;

/// A refresh token as handed to the client, once.
pub struct IssuedRefreshToken {
    pub token: String,
    pub expires_in_seconds: i64,
}

/// Stores a new refresh token of `family_id` for `owner_id`.
async fn insert(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    family_id: Uuid,
    now: DateTime<Utc>,
) -> Result<IssuedRefreshToken, ApiError> {
    let token = opaque::random_token()?;
    let lifetime = Duration::days(REFRESH_TOKEN_DAYS);
    refresh_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        owner_id: Set(owner_id),
        family_id: Set(family_id),
        token_hash: Set(opaque::hash(&token)),
        created_at: Set(now),
        expires_at: Set(now + lifetime),
        used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(conn)
    .await?;
    Ok(IssuedRefreshToken {
        token,
        expires_in_seconds: lifetime.num_seconds(),
    })
}

/// Starts a new family, at login.
pub async fn start(
    db: &Db,
    owner_id: Uuid,
    now: DateTime<Utc>,
) -> Result<IssuedRefreshToken, ApiError> {
    db.write(move |txn| Box::pin(insert(txn, owner_id, Uuid::now_v7(), now)))
        .await
}

/// What exchanging a refresh token came to, once its transaction has committed.
enum Exchange {
    Rotated(Uuid, IssuedRefreshToken),
    /// The token had been used or revoked already: its family is now revoked.
    Reused {
        owner_id: Uuid,
        family_id: Uuid,
    },
}

/// Exchanges a refresh token for a new one of the same family and returns its owner.
///
/// A token that was already exchanged (or revoked) is a sign of theft: its whole family is
/// revoked, so neither the thief nor the victim can continue, and the answer is 401.
pub async fn rotate(
    db: &Db,
    presented: &str,
    now: DateTime<Utc>,
) -> Result<(Uuid, IssuedRefreshToken), ApiError> {
    let presented_hash = opaque::hash(presented);
    let exchange = db
        .write(move |txn| {
            let presented_hash = presented_hash.clone();
            Box::pin(async move {
                let Some(current) = refresh_token::Entity::find()
                    .filter(refresh_token::Column::TokenHash.eq(presented_hash))
                    .one(txn)
                    .await?
                else {
                    return Err(ApiError::invalid_token("The refresh token is not valid."));
                };
                if current.expires_at <= now {
                    return Err(ApiError::invalid_token("The refresh token has expired."));
                }
                // Conditional, so two concurrent exchanges of one token cannot both succeed.
                let claimed = refresh_token::Entity::update_many()
                    .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
                    .filter(refresh_token::Column::Id.eq(current.id))
                    .filter(refresh_token::Column::OwnerId.eq(current.owner_id))
                    .filter(refresh_token::Column::UsedAt.is_null())
                    .filter(refresh_token::Column::RevokedAt.is_null())
                    .exec(txn)
                    .await?;
                if claimed.rows_affected == 0 {
                    // Committed: the revocation stands although the request fails.
                    revoke_family_in(txn, current.family_id, now).await?;
                    return Ok(Exchange::Reused {
                        owner_id: current.owner_id,
                        family_id: current.family_id,
                    });
                }
                let issued = insert(txn, current.owner_id, current.family_id, now).await?;
                Ok(Exchange::Rotated(current.owner_id, issued))
            })
        })
        .await?;
    match exchange {
        Exchange::Rotated(owner_id, issued) => Ok((owner_id, issued)),
        Exchange::Reused {
            owner_id,
            family_id,
        } => {
            tracing::warn!(%owner_id, %family_id, "reused refresh token: family revoked");
            Err(ApiError::invalid_token(
                "The refresh token was already used; every session of this login is revoked.",
            ))
        }
    }
}

/// Revokes the family of `presented` (logout). Unknown tokens are 401.
pub async fn revoke(db: &Db, presented: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
    let Some(current) = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(opaque::hash(presented)))
        .one(db.reader())
        .await?
    else {
        return Err(ApiError::invalid_token("The refresh token is not valid."));
    };
    let family_id = current.family_id;
    db.write(move |txn| Box::pin(revoke_family_in(txn, family_id, now)))
        .await
}

async fn revoke_family_in(
    conn: &impl ConnectionTrait,
    family_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::FamilyId.eq(family_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}
