//! GitLab CI: a hidden job template and one job per cell (named after it), or one job with
//! `parallel: N` whose copies each run their shard (kdc reads `CI_NODE_INDEX`/`CI_NODE_TOTAL`).
//! The jobs need a runner whose executor has a privileged Docker engine with IPv6 (a shell
//! executor on a VM, as kdc's own machines). Images are kept with `cache:` (GitLab evaluates
//! cache keys before the job runs, so the key is fixed; the host set-up rebuilds only images
//! whose inputs changed, and the job saves them again); JUnit is a `reports: junit` artifact
//! and the artifacts directory is kept `when: always`.

use crate::ci::{ARTIFACTS, IMAGE_CACHE, JUNIT, Steps, Unit, header, quote, run_command, units};
use crate::matrix::{Matrix, Provider};

pub fn render(m: &Matrix) -> String {
    let steps = Steps::of(m);
    let units = units(m);
    let mut s = header(m, Provider::Gitlab, "#");
    let script = match &units[0] {
        Unit::Cell(_) => run_command(m, &units[0], Some("$KDC_CELL"), false),
        Unit::Shard(..) => run_command(m, &units[0], None, true),
    };
    s += &format!(
        r#"stages:
  - test
.kdc:
  stage: test
  variables:
    CI: "true"
    KDC_DUMP_MAX_BYTES: "{max}"
  cache:
    key: kdc-images-v1
    paths:
      - {IMAGE_CACHE}/
  before_script:
{before}  script:
    - {script}
  artifacts:
    when: always
    paths:
      - {ARTIFACTS}/
    reports:
      junit: {JUNIT}
"#,
        max = Provider::Gitlab.max_blob_bytes(),
        before = super::items(
            &[
                &steps.install,
                &steps.image_key,
                &steps.load_images,
                &steps.setup,
                &steps.save_images
            ],
            4
        ),
        script = quote(&script),
    );
    for unit in &units {
        match unit {
            Unit::Cell(c) => {
                s += &format!(
                    "{}:\n  extends: .kdc\n  variables:\n    KDC_CELL: {}\n",
                    quote(c),
                    quote(c)
                );
            }
            Unit::Shard(_, n) => {
                s += &format!("kdc-shards:\n  extends: .kdc\n  parallel: {n}\n");
                break;
            }
        }
    }
    s
}
