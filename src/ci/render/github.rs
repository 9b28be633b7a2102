//! GitHub Actions: one workflow whose job runs once per cell (or shard) through a
//! `strategy.matrix`, without fail-fast so every cell finishes. Images are kept with
//! `actions/cache` keyed by the hash of their inputs; JUnit and the artifacts go up with
//! `actions/upload-artifact` even when the cell fails.

use crate::ci::{
    ARTIFACTS, IMAGE_CACHE, IMAGE_KEY_FILE, Steps, Unit, header, quote, run_command, units,
};
use crate::matrix::{Matrix, Provider};

pub fn render(m: &Matrix) -> String {
    let steps = Steps::of(m);
    let units = units(m);
    let (key, entries, run) = match &units[0] {
        Unit::Cell(_) => (
            "cell",
            units
                .iter()
                .map(|u| match u {
                    Unit::Cell(c) => format!("          - {}\n", quote(c)),
                    Unit::Shard(..) => unreachable!("one kind per config"),
                })
                .collect::<String>(),
            run_command(m, &units[0], Some("${{ matrix.cell }}"), false),
        ),
        Unit::Shard(..) => (
            "shard",
            units
                .iter()
                .map(|u| match u {
                    Unit::Shard(i, n) => format!("          - \"{i}/{n}\"\n"),
                    Unit::Cell(_) => unreachable!("one kind per config"),
                })
                .collect(),
            format!(
                "kdc ci run{} --shard \"${{{{ matrix.shard }}}}\" --jobs {} --artifacts {ARTIFACTS}",
                m.matrix_arg(),
                m.ci.jobs
            ),
        ),
    };
    let mut s = header(m, Provider::Github, "#");
    s += &format!(
        r#"name: kdc matrix
on:
  push:
  pull_request:
jobs:
  kdc:
    name: ${{{{ matrix.{key} }}}}
    runs-on: ubuntu-24.04
    timeout-minutes: 60
    strategy:
      fail-fast: false
      matrix:
        {key}:
{entries}    env:
      CI: "true"
      KDC_DUMP_MAX_BYTES: "{max}"
    steps:
      - uses: actions/checkout@v4
      - name: Install kdc
        run: {install}
      - name: Key the image cache by the images' inputs
        run: {image_key}
      - name: Restore kdc's images
        id: images
        uses: actions/cache@v4
        with:
          path: {IMAGE_CACHE}
          key: kdc-images-${{{{ hashFiles('{IMAGE_KEY_FILE}') }}}}
      - name: Load kdc's images
        run: {load}
      - name: Host set-up
        run: {setup}
      - name: Save kdc's images for the cache
        if: steps.images.outputs.cache-hit != 'true'
        run: {save}
      - name: Run
        run: {run}
      - name: Store JUnit and artifacts
        if: always()
        uses: actions/upload-artifact@v4
        with:
          name: kdc-${{{{ strategy.job-index }}}}
          path: {ARTIFACTS}
          if-no-files-found: ignore
"#,
        max = Provider::Github.max_blob_bytes(),
        install = quote(&steps.install),
        image_key = quote(&steps.image_key),
        load = quote(&steps.load_images),
        setup = quote(&steps.setup),
        save = quote(&steps.save_images),
        run = quote(&run),
    );
    s
}
