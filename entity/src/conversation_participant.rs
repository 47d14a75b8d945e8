use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "conversation_participant")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub owner_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub conversation_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub contact_id: Uuid,
    /// A copy of the conversation's `occurred_at`, rewritten with it, so a contact's history
    /// is read from this table's index alone. Never null once written.
    pub occurred_at: Option<DateTimeUtc>,
    /// A copy of the conversation's `thank_you_status`, like `occurred_at`.
    pub thank_you_status: Option<String>,
    /// While the thank-you is owed: the day it falls due, the day after the conversation's local
    /// date (in the owner's time zone). Null otherwise.
    pub thank_you_due_on: Option<Date>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::conversation::Entity",
        from = "Column::ConversationId",
        to = "super::conversation::Column::Id",
        on_delete = "Cascade"
    )]
    Conversation,
}

impl Related<super::conversation::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Conversation.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
