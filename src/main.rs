//! The policyctl binary: argv in, exit code out. Everything else lives in the library.

/// jemalloc, not the system allocator: see its entry in Cargo.toml.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(policyctl::cli::run(std::env::args_os()))
}
