//! Travis CI: one job per cell (or shard) under `jobs.include`, each naming its cell in
//! `KDC_CELL` (or its shard in `KDC_SHARD`, which kdc reads: Travis has no shard variables).
//! Images are kept in a cached directory; the host set-up rebuilds only images whose inputs
//! changed. Travis stores files only through its S3 artifacts add-on (bucket settings in the
//! repository's settings), so the JUnit file and the artifacts directory are uploaded with it;
//! the log itself holds each failed cell's diagnosis, blob and reproduce command.

use crate::ci::{ARTIFACTS, IMAGE_CACHE, Steps, Unit, header, quote, run_command, units};
use crate::matrix::{Matrix, Provider};

pub fn render(m: &Matrix) -> String {
    let steps = Steps::of(m);
    let units = units(m);
    let script = match &units[0] {
        Unit::Cell(_) => run_command(m, &units[0], Some("$KDC_CELL"), false),
        Unit::Shard(..) => run_command(m, &units[0], None, true),
    };
    let mut s = header(m, Provider::Travis, "#");
    s += &format!(
        r#"os: linux
dist: jammy
language: rust
services:
  - docker
env:
  global:
    - CI=true
    - KDC_DUMP_MAX_BYTES={max}
cache:
  directories:
    - {IMAGE_CACHE}
addons:
  artifacts:
    paths:
      - {ARTIFACTS}
install:
  - {install}
before_script:
{before}script:
  - {script}
jobs:
  include:
"#,
        max = Provider::Travis.max_blob_bytes(),
        install = quote(&steps.install),
        before = super::items(
            &[
                &steps.image_key,
                &steps.load_images,
                &steps.setup,
                &steps.save_images
            ],
            2
        ),
        script = quote(&script),
    );
    for unit in &units {
        let (name, env) = match unit {
            Unit::Cell(c) => (c.clone(), format!("KDC_CELL={c}")),
            Unit::Shard(i, n) => (format!("shard {i}/{n}"), format!("KDC_SHARD={i}/{n}")),
        };
        s += &format!("    - name: {}\n      env: {}\n", quote(&name), quote(&env));
    }
    s
}
