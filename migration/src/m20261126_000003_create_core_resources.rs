use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn id(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .uuid()
        .not_null()
        .primary_key()
        .to_owned()
}

fn timestamp(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn optional_timestamp(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

fn owner_fk(table: impl IntoIden, name: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, Alias::new("owner_id"))
        .to(User::Table, User::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

/// An index whose columns lead with `owner_id`, so a user's query never scans other users' rows.
fn owner_index(name: &str, table: impl IntoIden, cols: &[&str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table).col(Alias::new("owner_id"));
    for col in cols {
        index.col(Alias::new(*col));
    }
    index.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Contact::Table)
                    .col(id(Contact::Id))
                    .col(ColumnDef::new(Contact::OwnerId).uuid().not_null())
                    .col(ColumnDef::new(Contact::FullName).string_len(200).not_null())
                    .col(
                        ColumnDef::new(Contact::PreferredName)
                            .string_len(200)
                            .null(),
                    )
                    .col(ColumnDef::new(Contact::Email).string_len(254).null())
                    .col(ColumnDef::new(Contact::Phone).string_len(50).null())
                    .col(ColumnDef::new(Contact::Company).string_len(200).null())
                    .col(ColumnDef::new(Contact::Title).string_len(200).null())
                    .col(ColumnDef::new(Contact::Location).string_len(200).null())
                    .col(ColumnDef::new(Contact::Links).json().not_null())
                    .col(ColumnDef::new(Contact::HowWeMet).text().null())
                    .col(ColumnDef::new(Contact::MetOn).date().null())
                    .col(ColumnDef::new(Contact::IntroducedById).uuid().null())
                    .col(ColumnDef::new(Contact::Interests).json().not_null())
                    .col(ColumnDef::new(Contact::Notes).text().null())
                    .col(ColumnDef::new(Contact::CadenceDays).integer().null())
                    .col(optional_timestamp(Contact::ArchivedAt))
                    .col(ColumnDef::new(Contact::SearchText).text().not_null())
                    .col(timestamp(Contact::CreatedAt))
                    .col(timestamp(Contact::UpdatedAt))
                    .foreign_key(&mut owner_fk(Contact::Table, "fk_contact_owner"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_contact_introduced_by")
                            .from(Contact::Table, Contact::IntroducedById)
                            .to(Contact::Table, Contact::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("idx_contact_owner_full_name", &["full_name", "id"][..]),
            ("idx_contact_owner_created_at", &["created_at", "id"][..]),
            ("idx_contact_owner_updated_at", &["updated_at", "id"][..]),
            ("idx_contact_owner_company", &["company"][..]),
        ] {
            manager
                .create_index(owner_index(name, Contact::Table, cols))
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("idx_contact_introduced_by")
                    .table(Contact::Table)
                    .col(Contact::IntroducedById)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ContactTag::Table)
                    .col(ColumnDef::new(ContactTag::ContactId).uuid().not_null())
                    .col(ColumnDef::new(ContactTag::OwnerId).uuid().not_null())
                    .col(ColumnDef::new(ContactTag::Tag).string_len(40).not_null())
                    .primary_key(
                        Index::create()
                            .col(ContactTag::ContactId)
                            .col(ContactTag::Tag),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_contact_tag_contact")
                            .from(ContactTag::Table, ContactTag::ContactId)
                            .to(Contact::Table, Contact::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(&mut owner_fk(ContactTag::Table, "fk_contact_tag_owner"))
                    .to_owned(),
            )
            .await?;
        // `tag=` filters and `GET /v1/tags` counts.
        manager
            .create_index(owner_index(
                "idx_contact_tag_owner_tag",
                ContactTag::Table,
                &["tag", "contact_id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Conversation::Table)
                    .col(id(Conversation::Id))
                    .col(ColumnDef::new(Conversation::OwnerId).uuid().not_null())
                    .col(timestamp(Conversation::OccurredAt))
                    .col(
                        ColumnDef::new(Conversation::Channel)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Conversation::InitiatedBy)
                            .string_len(8)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Conversation::DurationMinutes)
                            .integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Conversation::Summary)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Conversation::Notes).text().null())
                    .col(ColumnDef::new(Conversation::Learned).text().null())
                    .col(
                        ColumnDef::new(Conversation::ThankYouStatus)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(optional_timestamp(Conversation::ThankYouSentAt))
                    .col(ColumnDef::new(Conversation::NextStep).text().null())
                    .col(ColumnDef::new(Conversation::NextStepDueOn).date().null())
                    .col(optional_timestamp(Conversation::NextStepDoneAt))
                    .col(ColumnDef::new(Conversation::SearchText).text().not_null())
                    .col(timestamp(Conversation::CreatedAt))
                    .col(timestamp(Conversation::UpdatedAt))
                    .foreign_key(&mut owner_fk(Conversation::Table, "fk_conversation_owner"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(owner_index(
                "idx_conversation_owner_occurred_at",
                Conversation::Table,
                &["occurred_at", "id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ConversationParticipant::Table)
                    .col(
                        ColumnDef::new(ConversationParticipant::ConversationId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ConversationParticipant::ContactId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ConversationParticipant::OwnerId)
                            .uuid()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(ConversationParticipant::ConversationId)
                            .col(ConversationParticipant::ContactId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_participant_conversation")
                            .from(
                                ConversationParticipant::Table,
                                ConversationParticipant::ConversationId,
                            )
                            .to(Conversation::Table, Conversation::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_participant_contact")
                            .from(
                                ConversationParticipant::Table,
                                ConversationParticipant::ContactId,
                            )
                            .to(Contact::Table, Contact::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(&mut owner_fk(
                        ConversationParticipant::Table,
                        "fk_participant_owner",
                    ))
                    .to_owned(),
            )
            .await?;
        // A contact's conversations (filters, timeline, relationship state).
        manager
            .create_index(owner_index(
                "idx_participant_owner_contact",
                ConversationParticipant::Table,
                &["contact_id", "conversation_id"],
            ))
            .await?;

        for (table, fk_prefix) in [
            (Alias::new("value_offer"), "value_offer"),
            (Alias::new("ask"), "ask"),
        ] {
            let is_offer = fk_prefix == "value_offer";
            let mut create = Table::create();
            create
                .table(table.clone())
                .col(id(Alias::new("id")))
                .col(ColumnDef::new(Alias::new("owner_id")).uuid().not_null())
                .col(ColumnDef::new(Alias::new("contact_id")).uuid().not_null())
                .col(ColumnDef::new(Alias::new("conversation_id")).uuid().null())
                .col(ColumnDef::new(Alias::new("kind")).string_len(32).not_null())
                .col(
                    ColumnDef::new(Alias::new("title"))
                        .string_len(200)
                        .not_null(),
                )
                .col(ColumnDef::new(Alias::new("details")).text().null())
                .col(
                    ColumnDef::new(Alias::new("status"))
                        .string_len(16)
                        .not_null(),
                );
            if is_offer {
                create
                    .col(ColumnDef::new(Alias::new("url")).string_len(2048).null())
                    .col(ColumnDef::new(Alias::new("topics")).json().not_null())
                    .col(
                        ColumnDef::new(Alias::new("introduced_contact_id"))
                            .uuid()
                            .null(),
                    )
                    .col(optional_timestamp(Alias::new("offered_at")))
                    .col(optional_timestamp(Alias::new("responded_at")));
            } else {
                create
                    .col(optional_timestamp(Alias::new("asked_at")))
                    .col(optional_timestamp(Alias::new("resolved_at")));
            }
            create
                .col(timestamp(Alias::new("created_at")))
                .col(timestamp(Alias::new("updated_at")))
                .foreign_key(&mut owner_fk(
                    table.clone(),
                    &format!("fk_{fk_prefix}_owner"),
                ))
                .foreign_key(
                    ForeignKey::create()
                        .name(format!("fk_{fk_prefix}_contact"))
                        .from(table.clone(), Alias::new("contact_id"))
                        .to(Contact::Table, Contact::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name(format!("fk_{fk_prefix}_conversation"))
                        .from(table.clone(), Alias::new("conversation_id"))
                        .to(Conversation::Table, Conversation::Id)
                        .on_delete(ForeignKeyAction::SetNull),
                );
            if is_offer {
                create.foreign_key(
                    ForeignKey::create()
                        .name("fk_value_offer_introduced_contact")
                        .from(table.clone(), Alias::new("introduced_contact_id"))
                        .to(Contact::Table, Contact::Id)
                        .on_delete(ForeignKeyAction::SetNull),
                );
            }
            manager.create_table(create.to_owned()).await?;
            for (suffix, cols) in [
                ("created_at", &["created_at", "id"][..]),
                ("contact", &["contact_id", "created_at", "id"][..]),
            ] {
                manager
                    .create_index(owner_index(
                        &format!("idx_{fk_prefix}_owner_{suffix}"),
                        table.clone(),
                        cols,
                    ))
                    .await?;
            }
            // Foreign keys that SET NULL need an index to find the rows they change.
            let mut fk_columns = vec!["conversation_id"];
            if is_offer {
                fk_columns.push("introduced_contact_id");
            }
            for col in fk_columns {
                manager
                    .create_index(
                        Index::create()
                            .name(format!("idx_{fk_prefix}_{col}"))
                            .table(table.clone())
                            .col(Alias::new(col))
                            .to_owned(),
                    )
                    .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "ask",
            "value_offer",
            "conversation_participant",
            "conversation",
            "contact_tag",
            "contact",
        ] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum User {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Contact {
    Table,
    Id,
    OwnerId,
    FullName,
    PreferredName,
    Email,
    Phone,
    Company,
    Title,
    Location,
    Links,
    HowWeMet,
    MetOn,
    IntroducedById,
    Interests,
    Notes,
    CadenceDays,
    ArchivedAt,
    SearchText,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ContactTag {
    Table,
    ContactId,
    OwnerId,
    Tag,
}

#[derive(DeriveIden)]
enum Conversation {
    Table,
    Id,
    OwnerId,
    OccurredAt,
    Channel,
    InitiatedBy,
    DurationMinutes,
    Summary,
    Notes,
    Learned,
    ThankYouStatus,
    ThankYouSentAt,
    NextStep,
    NextStepDueOn,
    NextStepDoneAt,
    SearchText,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ConversationParticipant {
    Table,
    ConversationId,
    ContactId,
    OwnerId,
}
