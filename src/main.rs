use std::process::ExitCode;

use clap::Parser;
use rapport::cli::{Cli, run};

fn main() -> ExitCode {
    limit_malloc_arenas();
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

/// glibc gives each thread that allocates its own arena (up to eight per core) and keeps what
/// is freed in it for reuse. The server's threads (HTTP workers, the runtime, one per SQLite
/// connection) would each hold on to the peak of what passed through them: two arenas keep the
/// peak RSS of the benchmark's whole-network scenarios at 66 MB instead of 80 MB, at the same
/// throughput (BENCHMARKS.md).
///
/// glibc also raises its mmap threshold to the size of any mapped block that is freed, so
/// after the first login the 19 MiB of each Argon2 hash came from the heap and stayed there:
/// 46 MB idle after two logins. A fixed threshold keeps such blocks mapped, and returned to
/// the system when freed. Must run before any thread starts.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    // SAFETY: mallopt only sets allocator parameters; called once, before other threads.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 512 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}
