//! The JSON Schema of the scenario format admits every shipped scenario and refuses keys the
//! parser refuses.

use serde_json::Value;

/// Follows a `$ref` into `$defs`.
fn resolve<'a>(root: &'a Value, mut s: &'a Value) -> &'a Value {
    while let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/$defs/");
        s = &root["$defs"][name];
    }
    s
}

/// The object schema inside `s` (through `anyOf`/`oneOf` with null, for options).
fn object_schema<'a>(root: &'a Value, s: &'a Value) -> Option<&'a Value> {
    let s = resolve(root, s);
    if s.get("properties").is_some() {
        return Some(s);
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(list) = s.get(key).and_then(Value::as_array) {
            if let Some(o) = list.iter().find_map(|x| object_schema(root, x)) {
                return Some(o);
            }
        }
    }
    None
}

/// Every key of `doc` is a property of its schema; returns the paths of those that are not.
fn unknown_keys(root: &Value, schema: &Value, doc: &Value, at: &str, out: &mut Vec<String>) {
    match doc {
        Value::Object(map) => {
            let Some(s) = object_schema(root, schema) else {
                return; // a free-form map (e.g. patient.set): keys are parameter paths
            };
            let props = s["properties"].as_object().expect("properties");
            for (k, v) in map {
                match props.get(k) {
                    Some(p) => unknown_keys(root, p, v, &format!("{at}.{k}"), out),
                    None => out.push(format!("{at}.{k}")),
                }
            }
        }
        Value::Array(items) => {
            let s = resolve(root, schema);
            let item = s.get("items").unwrap_or(&Value::Null);
            for (i, v) in items.iter().enumerate() {
                unknown_keys(root, item, v, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn toml_as_json(text: &str) -> Value {
    let v: toml::Value = toml::from_str(text).expect("toml");
    serde_json::to_value(v).expect("json")
}

#[test]
fn the_schema_admits_every_shipped_scenario() {
    let schema = impella_sim::scenario::json_schema();
    assert_eq!(schema["additionalProperties"], false);
    let dirs = ["scenarios", "scenarios/teaching"];
    let mut checked = 0;
    for dir in dirs {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        for e in std::fs::read_dir(path).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_none_or(|x| x != "toml") {
                continue;
            }
            let mut doc = toml_as_json(&std::fs::read_to_string(&p).unwrap());
            // Sweep files add [sweep] and [cohort] (docs/sweeps.md); the rest is a scenario.
            if let Some(o) = doc.as_object_mut() {
                o.remove("sweep");
                o.remove("cohort");
            }
            let mut bad = Vec::new();
            unknown_keys(&schema, &schema, &doc, "", &mut bad);
            assert!(
                bad.is_empty(),
                "{}: keys not in the schema: {bad:?}",
                p.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked}");
    // A key the parser refuses is outside the schema too.
    let mut bad = Vec::new();
    let doc = toml_as_json("[solver]\nmethods = \"tsit5\"\n[[events]]\nat = \"1 h\"\nwhen = 2\n");
    unknown_keys(&schema, &schema, &doc, "", &mut bad);
    bad.sort();
    assert_eq!(bad, vec![".events[0].when", ".solver.methods"]);
}
