use chrono::{DateTime, Utc};
use std::sync::Arc;

use entity::{personal_token, refresh_token, user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect, Set,
};
use uuid::Uuid;

use crate::db::Db;
use crate::error::{ApiError, ProblemCode};

/// An account as stored.
pub type User = user::Model;

pub struct NewAccount {
    pub email: String,
    pub password_hash: String,
    pub display_name: String,
    pub time_zone: String,
}

/// Creates an account; 409 `email_taken` when the (lower-cased) email is in use.
pub async fn register(
    db: &Db,
    account: NewAccount,
    now: DateTime<Utc>,
) -> Result<user::Model, ApiError> {
    let model = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(account.email),
        password_hash: Set(account.password_hash),
        display_name: Set(account.display_name),
        time_zone: Set(account.time_zone),
        weekly_conversation_goal: Set(0),
        weekly_new_people_goal: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
    };
    db.write(move |txn| {
        let model = model.clone();
        Box::pin(async move {
            model.insert(txn).await.map_err(|err| {
                if super::is_unique_violation(&err) {
                    ApiError::new(
                        ProblemCode::EmailTaken,
                        "An account with this email already exists.",
                    )
                } else {
                    err.into()
                }
            })
        })
    })
    .await
}

pub async fn find_by_email(db: &Db, email: &str) -> Result<Option<user::Model>, ApiError> {
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(db.reader())
        .await?)
}

pub async fn find(db: &Db, user_id: Uuid) -> Result<Option<user::Model>, ApiError> {
    Ok(user::Entity::find_by_id(user_id).one(db.reader()).await?)
}

/// The time zone of an account; `None` when the account does not exist.
pub async fn time_zone(db: &Db, user_id: Uuid) -> Result<Option<String>, ApiError> {
    Ok(user::Entity::find_by_id(user_id)
        .select_only()
        .column(user::Column::TimeZone)
        .into_tuple::<String>()
        .one(db.reader())
        .await?)
}

/// Fields of `PATCH /v1/me`, already validated; `None` leaves a field unchanged.
#[derive(Default)]
pub struct ProfileChanges {
    pub display_name: Option<String>,
    pub time_zone: Option<String>,
    pub weekly_conversation_goal: Option<i32>,
    pub weekly_new_people_goal: Option<i32>,
}

pub async fn update_profile(
    db: &Db,
    user_id: Uuid,
    changes: ProfileChanges,
    now: DateTime<Utc>,
) -> Result<user::Model, ApiError> {
    let changes = Arc::new(changes);
    db.write(move |txn| {
        let changes = changes.clone();
        Box::pin(async move {
            let current = user::Entity::find_by_id(user_id)
                .one(txn)
                .await?
                .ok_or_else(ApiError::not_found)?;
            let current_updated_at = current.updated_at;
            let zone_changed = changes
                .time_zone
                .as_ref()
                .is_some_and(|zone| *zone != current.time_zone);
            let mut model = current.into_active_model();
            if let Some(name) = &changes.display_name {
                model.display_name = Set(name.clone());
            }
            if let Some(zone) = &changes.time_zone {
                model.time_zone = Set(zone.clone());
            }
            if let Some(goal) = changes.weekly_conversation_goal {
                model.weekly_conversation_goal = Set(goal);
            }
            if let Some(goal) = changes.weekly_new_people_goal {
                model.weekly_new_people_goal = Set(goal);
            }
            if model.is_changed() {
                model.updated_at = Set(crate::domain::version::next_updated_at(
                    current_updated_at,
                    now,
                ));
            }
            let updated = model.update(txn).await?;
            if zone_changed {
                // Local dates move with the zone: every contact's due, cold and one-off dates,
                // the days, weeks and months activity is counted in, and the due dates of open
                // follow-ups.
                let mut owner = super::owner::Owner::new(user_id);
                super::ledger::refresh_all(txn, &mut owner, now).await?;
                let zone = owner.zone(txn).await?;
                super::activity::rebuild_owner(txn, user_id, zone).await?;
                super::due_dates::fix(txn, user_id, zone).await?;
            }
            Ok(updated)
        })
    })
    .await
}

/// Stores a new password hash and revokes every refresh and personal token of the account.
pub async fn change_password(
    db: &Db,
    user_id: Uuid,
    password_hash: String,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let password_hash = Arc::new(password_hash);
    db.write(move |txn| {
        let password_hash = password_hash.clone();
        Box::pin(async move {
            user::ActiveModel {
                id: Set(user_id),
                password_hash: Set(password_hash.as_ref().clone()),
                updated_at: Set(now),
                ..Default::default()
            }
            .update(txn)
            .await?;
            refresh_token::Entity::delete_many()
                .filter(refresh_token::Column::OwnerId.eq(user_id))
                .exec(txn)
                .await?;
            personal_token::Entity::delete_many()
                .filter(personal_token::Column::OwnerId.eq(user_id))
                .exec(txn)
                .await?;
            Ok(())
        })
    })
    .await
}

/// Deletes the account; every row it owns goes with it (foreign keys cascade).
pub async fn delete(db: &Db, user_id: Uuid) -> Result<(), ApiError> {
    db.write(move |txn| {
        Box::pin(async move {
            let result = user::Entity::delete_by_id(user_id).exec(txn).await?;
            if result.rows_affected == 0 {
                return Err(ApiError::not_found());
            }
            Ok(())
        })
    })
    .await
}
