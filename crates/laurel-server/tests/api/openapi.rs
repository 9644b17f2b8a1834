use std::collections::BTreeSet;

use laurel_server::{OPENAPI_JSON, ROUTES};
use serde_json::Value;

use crate::helpers::*;

fn documented() -> BTreeSet<(String, String)> {
    let doc: Value = serde_json::from_str(OPENAPI_JSON).expect("the OpenAPI document is JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            out.insert((method.to_uppercase(), path.clone()));
        }
    }
    out
}

#[test]
fn every_route_is_documented_and_every_documented_route_exists() {
    // The OpenAPI document covers the client API; Steam routes are described
    // by GetSupportedAPIList (tests/api/steam.rs checks that list).
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    let documented = documented();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "served but not documented: {undocumented:?}"
    );
    assert!(
        unserved.is_empty(),
        "documented but not served: {unserved:?}"
    );
}

#[test]
fn every_schema_reference_resolves() {
    let doc: Value = serde_json::from_str(OPENAPI_JSON).unwrap();
    let text = OPENAPI_JSON;
    for piece in text.split("\"$ref\": \"#/components/").skip(1) {
        let target = &piece[..piece.find('"').unwrap()];
        let mut node = &doc["components"];
        for part in target.split('/') {
            node = &node[part];
        }
        assert!(node.is_object(), "dangling $ref {target}");
    }
}

/// The router answers every route of the table (no 404 "no such route", no 405).
#[tokio::test]
async fn the_router_serves_the_route_table() {
    let app = spawn().await;
    for route in ROUTES {
        let path = route
            .path
            .replace("{app_id}", "480")
            .replace("{steam_id}", A)
            .replace("{key_id}", "1")
            .replace("{board_id}", "1");
        let r = app.send(route.method, &path, Some(ADMIN), &[], "{}").await;
        assert_ne!(r.status, 405, "{} {}", route.method, route.path);
        assert!(
            !(r.status == 404 && r.error() == "no such route"),
            "{} {} is not routed",
            route.method,
            route.path
        );
    }
    let r = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json, serde_json::from_str::<Value>(OPENAPI_JSON).unwrap());
}
