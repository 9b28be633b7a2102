//! `kdc test`: the network test suites. `list` shows them; the suites themselves live in
//! `crate::suite`.

use std::process::ExitCode;

use super::Ctx;
use crate::KdcError;
use crate::cli::TestListArgs;

/// `kdc test list [--json] [--suite-file FILE]...`: every suite and its checks.
pub fn list(cx: &Ctx<'_>, args: &TestListArgs) -> Result<ExitCode, KdcError> {
    let suites = crate::suite::load(&args.suites.files)?;
    if cx.global.json {
        cx.print_json(&crate::suite::listing(&suites))?;
    } else {
        cx.print(&crate::suite::render_text(&suites))?;
    }
    Ok(ExitCode::SUCCESS)
}
