//! JSON Schema of the wire types (feature `json-schema`), derived by
//! `schemars` from the same serde attributes that make the JSON, so that the
//! server's tests can hold the hand-written OpenAPI document to the types:
//! the document keeps its prose and domain rules (id ranges, name lengths),
//! and a field added to a type and not to the document fails a test.

use std::borrow::Cow;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value};

use crate::*;

/// Where the schemas are, as in an OpenAPI document: `$ref`s read
/// `#/components/schemas/<Name>`.
const DEFINITIONS_PATH: &str = "/components/schemas";

/// Which way a type crosses the wire decides what its schema says: a body
/// the server reads may omit an `Option` field; one it writes may skip it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The server reads it (request bodies).
    Request,
    /// The server writes it (answers).
    Response,
}

/// The request bodies of the client and admin API.
fn requests(generator: &mut SchemaGenerator) {
    generator.subschema_for::<SessionRequest>();
    generator.subschema_for::<ProfileRequest>();
    generator.subschema_for::<StoreRequestBody>();
    generator.subschema_for::<ResetRequest>();
    generator.subschema_for::<KeyCreateRequest>();
    generator.subschema_for::<TokenRevokeRequest>();
    generator.subschema_for::<leaderboards::BoardCreateRequest>();
    generator.subschema_for::<leaderboards::ScoreUploadRequest>();
    generator.subschema_for::<leaderboards::FriendsBody>();
}

/// The answers of the client and admin API.
fn responses(generator: &mut SchemaGenerator) {
    generator.subschema_for::<ErrorBody>();
    generator.subschema_for::<SessionResponse>();
    generator.subschema_for::<ProfileBody>();
    generator.subschema_for::<ProgressBody>();
    generator.subschema_for::<StoreResponse>();
    generator.subschema_for::<SchemaResponse>();
    generator.subschema_for::<SchemaPutResponse>();
    generator.subschema_for::<GlobalAchievementsResponse>();
    generator.subschema_for::<GlobalStatsResponse>();
    generator.subschema_for::<KeyCreateResponse>();
    generator.subschema_for::<KeyListResponse>();
    generator.subschema_for::<KeyRevokeResponse>();
    generator.subschema_for::<TokenRevokeResponse>();
    generator.subschema_for::<AuditListResponse>();
    generator.subschema_for::<UndoResponse>();
    generator.subschema_for::<AppListResponse>();
    generator.subschema_for::<leaderboards::BoardListResponse>();
    generator.subschema_for::<leaderboards::BoardResponse>();
    generator.subschema_for::<leaderboards::ScoreUploadResponse>();
    generator.subschema_for::<leaderboards::EntriesResponse>();
    generator.subschema_for::<leaderboards::FriendsBody>();
    generator.subschema_for::<leaderboards::ModerationResponse>();
}

/// Every wire type's schema (and those of the types they hold), by name,
/// each with the [`Direction`] it was derived for.
pub fn wire_schemas() -> Vec<(String, Direction, Value)> {
    let mut out = Vec::new();
    for (direction, add) in [
        (Direction::Request, requests as fn(&mut SchemaGenerator)),
        (Direction::Response, responses),
    ] {
        let settings = SchemaSettings::draft2020_12().with(|s| {
            s.definitions_path = DEFINITIONS_PATH.into();
        });
        let settings = match direction {
            Direction::Request => settings.for_deserialize(),
            Direction::Response => settings.for_serialize(),
        };
        let mut generator = settings.into_generator();
        add(&mut generator);
        let definitions: Map<String, Value> = generator.take_definitions(true);
        out.extend(
            definitions
                .into_iter()
                .map(|(name, schema)| (name, direction, schema)),
        );
    }
    out
}

/// Stands for `laurel_core::SchemaDoc`, which is the core's type and
/// derives no schema: a reference to the document's `SchemaDoc`
/// component, whose examples the server's tests validate instead.
pub(crate) struct SchemaDocShape;

impl JsonSchema for SchemaDocShape {
    fn schema_name() -> Cow<'static, str> {
        "SchemaDoc".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "object" })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Every serialized type of `lib.rs` is in [`wire_schemas`]: a new wire
    /// type cannot be left out of the check against the OpenAPI document.
    #[test]
    fn every_wire_type_has_a_schema() {
        let named: BTreeSet<String> = wire_schemas()
            .into_iter()
            .map(|(name, _, _)| name)
            .collect();
        let source = include_str!("lib.rs");
        let mut serialized = Vec::new();
        let mut derives_serialize = false;
        for line in source.lines() {
            if line.starts_with("#[derive(") {
                derives_serialize = line.contains("Serialize");
            } else if let Some(rest) = line
                .strip_prefix("pub struct ")
                .or_else(|| line.strip_prefix("pub enum "))
            {
                if derives_serialize {
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    serialized.push(name);
                }
                derives_serialize = false;
            }
        }
        assert!(serialized.len() > 30, "found only {serialized:?}");
        // The schema name of a type renamed for the OpenAPI document.
        let schema_name = |name: &str| match name {
            "AuditRecordBody" => "AuditRecord".to_owned(),
            other => other.to_owned(),
        };
        let missing: Vec<_> = serialized
            .iter()
            .filter(|name| !named.contains(&schema_name(name)))
            .collect();
        assert!(missing.is_empty(), "not in wire_schemas(): {missing:?}");
    }
}
