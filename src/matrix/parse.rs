//! `matrix.toml` into a [`Matrix`], with errors naming the file, line:column and key (the suite
//! parser's spanned reading, [`crate::suite::parse`], reused).

use std::ops::Range;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::{Cell, CiSettings, Dimension, LAYER_KIND, Matrix, MatrixError, Provider};
use crate::config::{Inputs, Layer, resolve};
use crate::suite::parse::{Cx, Doc, Value, settings};
use crate::suite::{Suite, SuiteError};

const TOP_KEYS: [&str; 8] = [
    "description",
    "dimension",
    "cell",
    "exclude",
    "include",
    "override",
    "ci",
    "generated",
];
const DIMENSION_KEYS: [&str; 3] = ["name", "setting", "values"];
const CELL_KEYS: [&str; 7] = [
    "name",
    "suites",
    "set",
    "dimensions",
    "clusters",
    "bootstrapper",
    "e2e",
];
const E2E_KEYS: [&str; 4] = ["focus", "skip", "serial", "parallel"];
const CI_KEYS: [&str; 4] = ["install", "setup", "shards", "jobs"];
/// The bootstrappers a cell may name (`kdc up --bootstrapper`).
const BOOTSTRAPPERS: [&str; 2] = ["none", "kubeadm"];

/// A base cell as written.
struct Base {
    name: String,
    header: Range<usize>,
    suites: Vec<String>,
    set: Vec<(String, String, Range<usize>)>,
    dimensions: Vec<usize>,
    clusters: u8,
    bootstrapper: String,
    e2e: Option<super::E2eCell>,
}

/// An `[[exclude]]`, `[[include]]` or `[[override]]`: what it matches, and for an override
/// what it sets.
struct Rule {
    what: String,
    header: Range<usize>,
    cell: Option<String>,
    coords: Vec<(usize, String, Range<usize>)>,
    set: Vec<(String, String, Range<usize>)>,
    suites: Option<Vec<String>>,
    used: bool,
}

impl Rule {
    fn matches(&self, base: &str, coords: &[(usize, String)]) -> bool {
        self.cell.as_ref().is_none_or(|c| c == base)
            && self
                .coords
                .iter()
                .all(|(d, v, _)| coords.iter().any(|(cd, cv)| cd == d && cv == v))
    }
}

/// A name part: a base cell's name or a dimension value.
fn valid_part(s: &str) -> bool {
    s.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

const PART_RULE: &str = "must start with a lowercase letter or digit and hold only those, '-' and '.' ('_' joins the parts of a cell name)";

/// A cell with where each of its settings was set, before the checks against the suites.
struct Draft {
    cell: Cell,
    header: Range<usize>,
    spans: Vec<Range<usize>>,
}

pub(super) fn parse(
    file: &str,
    dir: &Path,
    text: &str,
    suites: &[Suite],
) -> Result<Matrix, MatrixError> {
    let doc = Doc::new(file.to_string(), text);
    let root = DeTable::parse(text).map_err(|e| {
        doc.error(
            e.span().map_or(0, |s| s.start),
            format!("not valid TOML: {}", e.message().trim_end()),
        )
    })?;
    let top = Cx::new(&doc, String::new());
    let root = Spanned::new(0..0, DeValue::Table(root.into_inner()));
    let mut dimensions: Vec<Dimension> = Vec::new();
    let mut bases: Vec<Base> = Vec::new();
    let mut excludes = Vec::new();
    let mut includes = Vec::new();
    let mut overrides = Vec::new();
    let mut ci = CiSettings::default();
    let mut generated = Vec::new();
    let entries = top.table(&root, "", &TOP_KEYS, "")?;
    // Dimensions first: cells and rules refer to them wherever they are in the file.
    for (key, value) in &entries {
        if *key == "dimension" {
            for (i, item) in tables(&top, value, "dimension")?.into_iter().enumerate() {
                dimensions.push(parse_dimension(&doc, item, i + 1, &dimensions)?);
            }
        }
    }
    for (key, value) in entries {
        match key {
            "description" => {
                top.string(value, key)?;
            }
            "dimension" => {}
            "cell" => {
                for (i, item) in tables(&top, value, "cell")?.into_iter().enumerate() {
                    let base = parse_base(&doc, item, i + 1, &dimensions, suites)?;
                    if let Some(first) = bases.iter().find(|b| b.name == base.name) {
                        let (line, _) = doc_line(&doc, &first.header);
                        return Err(Cx::new(&doc, format!("cell {:?}", base.name))
                            .err(
                                &item.span(),
                                "name",
                                format!("already used by the cell at line {line}"),
                            )
                            .into());
                    }
                    bases.push(base);
                }
            }
            "exclude" | "include" | "override" => {
                for (i, item) in tables(&top, value, key)?.into_iter().enumerate() {
                    let rule = parse_rule(&doc, item, key, i + 1, &dimensions, suites)?;
                    match key {
                        "exclude" => excludes.push(rule),
                        "include" => includes.push(rule),
                        _ => overrides.push(rule),
                    }
                }
            }
            "ci" => ci = parse_ci(&top, value)?,
            "generated" => {
                let names: Vec<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
                for (name, path) in
                    top.table(value, "generated", &names, "{ github = \"github.yml\" }")?
                {
                    let provider = Provider::ALL
                        .into_iter()
                        .find(|p| p.as_str() == name)
                        .expect("known");
                    let p = top.string(path, &format!("generated.{name}"))?;
                    if p.is_empty() || Path::new(p).is_absolute() || p.split('/').any(|c| c == "..")
                    {
                        return Err(top
                            .err(
                                &path.span(),
                                &format!("generated.{name}"),
                                "must be a relative path inside the matrix file's directory",
                            )
                            .into());
                    }
                    generated.push((provider, p.to_string()));
                }
            }
            _ => unreachable!("table() accepts only TOP_KEYS"),
        }
    }
    if bases.is_empty() {
        return Err(top
            .err(&(0..0), "", "no cells; add at least one [[cell]] table")
            .into());
    }

    let mut drafts: Vec<Draft> = Vec::new();
    for base in &bases {
        let mut combos: Vec<Vec<(usize, String)>> = vec![Vec::new()];
        for &d in &base.dimensions {
            combos = combos
                .into_iter()
                .flat_map(|c| {
                    dimensions[d].values.iter().map(move |v| {
                        let mut c = c.clone();
                        c.push((d, v.clone()));
                        c
                    })
                })
                .collect();
        }
        let mut made: Vec<Vec<(usize, String)>> = Vec::new();
        for combo in combos {
            let mut excluded = false;
            for rule in excludes
                .iter_mut()
                .filter(|r| r.matches(&base.name, &combo))
            {
                rule.used = true;
                excluded = true;
            }
            if !excluded {
                made.push(combo);
            }
        }
        for rule in includes
            .iter_mut()
            .filter(|r| r.cell.as_deref() == Some(&base.name))
        {
            rule.used = true;
            let given: Vec<usize> = rule.coords.iter().map(|(d, _, _)| *d).collect();
            let cx = Cx::new(&doc, rule.what.clone());
            if given
                .iter()
                .copied()
                .collect::<std::collections::BTreeSet<_>>()
                != base.dimensions.iter().copied().collect()
            {
                let want: Vec<&str> = base
                    .dimensions
                    .iter()
                    .map(|d| dimensions[*d].name.as_str())
                    .collect();
                return Err(cx
                    .err(&rule.header, "", format!("cell {:?} is crossed by {}; give a value for each of them and no other", base.name, if want.is_empty() { "no dimension".to_string() } else { want.join(", ") }))
                    .into());
            }
            let mut combo: Vec<(usize, String)> = rule
                .coords
                .iter()
                .map(|(d, v, _)| (*d, v.clone()))
                .collect();
            combo.sort_by_key(|(d, _)| *d);
            if made.contains(&combo) {
                return Err(cx
                    .err(
                        &rule.header,
                        "",
                        format!(
                            "adds the cell {}, which the dimensions already make",
                            cell_name(&base.name, &combo)
                        ),
                    )
                    .into());
            }
            made.push(combo);
        }
        for combo in made {
            let mut settings: Vec<(String, String)> = Vec::new();
            let mut spans = Vec::new();
            for (k, v, span) in &base.set {
                settings.push((k.clone(), v.clone()));
                spans.push(span.clone());
            }
            for (d, v) in &combo {
                settings.push((dimensions[*d].setting.clone(), v.clone()));
                spans.push(base.header.clone());
            }
            let mut cell_suites = base.suites.clone();
            for rule in overrides
                .iter_mut()
                .filter(|r| r.matches(&base.name, &combo))
            {
                rule.used = true;
                for (k, v, span) in &rule.set {
                    settings.push((k.clone(), v.clone()));
                    spans.push(span.clone());
                }
                if let Some(s) = &rule.suites {
                    cell_suites = s.clone();
                }
            }
            let name = cell_name(&base.name, &combo);
            if let Some(other) = drafts.iter().find(|d| d.cell.name == name) {
                return Err(Cx::new(&doc, format!("cell {:?}", base.name))
                    .err(
                        &base.header,
                        "",
                        format!(
                            "makes the cell {name}, which cell {:?} makes too; rename one",
                            other.cell.base
                        ),
                    )
                    .into());
            }
            drafts.push(Draft {
                cell: Cell {
                    name,
                    base: base.name.clone(),
                    suites: cell_suites,
                    settings,
                    coords: combo
                        .iter()
                        .map(|(d, v)| (dimensions[*d].name.clone(), v.clone()))
                        .collect(),
                    clusters: base.clusters,
                    bootstrapper: base.bootstrapper.clone(),
                    e2e: base.e2e.clone(),
                },
                header: base.header.clone(),
                spans,
            });
        }
    }
    for rule in excludes.iter().chain(&includes).chain(&overrides) {
        if !rule.used {
            return Err(Cx::new(&doc, rule.what.clone())
                .err(&rule.header, "", "matches no cell; check its cell name and dimension values against `kdc ci list`")
                .into());
        }
    }
    for draft in &drafts {
        check_cell(&doc, draft, suites)?;
    }
    Ok(Matrix {
        file: file.to_string(),
        dir: dir.to_path_buf(),
        own: false,
        dimensions,
        cells: drafts.into_iter().map(|d| d.cell).collect(),
        ci,
        generated,
    })
}

fn cell_name(base: &str, combo: &[(usize, String)]) -> String {
    std::iter::once(base)
        .chain(combo.iter().map(|(_, v)| v.as_str()))
        .collect::<Vec<_>>()
        .join("_")
}

fn doc_line(doc: &Doc, span: &Range<usize>) -> (usize, usize) {
    match doc.error(span.start, String::new()) {
        SuiteError::Parse { line, column, .. } => (line, column),
        _ => (0, 0),
    }
}

/// The items of an array of tables (`[[cell]]`).
fn tables<'v, 'i>(
    top: &Cx,
    value: &'v Value<'i>,
    key: &str,
) -> Result<Vec<&'v Value<'i>>, SuiteError> {
    value
        .get_ref()
        .as_array()
        .filter(|a| a.iter().all(|i| i.get_ref().is_table()))
        .map(|a| a.iter().collect())
        .ok_or_else(|| {
            top.err(
                &value.span(),
                key,
                format!("write each as a [[{key}]] table"),
            )
        })
}

fn parse_dimension(
    doc: &Doc,
    item: &Value,
    number: usize,
    earlier: &[Dimension],
) -> Result<Dimension, SuiteError> {
    let cx = Cx::new(doc, format!("dimension {number}"));
    let (mut name, mut setting, mut values) = (None, None, Vec::new());
    for (key, v) in cx.table(item, "", &DIMENSION_KEYS, "")? {
        match key {
            "name" => {
                let n = cx.string(v, "name")?;
                let reserved = ["cell", "set", "suites"];
                if !valid_part(n) || reserved.contains(&n) || n.contains('.') {
                    return Err(cx.err(
                        &v.span(),
                        "name",
                        format!(
                            "{n:?} must be lowercase letters, digits and '-', and not {}",
                            reserved.join(", ")
                        ),
                    ));
                }
                if earlier.iter().any(|d| d.name == n) {
                    return Err(cx.err(
                        &v.span(),
                        "name",
                        format!("a dimension {n:?} is declared already"),
                    ));
                }
                name = Some(n.to_string());
            }
            "setting" => {
                let s = cx.string(v, "setting")?;
                if let Err(p) = Layer::named(LAYER_KIND, "", [(s, "x")]) {
                    return Err(cx.err(&v.span(), "setting", p.message));
                }
                setting = Some(s.to_string());
            }
            "values" => {
                for (value, span) in cx.strings(v, "values", "[\"bridge\", \"ptp\"]")? {
                    if !valid_part(value) {
                        return Err(cx.err(&span, "values", format!("{value:?} {PART_RULE}")));
                    }
                    if values.iter().any(|x| x == value) {
                        return Err(cx.err(&span, "values", format!("{value:?} is listed twice")));
                    }
                    values.push(value.to_string());
                }
            }
            _ => unreachable!(),
        }
    }
    let header = item.span();
    Ok(Dimension {
        name: name
            .ok_or_else(|| cx.missing(&header, "name", "the dimension's name, as rules name it"))?,
        setting: setting.ok_or_else(|| {
            cx.missing(
                &header,
                "setting",
                "the kdc setting it varies, such as CNI_PLUGIN",
            )
        })?,
        values: if values.is_empty() {
            return Err(cx.missing(&header, "values", "the values it takes"));
        } else {
            values
        },
    })
}

/// Suite names (or `suite/check`) that the loaded suites have.
fn parse_suites(cx: &Cx, v: &Value, suites: &[Suite]) -> Result<Vec<String>, SuiteError> {
    let mut out = Vec::new();
    for (s, span) in cx.strings(v, "suites", "[\"ipv6\"]")? {
        if let Err(e) = crate::suite::select(suites, &[s]) {
            return Err(cx.err(&span, "suites", e));
        }
        out.push(s.to_string());
    }
    Ok(out)
}

fn parse_set(
    cx: &Cx,
    v: &Value,
    name: &str,
) -> Result<Vec<(String, String, Range<usize>)>, SuiteError> {
    let values = settings(cx, "set", LAYER_KIND, name, v)?;
    let table = v
        .get_ref()
        .as_table()
        .expect("settings() checked it is a table");
    let mut spans: Vec<(Range<usize>, &str)> = table
        .iter()
        .map(|(k, v)| (v.span(), k.get_ref().as_ref()))
        .collect();
    spans.sort_by_key(|(s, _)| s.start);
    Ok(values
        .into_iter()
        .zip(spans)
        .map(|((k, v), (span, _))| (k, v, span))
        .collect())
}

fn parse_base(
    doc: &Doc,
    item: &Value,
    number: usize,
    dims: &[Dimension],
    suites: &[Suite],
) -> Result<Base, SuiteError> {
    let mut cx = Cx::new(doc, format!("cell {number}"));
    let header = item.span();
    let keys = cx.table(item, "", &CELL_KEYS, "")?;
    let name = match keys.iter().find(|(k, _)| *k == "name") {
        Some((_, v)) => {
            let n = cx.string(v, "name")?;
            if !valid_part(n) {
                return Err(cx.err(&v.span(), "name", format!("{n:?} {PART_RULE}")));
            }
            n.to_string()
        }
        None => {
            return Err(cx.missing(
                &header,
                "name",
                "the cell's name, the start of its cell names",
            ));
        }
    };
    cx = Cx::new(doc, format!("cell {name:?}"));
    let mut base = Base {
        name,
        header: header.clone(),
        suites: Vec::new(),
        set: Vec::new(),
        dimensions: (0..dims.len()).collect(),
        clusters: 1,
        bootstrapper: "none".into(),
        e2e: None,
    };
    for (key, v) in keys {
        match key {
            "name" => {}
            "suites" => base.suites = parse_suites(&cx, v, suites)?,
            "set" => base.set = parse_set(&cx, v, &base.name)?,
            "dimensions" => {
                let list = v.get_ref().as_array().ok_or_else(|| {
                    cx.err(
                        &v.span(),
                        "dimensions",
                        "must be a list of dimension names, [] for none",
                    )
                })?;
                base.dimensions.clear();
                for item in list.iter() {
                    let n = cx.string(item, "dimensions")?;
                    let Some(d) = dims.iter().position(|d| d.name == n) else {
                        let known: Vec<&str> = dims.iter().map(|d| d.name.as_str()).collect();
                        return Err(cx.err(
                            &item.span(),
                            "dimensions",
                            format!(
                                "no dimension {n:?}; declared: {}",
                                if known.is_empty() {
                                    "none".into()
                                } else {
                                    known.join(", ")
                                }
                            ),
                        ));
                    };
                    if base.dimensions.contains(&d) {
                        return Err(cx.err(
                            &item.span(),
                            "dimensions",
                            format!("{n:?} is listed twice"),
                        ));
                    }
                    base.dimensions.push(d);
                }
                base.dimensions.sort();
            }
            "clusters" => {
                let n = cx.integer(v, "clusters")?;
                base.clusters = u8::try_from(n)
                    .ok()
                    .filter(|n| (1..=8).contains(n))
                    .ok_or_else(|| {
                        cx.err(
                            &v.span(),
                            "clusters",
                            "must be 1 to 8 clusters side by side",
                        )
                    })?;
            }
            "bootstrapper" => {
                let b = cx.string(v, "bootstrapper")?;
                if !BOOTSTRAPPERS.contains(&b) {
                    return Err(cx.err(
                        &v.span(),
                        "bootstrapper",
                        format!(
                            "{b:?} is not a bootstrapper kdc has; known: {}",
                            BOOTSTRAPPERS.join(", ")
                        ),
                    ));
                }
                base.bootstrapper = b.to_string();
            }
            "e2e" => base.e2e = Some(parse_e2e(&cx, v)?),
            _ => unreachable!(),
        }
    }
    if base.suites.is_empty() && base.e2e.is_none() {
        return Err(cx.missing(
            &header,
            "suites",
            "the suites the cell runs, such as [\"ipv6\"] (or an e2e table)",
        ));
    }
    if base.e2e.is_some() && base.bootstrapper != "kubeadm" {
        return Err(cx.err(
            &header,
            "e2e",
            "runs Kubernetes' e2e tests: the cell needs bootstrapper = \"kubeadm\"",
        ));
    }
    Ok(base)
}

/// `e2e = { focus = '…', skip = '…', serial = false, parallel = 4 }`: ginkgo regexes.
fn parse_e2e(cx: &Cx, v: &Value) -> Result<super::E2eCell, SuiteError> {
    let example = "{ focus = '\\[sig-network\\].*\\[Conformance\\]' }";
    let mut e2e = super::E2eCell {
        focus: String::new(),
        skip: None,
        serial: false,
        parallel: crate::e2e::DEFAULT_PARALLEL,
    };
    for (key, item) in cx.table(v, "e2e", &E2E_KEYS, example)? {
        let field = format!("e2e.{key}");
        match key {
            "focus" | "skip" => {
                let re = cx.string(item, &field)?;
                if let Err(e) = regex::Regex::new(re) {
                    return Err(cx.err(&item.span(), &field, format!("not a regex: {e}")));
                }
                if key == "focus" {
                    e2e.focus = re.to_string();
                } else {
                    e2e.skip = Some(re.to_string());
                }
            }
            "serial" => e2e.serial = cx.boolean(item, &field)?,
            "parallel" => {
                e2e.parallel = usize::try_from(cx.integer(item, &field)?)
                    .ok()
                    .filter(|n| (1..=64).contains(n))
                    .ok_or_else(|| cx.err(&item.span(), &field, "must be 1 to 64 processes"))?;
            }
            _ => unreachable!(),
        }
    }
    if e2e.focus.is_empty() {
        return Err(cx.missing(&v.span(), "e2e.focus", example));
    }
    Ok(e2e)
}

fn parse_rule(
    doc: &Doc,
    item: &Value,
    kind: &str,
    number: usize,
    dims: &[Dimension],
    suites: &[Suite],
) -> Result<Rule, SuiteError> {
    let what = format!("{kind} {number}");
    let cx = Cx::new(doc, what.clone());
    let mut known: Vec<&str> = vec!["cell"];
    known.extend(dims.iter().map(|d| d.name.as_str()));
    if kind == "override" {
        known.extend(["set", "suites"]);
    }
    let mut rule = Rule {
        what,
        header: item.span(),
        cell: None,
        coords: Vec::new(),
        set: Vec::new(),
        suites: None,
        used: false,
    };
    for (key, v) in cx.table(item, "", &known, "")? {
        match key {
            "cell" => rule.cell = Some(cx.string(v, "cell")?.to_string()),
            "set" => rule.set = parse_set(&cx, v, &rule.what)?,
            "suites" => rule.suites = Some(parse_suites(&cx, v, suites)?),
            dim => {
                let value = cx.string(v, dim)?;
                let d = dims.iter().position(|d| d.name == dim).expect("known keys");
                if kind != "include" && !dims[d].values.iter().any(|x| x == value) {
                    return Err(cx.err(
                        &v.span(),
                        dim,
                        format!(
                            "{value:?} is not one of the dimension's values: {}",
                            dims[d].values.join(", ")
                        ),
                    ));
                }
                if !valid_part(value) {
                    return Err(cx.err(&v.span(), dim, format!("{value:?} {PART_RULE}")));
                }
                rule.coords.push((d, value.to_string(), v.span()));
            }
        }
    }
    if kind == "include" && rule.cell.is_none() {
        return Err(cx.missing(
            &rule.header,
            "cell",
            "the [[cell]] whose combination it adds",
        ));
    }
    if kind == "exclude" && rule.cell.is_none() && rule.coords.is_empty() {
        return Err(cx.err(
            &rule.header,
            "",
            "matches every cell; give a cell or dimension values",
        ));
    }
    if kind == "override" && rule.set.is_empty() && rule.suites.is_none() {
        return Err(cx.missing(&rule.header, "set", "the settings it adds (or suites)"));
    }
    Ok(rule)
}

fn parse_ci(top: &Cx, value: &Value) -> Result<CiSettings, SuiteError> {
    let mut ci = CiSettings::default();
    for (key, v) in top.table(value, "ci", &CI_KEYS, "[ci] install = \"...\"")? {
        let field = format!("ci.{key}");
        match key {
            "install" => ci.install = top.string(v, &field)?.to_string(),
            "setup" => ci.setup = top.string(v, &field)?.to_string(),
            "shards" | "jobs" => {
                let n = top.integer(v, &field)?;
                let ok = if key == "jobs" {
                    (1..=16).contains(&n)
                } else {
                    (0..=64).contains(&n)
                };
                if !ok {
                    return Err(top.err(
                        &v.span(),
                        &field,
                        if key == "jobs" {
                            "must be 1 to 16 cells at once"
                        } else {
                            "must be 0 (one job per cell) to 64 shards"
                        },
                    ));
                }
                if key == "jobs" {
                    ci.jobs = n as usize;
                } else {
                    ci.shards = n as usize;
                }
            }
            _ => unreachable!(),
        }
    }
    Ok(ci)
}

/// A cell against its suites and the configuration: the suites' `[cluster]` settings must
/// agree with the cell's, and the cell's settings must be valid values.
fn check_cell(doc: &Doc, draft: &Draft, suites: &[Suite]) -> Result<(), SuiteError> {
    let cell = &draft.cell;
    let cx = Cx::new(doc, format!("cell {}", cell.name));
    let selected = crate::suite::select(
        suites,
        &cell.suites.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .map_err(|e| cx.err(&draft.header, "suites", e))?;
    let mut needs: Vec<(&str, &str, &str)> = Vec::new();
    for (suite, _) in &selected {
        for (k, v) in &suite.cluster {
            if let Some(mine) = cell.setting(k)
                && mine != v
            {
                let at = cell
                    .settings
                    .iter()
                    .rposition(|(sk, _)| sk == k)
                    .map_or(draft.header.clone(), |i| draft.spans[i].clone());
                return Err(cx.err(
                    &at,
                    "set",
                    format!("sets {k}={mine}, but suite {} needs {k}={v}", suite.name),
                ));
            }
            if let Some((other, _, theirs)) = needs.iter().find(|(_, nk, _)| nk == k)
                && theirs != v
            {
                return Err(cx.err(&draft.header, "suites", format!("suites {other} and {} need different clusters ({k}={theirs} and {k}={v}); put them in different cells", suite.name)));
            }
            needs.push((&suite.name, k, v));
        }
    }
    let mut inputs = Inputs::default();
    for (suite, _) in &selected {
        inputs.add(suite.layer());
    }
    inputs.add(cell.layer());
    if let Err(problems) = resolve(&inputs) {
        let p = &problems.list[0];
        let prefix = format!("{LAYER_KIND} {}: ", cell.name);
        let var = p
            .what
            .strip_prefix(&prefix)
            .and_then(|rest| rest.split('=').next());
        let at = var
            .and_then(|var| cell.settings.iter().rposition(|(k, _)| k == var))
            .map_or(draft.header.clone(), |i| draft.spans[i].clone());
        return Err(cx.err(
            &at,
            "set",
            format!(
                "{}: {}",
                p.what.strip_prefix(&prefix).unwrap_or(&p.what),
                p.message
            ),
        ));
    }
    Ok(())
}
