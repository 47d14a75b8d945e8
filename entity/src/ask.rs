use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ask")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub owner_id: Uuid,
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
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
