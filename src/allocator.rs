//! The program's memory comes from mimalloc (the global allocator of `src/main.rs`): each thread
//! allocates from pages of its own without a lock, where glibc's threads took turns on its
//! arenas. Its options keep the resident memory where glibc kept it (idle after two logins and
//! peak under load, BENCHMARKS.md): an arena's memory is committed as it is used rather than
//! all at once (a default of the C build, `.cargo/config.toml`, since the first arena is made
//! before `main` runs), and memory freed is returned to the system at once rather than after a
//! delay ([`configure`]).
//!
//! The C library's allocations (SQLite's) still come from glibc, which gives each thread that
//! allocates its own arena (up to eight per core) and keeps what is freed in it for reuse: two
//! arenas keep what the driver's threads hold on to small.

use libmimalloc_sys::mi_option_t;

/// mimalloc's `mi_option_arena_eager_commit`: the number in `mi_option_e` of the mimalloc 3
/// that the pinned `libmimalloc-sys` builds (its bindings name only older options).
pub const ARENA_EAGER_COMMIT: mi_option_t = 4;
/// mimalloc's `mi_option_purge_delay`, in milliseconds; numbered likewise.
pub const PURGE_DELAY: mi_option_t = 15;

/// Sets both allocators' options. Must run before any thread starts.
pub fn configure() {
    // SAFETY: mi_option_set only sets an allocator parameter, which mimalloc reads atomically.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 0) };
    limit_malloc_arenas();
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    // SAFETY: mallopt only sets allocator parameters; called once, before other threads.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

/// The option of that number, as mimalloc holds it now.
pub fn option(option: mi_option_t) -> std::os::raw::c_long {
    // SAFETY: mi_option_get only reads an allocator parameter.
    unsafe { libmimalloc_sys::mi_option_get(option) }
}
