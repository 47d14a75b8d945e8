use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "conversation")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub owner_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub occurred_at: DateTimeUtc,
    pub channel: String,
    pub initiated_by: Option<String>,
    pub duration_minutes: Option<i32>,
    pub summary: String,
    pub notes: Option<String>,
    pub learned: Option<String>,
    pub thank_you_status: String,
    pub thank_you_sent_at: Option<DateTimeUtc>,
    pub next_step: Option<String>,
    pub next_step_due_on: Option<Date>,
    pub next_step_done_at: Option<DateTimeUtc>,
    /// Lower-cased words of summary, notes and learned, for `q`.
    pub search_text: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::conversation_participant::Entity")]
    Participant,
}

impl Related<super::conversation_participant::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Participant.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
