//! Commands about kdc itself: `version`, `completion`.

use std::process::ExitCode;

use super::Ctx;
use crate::KdcError;

/// `kdc version`: the same text as `kdc --version`, or [`crate::version::VersionInfo`] as JSON.
pub fn version(cx: &Ctx<'_>) -> Result<ExitCode, KdcError> {
    if cx.global.json {
        cx.print_json(&crate::version::info())?;
    } else {
        cx.print(&format!("kdc {}\n", crate::version::text()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `kdc completion SHELL`: the completion script on stdout.
pub fn completion(cx: &Ctx<'_>, shell: clap_complete::Shell) -> Result<ExitCode, KdcError> {
    let mut script = Vec::new();
    crate::cli::completion(shell, &mut script);
    cx.print(&String::from_utf8_lossy(&script))?;
    Ok(ExitCode::SUCCESS)
}
