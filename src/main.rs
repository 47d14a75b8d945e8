use std::process::ExitCode;

use clap::Parser;
use rapport::cli::{Cli, run};

/// mimalloc: each thread allocates from pages of its own without a lock, where glibc's threads
/// took turns on its arenas (see `rapport::allocator`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    rapport::allocator::configure();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("rapport: error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line: the context chain joined by ": ", no backtrace.
            eprintln!("rapport: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
