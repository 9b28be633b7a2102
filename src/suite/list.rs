//! `kdc test list`: the suites and their checks, as text or JSON.

use serde_json::{Map, Value, json};

use super::model::{Action, Check, Expect, OutputExpect, Suite, When, show_duration};

/// One line per suite (`name: description [VAR=value …]`) and one indented line per check: id,
/// places, what, and its `modes` and `when` if any. Columns are aligned within a suite.
pub fn render_text(suites: &[Suite]) -> String {
    let mut out = String::new();
    for suite in suites {
        out.push_str(&format!("{}: {}", suite.name, suite.description));
        if !suite.cluster.is_empty() {
            let vars: Vec<String> = suite
                .cluster
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            out.push_str(&format!(" [{}]", vars.join(" ")));
        }
        out.push('\n');
        let places: Vec<String> = suite.checks.iter().map(places).collect();
        let id_width = suite.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
        let place_width = places.iter().map(String::len).max().unwrap_or(0);
        for (check, places) in suite.checks.iter().zip(&places) {
            let mut line = format!(
                "  {:id_width$}  {places:place_width$}  {}",
                check.id, check.what
            );
            if let Some(modes) = &check.modes {
                let modes: Vec<&str> = modes.iter().map(|m| m.as_str()).collect();
                line.push_str(&format!(" (modes: {})", modes.join(", ")));
            }
            if !check.when.is_empty() {
                line.push_str(&format!(" (when: {})", when_text(&check.when)));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out
}

fn places(check: &Check) -> String {
    check
        .on
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn when_text(when: &When) -> String {
    let mut parts = Vec::new();
    if let Some(a) = when.allow_aaaa {
        parts.push(format!("allow_aaaa = {a}"));
    }
    if let Some(cni) = &when.cni {
        let names: Vec<&str> = cni.iter().map(|p| p.as_str()).collect();
        parts.push(format!("cni = {}", names.join(" or ")));
    }
    if let Some(h) = when.host_routes {
        parts.push(format!("host_routes = {h}"));
    }
    parts.join(", ")
}

/// `kdc test list --json`: an array with one object per suite, mirroring the suite files:
///
/// - `name`: the suite name (the file stem); `source`: `"embedded"` or the file's path;
///   `description`; `cluster`: an object of the `[cluster]` variables (`{}` if none);
/// - `checks`: an array of objects with `id`, `what`, `on` (the places as written: `"nodes"`,
///   `"pod:node-1"`, …), `action` (`"lookup"`, `"ping"` or `"command"`) and the action under its
///   own key as in the file: `lookup` `{name, type, via}` (`via` null for the default), `ping`
///   `{to, family}`, `command` (the argv); `expect`, an object with the expectation's key(s) as
///   in the file, the action's default filled in (`{"nonempty": true}`, `{"reachable": true}`,
///   `{"exit": 0}`); `modes` (an array, or null for every mode); `when` (an object with
///   `allow_aaaa`, `cni` and/or `host_routes`, or null); `timeout` (`"10s"`).
///
/// Templates are shown as written (`{target.ipv4only}`).
pub fn listing(suites: &[Suite]) -> Value {
    Value::Array(suites.iter().map(suite_json).collect())
}

fn suite_json(suite: &Suite) -> Value {
    let source = match &suite.source {
        super::Source::Embedded => "embedded".to_string(),
        super::Source::File(p) => p.display().to_string(),
    };
    let cluster: Map<String, Value> = suite
        .cluster
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    json!({
        "name": suite.name,
        "source": source,
        "description": suite.description,
        "cluster": cluster,
        "checks": suite.checks.iter().map(check_json).collect::<Vec<_>>(),
    })
}

fn check_json(check: &Check) -> Value {
    let mut obj = Map::new();
    obj.insert("id".into(), json!(check.id));
    obj.insert("what".into(), json!(check.what));
    obj.insert(
        "on".into(),
        json!(check.on.iter().map(ToString::to_string).collect::<Vec<_>>()),
    );
    obj.insert("action".into(), json!(check.action.kind()));
    let action = match &check.action {
        Action::Lookup { name, family, via } => json!({
            "name": name.text(),
            "type": family.record(),
            "via": via.map(|v| v.as_str()),
        }),
        Action::Ping { to, family } => json!({
            "to": to.text(),
            "family": if *family == super::Family::V4 { 4 } else { 6 },
        }),
        Action::Command { argv } => json!(argv.iter().map(|t| t.text()).collect::<Vec<_>>()),
    };
    obj.insert(check.action.kind().into(), action);
    obj.insert("expect".into(), expect_json(&check.expect));
    obj.insert(
        "modes".into(),
        match &check.modes {
            Some(m) => json!(m.iter().map(|m| m.as_str()).collect::<Vec<_>>()),
            None => Value::Null,
        },
    );
    obj.insert(
        "when".into(),
        if check.when.is_empty() {
            Value::Null
        } else {
            let mut w = Map::new();
            if let Some(a) = check.when.allow_aaaa {
                w.insert("allow_aaaa".into(), json!(a));
            }
            if let Some(cni) = &check.when.cni {
                w.insert(
                    "cni".into(),
                    json!(cni.iter().map(|p| p.as_str()).collect::<Vec<_>>()),
                );
            }
            if let Some(h) = check.when.host_routes {
                w.insert("host_routes".into(), json!(h));
            }
            Value::Object(w)
        },
    );
    obj.insert("timeout".into(), json!(show_duration(check.timeout)));
    Value::Object(obj)
}

fn expect_json(expect: &Expect) -> Value {
    match expect {
        Expect::StartsWith(t) => json!({"starts_with": t.text()}),
        Expect::NotStartsWith(t) => json!({"not_starts_with": t.text()}),
        Expect::Equals(t) => json!({"equals": t.text()}),
        Expect::SameAs(id) => json!({"same_as": id}),
        Expect::Empty => json!({"empty": true}),
        Expect::Nonempty => json!({"nonempty": true}),
        Expect::Reachable => json!({"reachable": true}),
        Expect::Unreachable => json!({"unreachable": true}),
        Expect::Exit { code, output } => {
            let mut obj = Map::new();
            obj.insert("exit".into(), json!(code));
            match output {
                Some(OutputExpect::Contains(t)) => {
                    obj.insert("output_contains".into(), json!(t.text()))
                }
                Some(OutputExpect::Equals(t)) => {
                    obj.insert("output_equals".into(), json!(t.text()))
                }
                None => None,
            };
            Value::Object(obj)
        }
    }
}
