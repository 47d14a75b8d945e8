//! `GET /problems/{slug}`: the page each problem body's `type` points at.

use actix_web::{get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ProblemCode};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(get_problem_type);
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "type": "/problems/not-found", "code": "not_found", "status": 404, "title": "Not found",
    "description": "There is no such route, or no such object among the caller's own."
}))]
struct ProblemType {
    #[serde(rename = "type")]
    type_uri: String,
    code: ProblemCode,
    status: u16,
    title: &'static str,
    description: &'static str,
}

/// Describe a problem type
///
/// Every problem body's `type` is a relative URI such as `/problems/validation-failed`; this
/// returns what that problem means and how to react to it.
#[utoipa::path(
    tag = "ops",
    security(()),
    params(("slug" = String, Path, description = "The problem code in kebab-case, e.g. `validation-failed`.", example = "validation-failed")),
    responses(
        (status = 200, description = "The problem type.", body = ProblemType),
        (status = 404, response = crate::openapi::NotFound),
    )
)]
#[get("/problems/{slug}")]
async fn get_problem_type(slug: web::Path<String>) -> Result<web::Json<ProblemType>, ApiError> {
    let code = ProblemCode::from_slug(&slug).ok_or_else(ApiError::not_found)?;
    Ok(web::Json(ProblemType {
        type_uri: code.type_uri(),
        code,
        status: code.status().as_u16(),
        title: code.title(),
        description: code.description(),
    }))
}
