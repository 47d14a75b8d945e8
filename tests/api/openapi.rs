use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::spawn_app;

const COMMITTED: &str = "openapi/openapi.json";

fn generated() -> Value {
    serde_json::to_value(rapport::openapi::build()).unwrap()
}

#[test]
fn committed_spec_matches_the_generated_one() {
    let generated = rapport::openapi::to_pretty_json(&rapport::openapi::build()).unwrap();
    let committed =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(COMMITTED))
            .unwrap_or_default();
    assert!(
        generated == committed,
        "{COMMITTED} is out of date; regenerate it with:\n\n    cargo run -q -- openapi > {COMMITTED}\n"
    );
}

#[tokio::test]
async fn served_spec_is_the_generated_openapi_3_1_document() {
    let app = spawn_app().await;
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status().as_u16(), 200);
    let served: Value = response.json().await.unwrap();
    assert_eq!(served, generated());
    assert_eq!(served["openapi"], "3.1.0");
    assert_eq!(served["info"]["version"], env!("CARGO_PKG_VERSION"));
}

fn operations(spec: &Value) -> Vec<(String, String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            out.push((method.to_uppercase(), path.clone(), operation));
        }
    }
    out
}

#[test]
fn every_operation_is_fully_described() {
    let spec = generated();
    let tags: BTreeSet<&str> = spec["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    let mut ids = BTreeSet::new();
    let ops = operations(&spec);
    assert!(!ops.is_empty());
    for (method, path, op) in ops {
        let at = format!("{method} {path}");
        let id = op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{at}: operationId"));
        assert!(
            ids.insert(id.to_owned()),
            "{at}: duplicate operationId {id}"
        );
        let op_tags = op["tags"]
            .as_array()
            .unwrap_or_else(|| panic!("{at}: tags"));
        assert_eq!(op_tags.len(), 1, "{at}: exactly one tag");
        assert!(
            tags.contains(op_tags[0].as_str().unwrap()),
            "{at}: tag is declared"
        );
        assert!(
            op["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{at}: summary"
        );
        for (status, response) in op["responses"].as_object().unwrap() {
            if status.starts_with('4') || status.starts_with('5') {
                let reference = response["$ref"].as_str().unwrap_or_default();
                let name = reference.rsplit('/').next().unwrap_or_default();
                let resolved = &spec["components"]["responses"][name];
                assert!(
                    resolved["content"]["application/problem+json"]["schema"]["$ref"]
                        == "#/components/schemas/Problem",
                    "{at}: {status} must be a problem response"
                );
            }
        }
    }
}

/// The security requirements that apply to `op`: its own, or else the document's.
fn effective_security<'a>(spec: &'a Value, op: &'a Value) -> &'a Vec<Value> {
    op.get("security")
        .or_else(|| spec.get("security"))
        .and_then(Value::as_array)
        .expect("a security requirement, the operation's or the document's")
}

#[test]
fn the_bearer_scheme_and_problem_schema_are_components() {
    let spec = generated();
    let scheme = &spec["components"]["securitySchemes"]["bearer_auth"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    let problem = &spec["components"]["schemas"]["Problem"];
    let required: BTreeSet<&str> = problem["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for field in ["type", "title", "status", "detail", "code", "request_id"] {
        assert!(required.contains(field), "Problem.{field} is required");
    }
}

#[test]
fn protected_operations_declare_bearer_security_and_their_auth_errors() {
    let spec = generated();
    let mut protected = 0;
    for (method, path, op) in operations(&spec) {
        let at = format!("{method} {path}");
        let security = effective_security(&spec, op);
        let needs_bearer = security.iter().any(|s| s.get("bearer_auth").is_some());
        let public = security.is_empty();
        assert!(needs_bearer || public, "{at}: bearer or explicitly public");
        if needs_bearer {
            protected += 1;
            assert!(op["responses"].get("401").is_some(), "{at}: documents 401");
            if method != "GET" {
                assert!(op["responses"].get("403").is_some(), "{at}: documents 403");
            }
        }
        if path.starts_with("/v1/") {
            // The calendar feed is read by calendar apps, which cannot send headers: its
            // secret is a required query parameter.
            let feed = path == "/v1/calendar.ics"
                && op["parameters"].as_array().is_some_and(|ps| {
                    ps.iter()
                        .any(|p| p["name"] == "token" && p["required"] == true)
                });
            assert!(
                path.starts_with("/v1/auth/") || needs_bearer || feed,
                "{at}: only auth and the calendar feed are public"
            );
        }
    }
    assert!(
        protected >= 8,
        "the account and token operations are protected"
    );
}

#[test]
fn every_authenticated_post_declares_the_idempotency_key_and_its_409() {
    let spec = generated();
    let mut posts = 0;
    for (method, path, op) in operations(&spec) {
        let authenticated = effective_security(&spec, op)
            .iter()
            .any(|s| s.get("bearer_auth").is_some());
        if method != "POST" || !authenticated {
            continue;
        }
        posts += 1;
        let declared = op["parameters"].as_array().into_iter().flatten().any(|p| {
            p["name"] == "Idempotency-Key" && p["in"] == "header" && p["required"] != true
        });
        assert!(declared, "POST {path}: Idempotency-Key header");
        assert!(
            op["responses"].get("409").is_some(),
            "POST {path}: 409 for a key in use"
        );
    }
    assert!(
        posts >= 6,
        "tokens, password, contacts, conversations, offers, asks"
    );
}

#[test]
fn conditional_headers_are_declared_with_their_grammar_and_400() {
    let spec = generated();
    let mut conditional = 0;
    for (method, path, op) in operations(&spec) {
        let at = format!("{method} {path}");
        let headers: Vec<&Value> = op["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter(|p| {
                        p["in"] == "header"
                            && p["name"].as_str().is_some_and(|n| n.starts_with("If-"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        for header in &headers {
            conditional += 1;
            assert_eq!(
                header["schema"]["pattern"].as_str(),
                Some(rapport::openapi::ENTITY_TAGS_PATTERN),
                "{at}: {} states its grammar",
                header["name"]
            );
            assert!(
                op["responses"].get("400").is_some(),
                "{at}: a malformed condition is 400"
            );
        }
        let answers_304 = op["responses"].get("304").is_some();
        assert_eq!(
            answers_304,
            headers.iter().any(|h| h["name"] == "If-None-Match"),
            "{at}: 304 exactly where If-None-Match is declared"
        );
    }
    assert!(conditional >= 12, "{conditional} conditional headers");
}

/// The document's security is the truth: every operation it says needs a bearer token
/// answers 401 without one, and no operation it says is public does.
#[tokio::test]
async fn every_operation_answers_without_a_token_as_its_security_says() {
    let app = spawn_app().await;
    let spec = generated();
    let (mut protected, mut public) = (0, 0);
    for (method, path, op) in operations(&spec) {
        let concrete = path
            .replace("{id}", &uuid::Uuid::nil().to_string())
            .replace("{slug}", "not-found");
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = app.client.request(method.clone(), app.url(&concrete));
        if method == reqwest::Method::POST || method == reqwest::Method::PATCH {
            request = request.json(&serde_json::json!({}));
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let needs_bearer = effective_security(&spec, op)
            .iter()
            .any(|s| s.get("bearer_auth").is_some());
        if needs_bearer {
            crate::helpers::assert_problem(response, 401, "unauthorized").await;
            protected += 1;
        } else {
            assert_ne!(status, 401, "{method} {path} is public");
            public += 1;
        }
    }
    assert!(
        protected > 0 && public > 0,
        "{protected} protected, {public} public"
    );
}
