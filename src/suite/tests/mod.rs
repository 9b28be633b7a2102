//! Suite tests: parse errors with their exact messages, the embedded suites, expansion on plans
//! of all three IP modes, the shell commands, and judging outputs measured in RECIPE.md §4/§6.

mod cell;
mod expand;
mod judge;
mod parse;
mod pods;
mod runner;

use std::path::PathBuf;

use super::*;
use crate::config::{Inputs, resolve};
use crate::plan::Plan;

/// A plan and DIND_ALLOW_AAAA_USE as resolved, from environment-style pairs.
pub(super) fn cluster(env: &[(&str, &str)]) -> (Plan, bool) {
    let resolved = match resolve(&Inputs::default().with_env(env.iter().copied())) {
        Ok(r) => r.config,
        Err(e) => panic!("config {env:?} should be valid: {e}"),
    };
    match crate::plan::plan(&resolved) {
        Ok(p) => (p, resolved.allow_aaaa_use),
        Err(e) => panic!("plan {env:?} should be valid: {e}"),
    }
}

/// A user suite `mine.toml`.
pub(super) fn suite(text: &str) -> Suite {
    match parse("mine", Source::File(PathBuf::from("mine.toml")), text) {
        Ok(s) => s,
        Err(e) => panic!("should parse: {e}"),
    }
}

pub(super) fn embedded_suite(name: &str) -> Suite {
    embedded()
        .into_iter()
        .find(|s| s.name == name)
        .expect("embedded")
}
