use chrono::{DateTime, Duration, Utc};
use entity::{personal_token, user};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use crate::auth::{Owner, Scope, opaque};
use crate::db::Db;
use crate::error::ApiError;
use crate::services::PageRequest;

/// A personal access token as stored (its secret only as a hash).
pub type PersonalToken = personal_token::Model;

/// A token's id, owner, scopes, `last_used_at`, `expires_at`, and the owner's time zone.
type TokenOwner = (
    Uuid,
    Uuid,
    String,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    String,
);

/// `last_used_at` is refreshed at most this often per token.
const LAST_USED_RESOLUTION: Duration = Duration::minutes(1);

pub struct NewPersonalToken {
    pub name: String,
    pub scopes: Vec<Scope>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Creates a token and returns it with its secret, which is never available again.
pub async fn create(
    db: &Db,
    owner_id: Uuid,
    new: NewPersonalToken,
    now: DateTime<Utc>,
) -> Result<(personal_token::Model, String), ApiError> {
    let secret = format!(
        "{}{}",
        opaque::PERSONAL_TOKEN_PREFIX,
        opaque::random_token()?
    );
    let model = personal_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        owner_id: Set(owner_id),
        name: Set(new.name),
        token_hash: Set(opaque::hash(&secret)),
        scopes: Set(Scope::join(&new.scopes)),
        created_at: Set(now),
        last_used_at: Set(None),
        expires_at: Set(new.expires_at),
    };
    let model = db
        .write(move |txn| {
            let model = model.clone();
            Box::pin(async move { Ok(model.insert(txn).await?) })
        })
        .await?;
    Ok((model, secret))
}

/// One page of the owner's tokens, oldest first, and whether more follow.
pub async fn list(
    db: &Db,
    owner_id: Uuid,
    page: &PageRequest,
) -> Result<(Vec<personal_token::Model>, bool), ApiError> {
    let mut query = personal_token::Entity::find()
        .filter(personal_token::Column::OwnerId.eq(owner_id))
        .order_by_asc(personal_token::Column::Id)
        .limit(page.limit + 1);
    if let Some(after) = page.after {
        query = query.filter(personal_token::Column::Id.gt(after));
    }
    let mut rows = query.all(db.reader()).await?;
    let has_more = rows.len() as u64 > page.limit;
    rows.truncate(page.limit as usize);
    Ok((rows, has_more))
}

/// One of the owner's tokens; 404 when it is not theirs.
pub async fn find(
    db: &Db,
    owner_id: Uuid,
    token_id: Uuid,
) -> Result<personal_token::Model, ApiError> {
    personal_token::Entity::find_by_id((owner_id, token_id))
        .one(db.reader())
        .await?
        .ok_or_else(ApiError::not_found)
}

/// Revokes (deletes) one of the owner's tokens; 404 when it is not theirs.
pub async fn delete(db: &Db, owner_id: Uuid, token_id: Uuid) -> Result<(), ApiError> {
    db.write(move |txn| {
        Box::pin(async move {
            let result = personal_token::Entity::delete_many()
                .filter(personal_token::Column::Id.eq(token_id))
                .filter(personal_token::Column::OwnerId.eq(owner_id))
                .exec(txn)
                .await?;
            if result.rows_affected == 0 {
                return Err(ApiError::not_found());
            }
            Ok(())
        })
    })
    .await
}

/// The owner of a valid, unexpired personal token; `None` for anything else.
pub async fn authenticate(
    db: &Db,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<Option<Owner>, ApiError> {
    use personal_token::Column as T;

    // The owner's time zone comes with the token, saving the request a statement.
    let found: Option<TokenOwner> = personal_token::Entity::find()
        .select_only()
        .columns([T::Id, T::OwnerId, T::Scopes, T::LastUsedAt, T::ExpiresAt])
        .column(user::Column::TimeZone)
        .inner_join(user::Entity)
        .filter(T::TokenHash.eq(opaque::hash(secret)))
        .into_tuple()
        .one(db.reader())
        .await?;
    let Some((id, owner_id, scopes, last_used_at, expires_at, time_zone)) = found else {
        return Ok(None);
    };
    if expires_at.is_some_and(|at| at <= now) {
        return Ok(None);
    }
    let stale = last_used_at.is_none_or(|at| now - at >= LAST_USED_RESOLUTION);
    if stale {
        db.write(move |txn| {
            Box::pin(async move {
                personal_token::Entity::update_many()
                    .col_expr(T::LastUsedAt, Expr::value(now))
                    .filter(T::Id.eq(id))
                    .filter(T::OwnerId.eq(owner_id))
                    .exec(txn)
                    .await?;
                Ok(())
            })
        })
        .await?;
    }
    Ok(Some(Owner {
        user_id: owner_id,
        scopes: Scope::split(&scopes),
        time_zone,
        personal_token: true,
    }))
}
