//! The policyctl binary: argv in, exit code out. Everything else lives in the library.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(policyctl::cli::run(std::env::args_os()))
}
