//! Suite files (TOML) into [`Suite`]s, with errors naming the file, line:column and field.
//!
//! The file is read with `toml`'s spanned parser ([`DeTable`]), so every key and value keeps its
//! byte range, and each error points at the key or value that is wrong (or at the `[[check]]`
//! header when something is missing). The first error in file order is reported.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::net::IpAddr;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::config::Layer;

use super::SuiteError;
use super::checks;
use super::model::{
    CNI_PLUGINS, Check, DEFAULT_TIMEOUT, Expect, Family, IP_MODES, OutputExpect, Place, Source,
    Suite, When, parse_duration,
};
use super::template::Template;

pub(crate) type Value<'i> = Spanned<DeValue<'i>>;

const TOP_KEYS: [&str; 3] = ["description", "cluster", "check"];
const CHECK_KEYS: [&str; 10] = [
    "id", "what", "on", "lookup", "ping", "command", "expect", "modes", "when", "timeout",
];
const EXPECT_KEYS: [&str; 11] = [
    "starts_with",
    "not_starts_with",
    "equals",
    "same_as",
    "empty",
    "nonempty",
    "reachable",
    "unreachable",
    "exit",
    "output_contains",
    "output_equals",
];
const WHEN_KEYS: [&str; 3] = ["allow_aaaa", "cni", "host_routes"];

/// The text of one file and where its lines start (also read by the matrix parser).
pub(crate) struct Doc<'a> {
    file: String,
    text: &'a str,
    line_starts: Vec<usize>,
}

impl Doc<'_> {
    pub(crate) fn new(file: String, text: &str) -> Doc<'_> {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Doc {
            file,
            text,
            line_starts,
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|s| *s <= offset);
        let start = self.line_starts[line - 1];
        let column = self.text[start..offset].chars().count() + 1;
        (line, column)
    }

    pub(crate) fn error(&self, offset: usize, message: String) -> SuiteError {
        let (line, column) = self.position(offset);
        SuiteError::Parse {
            file: self.file.clone(),
            line,
            column,
            message,
        }
    }
}

/// Where in the file a parse is: the document and the check (named in every message) if any.
/// The per-kind parsers in `checks/` use it to report errors the same way.
pub(crate) struct Cx<'a> {
    doc: &'a Doc<'a>,
    /// `check "ping-x"`, or empty at the top level.
    subject: String,
}

impl<'a> Cx<'a> {
    /// The top level of `doc`, or the part of it `subject` names (`cell "ipv6"`).
    pub(crate) fn new(doc: &'a Doc<'a>, subject: String) -> Cx<'a> {
        Cx { doc, subject }
    }

    /// An error at `span`: `<check>: <field>: <message>`.
    pub(crate) fn err(
        &self,
        span: &Range<usize>,
        field: &str,
        message: impl Display,
    ) -> SuiteError {
        let mut text = String::new();
        for part in [self.subject.as_str(), field] {
            if !part.is_empty() {
                text.push_str(part);
                text.push_str(": ");
            }
        }
        text.push_str(&message.to_string());
        self.doc.error(span.start, text)
    }

    /// The keys of a table value in file order, every one of them in `known`.
    pub(crate) fn table<'v, 'i>(
        &self,
        v: &'v Value<'i>,
        field: &str,
        known: &[&str],
        example: &str,
    ) -> Result<Vec<(&'v str, &'v Value<'i>)>, SuiteError> {
        let Some(table) = v.get_ref().as_table() else {
            return Err(self.err(
                &v.span(),
                field,
                format!(
                    "must be a table such as {example}, not {}",
                    a(v.get_ref().type_str())
                ),
            ));
        };
        let mut keys: Vec<(Range<usize>, &str, &Value)> = table
            .iter()
            .map(|(k, v)| (k.span(), k.get_ref().as_ref(), v))
            .collect();
        keys.sort_by_key(|(span, _, _)| span.start);
        let mut out = Vec::new();
        for (span, key, value) in keys {
            if !known.contains(&key) {
                let field = if field.is_empty() {
                    String::new()
                } else {
                    field.to_string()
                };
                return Err(self.err(
                    &span,
                    &field,
                    format!("unknown key {key:?}; known: {}", known.join(", ")),
                ));
            }
            out.push((key, value));
        }
        Ok(out)
    }

    pub(crate) fn string<'v>(&self, v: &'v Value, field: &str) -> Result<&'v str, SuiteError> {
        v.get_ref().as_str().ok_or_else(|| {
            self.err(
                &v.span(),
                field,
                format!("must be a string, not {}", a(v.get_ref().type_str())),
            )
        })
    }

    pub(crate) fn boolean(&self, v: &Value, field: &str) -> Result<bool, SuiteError> {
        v.get_ref().as_bool().ok_or_else(|| {
            self.err(
                &v.span(),
                field,
                format!("must be true or false, not {}", a(v.get_ref().type_str())),
            )
        })
    }

    pub(crate) fn integer(&self, v: &Value, field: &str) -> Result<i64, SuiteError> {
        v.get_ref()
            .as_integer()
            .and_then(|i| i64::from_str_radix(i.as_str(), i.radix()).ok())
            .ok_or_else(|| {
                self.err(
                    &v.span(),
                    field,
                    format!("must be a whole number, not {}", a(v.get_ref().type_str())),
                )
            })
    }

    /// A list of strings, each with its span.
    pub(crate) fn strings<'v>(
        &self,
        v: &'v Value,
        field: &str,
        example: &str,
    ) -> Result<Vec<(&'v str, Range<usize>)>, SuiteError> {
        let items = v
            .get_ref()
            .as_array()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| {
                self.err(
                    &v.span(),
                    field,
                    format!("must be a non-empty list such as {example}"),
                )
            })?;
        items
            .iter()
            .map(|item| Ok((self.string(item, field)?, item.span())))
            .collect()
    }

    pub(crate) fn template(&self, v: &Value, field: &str) -> Result<Template, SuiteError> {
        let text = self.string(v, field)?;
        Template::parse(text).map_err(|m| self.err(&v.span(), field, m))
    }

    pub(crate) fn missing(&self, at: &Range<usize>, key: &str, hint: &str) -> SuiteError {
        self.err(at, "", format!("missing key {key:?} ({hint})"))
    }
}

/// A TOML type with its article: `a string`, `an array`.
fn a(type_str: &str) -> String {
    let article = if type_str.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {type_str}")
}

/// Parses one suite file. `name` is the file stem; errors name `source.file(name)`.
pub fn parse(name: &str, source: Source, text: &str) -> Result<Suite, SuiteError> {
    let doc = Doc::new(source.file(name), text);
    let root = DeTable::parse(text).map_err(|e| {
        doc.error(
            e.span().map_or(0, |s| s.start),
            format!("not valid TOML: {}", e.message().trim_end()),
        )
    })?;
    let top = Cx {
        doc: &doc,
        subject: String::new(),
    };
    let root = Spanned::new(0..0, DeValue::Table(root.into_inner()));
    let mut description = None;
    let mut cluster = Vec::new();
    let mut checks = Vec::new();
    let mut same_as = Vec::new();
    for (key, value) in top.table(&root, "", &TOP_KEYS, "")? {
        match key {
            "description" => {
                let d = top.string(value, "description")?;
                if d.trim().is_empty() || d.contains('\n') {
                    return Err(top.err(
                        &value.span(),
                        "description",
                        "must be one non-empty line",
                    ));
                }
                description = Some(d.to_string());
            }
            "cluster" => cluster = settings(&top, "[cluster]", "suite", name, value)?,
            "check" => {
                let items = value
                    .get_ref()
                    .as_array()
                    .filter(|a| a.iter().all(|i| i.get_ref().is_table()))
                    .ok_or_else(|| {
                        top.err(
                            &value.span(),
                            "check",
                            "write each check as a [[check]] table",
                        )
                    })?;
                let mut seen = BTreeMap::new();
                for (i, item) in items.iter().enumerate() {
                    let (check, refers) = parse_check(&doc, item, i + 1, &mut seen)?;
                    if let Some(span) = refers {
                        same_as.push((checks.len(), span));
                    }
                    checks.push(check);
                }
            }
            _ => unreachable!("table() accepts only TOP_KEYS"),
        }
    }
    let Some(description) = description else {
        return Err(top.missing(
            &(0..0),
            "description",
            "one line saying what the suite checks",
        ));
    };
    if checks.is_empty() {
        return Err(top.err(&(0..0), "", "no checks; add at least one [[check]] table"));
    }
    for (i, span) in same_as {
        let check: &Check = &checks[i];
        let Expect::SameAs(other) = &check.expect else {
            unreachable!("recorded for same_as only")
        };
        let cx = Cx {
            doc: &doc,
            subject: format!("check {:?}", check.id),
        };
        match checks.iter().find(|c| &c.id == other) {
            None => {
                let known: Vec<&str> = checks.iter().map(|c| c.id.as_str()).collect();
                return Err(cx.err(
                    &span,
                    "expect.same_as",
                    format!(
                        "no check {other:?} in this suite; known: {}",
                        known.join(", ")
                    ),
                ));
            }
            Some(c) if c.id == check.id => {
                return Err(cx.err(
                    &span,
                    "expect.same_as",
                    "a check cannot compare with itself",
                ));
            }
            Some(c) if !matches!(c.action, super::model::Action::Lookup { .. }) => {
                return Err(cx.err(
                    &span,
                    "expect.same_as",
                    format!(
                        "{other:?} is a {}; same_as compares with the answer of a lookup",
                        c.action.kind()
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(Suite {
        name: name.to_string(),
        description,
        source,
        cluster,
        checks,
    })
}

/// A table of kdc settings by their environment names, values as text: a suite's `[cluster]`,
/// a matrix cell's `set`. `kind` and `name` say whose settings they are (`suite ipv6`).
pub(crate) fn settings(
    top: &Cx,
    field: &str,
    kind: &'static str,
    name: &str,
    value: &Value,
) -> Result<Vec<(String, String)>, SuiteError> {
    let table = value.get_ref().as_table().ok_or_else(|| {
        top.err(
            &value.span(),
            field,
            format!("must be a table of settings such as {field} IP_MODE = \"ipv6\""),
        )
    })?;
    let mut vars: Vec<(Range<usize>, &str, &Value)> = table
        .iter()
        .map(|(k, v)| (k.span(), k.get_ref().as_ref(), v))
        .collect();
    vars.sort_by_key(|(span, _, _)| span.start);
    let mut out = Vec::new();
    for (span, var, v) in vars {
        let text = match v.get_ref() {
            DeValue::String(s) => s.to_string(),
            DeValue::Boolean(b) => b.to_string(),
            DeValue::Integer(i) => i.to_string(),
            other => {
                return Err(top.err(
                    &v.span(),
                    &format!("{field} {var}"),
                    format!(
                        "must be a string, whole number or boolean, not {}",
                        a(other.type_str())
                    ),
                ));
            }
        };
        if let Err(problem) = Layer::named(kind, name, [(var, text.as_str())]) {
            return Err(top.err(&span, field, problem.message));
        }
        out.push((var.to_string(), text));
    }
    Ok(out)
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// One `[[check]]`; also the span of its `same_as` value, checked once every id is known.
fn parse_check(
    doc: &Doc,
    item: &Value,
    number: usize,
    seen: &mut BTreeMap<String, usize>,
) -> Result<(Check, Option<Range<usize>>), SuiteError> {
    let header = item.span();
    let table = item.get_ref().as_table().expect("checked by the caller");
    let anonymous = Cx {
        doc,
        subject: format!("check #{number}"),
    };
    let Some(id_value) = table.get("id") else {
        return Err(anonymous.missing(
            &header,
            "id",
            "unique in the suite: lowercase letters, digits and dashes",
        ));
    };
    let id = anonymous.string(id_value, "id")?;
    if !valid_id(id) {
        return Err(anonymous.err(
            &id_value.span(),
            "id",
            format!("{id:?} is not an id; use lowercase letters, digits and dashes ([a-z0-9-]+)"),
        ));
    }
    let cx = Cx {
        doc,
        subject: format!("check {id:?}"),
    };
    let (line, _) = doc.position(id_value.span().start);
    if let Some(first) = seen.insert(id.to_string(), line) {
        return Err(cx.err(
            &id_value.span(),
            "id",
            format!("duplicate; the first check with this id is at line {first}"),
        ));
    }

    let keys = cx.table(item, "", &CHECK_KEYS, "")?;
    let get = |k: &str| keys.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);

    let what = match get("what") {
        None => {
            return Err(cx.missing(
                &header,
                "what",
                "one line, shown by `kdc test list` and in JUnit",
            ));
        }
        Some(v) => {
            let w = cx.string(v, "what")?;
            if w.trim().is_empty() || w.contains('\n') {
                return Err(cx.err(&v.span(), "what", "must be one non-empty line"));
            }
            w.to_string()
        }
    };

    let Some(on_value) = get("on") else {
        return Err(cx.missing(&header, "on", &format!("where it runs: {}", Place::FORMS)));
    };
    let mut on = Vec::new();
    let mut host_at = None;
    for (text, span) in cx.strings(on_value, "on", "[\"nodes\", \"pod:node-1\"]")? {
        let place = Place::parse(text).ok_or_else(|| {
            cx.err(
                &span,
                "on",
                format!("unknown place {text:?}; known: {}", Place::FORMS),
            )
        })?;
        if place == Place::Host {
            host_at = Some(span);
        }
        on.push(place);
    }

    let actions: Vec<(&str, &Value)> = keys
        .iter()
        .filter(|(k, _)| checks::ACTIONS.contains(k))
        .copied()
        .collect();
    let action = match actions.as_slice() {
        [] => {
            return Err(cx.err(
                &header,
                "",
                format!(
                    "no action; give exactly one of {}",
                    checks::ACTIONS.join(", ")
                ),
            ));
        }
        [(kind, value)] => checks::parse(kind, value, &cx)?,
        [(first, _), (second, value), ..] => {
            return Err(cx.err(
                &value.span(),
                "",
                format!(
                    "two actions ({first} and {second}); give exactly one of {}",
                    checks::ACTIONS.join(", ")
                ),
            ));
        }
    };
    if let (Some(span), Some(why)) = (&host_at, checks::host_refusal(&action)) {
        return Err(cx.err(span, "on", why));
    }

    let (expect, same_as) = match get("expect") {
        None => (checks::default_expect(&action), None),
        Some(v) => parse_expect(&cx, v, &action)?,
    };

    let modes = get("modes")
        .map(|v| {
            cx.strings(v, "modes", "[\"ipv6\", \"dual-stack\"]")?
                .into_iter()
                .map(|(text, span)| {
                    IP_MODES
                        .into_iter()
                        .find(|m| m.as_str() == text)
                        .ok_or_else(|| {
                            cx.err(
                                &span,
                                "modes",
                                format!("unknown IP mode {text:?}; known: ipv4, ipv6, dual-stack"),
                            )
                        })
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;

    let mut when = When::default();
    if let Some(v) = get("when") {
        for (key, value) in cx.table(v, "when", &WHEN_KEYS, "{ allow_aaaa = false }")? {
            match key {
                "allow_aaaa" => when.allow_aaaa = Some(cx.boolean(value, "when.allow_aaaa")?),
                "host_routes" => {
                    when.host_routes = Some(cx.boolean(value, "when.host_routes")?);
                }
                "cni" => {
                    let names: Vec<&str> = CNI_PLUGINS.iter().map(|p| p.as_str()).collect();
                    let plugins = cx
                        .strings(value, "when.cni", "[\"bridge\", \"ptp\"]")?
                        .into_iter()
                        .map(|(text, span)| {
                            CNI_PLUGINS
                                .into_iter()
                                .find(|p| p.as_str() == text)
                                .ok_or_else(|| {
                                    cx.err(
                                        &span,
                                        "when.cni",
                                        format!(
                                            "unknown CNI plugin {text:?}; known: {}",
                                            names.join(", ")
                                        ),
                                    )
                                })
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    when.cni = Some(plugins);
                }
                _ => unreachable!("table() accepts only WHEN_KEYS"),
            }
        }
    }

    let timeout = match get("timeout") {
        None => DEFAULT_TIMEOUT,
        Some(v) => {
            let text = cx.string(v, "timeout")?;
            parse_duration(text).ok_or_else(|| {
                cx.err(
                    &v.span(),
                    "timeout",
                    format!("{text:?} is not a duration; use a whole number with ms, s or m, such as \"10s\" or \"500ms\""),
                )
            })?
        }
    };

    Ok((
        Check {
            id: id.to_string(),
            what,
            on,
            action,
            expect,
            modes,
            when,
            timeout,
        },
        same_as,
    ))
}

/// `expect = { … }`: exactly one key that fits the action (a command may pair `exit` with one
/// `output_*`).
fn parse_expect(
    cx: &Cx,
    v: &Value,
    action: &super::model::Action,
) -> Result<(Expect, Option<Range<usize>>), SuiteError> {
    let keys = cx.table(v, "expect", &EXPECT_KEYS, "{ nonempty = true }")?;
    let fits = checks::expectations(action);
    let Some((first, _)) = keys.first() else {
        return Err(cx.err(
            &v.span(),
            "expect",
            format!("empty; give one of {}", fits.join(", ")),
        ));
    };
    for (key, value) in &keys {
        if !fits.contains(key) {
            return Err(cx.err(
                &value.span(),
                &format!("expect.{key}"),
                format!(
                    "does not fit a {}; use one of {}",
                    action.kind(),
                    fits.join(", ")
                ),
            ));
        }
    }
    if let [_, (second, value), ..] = keys.as_slice() {
        let pair = [*first, *second];
        let exit_and_output = keys.len() == 2
            && pair.contains(&"exit")
            && pair.iter().any(|k| k.starts_with("output_"));
        if !exit_and_output {
            let pairs = if fits.contains(&"exit") {
                " (exit may go with one of output_contains, output_equals)"
            } else {
                ""
            };
            return Err(cx.err(
                &value.span(),
                "expect",
                format!("two expectations ({first} and {second}); give exactly one{pairs}"),
            ));
        }
    }

    let must_be_true = |value: &Value, key: &str| -> Result<(), SuiteError> {
        if cx.boolean(value, &format!("expect.{key}"))? {
            return Ok(());
        }
        let opposite = match key {
            "empty" => "nonempty",
            "nonempty" => "empty",
            "reachable" => "unreachable",
            _ => "reachable",
        };
        Err(cx.err(
            &value.span(),
            &format!("expect.{key}"),
            format!("must be true; for the opposite write {opposite} = true"),
        ))
    };
    let mut code = 0;
    let mut output = None;
    let mut same_as = None;
    let mut expect = None;
    for (key, value) in keys {
        let field = format!("expect.{key}");
        match key {
            "starts_with" => expect = Some(Expect::StartsWith(cx.template(value, &field)?)),
            "not_starts_with" => expect = Some(Expect::NotStartsWith(cx.template(value, &field)?)),
            "equals" => {
                let t = cx.template(value, &field)?;
                check_addresses(cx, value, &t, action)?;
                expect = Some(Expect::Equals(t));
            }
            "same_as" => {
                same_as = Some(value.span());
                expect = Some(Expect::SameAs(cx.string(value, &field)?.to_string()));
            }
            "empty" | "nonempty" | "reachable" | "unreachable" => {
                must_be_true(value, key)?;
                expect = Some(match key {
                    "empty" => Expect::Empty,
                    "nonempty" => Expect::Nonempty,
                    "reachable" => Expect::Reachable,
                    _ => Expect::Unreachable,
                });
            }
            "exit" => code = cx.integer(value, &field)?,
            "output_contains" => output = Some(OutputExpect::Contains(cx.template(value, &field)?)),
            "output_equals" => output = Some(OutputExpect::Equals(cx.template(value, &field)?)),
            _ => unreachable!("table() accepts only EXPECT_KEYS"),
        }
    }
    let expect = expect.unwrap_or(Expect::Exit { code, output });
    Ok((expect, same_as))
}

/// `equals` takes addresses: each comma-separated piece is an address or one address template,
/// of the family the lookup asks for.
fn check_addresses(
    cx: &Cx,
    v: &Value,
    t: &Template,
    action: &super::model::Action,
) -> Result<(), SuiteError> {
    let super::model::Action::Lookup { family: want, .. } = action else {
        return Ok(());
    };
    for piece in t.text().split(',').map(str::trim) {
        let family = match Template::parse(piece)
            .ok()
            .as_ref()
            .and_then(|p| p.single_var().copied())
        {
            Some(var) => var.address_family(),
            None => piece.parse::<IpAddr>().ok().map(|a| Family::of(&a)),
        };
        match family {
            None => {
                return Err(cx.err(
                    &v.span(),
                    "expect.equals",
                    format!("{piece:?} is not an address; give addresses or address templates such as {{target.ipv4only.ipv4}}, separated by commas"),
                ));
            }
            Some(f) if f != *want => {
                return Err(cx.err(
                    &v.span(),
                    "expect.equals",
                    format!(
                        "{piece} is an {} address, but the lookup asks for {} records",
                        f.name(),
                        want.record()
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}
