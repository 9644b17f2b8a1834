//! The OpenAPI document's schemas held to the wire types. The document is
//! written by hand (it says more than the types: id ranges, name lengths,
//! prose); these tests make it say the same as the types where both speak:
//! each component against the JSON Schema `schemars` derives from the
//! `laurel-wire` type of its name (the same property names, the same
//! required set, compatible types and integer ranges), every wire type
//! documented, the pinned example bodies valid by the document, and the
//! path ids' ranges as the server parses them, at their bounds.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use laurel_server::OPENAPI_JSON;
use laurel_wire::schema::{Direction, wire_schemas};
use serde_json::{Map, Value, json};

use crate::helpers::*;

/// Components of the document that are no `laurel-wire` type, and how
/// they are checked instead.
const NOT_WIRE_TYPES: &[(&str, &str)] = &[
    (
        "Health",
        "the server's own /healthz answer: validated live below",
    ),
    (
        "SchemaDoc",
        "laurel_core's schema document: examples validated below",
    ),
    ("SchemaApp", "part of SchemaDoc"),
    ("SchemaStat", "part of SchemaDoc"),
    ("SchemaAchievement", "part of SchemaDoc"),
    ("SchemaProgress", "part of SchemaDoc"),
    ("SchemaLeaderboard", "part of SchemaDoc"),
];

/// Wire types the document writes out where they are used, not as a component.
const INLINED: &[&str] = &["StatNumber"];

const REF_PREFIX: &str = "#/components/schemas/";

fn document() -> Value {
    serde_json::from_str(OPENAPI_JSON).expect("the OpenAPI document is JSON")
}

fn components(doc: &Value) -> &Map<String, Value> {
    doc["components"]["schemas"]
        .as_object()
        .expect("components.schemas")
}

/// The JSON types a schema allows (`ref:Name` for a reference), with
/// `integer` folded into `number` when both are there. References to
/// [`INLINED`] wire types are replaced by what they stand for.
fn kinds(schema: &Value, wire: Option<&BTreeMap<String, Value>>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    match schema {
        Value::Object(o) => {
            if let Some(target) = o.get("$ref").and_then(Value::as_str) {
                let name = target.trim_start_matches(REF_PREFIX);
                match wire.and_then(|w| w.get(name)) {
                    Some(def) if INLINED.contains(&name) => out.extend(kinds(def, wire)),
                    _ => {
                        out.insert(format!("ref:{name}"));
                    }
                }
            } else if let Some(alternatives) = o
                .get("anyOf")
                .or_else(|| o.get("oneOf"))
                .and_then(Value::as_array)
            {
                for alternative in alternatives {
                    out.extend(kinds(alternative, wire));
                }
            } else {
                match o.get("type") {
                    Some(Value::String(t)) => {
                        out.insert(t.clone());
                    }
                    Some(Value::Array(ts)) => {
                        out.extend(ts.iter().filter_map(Value::as_str).map(str::to_owned))
                    }
                    _ => {
                        out.insert("any".to_owned());
                    }
                }
            }
        }
        _ => {
            out.insert("any".to_owned());
        }
    }
    if out.contains("number") {
        out.remove("integer");
    }
    out
}

/// The alternative of `schema` that is an integer, if any.
fn integer_part(schema: &Value) -> Option<&Value> {
    if let Some(alternatives) = schema.get("anyOf").and_then(Value::as_array) {
        return alternatives.iter().find_map(integer_part);
    }
    let is_integer = match schema.get("type") {
        Some(Value::String(t)) => t == "integer",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "integer"),
        _ => false,
    };
    is_integer.then_some(schema)
}

/// The range of an integer format: the Rust type `schemars` names, or
/// OpenAPI's `int32`/`int64`.
fn format_range(format: Option<&str>) -> (Option<f64>, Option<f64>) {
    match format {
        Some("uint8") => (Some(0.0), Some(f64::from(u8::MAX))),
        Some("uint16") => (Some(0.0), Some(f64::from(u16::MAX))),
        Some("uint32") => (Some(0.0), Some(f64::from(u32::MAX))),
        Some("uint64" | "uint") => (Some(0.0), None),
        Some("int32") => (Some(f64::from(i32::MIN)), Some(f64::from(i32::MAX))),
        _ => (None, None),
    }
}

/// Checks one schema of the document against the wire type's, at `at`.
/// `optional`: the property may be absent, and a type whose `None` is
/// skipped is documented without `null`.
fn compare(
    at: &str,
    doc: &Value,
    wire: &Value,
    optional: bool,
    direction: Direction,
    defs: &BTreeMap<String, Value>,
    faults: &mut Vec<String>,
) {
    let documented = kinds(doc, None);
    let mut derived = kinds(wire, Some(defs));
    if derived.contains("any") {
        return; // The type says nothing (`serde_json::Value`); the document may say more.
    }
    if direction == Direction::Response && optional && !documented.contains("null") {
        derived.remove("null");
    }
    if documented != derived {
        faults.push(format!(
            "{at}: the document allows {documented:?}, the wire type {derived:?}"
        ));
        return;
    }
    if derived.contains("array") {
        match (doc.get("items"), wire.get("items")) {
            (Some(d), Some(w)) => compare(&format!("{at}[]"), d, w, false, direction, defs, faults),
            _ => faults.push(format!("{at}: an array without items")),
        }
    }
    if let (Some(d), Some(w)) = (integer_part(doc), integer_part(wire)) {
        let format = |s: &Value| s.get("format").and_then(Value::as_str).map(str::to_owned);
        let (type_min, type_max) = format_range(format(w).as_deref());
        let (format_min, format_max) = format_range(format(d).as_deref());
        let constant = d.get("const").and_then(Value::as_f64);
        let min = d
            .get("minimum")
            .or_else(|| d.get("exclusiveMinimum"))
            .and_then(Value::as_f64)
            .or(constant)
            .or(format_min);
        let max = d
            .get("maximum")
            .or_else(|| d.get("exclusiveMaximum"))
            .and_then(Value::as_f64)
            .or(constant)
            .or(format_max);
        if let Some(type_min) = type_min
            && !min.is_some_and(|m| m >= type_min)
        {
            faults.push(format!(
                "{at}: the document's minimum {min:?} is below the wire type's {type_min}"
            ));
        }
        if let Some(type_max) = type_max
            && !max.is_some_and(|m| m <= type_max)
        {
            faults.push(format!(
                "{at}: the document's maximum {max:?} is above the wire type's {type_max}"
            ));
        }
    }
    if let Some(variants) = wire.get("enum")
        && doc.get("enum") != Some(variants)
    {
        faults.push(format!("{at}: the wire type's enum is {variants}"));
    }
}

fn names(schema: &Value, key: &str) -> BTreeSet<String> {
    match &schema[key] {
        Value::Object(o) => o.keys().cloned().collect(),
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => BTreeSet::new(),
    }
}

/// Every mismatch between the document's components and the wire types.
fn schema_faults(doc: &Value) -> Vec<String> {
    let components = components(doc);
    let wire = wire_schemas();
    let defs: BTreeMap<String, Value> = wire
        .iter()
        .map(|(name, _, schema)| (name.clone(), schema.clone()))
        .collect();
    let mut faults = Vec::new();
    for (name, direction, derived) in &wire {
        if INLINED.contains(&name.as_str()) || name == "SchemaDoc" {
            continue;
        }
        let Some(documented) = components.get(name) else {
            faults.push(format!("{name}: a wire type without a component"));
            continue;
        };
        let properties = names(documented, "properties");
        let expected = names(derived, "properties");
        if properties != expected {
            faults.push(format!(
                "{name}: the document has properties {properties:?}, the wire type {expected:?}"
            ));
        }
        let required = names(documented, "required");
        let expected_required = names(derived, "required");
        if required != expected_required {
            faults.push(format!(
                "{name}: the document requires {required:?}, the wire type {expected_required:?}"
            ));
        }
        if derived["additionalProperties"] == false && documented["additionalProperties"] != false {
            faults.push(format!(
                "{name}: the wire type refuses unknown fields; the document must say `additionalProperties: false`"
            ));
        }
        for property in properties.intersection(&expected) {
            compare(
                &format!("{name}.{property}"),
                &documented["properties"][property],
                &derived["properties"][property],
                !expected_required.contains(property),
                *direction,
                &defs,
                &mut faults,
            );
        }
    }
    for name in components.keys() {
        if !defs.contains_key(name) && !NOT_WIRE_TYPES.iter().any(|(n, _)| n == name) {
            faults.push(format!("{name}: a component without a wire type"));
        }
    }
    faults
}

#[test]
fn every_component_schema_matches_its_wire_type() {
    let faults = schema_faults(&document());
    assert!(faults.is_empty(), "\n{}", faults.join("\n"));
}

/// The check above does fail on drift: a property the wire type lacks, or
/// one the document lacks, is reported.
#[test]
fn a_property_missing_on_either_side_is_reported() {
    let mut doc = document();
    let progress = &mut doc["components"]["schemas"]["ProgressBody"];
    progress["properties"]["added"] = json!({"type": "string"});
    let faults = schema_faults(&doc);
    assert!(
        faults
            .iter()
            .any(|f| f.starts_with("ProgressBody: the document has properties")),
        "{faults:?}"
    );
    let mut doc = document();
    let session = &mut doc["components"]["schemas"]["SessionRequest"];
    session["properties"]
        .as_object_mut()
        .expect("properties")
        .remove("display_name");
    let faults = schema_faults(&doc);
    assert!(
        faults
            .iter()
            .any(|f| f.starts_with("SessionRequest: the document has properties")),
        "{faults:?}"
    );
}

/// A validator of one component, its `$ref`s resolved in the document.
fn validator(doc: &Value, component: &str) -> jsonschema::Validator {
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("{REF_PREFIX}{component}"),
        "components": doc["components"],
    });
    jsonschema::validator_for(&root).unwrap_or_else(|e| panic!("{component}: {e}"))
}

fn check_valid(doc: &Value, component: &str, example: &Value, what: &str) {
    let errors: Vec<String> = validator(doc, component)
        .iter_errors(example)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} is not a valid {component}: {errors:?}"
    );
}

/// The JSON of an insta snapshot file, with the placeholders of
/// `helpers::redact` put back as values of their type.
fn snapshot(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let body = text.splitn(3, "---\n").nth(2).expect("an insta snapshot");
    let mut value: Value = serde_json::from_str(body).expect("a JSON snapshot");
    fn unredact(v: &mut Value) {
        match v {
            Value::String(s) if s == "[time]" => *v = json!(1_700_000_000),
            Value::String(s) if s == "[key]" => *v = json!(format!("lk_{}", "0".repeat(64))),
            Value::String(s) if s == "[token]" => *v = json!("lt2.480.1.1.1.0.mac"),
            Value::Object(o) => o.values_mut().for_each(unredact),
            Value::Array(a) => a.iter_mut().for_each(unredact),
            _ => {}
        }
    }
    unredact(&mut value);
    value
}

#[test]
fn pinned_example_bodies_are_valid_by_the_document() {
    let doc = document();
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let wire = crates.join("laurel-wire/src/snapshots");
    let api = crates.join("laurel-server/tests/api/snapshots");
    let examples = [
        (
            wire.join("laurel_wire__tests__progress_body_shape.snap"),
            "ProgressBody",
        ),
        (
            wire.join("laurel_wire__tests__refusal_shape_locates_entries_in_the_body.snap"),
            "ErrorBody",
        ),
        (
            wire.join("laurel_wire__tests__key_revoke_response_shape.snap"),
            "KeyRevokeResponse",
        ),
        (
            wire.join("laurel_wire__tests__global_stats_response_shape.snap"),
            "GlobalStatsResponse",
        ),
        (
            api.join("api__admin__a_schema_with_many_faults_lists_them_all.snap"),
            "ErrorBody",
        ),
        (
            api.join("api__admin__apps_and_schemas.snap"),
            "SchemaPutResponse",
        ),
        (
            api.join("api__admin__apps_and_schemas-2.snap"),
            "AppListResponse",
        ),
        (
            api.join("api__admin__keys_are_created_listed_and_revoked.snap"),
            "KeyCreateResponse",
        ),
        (
            api.join("api__errors__bad_ids_in_the_path.snap"),
            "ErrorBody",
        ),
        (
            api.join("api__errors__health_reports_the_store.snap"),
            "Health",
        ),
        (
            api.join("api__errors__malformed_json_is_located_by_line_and_column.snap"),
            "ErrorBody",
        ),
        (
            api.join("api__errors__refusals_list_every_broken_entry.snap"),
            "ErrorBody",
        ),
        (
            api.join("api__errors__unknown_apps_routes_and_methods.snap"),
            "ErrorBody",
        ),
        (
            api.join("api__progress__a_store_applies_and_answers_the_new_progress.snap"),
            "StoreResponse",
        ),
        (
            api.join("api__progress__a_user_never_written_reads_as_defaults.snap"),
            "ProgressBody",
        ),
        (
            api.join("api__progress__global_achievements_count_users.snap"),
            "GlobalAchievementsResponse",
        ),
        (
            api.join("api__progress__global_stats_total_aggregated_stats_with_history.snap"),
            "GlobalStatsResponse",
        ),
        (
            api.join("api__progress__the_schema_reads_back_as_a_document.snap"),
            "SchemaResponse",
        ),
        (
            api.join("api__sessions__dev_mode_issues_tokens_without_credentials.snap"),
            "SessionResponse",
        ),
    ];
    for (path, component) in &examples {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        check_valid(&doc, component, &snapshot(path), &format!("{name:?}"));
    }
    let demo: Value = serde_json::from_str(laurel_core::schema_doc::DEMO_SCHEMA_JSON)
        .expect("the demo schema is JSON");
    check_valid(&doc, "SchemaDoc", &demo, "the demo schema");
    let private: Value = serde_json::from_str(PRIVATE_SCHEMA).expect("JSON");
    check_valid(&doc, "SchemaDoc", &private, "the tests' private schema");
}

/// The one answer of the document's that is no wire type, live.
#[tokio::test]
async fn the_health_answer_is_valid_by_the_document() {
    let app = spawn().await;
    let r = app.get("/healthz", None).await;
    assert_eq!(r.status, 200);
    check_valid(&document(), "Health", &r.json, "GET /healthz");
}

/// Whether the document's parameter schema allows `value`.
fn documented_allows(doc: &Value, parameter: &Value, value: &str) -> bool {
    let parameter = match parameter.get("$ref").and_then(Value::as_str) {
        Some(target) => {
            let name = target.trim_start_matches("#/components/parameters/");
            &doc["components"]["parameters"][name]
        }
        None => parameter,
    };
    jsonschema::validator_for(&parameter["schema"])
        .expect("a parameter schema")
        .is_valid(&json!(value))
}

/// The schema of the path parameter `name` of `method path`.
fn path_parameter<'a>(doc: &'a Value, method: &str, path: &str, name: &str) -> &'a Value {
    let parameters = doc["paths"][path][method]["parameters"]
        .as_array()
        .unwrap_or_else(|| panic!("{method} {path} has parameters"));
    parameters
        .iter()
        .find(|p| {
            let target = p.get("$ref").and_then(Value::as_str).unwrap_or("");
            p["name"] == name || target.ends_with(&format!("/{}", name_of_component(name)))
        })
        .unwrap_or_else(|| panic!("{method} {path} documents {{{name}}}"))
}

fn name_of_component(parameter: &str) -> &'static str {
    match parameter {
        "app_id" => "AppId",
        "steam_id" => "SteamId",
        "key_id" => "KeyId",
        "board_id" => "BoardId",
        _ => "-",
    }
}

/// Ids in paths at their bounds and in their odd spellings: the document
/// allows exactly the values the server takes. The server answers a route
/// with an id it takes by something other than 400 (404 for no such app,
/// key or record; 200 for a user reset with nothing to reset).
#[tokio::test]
async fn path_ids_the_document_allows_are_the_ones_the_server_takes() {
    let doc = document();
    let app = spawn().await;
    let u32_max = u32::MAX.to_string();
    let u64_max = u64::MAX.to_string();
    let i64_max = i64::MAX.to_string();
    let over = |max: &str| (max.parse::<u128>().expect("a number") + 1).to_string();
    let common = ["0", "1", "01", "00", "+1", "-1", "1.0", "1e3", "abc", "%20"];
    let cases: [(&str, &str, &str, &str, Vec<String>); 5] = [
        (
            "app_id",
            "/api/v1/admin/apps/{app_id}/keys",
            "get",
            "/api/v1/admin/apps/{}/keys",
            [u32_max.clone(), over(&u32_max), format!("0{u32_max}")].into(),
        ),
        (
            "steam_id",
            "/api/v1/admin/apps/{app_id}/users/{steam_id}/reset",
            "post",
            "/api/v1/admin/apps/480/users/{}/reset",
            [u64_max.clone(), over(&u64_max), format!("0{u64_max}")].into(),
        ),
        (
            "key_id",
            "/api/v1/admin/apps/{app_id}/keys/{key_id}",
            "delete",
            "/api/v1/admin/apps/480/keys/{}",
            [i64_max.clone(), over(&i64_max), format!("+{i64_max}")].into(),
        ),
        (
            "board_id",
            "/api/v1/apps/{app_id}/leaderboards/{board_id}",
            "delete",
            "/api/v1/apps/480/leaderboards/{}",
            [i64_max.clone(), over(&i64_max), format!("0{i64_max}")].into(),
        ),
        (
            "audit_id",
            "/api/v1/admin/audit/{audit_id}/undo",
            "post",
            "/api/v1/admin/audit/{}/undo",
            [i64_max.clone(), over(&i64_max), format!("+0{i64_max}")].into(),
        ),
    ];
    for (name, template, method, concrete, bounds) in &cases {
        let parameter = path_parameter(&doc, method, template, name);
        let values = common
            .iter()
            .map(|v| v.to_string())
            .chain(bounds.iter().cloned());
        for value in values {
            let allowed = documented_allows(&doc, parameter, &value);
            let path = concrete.replace("{}", &value);
            let r = app
                .send(&method.to_uppercase(), &path, Some(ADMIN), &[], "{}")
                .await;
            let refused = r.status == 400;
            assert_eq!(
                allowed,
                !refused,
                "{{{name}}} = {value:?}: the document {}, the server answered {} {}",
                if allowed { "allows it" } else { "forbids it" },
                r.status,
                r.json
            );
        }
    }
}
