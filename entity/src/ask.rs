use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ask")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub owner_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Whom it was asked of.
    pub contact_id: Uuid,
    pub conversation_id: Option<Uuid>,
    pub kind: String,
    pub title: String,
    pub details: Option<String>,
    /// `planned` → `asked` → `granted` | `declined` | `withdrawn`.
    pub status: String,
    pub asked_at: Option<DateTimeUtc>,
    pub resolved_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// While awaiting an answer (`asked`): the day a follow-up falls due, the local date (in
    /// the owner's time zone) of `asked_at` (of `created_at` without one) plus two weeks. Null
    /// otherwise.
    pub follow_up_due_on: Option<Date>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
