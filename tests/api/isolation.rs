//! Tenant isolation: another user's object is indistinguishable from a missing one.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{TestApp, TestUser, problem_without_request_id};

/// One user-owned object to probe.
pub struct Probe<'a> {
    /// The object's own path, e.g. `/v1/tokens/{id}`.
    pub path: String,
    /// The list it appears in, e.g. `/v1/tokens`.
    pub list: Option<&'a str>,
    /// A valid merge patch, when the object can be patched.
    pub patch: Option<Value>,
    /// Whether the object can be deleted.
    pub delete: bool,
}

/// Asserts that `intruder` gets exactly the 404 a missing object gets on every method, never
/// sees the object in its list, and that the owner's object is unchanged afterwards.
pub async fn assert_isolated(
    app: &TestApp,
    owner: &TestUser,
    intruder: &TestUser,
    probe: Probe<'_>,
) {
    let before = app.get_as(&probe.path, &owner.access_token).await;
    assert_eq!(
        before.status().as_u16(),
        200,
        "the owner sees {}",
        probe.path
    );
    let before: Value = before.json().await.unwrap();
    let id = before["id"].as_str().expect("an id").to_owned();
    let missing_path = probe.path.replace(&id, &uuid::Uuid::now_v7().to_string());

    let mut attempts = vec![(Method::GET, None)];
    if let Some(patch) = &probe.patch {
        attempts.push((Method::PATCH, Some(patch.clone())));
    }
    if probe.delete {
        attempts.push((Method::DELETE, None));
    }
    for (method, body) in attempts {
        let token = Some(intruder.access_token.as_str());
        let theirs = app
            .request(method.clone(), &probe.path, token, body.as_ref())
            .await;
        let missing = app
            .request(method.clone(), &missing_path, token, body.as_ref())
            .await;
        let theirs = problem_without_request_id(theirs).await;
        assert_eq!(theirs.0, 404, "{method} {} by another user", probe.path);
        assert_eq!(
            theirs,
            problem_without_request_id(missing).await,
            "same as missing"
        );
    }

    if let Some(list) = probe.list {
        let page: Value = app
            .get_as(list, &intruder.access_token)
            .await
            .json()
            .await
            .unwrap();
        let ids: Vec<&str> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|i| i["id"].as_str())
            .collect();
        assert!(
            !ids.contains(&id.as_str()),
            "{list} of another user lists {id}"
        );
    }

    let after: Value = app
        .get_as(&probe.path, &owner.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after, before, "the owner's object is unchanged");
}
