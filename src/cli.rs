//! Command line: `serve` (the default), `migrate`, `openapi`, `seed-demo`, `seed-bench`,
//! `ledger`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use migration::{Migrator, MigratorTrait};

use crate::config::Settings;
use crate::services::ledger;
use crate::startup::Application;
use crate::{bench_seed, clock, db, demo, openapi, telemetry};

#[derive(Debug, Parser)]
#[command(
    name = "rapport",
    version,
    about = "Rapport: the relationship-building API"
)]
pub struct Cli {
    /// Configuration file (default: ./rapport.toml when it exists).
    #[arg(long, global = true, env = "RAPPORT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Manage the database schema.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Print the OpenAPI document as pretty JSON.
    Openapi,
    /// Create (or reset) a demo account with a small network, and print its login.
    SeedDemo,
    /// Replace the benchmark users (bench-NNN@rapport.example) with a fresh bulk data set.
    SeedBench {
        /// Users to create.
        #[arg(long, default_value_t = 100)]
        users: usize,
        /// Contacts per user, each with 5 conversations, 2 offers and 1 ask.
        #[arg(long, default_value_t = 1000)]
        contacts: usize,
    },
    /// Check or repair the relationship ledger stored on each contact.
    Ledger {
        #[command(subcommand)]
        action: LedgerAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum LedgerAction {
    /// Recompute every contact's ledger and name key, every idea's topic rows, every tag
    /// count and every owner's activity counts from the records and print each difference
    /// from the stored ones; exit status 1 if there is any. Run it on a quiet database.
    Verify,
    /// Recompute and store every contact's ledger and name key, every idea's topic rows,
    /// every tag count and every owner's activity counts.
    Rebuild,
}

#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Roll back the newest migrations.
    Down {
        /// How many to roll back.
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List migrations and whether each is applied.
    Status,
    /// Drop every table and apply all migrations again. Destroys all data.
    Fresh,
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Openapi = command {
        print!("{}", openapi::to_pretty_json(&openapi::build())?);
        return Ok(());
    }
    let settings = Settings::load(cli.config.as_deref())?;
    telemetry::init(settings.log_format, &settings.log_filter, std::io::stdout);
    match command {
        Command::Serve => {
            tracing::info!(settings = %settings.redacted(), "starting rapport {}", env!("CARGO_PKG_VERSION"));
            Application::build(settings)
                .await?
                .run_until_stopped()
                .await?;
            tracing::info!("stopped");
        }
        Command::Migrate { action } => migrate(&settings, action).await?,
        Command::SeedDemo => seed_demo(&settings).await?,
        Command::SeedBench { users, contacts } => seed_bench(&settings, users, contacts).await?,
        Command::Ledger { action } => ledger_command(&settings, action).await?,
        Command::Openapi => {}
    }
    Ok(())
}

/// `rapport migrate …`: applies, reverts or lists migrations, then prints their status.
async fn migrate(settings: &Settings, action: MigrateAction) -> anyhow::Result<()> {
    let db = db::connect(settings).await?;
    let conn = db.writer();
    match action {
        MigrateAction::Up => ledger::migrate(&db, clock::now()).await?,
        MigrateAction::Down { steps } => db::migrate_down(&db, steps).await?,
        MigrateAction::Fresh => db::migrate_fresh(&db).await?,
        MigrateAction::Status => {}
    }
    for migration in Migrator::get_migration_with_status(conn)
        .await
        .context("cannot read the migration status")?
    {
        println!(
            "{:<8} {}",
            format!("{:?}", migration.status()).to_lowercase(),
            migration.name()
        );
    }
    Ok(())
}

/// `rapport seed-demo`.
async fn seed_demo(settings: &Settings) -> anyhow::Result<()> {
    let db = db::connect(settings).await?;
    if settings.run_migrations {
        ledger::migrate(&db, clock::now()).await?;
    }
    let login = demo::seed(&db, clock::now()).await?;
    println!("Demo account ready (any earlier demo data was replaced).");
    println!("  email:    {}", login.email);
    println!("  password: {}", login.password);
    println!(
        "Log in with POST /v1/auth/token, then try GET /v1/follow-ups and GET /v1/suggestions."
    );
    Ok(())
}

/// `rapport seed-bench`.
async fn seed_bench(settings: &Settings, users: usize, contacts: usize) -> anyhow::Result<()> {
    let db = db::connect(settings).await?;
    if settings.run_migrations {
        ledger::migrate(&db, clock::now()).await?;
    }
    let started = std::time::Instant::now();
    let size = bench_seed::Size {
        users,
        contacts_per_user: contacts,
    };
    let written = bench_seed::seed(&db, size, clock::now()).await?;
    println!(
        "seeded {} users, {} contacts, {} conversations ({} participants), {} offers, {} asks in {:.1} s",
        written.users,
        written.contacts,
        written.conversations,
        written.participants,
        written.offers,
        written.asks,
        started.elapsed().as_secs_f64()
    );
    println!(
        "log in as {} … {} with password {}",
        bench_seed::email(0),
        bench_seed::email(users.saturating_sub(1)),
        bench_seed::PASSWORD
    );
    Ok(())
}

/// `rapport ledger verify` (exit status 1 on any difference) and `rapport ledger rebuild`.
async fn ledger_command(settings: &Settings, action: LedgerAction) -> anyhow::Result<()> {
    let db = db::connect(settings).await?;
    let started = std::time::Instant::now();
    match action {
        LedgerAction::Verify => {
            let differences = ledger::verify(&db, clock::now()).await?;
            for difference in &differences {
                println!("{difference}");
            }
            println!(
                "{} differences in {:.1} s",
                differences.len(),
                started.elapsed().as_secs_f64()
            );
            if !differences.is_empty() {
                std::process::exit(1);
            }
        }
        LedgerAction::Rebuild => {
            let rows = ledger::rebuild(&db, clock::now()).await?;
            println!(
                "rebuilt the ledger of {rows} contacts in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}
