//! CircleCI (config 2.1): one parameterised job run once per cell through a workflow
//! `matrix`, or one job with `parallelism: N` whose nodes each run their shard (kdc reads
//! `CIRCLE_NODE_INDEX`/`CIRCLE_NODE_TOTAL`). A machine executor, since kdc needs a privileged
//! Docker engine with IPv6. Images are kept with `restore_cache`/`save_cache` keyed by the
//! checksum of their inputs; JUnit goes to `store_test_results`, everything to
//! `store_artifacts`, also when the cell failed.

use super::indent;
use crate::ci::{
    ARTIFACTS, IMAGE_CACHE, IMAGE_KEY_FILE, Steps, Unit, header, quote, run_command, units,
};
use crate::matrix::{Matrix, Provider};

fn run_step(name: &str, command: &str, always: bool) -> String {
    let mut s = format!(
        "- run:\n    name: {}\n    command: {}\n",
        quote(name),
        quote(command)
    );
    if always {
        s += "    when: always\n";
    }
    s
}

pub fn render(m: &Matrix) -> Result<String, String> {
    let steps = Steps::of(m);
    let units = units(m);
    let key = format!("kdc-images-v1-{{{{ checksum \"{IMAGE_KEY_FILE}\" }}}}");
    let (job, params, parallelism, run, workflow) = match &units[0] {
        Unit::Cell(_) => {
            let cells: String = units
                .iter()
                .map(|u| match u {
                    Unit::Cell(c) => format!("                - {}\n", quote(c)),
                    Unit::Shard(..) => unreachable!("one kind per config"),
                })
                .collect();
            (
                "kdc-cell",
                "    parameters:\n      cell:\n        type: string\n".to_string(),
                String::new(),
                run_command(m, &units[0], Some("<< parameters.cell >>"), false),
                format!(
                    "      - kdc-cell:\n          matrix:\n            parameters:\n              cell:\n{cells}"
                ),
            )
        }
        Unit::Shard(_, n) => (
            "kdc-shard",
            String::new(),
            format!("    parallelism: {n}\n"),
            run_command(m, &units[0], None, true),
            "      - kdc-shard\n".to_string(),
        ),
    };
    let mut body = String::new();
    body += "- checkout\n";
    body += &run_step("Install kdc", &steps.install, false);
    body += &run_step(
        "Key the image cache by the images' inputs",
        &steps.image_key,
        false,
    );
    body += &format!("- restore_cache:\n    keys:\n      - {}\n", quote(&key));
    body += &run_step("Load kdc's images", &steps.load_images, false);
    body += &run_step("Host set-up", &steps.setup, false);
    body += &run_step("Save kdc's images for the cache", &steps.save_images, false);
    body += &format!(
        "- save_cache:\n    key: {}\n    paths:\n      - {IMAGE_CACHE}\n",
        quote(&key)
    );
    body += &run_step("Run", &run, false);
    body += &format!("- store_test_results:\n    path: {ARTIFACTS}\n    when: always\n");
    body += &format!("- store_artifacts:\n    path: {ARTIFACTS}\n    when: always\n");
    let mut s = header(m, Provider::Circleci, "#");
    s += &format!(
        "version: 2.1\njobs:\n  {job}:\n{params}    machine:\n      image: ubuntu-2404:current\n{parallelism}    environment:\n      CI: \"true\"\n      KDC_DUMP_MAX_BYTES: \"{max}\"\n    steps:\n{body}workflows:\n  kdc:\n    jobs:\n{workflow}",
        max = Provider::Circleci.max_blob_bytes(),
        body = indent(&body, 6),
    );
    Ok(s)
}
