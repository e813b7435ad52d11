//! `policyctl completion`, `policyctl man` and `policyctl version`: shell and docs integration,
//! generated from the same clap definition as the parser so they never drift from the flags.

use clap::CommandFactory;
use std::path::PathBuf;

/// `policyctl version` and `policyctl --version`: what was built, from what, with which
/// engines (the crates that decide verdicts).
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\ncommit: ",
    env!("POLICYCTL_GIT_COMMIT"),
    "\nregorus: ",
    env!("POLICYCTL_REGORUS_VERSION"),
    " (with policyctl's patches, third_party/regorus/PATCHES.md)",
    "\nsigstore: ",
    env!("POLICYCTL_SIGSTORE_VERSION"),
    "\noci-client: ",
    env!("POLICYCTL_OCI_CLIENT_VERSION"),
    "\ncyclonedx-bom: ",
    env!("POLICYCTL_CYCLONEDX_VERSION"),
);

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
policyctl completion bash > /etc/bash_completion.d/policyctl\n  \
policyctl completion zsh > \"${fpath[1]}/_policyctl\"\n  \
policyctl completion fish > ~/.config/fish/completions/policyctl.fish\n  \
policyctl completion powershell >> $PROFILE")]
pub struct CompletionArgs {
    /// The shell to generate completions for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
policyctl man | man -l -                 # read policyctl(1) now\n  \
policyctl man --out /usr/local/share/man/man1   # install every page")]
pub struct ManArgs {
    /// Write policyctl.1 and one page per verb (policyctl-check.1, …) into this directory
    /// instead of printing policyctl.1 to stdout.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub(super) fn completion(args: CompletionArgs) -> anyhow::Result<u8> {
    let mut cmd = super::Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "policyctl", &mut out);
    super::emit(out)?;
    Ok(0)
}

pub(super) fn man(args: ManArgs) -> anyhow::Result<u8> {
    let cmd = super::Cli::command();
    match args.out {
        Some(dir) => {
            std::fs::create_dir_all(&dir).map_err(|e| {
                anyhow::anyhow!("{}: cannot create the directory: {e}", dir.display())
            })?;
            clap_mangen::generate_to(cmd, &dir).map_err(|e| {
                anyhow::anyhow!("{}: cannot write the man pages: {e}", dir.display())
            })?;
        }
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut out)?;
            super::emit(out)?;
        }
    }
    Ok(0)
}

pub(super) fn version() -> anyhow::Result<u8> {
    super::emit(format!("policyctl {LONG_VERSION}\n"))?;
    Ok(0)
}
