//! What answers when no route matches: 405 with `Allow` when the path exists under another
//! method, 404 otherwise. The OpenAPI document is the route table, so the two cannot disagree.

use actix_web::dev::ResourceDef;
use actix_web::http::header::{ALLOW, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use utoipa::openapi::OpenApi;

use crate::error::{ApiError, ProblemCode};

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Every documented path with the methods it accepts.
pub struct RouteTable(Vec<(ResourceDef, Vec<String>)>);

impl RouteTable {
    pub fn from_spec(spec: &OpenApi) -> Self {
        let paths = serde_json::to_value(&spec.paths).unwrap_or_default();
        let routes = paths
            .as_object()
            .into_iter()
            .flatten()
            .map(|(path, item)| {
                let methods = METHODS
                    .iter()
                    .filter(|m| item.get(**m).is_some())
                    .map(|m| m.to_ascii_uppercase())
                    .collect();
                (ResourceDef::new(path.as_str()), methods)
            })
            .collect();
        Self(routes)
    }

    /// The methods `path` accepts, or `None` when no route has that path.
    pub fn allowed_methods(&self, path: &str) -> Option<&[String]> {
        self.0
            .iter()
            .find(|(def, _)| def.is_match(path))
            .map(|(_, methods)| methods.as_slice())
    }
}

pub async fn fallback(
    req: HttpRequest,
    routes: web::Data<RouteTable>,
) -> Result<HttpResponse, ApiError> {
    Err(match routes.allowed_methods(req.path()) {
        Some(methods) => {
            let allow = methods.join(", ");
            ApiError::new(
                ProblemCode::MethodNotAllowed,
                format!("{} is not allowed here; use {allow}", req.method()),
            )
            .with_header(
                ALLOW,
                HeaderValue::from_str(&allow).unwrap_or(HeaderValue::from_static("GET")),
            )
        }
        None => ApiError::not_found(),
    })
}
