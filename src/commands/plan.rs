//! `kdc plan`: print the cluster plan without touching Docker.

use std::process::ExitCode;

use super::Ctx;
use crate::KdcError;
use crate::cli::PlanArgs;

pub fn run(cx: &Ctx<'_>, args: &PlanArgs) -> Result<ExitCode, KdcError> {
    let plan = cx.plan(&args.cluster)?;
    if cx.global.json {
        cx.print_json(&plan)?;
    } else {
        cx.print(&crate::cluster::summary::render(&plan, None))?;
    }
    Ok(ExitCode::SUCCESS)
}
