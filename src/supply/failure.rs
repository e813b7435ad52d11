//! Why an image policy's authority was not satisfied: a stable finding code, the reason, and
//! whether it rests on a registry fault (never cached; "could not decide").

use super::reference::ImageRef;
use super::registry::RegistryError;

/// Why an authority was not satisfied; the code names the kind of problem.
#[derive(Debug, Clone)]
pub(super) struct Failure {
    pub(super) code: &'static str,
    pub(super) reason: String,
    /// Caused by a registry fault or timeout: never cached.
    pub(super) transient: bool,
}

impl Failure {
    pub(super) fn new(code: &'static str, reason: impl Into<String>) -> Self {
        Failure {
            code,
            reason: reason.into(),
            transient: false,
        }
    }

    pub(super) fn fault(reason: impl Into<String>) -> Self {
        Failure {
            code: "registry-error",
            reason: reason.into(),
            transient: true,
        }
    }
}

pub(super) fn fault(what: &str, image: &ImageRef, e: RegistryError) -> Failure {
    Failure::fault(format!(
        "cannot read {what} from registry {}: {e}",
        image.registry()
    ))
}
